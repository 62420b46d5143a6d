"""Project files: `init` (featrix.yaml, editor schemas), `fmt` (canonical formatting) and `render` (resolved)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.config import ROOT_FILE, find_project_root
from featrix_iac.diagnostics import DiagnosticsError, fail

if TYPE_CHECKING:
    from featrix_iac.model import Project

SCHEMA_FILE, INCLUDE_SCHEMA_FILE = "featrix.schema.json", "featrix.include.schema.json"

INIT_MANIFEST = """\
# yaml-language-server: $schema=featrix.schema.json
version: 1
project: {name}
server:
  url: local  # the bundled local server; or https://sphere-api.featrix.com

variables:
  epochs: 10

# Put your table in data/ and uncomment:
# foundational_models:
#   main:
#     data: data/table.csv
#     epochs: "{{{{ var('epochs') }}}}"
#
# predictors:
#   target:
#     foundational_model: main
#     type: binary_classifier  # or multi_classifier, regressor
#     target_column: label
"""


# -- init ------------------------------------------------------------------------------------------------


def _project_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-")
    return name or "my-project"


def init_project(folder: Path) -> None:
    """Create featrix.yaml, its editor schemas, data/ and a .gitignore entry for .featrix/ in `folder`;
    an existing project is never overwritten."""
    manifest = folder / ROOT_FILE
    if manifest.exists():
        raise fail(
            f"{ROOT_FILE} already exists in {folder}",
            "featrix init never overwrites a project (`featrix init --schemas` refreshes the editor schemas).",
        )
    manifest.write_text(INIT_MANIFEST.format(name=_project_name(folder)), encoding="utf-8")
    (folder / "data").mkdir(exist_ok=True)
    _write_schemas(folder)
    gitignore = folder / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if ".featrix/" not in lines and ".featrix" not in lines:
        with gitignore.open("a", encoding="utf-8") as f:
            f.write(("\n" if lines and lines[-1] else "") + ".featrix/\n")


def refresh_schemas(folder: Path) -> None:
    """(Re)write the editor schemas of the project in `folder`."""
    if not (folder / ROOT_FILE).exists():
        raise fail(f"no {ROOT_FILE} in {folder}", "Run `featrix init` (without --schemas) to create a project.")
    _write_schemas(folder)


def _write_schemas(folder: Path) -> None:
    """The editor schemas, next to featrix.yaml so that they are committed with it (not in git-ignored .featrix/)."""
    from featrix_iac.config.schema import include_schema_text, schema_text

    (folder / SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
    (folder / INCLUDE_SCHEMA_FILE).write_text(include_schema_text(), encoding="utf-8")


# -- fmt -------------------------------------------------------------------------------------------------


def format_manifests(files: Sequence[Path], cwd: Path, *, write: bool, any_file: bool = False) -> list[Path]:
    """Format `files` (default: featrix.yaml and every file it includes); the files that changed (or would).

    `files` must be manifests of the project in `cwd` unless `any_file`: fmt rewrites any YAML it is given."""
    from featrix_iac.config.fmt import format_files, project_files

    if files:
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise fail(f"no such file: {', '.join(missing)}")
        paths = [f.resolve() for f in files]
        if not any_file:
            _only_manifests(paths, cwd)
    else:
        paths = project_files(find_project_root())
    return format_files(paths, cwd, write=write)


def _only_manifests(paths: list[Path], cwd: Path) -> None:
    """Refuse FILES that are not featrix.yaml or a file it includes."""
    from featrix_iac.config.fmt import project_files

    try:
        manifests = {p.resolve() for p in project_files(find_project_root())}
    except DiagnosticsError:
        manifests = set()
    others = [os.path.relpath(p, cwd) for p in paths if p not in manifests]
    if others:
        raise fail(
            f"not a manifest of this project: {', '.join(others)}",
            "featrix fmt rewrites featrix.yaml and the files it includes; pass --any-file to format other YAML files.",
        )


# -- render ----------------------------------------------------------------------------------------------


def resolved_manifest(project: Project) -> dict[str, Any]:
    """The project as plain data with secrets redacted; environments and include are already applied."""
    from featrix_iac.model import redact

    data: dict[str, Any] = redact(project)
    data.pop("environments", None)
    data.pop("include", None)
    pruned: dict[str, Any] = _prune(data)
    return pruned


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


__all__ = [
    "INCLUDE_SCHEMA_FILE",
    "ROOT_FILE",
    "SCHEMA_FILE",
    "format_manifests",
    "init_project",
    "refresh_schemas",
    "resolved_manifest",
]
