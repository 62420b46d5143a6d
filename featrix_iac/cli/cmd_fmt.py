"""`featrix fmt`: rewrite manifests in canonical formatting, or list the files that would change."""

from __future__ import annotations

import os
from pathlib import Path

import click

from featrix_iac.cli.errors import EXIT_ERROR, CommandExit
from featrix_iac.cli.output import out


@click.command("fmt")
@click.option("--check", is_flag=True, help="Change nothing; list files that would change and exit 1 if any.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def fmt_cmd(check: bool, files: tuple[Path, ...]) -> None:
    """Rewrite manifests in canonical formatting (2-space indent, quotes only where needed; comments kept).

    With no FILES, formats featrix.yaml and every file it includes.
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
    else:
        paths = project_files(find_project_root())
    changed = format_files(paths, cwd, write=not check)
    for path in changed:
        out(os.path.relpath(path, cwd))
    if check and changed:
        raise CommandExit(EXIT_ERROR)
