"""The one place that wires config → graph → state → client (or the embedded server) → refresh → planner → apply.

Every command of the CLI that talks to a server goes through here. Nothing here prints: progress goes
to the observer the CLI passes, results come back as data, failures are DiagnosticsError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.diagnostics import fail

if TYPE_CHECKING:
    from featrix_iac.apply import ApplyResult, Interrupt, Observer
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.config import LoadedProject
    from featrix_iac.graph import ResourceGraph
    from featrix_iac.plan.model import Plan
    from featrix_iac.state import LockEntry, Lockfile, StateStore

LOCAL = "local"
REDACTED = "(sensitive value)"


@dataclass
class PlanResult:
    """A plan and what it was made against (for saved plans: lineage, serial, fingerprints)."""

    plan: Plan
    loaded: LoadedProject
    lockfile: Lockfile
    desired: dict[str, tuple[Any, dict[str, Any]]]
    data_fingerprints: dict[str, str] = field(default_factory=dict)
    requests: int = 0  # HTTP requests made by refresh
    warnings: list[str] = field(default_factory=list)


@dataclass
class ApplyOutcome:
    """What `apply` did: the plan it executed (approved or not) and the applier's result."""

    planned: PlanResult
    approved: bool
    result: ApplyResult | None = None


@dataclass
class Session:
    """A loaded project with its lockfile store, and (inside `connect`) a client."""

    loaded: LoadedProject
    graph: ResourceGraph
    store: StateStore


def open_session(root: Path | str, env: str | None = None) -> Session:
    from featrix_iac.config import load_project
    from featrix_iac.graph import build_graph
    from featrix_iac.state import StateStore

    loaded = load_project(root, env)
    store = StateStore(loaded.root, loaded.environment, project=loaded.project.project)
    return Session(loaded, build_graph(loaded.project), store)


@contextmanager
def connect(
    loaded: LoadedProject, *, on_retry: Callable[[RetryEvent], None] | None = None
) -> Iterator[tuple[FeatrixClient, str]]:
    """A client for the manifest's server: (client, server url as the plan records it).

    `server.url: local` starts the bundled server on `<root>/.featrix/local` for the duration.
    """
    from featrix_iac.client import FeatrixClient

    server = loaded.project.server
    options: dict[str, Any] = {"compute_cluster": server.compute_cluster, "timeout": server.timeout}
    if on_retry is not None:
        options["on_retry"] = on_retry
    if server.url != LOCAL:
        with FeatrixClient.from_environment(server.url, api_key_env=server.api_key_env, **options) as client:
            yield client, server.url
        return
    local = _start_local(loaded.root)
    try:
        with FeatrixClient(local.url, local.api_key, **options) as client:
            yield client, LOCAL
    finally:
        local.stop()


def _start_local(root: Path) -> Any:
    try:
        from featrix_iac.server.embedded import start_local_server
    except ImportError as exc:
        raise fail(
            "server.url is 'local' but the local server is not installed",
            f"install it with `pip install 'featrix-iac[local]'` ({exc.name} is missing)",
        ) from None
    try:
        return start_local_server(root / ".featrix" / "local")
    except RuntimeError as exc:
        raise fail("cannot start the local Featrix server", str(exc)) from None


# -- planning ------------------------------------------------------------------------------------------


def desired_of(session: Session) -> dict[str, tuple[Any, dict[str, Any]]]:
    """{address: (manifest resource, handler.desired())}, data files fingerprinted through the store's cache."""
    from featrix_iac.resources.base import DesiredContext
    from featrix_iac.resources.registry import handler_for

    loaded = session.loaded
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, session.store.fingerprint)
    return {
        str(addr): (res, handler_for(addr.kind).desired(addr.key, res, ctx)) for addr, res in loaded.project.resources()
    }


def fingerprints_of(desired: dict[str, tuple[Any, dict[str, Any]]]) -> dict[str, str]:
    """{address: fingerprint} of every data file the plan depends on (for saved plans)."""
    out: dict[str, str] = {}
    for address, (_, d) in desired.items():
        for name in ("data", "records_file"):
            if isinstance(d.get(name), str):
                out[address if name == "data" else f"{address}.{name}"] = d[name]
    return out


def make_plan_with(
    session: Session,
    client: FeatrixClient,
    server_url: str,
    lockfile: Lockfile,
    *,
    targets: tuple[str, ...] = (),
    destroy: bool = False,
    refresh_only: bool = False,
    allow_empty: bool = False,
) -> PlanResult:
    """Refresh (the only I/O) and run the pure planner."""
    from featrix_iac.addresses import SECTION_OF_KIND
    from featrix_iac.plan.planner import make_plan
    from featrix_iac.plan.refresh import refresh

    loaded = session.loaded
    desired = desired_of(session)
    before = client.request_count
    seen = refresh(
        client,
        lockfile,
        desired={a: d for a, (_, d) in desired.items()},
        project=loaded.project.project,
        environment=loaded.environment,
    )

    def source_of(address: str, path: tuple[str, ...]) -> Any:
        kind, key = address.split(".", 1)
        return loaded.source(SECTION_OF_KIND[kind], key, *path)

    plan = make_plan(
        desired,
        lockfile,
        seen.live,
        session.graph,
        destroy=destroy,
        refresh_only=refresh_only,
        allow_empty=allow_empty,
        targets=targets,
        project=loaded.project.project,
        environment=loaded.environment,
        server_url=server_url,
        found=seen.found,
        source_of=source_of,
    )
    warnings = list(seen.warnings)
    if lockfile.server_url and lockfile.server_url != server_url and lockfile.resources:
        warnings.append(
            f"the lockfile was written for server {lockfile.server_url}, the manifest now names {server_url}: "
            "objects the other server holds read as deleted here"
        )
    plan.warnings = sorted({*plan.warnings, *warnings})
    return PlanResult(
        plan, loaded, lockfile, desired, fingerprints_of(desired), client.request_count - before, warnings
    )


def plan(
    root: Path | str,
    env: str | None = None,
    *,
    targets: tuple[str, ...] = (),
    destroy: bool = False,
    refresh_only: bool = False,
    allow_empty: bool = False,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> PlanResult:
    """`featrix plan`: read-only; no lock is taken, nothing is written."""
    session = open_session(root, env)
    lockfile = session.store.load()
    with connect(session.loaded, on_retry=on_retry) as (client, url):
        return make_plan_with(
            session,
            client,
            url,
            lockfile,
            targets=targets,
            destroy=destroy,
            refresh_only=refresh_only,
            allow_empty=allow_empty,
        )


# -- applying --------------------------------------------------------------------------------------------


def apply(
    root: Path | str,
    env: str | None = None,
    *,
    confirm: Callable[[PlanResult], bool],
    observer: Observer | None = None,
    parallelism: int = 8,
    targets: tuple[str, ...] = (),
    destroy: bool = False,
    allow_empty: bool = False,
    interrupt: Interrupt | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> ApplyOutcome:
    """`featrix apply` / `featrix destroy`: under the environment's lock, plan, ask `confirm`, then apply.

    `confirm` sees the plan (the CLI shows it and asks); it is not called when there is nothing to do.
    """
    session = open_session(root, env)
    with session.store.lock("destroy" if destroy else "apply"):
        lockfile = session.store.load()
        with connect(session.loaded, on_retry=on_retry) as (client, url):
            planned = make_plan_with(
                session, client, url, lockfile, targets=targets, destroy=destroy, allow_empty=allow_empty
            )
            if not planned.plan.has_changes() or not confirm(planned):
                return ApplyOutcome(planned, approved=False)
            result = run_apply(session, client, planned, observer, parallelism, interrupt)
            return ApplyOutcome(planned, approved=True, result=result)


def apply_saved(
    root: Path | str,
    env: str | None,
    saved_plan: Plan,
    *,
    check: Callable[[PlanResult], None],
    observer: Observer | None = None,
    parallelism: int = 8,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """Apply a plan made earlier (`featrix apply FILE`), exactly: `check(current)` refuses a stale one."""
    session = open_session(root, env)
    with session.store.lock("apply"):
        lockfile = session.store.load()
        desired = desired_of(session)
        current = PlanResult(saved_plan, session.loaded, lockfile, desired, fingerprints_of(desired))
        check(current)
        with connect(session.loaded) as (client, _url):
            result = run_apply(session, client, current, observer, parallelism, interrupt)
        return ApplyOutcome(current, approved=True, result=result)


def run_apply(
    session: Session,
    client: FeatrixClient,
    planned: PlanResult,
    observer: Observer | None,
    parallelism: int,
    interrupt: Interrupt | None,
) -> ApplyResult:
    from featrix_iac.apply import apply_plan

    if parallelism < 1:
        raise fail(f"--parallelism must be at least 1, not {parallelism}")
    planned.lockfile.server_url = planned.plan.server_url or planned.lockfile.server_url  # saved with the first step
    return apply_plan(
        planned.plan,
        loaded=session.loaded,
        client=client,
        store=session.store,
        lockfile=planned.lockfile,
        observer=observer,
        parallelism=parallelism,
        interrupt=interrupt,
    )


# -- reading the lockfile: output and state ---------------------------------------------------------------


@dataclass(frozen=True)
class OutputValue:
    address: str
    name: str
    value: Any  # REDACTED for secrets unless asked for by name
    sensitive: bool = False


def _store(root: Path | str, env: str | None) -> tuple[StateStore, Lockfile]:
    from featrix_iac.config import load_project
    from featrix_iac.state import StateStore

    loaded = load_project(root, env)
    store = StateStore(loaded.root, loaded.environment, project=loaded.project.project)
    return store, store.load()


def outputs(root: Path | str, env: str | None = None) -> list[OutputValue]:
    """Every recorded output: ids, computed values, and secrets as (sensitive value)."""
    _, lock = _store(root, env)
    out: list[OutputValue] = []
    for address in lock.addresses():
        entry = lock.resources[address]
        if entry.status == "retired":
            continue
        values = {**{k: v for k, v in entry.ids.items()}, **entry.outputs}
        out.extend(OutputValue(address, k, v) for k, v in sorted(values.items()))
        out.extend(OutputValue(address, k, REDACTED, True) for k in sorted(entry.secrets))
    return out


def output(root: Path | str, env: str | None, ref: str) -> OutputValue:
    """One output by `ADDRESS.FIELD`, e.g. endpoint.species_api.api_key: the one way to read a secret."""
    store, lock = _store(root, env)
    address, _, name = ref.rpartition(".")
    entry = lock.entry(address)
    if not address or entry is None:
        known = ", ".join(lock.addresses()) or "none"
        raise fail(f"no {address or ref} in the lockfile", f"recorded addresses: {known}", address=address or ref)
    if name in entry.secrets:
        return OutputValue(address, name, store.decrypt(address, entry.secrets[name]), True)
    if name == "api_key" and entry.kind == "endpoint":  # e.g. imported: keys cannot be read back
        raise fail(f"{address} has no API key in the lockfile", IMPORT_KEY_NOTE.format(address=address), address)
    values = {**entry.ids, **entry.outputs}
    if name not in values:
        fields = ", ".join(sorted({*values, *entry.secrets})) or "none"
        raise fail(f"{address} has no output {name!r}", f"its outputs: {fields}", address=address)
    return OutputValue(address, name, values[name])


def state_list(root: Path | str, env: str | None = None) -> list[tuple[str, LockEntry]]:
    _, lock = _store(root, env)
    return [(a, lock.resources[a]) for a in lock.addresses()]


def state_show(root: Path | str, env: str | None, address: str) -> dict[str, Any]:
    """One lockfile entry as data, secrets shown as (sensitive value)."""
    _, lock = _store(root, env)
    entry = lock.entry(address)
    if entry is None:
        raise fail(f"no {address} in the lockfile", f"recorded: {', '.join(lock.addresses()) or 'none'}", address)
    data = entry.model_dump(mode="json")
    data["secrets"] = {k: REDACTED for k in entry.secrets}
    return data


# -- predictions through what the lockfile records -----------------------------------------------------


def predict(root: Path | str, env: str | None, address: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Predict each record through an endpoint (with its own key) or a predictor (with the account key)."""
    session = open_session(root, env)
    lock = session.store.load()
    entry = lock.entry(address)
    if (
        entry is None
        or entry.status not in ("ready", "tainted")
        or address.split(".")[0] not in ("endpoint", "predictor")
    ):
        usable = [a for a in lock.addresses() if a.startswith(("endpoint.", "predictor."))]
        raise fail(
            f"cannot predict with {address}",
            "give an endpoint or predictor that `featrix apply` created; "
            f"the lockfile has: {', '.join(usable) or 'none'}",
            address=address,
        )
    with connect(session.loaded) as (client, _):
        if entry.kind == "endpoint":
            if "api_key" not in entry.secrets:
                raise fail(f"{address} has no API key in the lockfile", IMPORT_KEY_NOTE.format(address=address))
            key = session.store.decrypt(address, entry.secrets["api_key"])
            path = f"/endpoint/{entry.ids['endpoint_id']}/predict"
            return [client.post(path, {"query_record": r}, headers={"X-API-Key": key}) for r in records]
        path = f"/compute/session/{entry.ids['session_id']}/predict"
        pid = entry.ids["predictor_id"]
        return [client.post(path, {"query_record": r, "predictor_id": pid}) for r in records]


# -- state surgery: import, state rm / mv, unlock (issue 5 item 4) --------------------------------------

IMPORT_KEY_NOTE = (
    "an endpoint's API key cannot be read back from the server, so the lockfile records none: "
    "`featrix output {address}.api_key` has no key until you rotate it (raise api_key.rotation in the "
    "manifest and apply)"
)


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


def _parse_address(address: str) -> Any:
    from featrix_iac.addresses import Address

    try:
        return Address.parse(address)
    except ValueError as exc:
        raise fail(str(exc), address=address) from None


def _desired_one(session: Session, addr: Any, resource: Any) -> dict[str, Any]:
    from featrix_iac.resources.base import DesiredContext
    from featrix_iac.resources.registry import handler_for

    loaded = session.loaded
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, session.store.fingerprint)
    return handler_for(addr.kind).desired(addr.key, resource, ctx)


def _import_entry(session: Session, lock: Lockfile, address: str, object_id: str, wanted: dict[str, Any]) -> LockEntry:
    """The entry to record (ids from ID, applied = the manifest), after the lockfile-side refusals."""
    from featrix_iac.resources.registry import handler_for
    from featrix_iac.state import LockEntry

    current = lock.entry(address)
    if current is not None and current.status not in ("creating", "retired"):
        raise fail(
            f"{address} is already in the lockfile",
            f"it records {_ids_text(current.ids)}. To adopt another object, forget this one first: "
            f"`featrix state rm {address}` (nothing is deleted on the server)",
            address,
        )
    kind = address.split(".", 1)[0]
    ids = _import_ids(lock, address, kind, object_id.strip(), wanted)
    for other, e in lock.resources.items():
        if other != address and e.kind == kind and e.status != "retired" and _same_object(kind, e.ids, ids):
            raise fail(f"that {kind.replace('_', ' ')} is already recorded as {other}", _ids_text(e.ids), address)
    applied, hashes = handler_for(kind).split_applied(wanted)
    resource = session.loaded.project.get(_parse_address(address))
    lifecycle = getattr(resource, "lifecycle", None)
    retired = list(current.retired) if current is not None else []
    if current is not None and current.status == "retired" and current.ids and not _same_object(kind, current.ids, ids):
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


def _same_object(kind: str, a: dict[str, str], b: dict[str, str]) -> bool:
    keys = {
        "foundational_model": ("session_id",),
        "predictor": ("session_id", "predictor_id"),
        "endpoint": ("endpoint_id",),
        "vector_database": ("session_id", "name"),
    }[kind]
    return all(a.get(k) and a.get(k) == b.get(k) for k in keys)


def _import_ids(lock: Lockfile, address: str, kind: str, object_id: str, wanted: dict[str, Any]) -> dict[str, str]:
    """Ids from the ID argument: FM session id; predictor [SESSION/]PREDICTOR; endpoint id; VDB [SESSION/]NAME."""
    if not object_id:
        raise fail("the ID to import is empty", address=address)
    if kind == "foundational_model":
        return {"session_id": object_id}
    if kind == "endpoint":
        pred = _required_ref(lock, address, f"predictor.{wanted['predictor']}", "predictor_id")
        return {"endpoint_id": object_id, "predictor_id": pred["predictor_id"], "session_id": pred["session_id"]}
    fm = _required_ref(lock, address, f"foundational_model.{wanted['foundational_model']}", "session_id")
    sid, _, rest = object_id.rpartition("/")
    if sid and sid != fm["session_id"]:
        raise fail(
            f"{object_id} is in session {sid}, but foundational_model.{wanted['foundational_model']} is session "
            f"{fm['session_id']} in the lockfile",
            f"a {kind.replace('_', ' ')} lives in its foundational model's session; import the matching "
            "foundational model, or give an object of the recorded session",
            address,
        )
    if kind == "predictor":
        return {"session_id": fm["session_id"], "predictor_id": rest}
    return {"session_id": fm["session_id"], "name": rest}


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


def _import_read(client: FeatrixClient, handler: Any, entry: LockEntry, object_id: str) -> tuple[Any, dict[str, Any]]:
    """The object through its handler (None: confirmed absent), and its outputs; read errors are refusals."""
    from featrix_iac.client import FeatrixError
    from featrix_iac.diagnostics import DiagnosticsError

    try:
        return handler.read(client, entry), _import_outputs(client, entry.kind, entry.ids)
    except DiagnosticsError:
        raise
    except FeatrixError as exc:
        raise fail(
            f"cannot read {entry.kind.replace('_', ' ')} {object_id} from the server: {exc}",
            "nothing was recorded; run the import again when the server answers",
        ) from None


def _import_outputs(client: FeatrixClient, kind: str, ids: dict[str, str]) -> dict[str, Any]:
    if kind in ("foundational_model", "predictor"):
        return {k: ids[k] for k in ("session_id", "predictor_id") if ids.get(k)}
    if kind == "endpoint":
        from featrix_iac.client import FeatrixError

        try:
            doc = client.get(f"/endpoints/{ids['endpoint_id']}")
        except FeatrixError:
            return {"endpoint_id": ids["endpoint_id"]}
        return {k: v for k, v in {"endpoint_id": doc.get("id"), "predict_url": doc.get("predict_url")}.items() if v}
    return {}


def _adopted(
    address: str, object_id: str, entry: LockEntry, live: Any, handler: Any, wanted: dict[str, Any], resource: Any
) -> tuple[LockEntry, ImportResult]:
    """Check the object read from the server against the manifest; the entry to record, or a refusal."""
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
    if entry.kind == "foundational_model":
        result.notes.append(
            "the server cannot report which data a foundational model was trained on: the manifest's data "
            f"fingerprint ({wanted.get('data')}) is recorded as applied, unchecked"
        )
    if entry.kind == "endpoint" and not wanted.get("api_key.revoked"):
        result.notes.append(IMPORT_KEY_NOTE.format(address=address))
    return adopted, result


def _import_differences(
    handler: Any, wanted: dict[str, Any], live: dict[str, Any], ignore: Any
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
        shown = "(sensitive value)" if rule.sensitive else None
        server = shown or json_text(canon(live.get(name)))
        manifest = shown or json_text(canon(wanted[name]))
        lines.append(f"  {name}: server {server}, manifest {manifest}")
    return lines, kept


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _unverified(handler: Any, wanted: dict[str, Any]) -> list[str]:
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
    from featrix_iac.graph import REFERENCE_FIELDS

    old, new = _parse_address(src), _parse_address(dst)
    if old.kind != new.kind:
        raise fail(f"cannot move a {old.kind} to a {new.kind} address", "state mv keeps the kind", dst)
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
            for ref_field, ref_kind in REFERENCE_FIELDS.get(other.kind, ()):
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


def unlock(root: Path | str, env: str | None, lock_id: str) -> Any:
    """`featrix unlock LOCK_ID`: release the environment's lock held with that id (any other id is refused)."""
    session = open_session(root, env)
    return session.store.force_unlock(lock_id.strip())


def _rehash_write_only(session: Session, entry: LockEntry, old: Any, new: Any) -> None:
    """Write-only hashes are salted with the address: when the manifest's value (declared at the new
    address) hashes to the recorded one under the old address, record its hash under the new one."""
    resource = session.loaded.project.get(new)
    if resource is None:
        return
    before, after = _desired_one(session, old, resource), _desired_one(session, new, resource)
    for name, recorded in list(entry.hashes.items()):
        if before.get(name) == recorded and isinstance(after.get(name), str):
            entry.hashes[name] = after[name]
