"""State surgery: import an existing server object, state rm / mv, unlock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.addresses import a_kind
from featrix_iac.diagnostics import fail
from featrix_iac.model.secrets import REDACTED
from featrix_iac.operations.session import Session, connect, open_session

if TYPE_CHECKING:
    from featrix_iac.addresses import Address
    from featrix_iac.client import FeatrixClient
    from featrix_iac.model.resources import Resource
    from featrix_iac.resources.base import Handler, LiveObject
    from featrix_iac.state import LockEntry, Lockfile, LockInfo


# -- state surgery: import, state rm / mv, unlock (issue 5 item 4) --------------------------------------


@dataclass
class ImportResult:
    """What `featrix import` recorded: the ids, and what it could not check against the server."""

    address: str
    ids: dict[str, str]
    unverified: list[str] = field(default_factory=list)  # fields recorded from the manifest (not reported)
    notes: list[str] = field(default_factory=list)


@dataclass
class Forgotten:
    """One entry `featrix state rm` removed; its server object is untouched."""

    address: str
    ids: dict[str, str]
    still_declared: bool
    pending: list[dict[str, str]] = field(default_factory=list)  # old objects a replacement had yet to delete


def import_resource(root: Path | str, env: str | None, address: str, object_id: str) -> ImportResult:
    """`featrix import ADDRESS ID`: adopt an existing server object into the lockfile, under the lock.

    The address must be declared; the object is read through its kind's handler and must match the
    manifest on every field the server reports (a refusal lists the differences, nothing is written).
    """
    from featrix_iac.addresses import Address
    from featrix_iac.resources.registry import handler_for

    addr = _parse_address(address)
    session = open_session(root, env)
    resource = session.loaded.project.get(addr)
    if resource is None:
        declared = ", ".join(str(a) for a, _ in session.loaded.project.resources() if a.kind == addr.kind)
        raise fail(
            f"{address} is not declared in the manifests",
            f"import adopts a server object for a declared resource: add its block first "
            f"(declared {addr.kind.replace('_', ' ')}s: {declared or 'none'})",
            address,
        )
    handler = handler_for(addr.kind)
    wanted = _desired_one(session, Address(addr.kind, addr.key), resource)
    with session.store.lock("import"):
        lock = session.store.load()
        entry = _import_entry(session, lock, address, object_id, wanted)
        with connect(session.loaded) as (client, url):
            live, outputs = _import_read(client, handler, entry, object_id)
        entry, result = _adopted(address, object_id, entry, live, handler, wanted, resource)
        entry.outputs = outputs
        lock.resources[address] = entry
        lock.server_url = lock.server_url or url
        session.store.save(lock)
    return result


def _parse_address(address: str) -> Address:
    from featrix_iac.addresses import Address

    try:
        return Address.parse(address)
    except ValueError as exc:
        raise fail(str(exc), address=address) from None


def _desired_one(session: Session, addr: Address, resource: Resource) -> dict[str, Any]:
    from featrix_iac.resources.registry import handler_for

    return handler_for(addr.kind).desired(addr.key, resource, session.desired_context())


def _import_entry(session: Session, lock: Lockfile, address: str, object_id: str, wanted: dict[str, Any]) -> LockEntry:
    """The entry to record (ids from ID, applied = the manifest), after the lockfile-side refusals."""
    from featrix_iac.resources.registry import spec_of
    from featrix_iac.state import LockEntry

    current = lock.entry(address)
    if current is not None and current.status not in ("creating", "retired"):
        raise fail(
            f"{address} is already in the lockfile",
            f"it records {_ids_text(current.ids)}. To adopt another object, forget this one first: "
            f"`featrix state rm {address}` (nothing is deleted on the server)",
            address,
        )
    kind = _parse_address(address).kind
    spec = spec_of(kind)
    ids = _import_ids(lock, address, kind, object_id.strip(), wanted)
    for other, e in lock.resources.items():
        if other != address and e.kind == kind and e.status != "retired" and _same_object(spec.identity, e.ids, ids):
            raise fail(f"that {kind.replace('_', ' ')} is already recorded as {other}", _ids_text(e.ids), address)
    applied, hashes = spec.handler.split_applied(wanted)
    resource = session.loaded.project.get(_parse_address(address))
    lifecycle = getattr(resource, "lifecycle", None)
    retired = list(current.retired) if current is not None else []
    if (
        current is not None
        and current.status == "retired"
        and current.ids
        and not _same_object(spec.identity, current.ids, ids)
    ):
        retired.append({**current.ids, "reason": "retired"})  # as apply does: the old one stays tracked
    return LockEntry(
        kind=kind,
        status="ready",
        ids=ids,
        applied=applied,
        hashes=hashes,
        depends_on=sorted(session.graph.dependencies(address)),
        protected=bool(wanted.get("deletion_protection")) or bool(lifecycle and lifecycle.prevent_destroy),
        retired=retired,
    )


def _ids_text(ids: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(ids.items())) or "no ids"


def _same_object(identity: tuple[str, ...], a: dict[str, str], b: dict[str, str]) -> bool:
    """Both name the same object: every id of the kind's identity (its spec) is set and equal."""
    return all(a.get(k) and a.get(k) == b.get(k) for k in identity)


def _import_ids(lock: Lockfile, address: str, kind: str, object_id: str, wanted: dict[str, Any]) -> dict[str, str]:
    """Ids from the ID argument, as the kind's spec parses it (references must be recorded first)."""
    from featrix_iac.addresses import Address
    from featrix_iac.graph import reference_fields
    from featrix_iac.resources.registry import spec_of
    from featrix_iac.resources.spec import ImportRefused

    if not object_id:
        raise fail("the ID to import is empty", address=address)

    def ref(field: str) -> tuple[str, dict[str, str]]:
        target = Address(dict(reference_fields(kind))[field], str(wanted[field]))
        return target, _required_ref(lock, address, target, spec_of(target.kind).reference_id)

    try:
        return spec_of(kind).import_ids(object_id, ref)
    except ImportRefused as exc:
        raise fail(exc.summary, exc.detail, address) from None


def _required_ref(lock: Lockfile, address: str, ref: str, id_field: str) -> dict[str, str]:
    entry = lock.entry(ref)
    if entry is None or entry.status not in ("ready", "tainted") or not entry.ids.get(id_field):
        raise fail(
            f"cannot import {address} before {ref}",
            f"{address} refers to {ref}, which the lockfile does not record (with its {id_field}); "
            f"import or apply {ref} first",
            address,
        )
    return dict(entry.ids)


def _import_read(
    client: FeatrixClient, handler: Handler, entry: LockEntry, object_id: str
) -> tuple[LiveObject | None, dict[str, Any]]:
    """The object through its handler (None: confirmed absent), and its outputs; read errors are refusals."""
    from featrix_iac.client import FeatrixError
    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.resources.registry import spec_of

    try:
        return handler.read(client, entry), spec_of(entry.kind).import_outputs(client, entry.ids)
    except DiagnosticsError:
        raise
    except FeatrixError as exc:
        raise fail(
            f"cannot read {entry.kind.replace('_', ' ')} {object_id} from the server: {exc}",
            "nothing was recorded; run the import again when the server answers",
        ) from None


def _adopted(
    address: str,
    object_id: str,
    entry: LockEntry,
    live: LiveObject | None,
    handler: Handler,
    wanted: dict[str, Any],
    resource: Resource,
) -> tuple[LockEntry, ImportResult]:
    """Check the object read from the server against the manifest; the entry to record, or a refusal."""
    from featrix_iac.resources.registry import spec_of

    kind = entry.kind.replace("_", " ")
    if live is None:
        raise fail(
            f"no {kind} {object_id} on the server",
            f"read as {_ids_text(entry.ids)}; nothing was recorded",
            address,
        )
    if live.status != "ready":
        state = "is still training" if live.status == "training" else f"is {live.status} on the server"
        raise fail(f"cannot import {address}: {kind} {object_id} {state}", "nothing was recorded", address)
    lifecycle = getattr(resource, "lifecycle", None)
    ignore = lifecycle.ignore_changes if lifecycle is not None else []
    differences, kept = _import_differences(handler, wanted, live.fields, ignore)
    if differences:
        raise fail(
            f"{kind} {object_id} does not match the manifest of {address}",
            "\n".join(differences) + "\nNothing was recorded. Change the manifest to match the object (or import "
            "another object); featrix never adopts an object that the next plan would have to replace or change.",
            address,
        )
    ids = {**entry.ids, **{k: v for k, v in live.ids.items() if v}}
    adopted = entry.model_copy(deep=True, update={"ids": ids, "applied": {**entry.applied, **kept}})
    result = ImportResult(address, ids, unverified=_unverified(handler, wanted))
    result.notes.extend(spec_of(entry.kind).import_notes(address, wanted))
    return adopted, result


def _import_differences(
    handler: Handler, wanted: dict[str, Any], live: dict[str, Any], ignore: Sequence[str] | str
) -> tuple[list[str], dict[str, Any]]:
    """('field: server X, manifest Y' lines, {ignored field: live value to record as applied})."""
    from featrix_iac.plan.differ import canon, is_ignored, same
    from featrix_iac.resources.base import Change

    lines: list[str] = []
    kept: dict[str, Any] = {}
    for rule in handler.rules:
        name = rule.name
        if not rule.live or rule.change in (Change.COMPUTED, Change.IGNORED) or name not in wanted:
            continue
        if same(live.get(name), wanted[name]):
            continue
        if is_ignored(name, ignore):
            kept[name] = live.get(name)
            continue
        shown = REDACTED if rule.sensitive else None
        server = shown or json_text(canon(live.get(name)))
        manifest = shown or json_text(canon(wanted[name]))
        lines.append(f"  {name}: server {server}, manifest {manifest}")
    return lines, kept


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _unverified(handler: Handler, wanted: dict[str, Any]) -> list[str]:
    """Fields the server does not report, recorded from the manifest (only those set)."""
    from featrix_iac.resources.base import Change

    return [
        r.name
        for r in handler.rules
        if not r.live
        and r.change not in (Change.COMPUTED, Change.IGNORED)
        and wanted.get(r.name) not in (None, [], {}, "")
    ]


def state_rm(root: Path | str, env: str | None, addresses: list[str], *, force: bool = False) -> list[Forgotten]:
    """`featrix state rm`: forget entries (no server call at all), under the lock, in one atomic write."""
    session = open_session(root, env)
    with session.store.lock("state rm"):
        lock = session.store.load()
        missing = [a for a in addresses if a not in lock.resources]
        if missing:
            raise fail(
                f"no {missing[0]} in the lockfile",
                f"recorded: {', '.join(lock.addresses()) or 'none'}; nothing was removed",
                missing[0],
            )
        guarded = [a for a in addresses if lock.resources[a].protected]
        if guarded and not force:
            raise fail(
                f"{', '.join(guarded)}: the lockfile records deletion protection",
                "state rm only forgets the record (the server object stays), but a protected entry is not "
                "forgotten by accident: run again with --force. Nothing was removed.",
                guarded[0],
            )
        declared = {str(a) for a, _ in session.loaded.project.resources()}
        out: list[Forgotten] = []
        for address in dict.fromkeys(addresses):
            entry = lock.resources.pop(address)
            pending = [r for r in entry.retired if r.get("pending_delete")]
            out.append(Forgotten(address, dict(entry.ids), address in declared, pending))
        session.store.save(lock)
    return out


def state_mv(root: Path | str, env: str | None, src: str, dst: str) -> list[str]:
    """`featrix state mv SRC DST`: re-address an entry (same kind), secrets re-encrypted; returns warnings."""
    from featrix_iac.graph import reference_fields

    old, new = _parse_address(src), _parse_address(dst)
    if old.kind != new.kind:
        raise fail(f"cannot move {a_kind(old.kind)} to {a_kind(new.kind)} address", "state mv keeps the kind", dst)
    session = open_session(root, env)
    with session.store.lock("state mv"):
        lock = session.store.load()
        entry = lock.entry(src)
        if entry is not None and entry.status == "creating":
            raise fail(
                f"cannot move {src}: an apply was creating it",
                "its creation tag names the old address; run `featrix apply` to finish it first",
                src,
            )
        for other in lock.resources.values():  # what refers to the old key now refers to the new one
            for ref_field, ref_kind in reference_fields(other.kind):
                if ref_kind == old.kind and other.applied.get(ref_field) == old.key:
                    other.applied[ref_field] = new.key
        if entry is not None:
            _rehash_write_only(session, entry, old, new)
        session.store.rename(lock, src, dst)
    declared = {str(a) for a, _ in session.loaded.project.resources()}
    warnings = []
    if dst not in declared:
        warnings.append(f"{dst} is not declared in the manifests: the next plan removes it")
    if src in declared:
        warnings.append(f"{src} is still declared in the manifests: the next plan creates it again")
    return warnings


def unlock(root: Path | str, env: str | None, lock_id: str) -> LockInfo:
    """`featrix unlock LOCK_ID`: release the environment's lock held with that id (any other id is refused)."""
    session = open_session(root, env)
    return session.store.force_unlock(lock_id.strip())


def _rehash_write_only(session: Session, entry: LockEntry, old: Address, new: Address) -> None:
    """Write-only hashes are salted with the address: when the manifest's value (declared at the new
    address) hashes to the recorded one under the old address, record its hash under the new one."""
    resource = session.loaded.project.get(new)
    if resource is None:
        return
    before, after = _desired_one(session, old, resource), _desired_one(session, new, resource)
    for name, recorded in list(entry.hashes.items()):
        if before.get(name) == recorded and isinstance(after.get(name), str):
            entry.hashes[name] = after[name]
