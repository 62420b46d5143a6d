"""Plan: desired state and fingerprints, refresh (the only I/O), the planner, promotion and the training budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.collector import collector_paused
from featrix_iac.diagnostics import fail
from featrix_iac.operations.session import Session, connect, open_session

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.config import LoadedProject
    from featrix_iac.plan.model import Plan
    from featrix_iac.resources.desired import Desired, DesiredState
    from featrix_iac.state import Lockfile


@dataclass
class PlanResult:
    """A plan and what it was made against (for saved plans: lineage, serial, fingerprints)."""

    plan: Plan
    loaded: LoadedProject
    lockfile: Lockfile
    desired: dict[str, Desired]
    data_fingerprints: dict[str, str] = field(default_factory=dict)
    requests: int = 0  # HTTP requests made by refresh
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanOptions:
    """What a plan is asked for (the options of `featrix plan`, `apply` and `destroy`), written once."""

    targets: tuple[str, ...] = ()
    destroy: bool = False
    refresh_only: bool = False
    allow_empty: bool = False
    max_training_minutes: float | None = None  # None: the manifest's budget.max_training_minutes
    promote_from: str | None = None


# -- planning ------------------------------------------------------------------------------------------


def desired_of(session: Session) -> dict[str, Desired]:
    """{address: Desired}, data files fingerprinted through the store's cache."""
    from featrix_iac.resources.desired import desired_state

    return desired_state(session.loaded.project, session.desired_context())


def fingerprints_of(desired: DesiredState) -> dict[str, str]:
    """{address: fingerprint} of every data file the plan depends on (for saved plans)."""
    out: dict[str, str] = {}
    for address, declared in desired.items():
        d = declared.fields
        for name in ("data", "records_file"):
            if isinstance(d.get(name), str):
                out[address if name == "data" else f"{address}.{name}"] = d[name]
    return out


def sources_of(loaded: LoadedProject) -> Callable[[str, tuple[str, ...]], Any]:
    """(address, field path) -> file:line:col of the value in the manifests (or its nearest written ancestor)."""
    from featrix_iac.addresses import SECTION_OF_KIND, Address

    def source_of(address: str, path: tuple[str, ...]) -> Any:
        addr = Address.parse(address)
        return loaded.source(SECTION_OF_KIND[addr.kind], addr.key, *path)

    return source_of


@collector_paused()
def make_plan_with(
    session: Session,
    client: FeatrixClient,
    server_url: str,
    lockfile: Lockfile,
    options: PlanOptions = PlanOptions(),
) -> PlanResult:
    """Refresh (the only I/O) and run the pure planner (then promotion from `options.promote_from`'s lockfile)."""
    from featrix_iac.plan.planner import make_plan
    from featrix_iac.plan.refresh import refresh
    from featrix_iac.plan.served import check_served

    loaded = session.loaded
    desired = desired_of(session)
    before = client.request_count
    seen = refresh(
        client,
        lockfile,
        desired={a: d.fields for a, d in desired.items()},
        project=loaded.project.project,
        environment=loaded.environment,
        destroy=options.destroy,
    )

    source_of = sources_of(loaded)
    plan = make_plan(
        desired,
        lockfile,
        seen.live,
        session.graph,
        destroy=options.destroy,
        refresh_only=options.refresh_only,
        allow_empty=options.allow_empty,
        targets=options.targets,
        project=loaded.project.project,
        environment=loaded.environment,
        server_url=server_url,
        found=seen.found,
        source_of=source_of,
    )
    plan = _promotion(session, client, plan, lockfile, options.promote_from)
    if not options.refresh_only:
        check_served(client, plan, lockfile, source_of=lambda address: source_of(address, ()))
    warnings = list(seen.warnings)
    if lockfile.server_url and lockfile.server_url != server_url and lockfile.resources:
        warnings.append(
            f"the lockfile was written for server {lockfile.server_url}, the manifest now names {server_url}: "
            "objects the other server holds read as deleted here"
        )
    plan = plan.with_warnings(warnings)
    _check_budget(plan, loaded, options.max_training_minutes)
    return PlanResult(
        plan, loaded, lockfile, desired, fingerprints_of(desired), client.request_count - before, warnings
    )


def _promotion(
    session: Session, client: FeatrixClient, plan: Plan, lockfile: Lockfile, promote_from: str | None
) -> Plan:
    """The plan with promotions from another environment's lockfile (read only; its candidates are read back
    from the server, so a stale lockfile is refused), and notes on what this one borrowed."""
    from featrix_iac.plan.planner import training_kinds
    from featrix_iac.plan.promote import candidates, note_borrowed, promote
    from featrix_iac.plan.refresh import refresh

    if promote_from and not plan.refresh_only:
        if promote_from == session.loaded.environment:
            raise fail(f"--promote-from {promote_from} names this environment", "promote from another environment")
        source = open_session(session.loaded.root, promote_from).store.load()
        if not source.resources:
            raise fail(
                f"cannot promote from {promote_from!r}: its lockfile records nothing",
                f"apply environment {promote_from!r} first (`featrix apply -e {promote_from}`)",
            )
        trains = training_kinds()
        wanted = candidates(plan, source, trains)
        seen = refresh(client, wanted, project=wanted.project, environment=promote_from, destroy=True)
        cluster = session.loaded.project.server.compute_cluster
        plan = promote(plan, source, promote_from, trains, seen.live, lockfile, cluster)
    return note_borrowed(plan, lockfile)


def _check_budget(plan: Plan, loaded: LoadedProject, flag: float | None) -> None:
    """A plan whose trainings' critical path exceeds --max-training-minutes (or budget:) fails, naming why."""
    from featrix_iac.plan.estimate import biggest

    limit = flag if flag is not None else loaded.project.budget.max_training_minutes
    if limit is None or not plan.estimate or plan.estimate["critical_path_seconds"] <= limit * 60:
        return
    minutes = plan.estimate["critical_path_seconds"] / 60
    top = "; ".join(
        f"{a.address} ≈ {float(a.estimate['training_seconds']) / 60:.1f} min "
        f"({a.estimate['rows']} rows × {a.estimate['columns']} columns × {a.estimate['epochs']} epochs)"
        for a in biggest(plan.actions)
        if a.estimate
    )
    where = "--max-training-minutes" if flag is not None else "budget.max_training_minutes"
    raise fail(
        f"the plan's training would take ≈ {minutes:.1f} min (critical path), over the {limit:g} min of {where}",
        f"biggest: {top}. Train less (epochs, sample), split the change over several applies, or raise the limit.",
        source=None if flag is not None else loaded.source("budget", "max_training_minutes"),
    )


@collector_paused()
def plan(
    root: Path | str,
    env: str | None = None,
    options: PlanOptions = PlanOptions(),
    *,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> PlanResult:
    """`featrix plan`: read-only; no lock is taken, nothing is written (a held lock is reported as a warning)."""
    session = open_session(root, env)
    lockfile = session.store.load()
    with connect(session.loaded, on_retry=on_retry) as (client, url):
        result = make_plan_with(session, client, url, lockfile, options)
    holder = session.store.lock_holder()
    if holder is not None and not holder.dead:
        note = (
            f"{holder.describe()} holds the lock of environment {session.loaded.environment!r}: this plan reads "
            "the lockfile and the server in the middle of it, and will differ once it finishes"
        )
        result.warnings.append(note)
        result.plan = result.plan.with_warnings([note])
    return result
