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
    from featrix_iac.operations.project import format_manifests

    cwd = Path.cwd()
    changed = format_manifests(files, cwd, write=not check, any_file=any_file)
    for path in changed:
        out(os.path.relpath(path, cwd))
    if check and changed:
        raise CommandExit(EXIT_ERROR)
