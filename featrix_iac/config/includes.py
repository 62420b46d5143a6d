"""The root manifest plus its `include:` globs, merged into one document with positions kept."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featrix_iac.addresses import SECTIONS
from featrix_iac.config.private_cache import PRIVATE_DIR
from featrix_iac.config.yaml_source import ParsedFile, SourceMap, parse_file
from featrix_iac.diagnostics import Diagnostics

ROOT_FILE = "featrix.yaml"


@dataclass
class Document:
    """The merged manifest before overlays and templating."""

    data: dict[str, Any]
    sources: SourceMap
    files: list[Path] = field(default_factory=list)


def display_name(path: Path, root: Path) -> str:
    """A file's name as shown in diagnostics: POSIX, relative to the project root."""
    return Path(os.path.relpath(path, root)).as_posix()


def _include_patterns(root: ParsedFile, data: dict[str, Any], diags: Diagnostics) -> list[tuple[int, str]]:
    value = data.get("include", [])
    if isinstance(value, str):  # one pattern may be written without the list
        value = data["include"] = [value]
    if not isinstance(value, list):
        return []  # validation reports the wrong type
    out = []
    for i, pattern in enumerate(value):
        if isinstance(pattern, (int, float)) and not isinstance(pattern, bool):
            pattern = str(pattern)  # read as text, like every string field
        if not isinstance(pattern, str):
            continue  # validation reports the wrong type
        if not pattern.strip():
            diags.error(
                "Invalid include pattern",
                "An include pattern must not be empty.",
                source=root.sources.value(("include", i)),
            )
        else:
            out.append((i, pattern))
    return out


def _expand(root_dir: Path, pattern: str) -> list[Path]:
    matches = glob.glob(os.path.join(glob.escape(str(root_dir)), pattern), recursive=True)
    return sorted(Path(m).resolve() for m in matches if os.path.isfile(m))


def _merge_included(doc: Document, inc: ParsedFile, diags: Diagnostics) -> None:
    for section, items in inc.data.items():
        if section not in SECTIONS:
            allowed = ", ".join(SECTIONS)
            diags.error(
                f'Section "{section}" is not allowed in an included file',
                f"Included files declare resources only ({allowed}); put the rest in {ROOT_FILE}.",
                source=inc.sources.key((section,)),
            )
            continue
        if items is None:
            continue
        if not isinstance(items, dict):
            diags.error(
                f'Invalid value for "{section}"',
                "Expected a mapping of resources by key.",
                source=inc.sources.value((section,)),
            )
            continue
        target = doc.data.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        merged: set[tuple[str, str]] = set()
        for key, body in items.items():
            if key in target:
                first = doc.sources.key((section, key))
                diags.error(
                    f'Duplicate resource "{SECTIONS[section]}.{key}"',
                    f"It is declared at {first} and again at {inc.sources.key((section, key))}.",
                    address=f"{SECTIONS[section]}.{key}",
                    source=inc.sources.key((section, key)),
                )
                continue
            target[key] = body
            merged.add((section, key))
        doc.sources.graft_resources(inc.sources, merged)
        section_source = inc.sources.value((section,))
        if section_source is not None:
            doc.sources.values.setdefault((section,), section_source)


def load_document(root_dir: Path, diags: Diagnostics) -> Document | None:
    """Parse featrix.yaml and every included file; problems go to `diags`."""
    root_path = root_dir / ROOT_FILE
    cache = root_dir / PRIVATE_DIR
    root = parse_file(root_path, ROOT_FILE, diags, cache)
    if root is None:
        return None
    doc = Document(dict(root.data), root.sources, [root_path])
    seen = {root_path.resolve()}
    for i, pattern in _include_patterns(root, doc.data, diags):
        matches = _expand(root_dir, pattern)
        if not matches:
            diags.error(
                "Include pattern matches no files",
                f'No file matches "{pattern}" (relative to {ROOT_FILE}).',
                source=root.sources.value(("include", i)),
            )
        for path in matches:
            if path in seen:
                continue
            seen.add(path)
            inc = parse_file(path, display_name(path, root_dir), diags, cache)
            doc.files.append(path)
            if inc is not None:
                _merge_included(doc, inc, diags)
    return doc
