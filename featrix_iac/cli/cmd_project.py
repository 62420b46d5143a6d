"""Project commands: `featrix init`, `featrix validate`, `featrix render`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from featrix_iac.cli.errors import EXIT_ERROR, CommandExit
from featrix_iac.cli.output import out
from featrix_iac.diagnostics import DiagnosticsError, fail

if TYPE_CHECKING:
    from featrix_iac.operations import LoadedProject

ENV_OPTION = click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay to apply (default: none).")


def _load(env: str | None) -> LoadedProject:
    from featrix_iac import operations
    from featrix_iac.config import find_project_root

    return operations.load(find_project_root(), env)


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
    from featrix_iac.plan.jsonformat import validate_json

    try:
        diagnostics = list(_load(env).warnings)
    except DiagnosticsError as exc:
        diagnostics = exc.diagnostics.sorted()
    out(validate_json(diagnostics), nl=False)  # the versioned document of schemas/validate.schema.json
    if any(d.severity.value == "error" for d in diagnostics):
        raise CommandExit(EXIT_ERROR)


def resolved_manifest(project: Any) -> dict[str, Any]:
    """The project as plain data with secrets redacted; environments and include are already applied."""
    from featrix_iac.model import redact

    data = redact(project)
    data.pop("environments", None)
    data.pop("include", None)
    return _prune(data)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


@click.command("render")
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def render_cmd(env: str | None, as_json: bool) -> None:
    """Print the resolved manifest (includes, overlay and templates applied; secrets redacted)."""
    loaded = _load(env)
    data = resolved_manifest(loaded.project)
    if as_json:
        out(json.dumps(data, indent=2, default=str))
        return
    import yaml

    out(f"# featrix render: environment {loaded.environment}")
    out(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n"))


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


SCHEMA_FILE, INCLUDE_SCHEMA_FILE = "featrix.schema.json", "featrix.include.schema.json"


def _project_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-")
    return name or "my-project"


@click.command("init")
@click.option(
    "--schemas", "schemas_only", is_flag=True, help="Only (re)write the editor schemas of an existing project."
)
def init_cmd(schemas_only: bool) -> None:
    """Create featrix.yaml, its editor schemas, data/ and a .gitignore entry for .featrix/ in the current folder."""
    from featrix_iac.config import ROOT_FILE

    folder = Path.cwd()
    manifest = folder / ROOT_FILE
    if schemas_only:
        if not manifest.exists():
            raise fail(f"no {ROOT_FILE} in {folder}", "Run `featrix init` (without --schemas) to create a project.")
        _write_schemas(folder)
        out(f"Wrote {SCHEMA_FILE} and {INCLUDE_SCHEMA_FILE} in {folder}.")
        return
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
    out(f"Created {ROOT_FILE}, {SCHEMA_FILE}, {INCLUDE_SCHEMA_FILE}, data/ and .gitignore in {folder}.")
    out("Next: put a table in data/, declare it in featrix.yaml, then run `featrix validate`.")


def _write_schemas(folder: Path) -> None:
    """The editor schemas, next to featrix.yaml so that they are committed with it (not in git-ignored .featrix/)."""
    from featrix_iac.config.schema import include_schema_text, schema_text

    (folder / SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
    (folder / INCLUDE_SCHEMA_FILE).write_text(include_schema_text(), encoding="utf-8")


__all__ = ["init_cmd", "render_cmd", "validate_cmd"]
