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
            key = session.store.decrypt(address, entry.secrets["api_key"])
            path = f"/endpoint/{entry.ids['endpoint_id']}/predict"
            return [client.post(path, {"query_record": r}, headers={"X-API-Key": key}) for r in records]
        path = f"/compute/session/{entry.ids['session_id']}/predict"
        pid = entry.ids["predictor_id"]
        return [client.post(path, {"query_record": r, "predictor_id": pid}) for r in records]
