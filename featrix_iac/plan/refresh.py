"""Refresh, the only I/O of planning: read the live objects of the lockfile's entries, batched per kind.

A read error never reads as a deletion: 401/403, 5xx (after the client's retries), connection
failures, unconfirmed 404s and 200 answers that are not the document asked for (`{}`, another
object's document, a list without its list) abort the plan with an Error. Only a handler's None (a 404 it confirmed,
or an object missing from a document that was read) means "deleted outside featrix".
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from featrix_iac.client import AuthError, ConnectionFailed, FeatrixClient, FeatrixError
from featrix_iac.diagnostics import DiagnosticsError, fail
from featrix_iac.resources.base import CannotTell, Handler, LiveObject, MalformedDocument, make_tag
from featrix_iac.state import LockEntry, Lockfile

READ_STATUSES = ("ready", "tainted", "deleting")
NOT_A_DELETION = "Nothing was changed. featrix never reads an error as a deletion, so the plan stops here."


@dataclass
class Refreshed:
    """What refresh saw: live objects (None = confirmed gone) and orphans found for "creating" entries."""

    live: dict[str, LiveObject | None] = field(default_factory=dict)
    found: dict[str, dict[str, str] | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def refresh(
    client: FeatrixClient,
    lockfile: Lockfile,
    *,
    desired: Mapping[str, dict[str, Any]] | None = None,
    handlers: Mapping[str, Handler] | None = None,
    project: str = "",
    environment: str = "default",
) -> Refreshed:
    """Read every lockfile entry that has ids, one batch per kind (kinds in parallel)."""
    if handlers is None:
        from featrix_iac.resources.registry import HANDLERS

        handlers = HANDLERS
    by_kind: dict[str, dict[str, LockEntry]] = {}
    for address, entry in sorted(lockfile.resources.items()):
        if entry.status in READ_STATUSES and entry.ids and entry.kind in handlers:
            by_kind.setdefault(entry.kind, {})[address] = entry
    out = Refreshed()
    if by_kind:
        with ThreadPoolExecutor(max_workers=len(by_kind)) as pool:
            futures = {kind: pool.submit(_read_kind, handlers[kind], client, kind, e) for kind, e in by_kind.items()}
            for kind in sorted(futures):
                out.live.update(futures[kind].result())
    _find_orphans(out, client, lockfile, desired or {}, handlers, project, environment)
    return out


def _read_kind(
    handler: Handler, client: FeatrixClient, kind: str, entries: dict[str, LockEntry]
) -> dict[str, LiveObject | None]:
    try:
        result = handler.read_all(client, entries)
    except FeatrixError as exc:
        raise refresh_error(kind, sorted(entries), exc) from None
    missing = sorted(set(entries) - set(result))
    if missing:  # a handler that skipped an entry has not confirmed anything about it
        raise fail(f"refresh did not report {', '.join(missing)}", NOT_A_DELETION, address=missing[0])
    return dict(result)


def refresh_error(kind: str, addresses: list[str], exc: FeatrixError) -> DiagnosticsError:
    what = kind.replace("_", " ") + "s"
    status = getattr(exc, "status", None)
    code = f" (HTTP {status})" if status else ""
    if isinstance(exc, AuthError):
        summary = f"the server refused the account API key while reading {what}{code}"
        hint = "Check FEATRIX_API_KEY (or the manifest's server.api_key_env) and its permissions."
    elif isinstance(exc, MalformedDocument):
        summary = f"cannot read {what} from the server: {exc}"
        hint = "The server answered, but not with the document asked for (a proxy or a server fault)."
    elif isinstance(exc, ConnectionFailed):
        summary = f"cannot read {what} from the server: {exc}"
        hint = "Check the server URL; if it is right, the server may be down: run the plan again later."
    else:
        summary = f"cannot read {what} from the server{code}: {exc}"
        hint = "The server may be down or overloaded; run the plan again later."
    listed = ", ".join(addresses[:5]) + (f" and {len(addresses) - 5} more" if len(addresses) > 5 else "")
    return fail(summary, f"{hint}\nWhile reading: {listed}.\n{NOT_A_DELETION}", address=addresses[0])


def _find_orphans(
    out: Refreshed,
    client: FeatrixClient,
    lockfile: Lockfile,
    desired: Mapping[str, dict[str, Any]],
    handlers: Mapping[str, Handler],
    project: str,
    environment: str,
) -> None:
    """For "creating" entries without ids: look for the object by its creation tag (adopt when found)."""
    for address, entry in sorted(lockfile.resources.items()):
        if entry.status != "creating" or entry.ids or not entry.creation_token:
            continue
        handler = handlers.get(entry.kind)
        if handler is None:
            continue
        tag = make_tag(project, environment, address, entry.creation_token)
        fields = desired.get(address) or _recorded_fields(entry)
        try:
            out.found[address] = handler.find_existing(client, tag, scope_of(lockfile, fields))
        except (CannotTell, FeatrixError) as exc:
            out.warnings.append(f"{address}: cannot tell yet whether an earlier apply created it ({exc})")


def _recorded_fields(entry: LockEntry) -> dict[str, Any]:
    """For an entry no longer declared: its recorded fields, and its foundational model from depends_on."""
    fields = dict(entry.applied)
    for dep in entry.depends_on:
        if dep.startswith("foundational_model.") and "foundational_model" not in fields:
            fields["foundational_model"] = dep.split(".", 1)[1]
    return fields


def scope_of(lockfile: Lockfile, desired: dict[str, Any]) -> dict[str, str]:
    """Where find_existing searches: the foundational model's session, and the object's name."""
    scope: dict[str, str] = {}
    fm = desired.get("foundational_model")
    if isinstance(fm, str):
        entry = lockfile.entry(f"foundational_model.{fm}")
        if entry is not None and entry.ids.get("session_id"):
            scope["session_id"] = entry.ids["session_id"]
    if isinstance(desired.get("name"), str):
        scope["name"] = desired["name"]
    return scope
