"""`featrix show [PLAN_FILE]`: a saved plan (text, --json or --markdown), or without a file the lockfile."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from featrix_iac.cli.output import color_enabled, out


@click.command("show")
@click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay, for showing the lockfile.")
@click.argument("plan_file", required=False, metavar="[PLAN_FILE]")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: schemas/plan.schema.json, or state.schema.json without a file."
)
@click.option("--markdown", is_flag=True, help="Print a saved plan as a Markdown pull-request comment.")
@click.option(
    "--json-artifact",
    "artifact",
    default="plan.json",
    show_default=True,
    metavar="NAME",
    help="With --markdown: where readers find the whole plan when the comment is shortened.",
)
@click.option(
    "--why",
    "why",
    metavar="ADDRESS",
    help="Why this environment serves ADDRESS: its chain down to the data, promotion, provenance and metrics.",
)
def show_cmd(
    env: str | None, plan_file: str | None, as_json: bool, markdown: bool, artifact: str, why: str | None
) -> None:
    """Show a saved plan (checked: version and checksum), or the lockfile's resources (secrets redacted)."""
    if as_json and markdown:
        raise click.UsageError("--json and --markdown exclude each other")
    if why is not None:
        if plan_file or markdown:
            raise click.UsageError("--why reads the lockfile: it takes no PLAN_FILE and no --markdown")
        _show_why(env, why, as_json=as_json)
        return
    if plan_file:
        _show_plan(Path(plan_file), as_json=as_json, markdown=markdown, artifact=artifact)
        return
    if markdown:
        raise click.UsageError("--markdown needs a PLAN_FILE")
    _show_state(env, as_json=as_json)


def _show_plan(path: Path, *, as_json: bool, markdown: bool, artifact: str) -> None:
    from featrix_iac.operations.saved import read_saved
    from featrix_iac.operations.views import plan_json, render_markdown, render_text

    saved = read_saved(path)
    if as_json:
        out(plan_json(saved.plan), nl=False)
    elif markdown:
        out(render_markdown(saved.plan, json_artifact_hint=artifact) + _checks_section(saved.environment), nl=False)
    else:
        out(f"Saved plan {path} (environment {saved.environment}, lockfile serial {saved.serial}, {saved.created_at})")
        out(render_text(saved.plan, color=color_enabled() and sys.stdout.isatty()), nl=False)


def _show_why(env: str | None, address: str, *, as_json: bool) -> None:
    from featrix_iac import operations
    from featrix_iac.cli.why_view import render_why
    from featrix_iac.operations.views import why_json

    doc = operations.why(operations.find_project_root(), env, address)
    out(why_json(doc) if as_json else render_why(doc.model_dump(mode="json", exclude_none=True)), nl=False)


def _checks_section(env: str) -> str:
    """The endpoints' last smoke checks from the environment's lockfile, when run inside the project."""
    from featrix_iac import operations
    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.operations.views import checks_markdown

    try:
        root = operations.find_project_root()
    except DiagnosticsError:  # a plan file shown outside its project: the plan alone
        return ""
    # a plan made without -e names the environment "default", which no manifest declares (as apply FILE reads it)
    return checks_markdown(operations.open_session(root, env if env != "default" else None).store.load())


def _show_state(env: str | None, *, as_json: bool) -> None:
    from featrix_iac import operations

    root = operations.find_project_root()
    if as_json:
        from featrix_iac.operations.views import state_json

        out(state_json(operations.open_session(root, env).store.load()), nl=False)
        return
    entries = {address: operations.state_show(root, env, address) for address, _ in operations.state_list(root, env)}
    if not entries:
        out("The lockfile records nothing yet (run `featrix apply`).")
        return
    for address, data in entries.items():
        ids = ", ".join(f"{k}={v}" for k, v in sorted(data.get("ids", {}).items()))
        out(f"{address}  [{data.get('status')}]  {ids}")
