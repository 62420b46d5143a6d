"""`featrix output` (the one way to print a secret) and `featrix state list|show|rm|mv` (the lockfile)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from featrix_iac.cli.output import err, out

ENV_OPTION = click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay (default: none).")


def _root() -> Path:
    from featrix_iac import operations

    return operations.find_project_root()


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@click.command("output")
@ENV_OPTION
@click.argument("ref", required=False, metavar="[ADDRESS[.FIELD]]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def output_cmd(env: str | None, ref: str | None, as_json: bool) -> None:
    """Print recorded outputs (all, or one ADDRESS's); secrets only when asked for by name, e.g. endpoint.my_api.api_key."""
    from featrix_iac import operations

    if ref and not operations.is_address(ref):
        value = operations.output(_root(), env, ref)
        out(json.dumps(value.value) if as_json else _shown(value.value))
        return
    values = operations.outputs(_root(), env, ref)  # ADDRESS alone: that resource's outputs
    if as_json:
        data: dict[str, dict[str, Any]] = {}
        for v in values:
            data.setdefault(v.address, {})[v.name] = v.value
        out(json.dumps(data, indent=2, sort_keys=True))
        return
    if not values:
        out("No outputs: the lockfile records nothing yet (run `featrix apply`).")
        return
    width = max(len(f"{v.address}.{v.name}") for v in values)
    for v in values:
        out(f"{f'{v.address}.{v.name}'.ljust(width)} = {_shown(v.value)}")


@click.group("state")
def state_group() -> None:
    """The lockfile: what featrix created, with ids and status (list, show), and surgery on it (rm, mv)."""


@state_group.command("list")
@ENV_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def state_list_cmd(env: str | None, as_json: bool) -> None:
    """List every address the lockfile records."""
    from featrix_iac import operations

    rows = operations.state_list(_root(), env)
    if as_json:
        data = [{"address": a, "kind": e.kind, "status": e.status, "ids": e.ids} for a, e in rows]
        out(json.dumps(data, indent=2, sort_keys=True))
        return
    if not rows:  # say so (on stderr, so that scripts reading the list still get an empty one)
        err(f"The lockfile of environment {env or 'default'!r} records no resources (`featrix apply` creates them).")
    for address, entry in rows:
        status = "" if entry.status == "ready" else f"  ({entry.status})"
        if entry.status == "retired":
            status = f"  (retired: {operations.retired_note()})"
        elif entry.retiring:  # lifecycle.retire begun: deleted by an apply once expired and unused
            status = f"  (retiring: expires {entry.retiring.get('expires_at')})"
        out(f"{address}{status}")
        for record in entry.retired:  # replaced objects it still records
            what = ", ".join(f"{k} {v}" for k, v in sorted(record.items()) if k not in ("reason", "pending_delete"))
            note = "to be deleted" if record.get("pending_delete") else f"retired: {operations.retired_note()}"
            out(f"  replaced: {what}  ({note})")


@state_group.command("show")
@ENV_OPTION
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def state_show_cmd(env: str | None, address: str, as_json: bool) -> None:
    """Show one lockfile entry (secrets as (sensitive value))."""
    from featrix_iac import operations

    data = operations.state_show(_root(), env, address)
    if as_json:
        out(json.dumps({"address": address, **data}, indent=2, sort_keys=True))
        return
    out(f"# {address}")
    if data.get("status") == "retired":
        out(f"# retired: {operations.retired_note()}")
    keys = (
        "kind",
        "status",
        "ids",
        "outputs",
        "applied",
        "hashes",
        "secrets",
        "depends_on",
        "protected",
        "retired",
        "retiring",
    )
    for key in keys:
        value = data.get(key)
        if value in (None, {}, []):
            continue
        if isinstance(value, dict):
            out(f"{key}:")
            for k in sorted(value):
                out(f"  {k} = {_shown(value[k])}")
        elif key == "retired":  # replaced objects it still records
            out("retired:")
            for record in value:
                out("  - " + ", ".join(f"{k} = {v}" for k, v in sorted(record.items())))
        else:
            out(f"{key} = {_shown(value)}")


@state_group.command("rm")
@ENV_OPTION
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@click.option("--force", is_flag=True, help="Also forget entries the lockfile records as protected.")
def state_rm_cmd(env: str | None, addresses: tuple[str, ...], force: bool) -> None:
    """Forget entries: no call to the server, the objects stay where they are (untracked).

    To manage such an object again, `featrix import` it; otherwise the next plan creates the
    still-declared address anew.
    """
    from featrix_iac import operations

    for gone in operations.state_rm(_root(), env, list(addresses), force=force):
        ids = ", ".join(f"{k} {v}" for k, v in sorted(gone.ids.items())) or "no ids"
        out(f"Removed {gone.address} from the lockfile (its server object, {ids}, is untouched).")
        for record in gone.pending:
            old = ", ".join(f"{k} {v}" for k, v in sorted(record.items()) if k not in ("reason", "pending_delete"))
            out(f"  It also recorded an old object still to delete ({old}): featrix no longer deletes it.")
        if gone.still_declared:
            out(f"  {gone.address} is still declared: the next plan creates it, unless you import it.")


@state_group.command("mv")
@ENV_OPTION
@click.argument("src")
@click.argument("dst")
def state_mv_cmd(env: str | None, src: str, dst: str) -> None:
    """Move an entry to a new address of the same kind (after renaming its key in the manifest)."""
    from featrix_iac import operations

    warnings = operations.state_mv(_root(), env, src, dst)
    out(f"Moved {src} to {dst}.")
    for warning in warnings:
        out(f"Warning: {warning}.")


@state_group.command("history")
@ENV_OPTION
@click.option("-n", "limit", default=20, show_default=True, type=click.IntRange(1, 10000), help="How many serials.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def state_history_cmd(env: str | None, limit: int, as_json: bool) -> None:
    """The last serials written to the state (postgres backend): when and by whom."""
    from dataclasses import asdict

    from featrix_iac import operations

    items = operations.state_history(_root(), env, limit)
    if as_json:
        out(json.dumps([asdict(i) for i in items], indent=2, sort_keys=True))
        return
    if not items:
        err("No state was written for this environment yet.")
    for item in items:
        out(f"serial {item.serial}  {item.written_at}  {item.written_by}  (lineage {item.lineage})")


@state_group.command("pull")
@ENV_OPTION
def state_pull_cmd(env: str | None) -> None:
    """Print the stored lockfile (secrets stay encrypted), e.g. for a pull-request comment."""
    from featrix_iac import operations

    out(operations.state_pull(_root(), env), nl=False)


@state_group.command("push")
@ENV_OPTION
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def state_push_cmd(env: str | None, file: Path) -> None:
    """Store FILE as the state; refused unless it continues the stored lineage and is not behind its serial."""
    from featrix_iac import operations

    before, after = operations.state_push(_root(), env, file)
    out(f"Pushed {file}: serial {before} → {after}.")


@state_group.command("migrate")
@ENV_OPTION
@click.option("--to", "to", required=True, type=click.Choice(["postgres", "file"]), help="The backend to copy into.")
def state_migrate_cmd(env: str | None, to: str) -> None:
    """Copy the state from the other backend into --to, using the manifest's state: settings."""
    from featrix_iac import operations

    where, serial = operations.state_migrate(_root(), env, to)
    out(f"Migrated the state to {where} (serial {serial}). Now set `state: {{backend: {to}}}` in featrix.yaml.")
