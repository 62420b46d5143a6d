"""`featrix fmt`: rewrite manifests in canonical formatting, or list the files that would change."""

from __future__ import annotations

import os
from pathlib import Path

import click

from featrix_iac.cli.errors import EXIT_ERROR, CommandExit
from featrix_iac.cli.output import out


@click.command("fmt")
@click.option("--check", is_flag=True, help="Change nothing; list files that would change and exit 1 if any.")
@click.option("--any-file", is_flag=True, help="Also format FILES that are not manifests of the project.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def fmt_cmd(check: bool, any_file: bool, files: tuple[Path, ...]) -> None:
    """Rewrite manifests in canonical formatting (2-space indent, quotes only where needed; comments kept).

    With no FILES, formats featrix.yaml and every file it includes. FILES must be among those, unless
    --any-file is given.
    """
    from featrix_iac.config import find_project_root
    from featrix_iac.config.fmt import format_files, project_files
    from featrix_iac.diagnostics import fail

    cwd = Path.cwd()
    if files:
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise fail(f"no such file: {', '.join(missing)}")
        paths = [f.resolve() for f in files]
        if not any_file:
            _only_manifests(paths, cwd)
    else:
        paths = project_files(find_project_root())
    changed = format_files(paths, cwd, write=not check)
    for path in changed:
        out(os.path.relpath(path, cwd))
    if check and changed:
        raise CommandExit(EXIT_ERROR)


def _only_manifests(paths: list[Path], cwd: Path) -> None:
    """Refuse FILES that are not featrix.yaml or a file it includes (fmt would rewrite any YAML it is given)."""
    from featrix_iac.config import find_project_root
    from featrix_iac.config.fmt import project_files
    from featrix_iac.diagnostics import DiagnosticsError, fail

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
