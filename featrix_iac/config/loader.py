"""load_project: YAML → includes → environment overlay → templates → pydantic → references, all diagnosed."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featrix_iac.addresses import SECTIONS
from featrix_iac.config.development import apply_development
from featrix_iac.config.includes import ROOT_FILE, load_document
from featrix_iac.config.overlay import apply_overlay
from featrix_iac.config.templating import address_of, render_tree
from featrix_iac.config.validation import validate_project
from featrix_iac.config.yaml_source import Path_, SourceMap
from featrix_iac.diagnostics import Diagnostic, Diagnostics, DiagnosticsError, Severity, Source, fail
from featrix_iac.kinds import FACTS
from featrix_iac.model import Project
from featrix_iac.model.base import is_url

# a check of the loaded project (or of the raw data when validation failed) that adds its problems
ProjectCheck = Callable[[Project | dict[str, Any], SourceMap, Diagnostics], None]


def data_fields() -> list[tuple[str, str]]:
    """(section, field) of each manifest field holding a local data path (each kind's facts, kinds.py)."""
    return [(f.section, name) for f in FACTS.values() for name in f.data_fields]


@dataclass(frozen=True)
class LoadedProject:
    """A validated project with where it came from: root folder, environment, files and value positions."""

    project: Project
    root: Path
    environment: str
    files: tuple[Path, ...]
    sources: SourceMap
    warnings: tuple[Diagnostic, ...] = ()  # e.g. data checks that a bounded sample cannot settle

    def source(self, *path: str | int) -> Source | None:
        """file:line:col of the value at `path` (or of its nearest written ancestor), e.g. ("predictors", "x")."""
        return self.sources.value(tuple(path))


def _data_paths(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    for section, field in data_fields():
        items = data.get(section)
        if not isinstance(items, dict):
            continue
        for key, body in items.items():
            value = body.get(field) if isinstance(body, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = body[field] = str(value)  # `data: 2024` is a path too (as the model reads it)
            if isinstance(value, str) and value:
                out.append(((section, key, field), value))
    return out


def _rebase_data_paths(
    data: dict[str, Any], root: Path, sources: SourceMap, failed: set[Path_], diags: Diagnostics
) -> None:
    """Rewrite local data paths to POSIX paths relative to the root; report the ones that do not exist."""
    for path, value in _data_paths(data):
        if is_url(value) or path in failed:
            continue
        src = sources.value(path)
        declaring_dir = (root / (src.file if src else ROOT_FILE)).parent
        full = Path(os.path.normpath(declaring_dir / value))
        rebased = value if Path(value).is_absolute() else Path(os.path.relpath(full, root)).as_posix()
        data[str(path[0])][str(path[1])][str(path[2])] = rebased
        if not full.is_file():
            what = "is a folder, not a file" if full.is_dir() else "does not exist"
            shown = f'"{value}"' + (f" ({rebased} from the project root)" if rebased != value else "")
            diags.error("Data file not found", f"{shown} {what}.", address=address_of(path), source=src)


def find_root_file(root: Path) -> Path:
    if not (root / ROOT_FILE).is_file():
        raise fail(f"no {ROOT_FILE} found in {root}")
    return root / ROOT_FILE


def load_project(root: Path | str, env: str | None = None, *, checks: Sequence[ProjectCheck] = ()) -> LoadedProject:
    """Load, template, overlay and validate the project in `root`; raise DiagnosticsError with every problem.

    `checks` run after validation, on the Project (or on the raw data when validation failed, so their
    problems are reported in the same run): the layers above pass theirs, e.g. graph.diagnose_references.
    """
    root = Path(root).resolve()
    find_root_file(root)
    diags = Diagnostics()
    doc = load_document(root, diags)
    if doc is None:
        raise DiagnosticsError(diags)
    environment = apply_overlay(doc, env, diags)
    variables = doc.data.get("variables")
    failed = render_tree(doc.data, doc.sources, variables if isinstance(variables, dict) else {}, environment, diags)
    _rebase_data_paths(doc.data, root, doc.sources, failed, diags)
    apply_development(doc.data, environment, root, doc.sources, diags)
    project = validate_project(doc.data, doc.sources, failed, diags)
    for check in checks:
        check(project if project is not None else doc.data, doc.sources, diags)
    if project is not None and not diags.has_errors:
        from featrix_iac.config.data_checks import check_data

        check_data(project, root, doc.sources, diags, root / ".featrix")
    if diags.has_errors or project is None:
        raise DiagnosticsError(diags)
    warnings = tuple(d for d in diags.sorted() if d.severity is Severity.WARNING)
    return LoadedProject(project, root, environment, tuple(doc.files), doc.sources, warnings)


__all__ = ["SECTIONS", "LoadedProject", "ProjectCheck", "data_fields", "load_project"]
