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

from featrix_iac.addresses import Address
from featrix_iac.client import AuthError, ConnectionFailed, FeatrixClient, FeatrixError, NotFoundError
from featrix_iac.diagnostics import Diagnostic, Diagnostics, DiagnosticsError, fail
from featrix_iac.graph import reference_fields
from featrix_iac.resources.base import CannotTell, Handler, LiveObject, MalformedDocument, Probe
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
    destroy: bool = False,
) -> Refreshed:
    """Read every lockfile entry that has ids, one batch per kind (kinds in parallel); look for what the
    manifests declare and the lockfile lacks (not for destroy); check the key when nothing was read."""
    if handlers is None:
        from featrix_iac.resources.registry import HANDLERS

        handlers = HANDLERS
    start = getattr(client, "request_count", None)
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
    _find_orphans(out, client, lockfile, desired or {}, handlers, project, environment, destroy)
    if start is not None and getattr(client, "request_count", None) == start:
        authenticate(client)
    return out


def _read_kind(
    handler: Handler, client: FeatrixClient, kind: str, entries: dict[str, LockEntry]
) -> dict[str, LiveObject | None]:
    try:
        result = handler.read_all(client, entries)
    except FeatrixError as exc:
        raise refresh_error(kind, sorted(entries), exc, getattr(client, "url_source", "")) from None
    missing = sorted(set(entries) - set(result))
    if missing:  # a handler that skipped an entry has not confirmed anything about it
        raise fail(f"refresh did not report {', '.join(missing)}", NOT_A_DELETION, address=missing[0])
    return dict(result)


def refresh_error(kind: str, addresses: list[str], exc: FeatrixError, url_source: str = "") -> DiagnosticsError:
    what = kind.replace("_", " ") + "s"
    status = getattr(exc, "status", None)
    code = f" (HTTP {status})" if status else ""
    if isinstance(exc, AuthError):
        summary = f"the server refused the account API key while reading {what}{code}"
        hint = "Check FEATRIX_API_KEY (or the manifest's server.api_key_env) and its permissions."
    elif isinstance(exc, MalformedDocument):
        summary = f"cannot read {what} from the server: {exc}"
        hint = "The server answered, but not with the document asked for (a proxy or a server fault)."
    elif isinstance(exc, NotFoundError):  # refresh reads lists and documents every Featrix API serves
        summary = f"cannot read {what} from the server{code}: {exc}"
        hint = (
            f"Every Featrix API serves this route: check the server URL{f' ({url_source})' if url_source else ''}; "
            "it must be the API's base URL, with no extra path."
        )
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
    destroy: bool,
) -> None:
    """Look on the server for what this project and environment declare but the lockfile does not record
    (a lost create answer, a lost lockfile): by each kind's identity, referenced kinds first so that their
    found ids scope the search of what refers to them. One list (or document) read per path.

    Found: adopted. Absent: created. Cannot tell (ambiguous, queued without id): the plan is refused,
    naming `featrix import` when candidates are known, so that nothing is ever created twice.
    """
    wanted = {a: dict(f) for a, f in desired.items() if _unrecorded(lockfile.entry(a)) and not destroy}
    removed = {  # no longer declared (or all, for destroy): a finding is only reported
        a: dict(desired.get(a) or _recorded_fields(e))
        for a, e in lockfile.resources.items()
        if a not in wanted and e.status == "creating" and not e.ids and e.creation_token
    }
    problems = Diagnostics()
    for kind in sorted({Address.parse(a).kind for a in {**wanted, **removed}}, key=kind_depth):
        handler = handlers.get(kind)
        if handler is None:
            continue
        probes = {
            a: probe_of(lockfile, a, f, out.found, handlers, project, environment)
            for a, f in sorted({**wanted, **removed}.items())
            if Address.parse(a).kind == kind
        }
        try:
            outcomes = handler.find_each(client, probes)
        except FeatrixError as exc:
            raise refresh_error(kind, sorted(probes), exc, getattr(client, "url_source", "")) from None
        for address, outcome in outcomes.items():
            if not isinstance(outcome, CannotTell):
                out.found[address] = outcome
            elif address in removed:
                out.warnings.append(f"{address}: cannot tell yet whether an earlier apply created it ({outcome})")
            else:
                first = _found_references(address, wanted, out.found, handlers)
                problems.add(_cannot_determine(address, outcome, environment, first))
    if problems.has_errors:
        raise DiagnosticsError(problems)


def _unrecorded(entry: LockEntry | None) -> bool:
    """Declared, but no ids recorded: never created, or its create answer (or the lockfile) was lost."""
    return entry is None or (entry.status == "creating" and not entry.ids)


def kind_depth(kind: str) -> int:
    """How many references deep a kind is (foundational model 0, predictor 1, endpoint 2)."""
    refs = reference_fields(kind)
    return 1 + max(kind_depth(k) for _, k in refs) if refs else 0


def _found_references(
    address: str,
    wanted: Mapping[str, dict[str, Any]],
    found: Mapping[str, dict[str, str] | None],
    handlers: Mapping[str, Handler],
) -> list[tuple[str, str]]:
    """(address, import id) of what `address` refers to that this search found but the lockfile lacks,
    referenced first: `featrix import` needs them recorded before it (lost lockfile)."""
    out: list[tuple[str, str]] = []
    kind, fields = Address.parse(address).kind, wanted.get(address, {})
    for name, ref_kind in reference_fields(kind):
        ref = Address(ref_kind, str(fields.get(name)))
        ids = found.get(ref)
        if ids and ref_kind in handlers:
            out += [*_found_references(ref, wanted, found, handlers), (ref, handlers[ref_kind].import_id(ids))]
    return out


def _cannot_determine(address: str, exc: CannotTell, environment: str, first: list[tuple[str, str]]) -> Diagnostic:
    from featrix_iac.diagnostics import Severity
    from featrix_iac.plan.reasons import cannot_determine_detail

    return Diagnostic(
        Severity.ERROR,
        f"cannot determine creation result for {address}",
        cannot_determine_detail(address, str(exc), getattr(exc, "candidates", []), environment, first),
        address,
    )


def _recorded_fields(entry: LockEntry) -> dict[str, Any]:
    """For an entry no longer declared: its recorded fields, and what it refers to from depends_on."""
    fields = dict(entry.applied)
    for name, ref_kind in reference_fields(entry.kind):
        for dep in map(Address.parse, entry.depends_on):  # checked addresses (lockfile.problems)
            if dep.kind == ref_kind and name not in fields:
                fields[name] = dep.key
    return fields


def probe_of(
    lockfile: Lockfile,
    address: str,
    fields: Mapping[str, Any],
    found: Mapping[str, dict[str, str] | None],
    handlers: Mapping[str, Handler],
    project: str,
    environment: str,
) -> Probe:
    """What identifies `address` on the server: its fields, its intent (token, start) from the lockfile, the
    ids of what it refers to (recorded, else found by this search), and the ids the lockfile already holds."""
    kind = Address.parse(address).kind
    refs: dict[str, str] = {}
    for name, ref_kind in reference_fields(kind):
        if isinstance(fields.get(name), str):
            ref = Address(ref_kind, fields[name])
            entry = lockfile.entry(ref)
            recorded = entry.ids if entry is not None and entry.status != "retired" else {}
            refs.update(recorded or found.get(ref) or {})
    entry = lockfile.entry(address)
    return Probe(
        project=project,
        environment=environment,
        address=address,
        desired=dict(fields),
        token=(entry.creation_token or "") if entry is not None else "",
        started=(entry.creation_started or "") if entry is not None else "",
        refs=refs,
        known=frozenset(known_ids(lockfile, kind, handlers[kind].id_field if kind in handlers else "id")),
    )


def known_ids(lockfile: Lockfile, kind: str, id_field: str) -> set[str]:
    """Every id of this kind the lockfile records (entries and retired records): never someone's orphan."""
    out: set[str] = set()
    for entry in lockfile.resources.values():
        if entry.kind == kind:
            out.update(ids[id_field] for ids in (entry.ids, *entry.retired) if ids.get(id_field))
    return out


def authenticate(client: FeatrixClient) -> None:
    """Plan always authenticates: when refresh had nothing to read, the account key is checked on its own
    (GET /auth/whoami, client.py:FeatrixSphere.whoami), so a wrong key fails the plan, not the apply."""
    try:
        client.get("/auth/whoami")
    except AuthError as exc:
        raise fail(
            f"the server refused the account API key (HTTP {exc.status})",
            "Check FEATRIX_API_KEY (or the manifest's server.api_key_env) and its permissions.",
        ) from None
    except FeatrixError as exc:
        raise fail(f"cannot reach the server to check the account API key: {exc}", NOT_A_DELETION) from None
