"""Project commands: `featrix init`, `featrix validate`, `featrix render`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from featrix_iac.cli.errors import EXIT_ERROR, CommandExit
from featrix_iac.cli.output import out
from featrix_iac.diagnostics import DiagnosticsError

if TYPE_CHECKING:
    from featrix_iac.operations import LoadedProject

ENV_OPTION = click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay to apply (default: none).")


def _load(env: str | None) -> LoadedProject:
    from featrix_iac import operations

    return operations.load(operations.find_project_root(), env)


@click.command("validate")
@ENV_OPTION
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"format_version": 1, "valid": bool, "diagnostics": [...]} as JSON.'
)
def validate_cmd(env: str | None, as_json: bool) -> None:
    """Check the manifests: syntax, types, references, templates and data files."""
    if not as_json:
        from featrix_iac.cli.output import echo_diagnostics

        echo_diagnostics(_load(env).warnings)
        out("Success! The configuration is valid.")
        return
    from featrix_iac.operations.views import validate_json

    try:
        diagnostics = list(_load(env).warnings)
    except DiagnosticsError as exc:
        diagnostics = exc.diagnostics.sorted()
    out(validate_json(diagnostics), nl=False)  # the versioned document of schemas/validate.schema.json
    if any(d.severity.value == "error" for d in diagnostics):
        raise CommandExit(EXIT_ERROR)


@click.command("render")
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def render_cmd(env: str | None, as_json: bool) -> None:
    """Print the resolved manifest (includes, overlay and templates applied; secrets redacted)."""
    from featrix_iac.operations.project import resolved_manifest

    loaded = _load(env)
    data = resolved_manifest(loaded.project)
    if as_json:
        out(json.dumps(data, indent=2, default=str))
        return
    import yaml

    out(f"# featrix render: environment {loaded.environment}")
    out(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n"))


@click.command("init")
@click.option(
    "--schemas", "schemas_only", is_flag=True, help="Only (re)write the editor schemas of an existing project."
)
def init_cmd(schemas_only: bool) -> None:
    """Create featrix.yaml, its editor schemas, data/ and a .gitignore entry for .featrix/ in the current folder."""
    from featrix_iac.operations.project import (
        INCLUDE_SCHEMA_FILE,
        ROOT_FILE,
        SCHEMA_FILE,
        init_project,
        refresh_schemas,
    )

    folder = Path.cwd()
    if schemas_only:
        refresh_schemas(folder)
        out(f"Wrote {SCHEMA_FILE} and {INCLUDE_SCHEMA_FILE} in {folder}.")
        return
    init_project(folder)
    out(f"Created {ROOT_FILE}, {SCHEMA_FILE}, {INCLUDE_SCHEMA_FILE}, data/ and .gitignore in {folder}.")
    out("Next: put a table in data/, declare it in featrix.yaml, then run `featrix validate`.")


__all__ = ["init_cmd", "render_cmd", "validate_cmd"]
