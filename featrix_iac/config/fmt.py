"""Canonical formatting of manifest files with ruamel.yaml round-trip (comments kept, 2-space indent)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from featrix_iac.config.includes import ROOT_FILE, display_name, load_document
from featrix_iac.diagnostics import Diagnostics, DiagnosticsError, Source


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = False  # quotes only where YAML needs them
    y.allow_duplicate_keys = False
    return y


def format_text(text: str, display: str = ROOT_FILE) -> str:
    """The canonical form of one YAML document; a syntax error raises DiagnosticsError."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    y = _yaml()
    try:
        data = y.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        src = Source(display, mark.line + 1, mark.column + 1) if mark else Source(display)
        raise _error("Invalid YAML syntax", str(exc.problem or exc.context or ""), src) from None
    except YAMLError as exc:
        raise _error("Invalid YAML syntax", str(exc), Source(display)) from None
    if data is None:
        return text
    _quote_templates(data)
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _reads_as_non_string(value: str) -> bool:
    """True when YAML 1.1 (what the loader speaks) would read the plain text as a bool, number, null, date."""
    import yaml

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    return str(tag) != "tag:yaml.org,2002:str"


def _quote_templates(node: Any) -> None:
    """Template strings are always quoted (double quotes, or single ones when the text holds a double quote);
    strings that would read back as another type (yes, on, 1e3, ~) are single-quoted."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString, SingleQuotedScalarString

    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, (dict, list)):
            _quote_templates(value)
        elif isinstance(value, str) and ("{{" in value or "{%" in value):
            quoted = '"' in value and "'" not in value
            node[key] = SingleQuotedScalarString(value) if quoted else DoubleQuotedScalarString(value)
        elif isinstance(value, str) and not isinstance(value, ScalarString) and _reads_as_non_string(value):
            node[key] = SingleQuotedScalarString(value)


def _error(summary: str, detail: str, source: Source) -> DiagnosticsError:
    ds = Diagnostics()
    ds.error(summary, detail[:1].upper() + detail[1:], source=source)
    return DiagnosticsError(ds)


def project_files(root: Path) -> list[Path]:
    """featrix.yaml and every file its include globs match (problems raise DiagnosticsError)."""
    diags = Diagnostics()
    doc = load_document(root, diags)
    if doc is None or diags.has_errors:
        raise DiagnosticsError(diags)
    return doc.files


def format_files(paths: list[Path], root: Path, write: bool) -> list[Path]:
    """Format `paths` (writing them when `write`); returns the files whose formatting changed."""
    changed: list[Path] = []
    diags = Diagnostics()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            new = format_text(text, display_name(path, root))
        except DiagnosticsError as exc:
            diags.extend(exc.diagnostics)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            diags.error("Cannot read file", str(exc), source=Source(display_name(path, root)))
            continue
        if new != text:
            changed.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    if diags.has_errors:
        raise DiagnosticsError(diags)
    return changed
