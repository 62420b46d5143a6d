"""Apply: under the environment's lock, plan, ask, then converge the server through the applier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.apply import ApplyResult, Interrupt, Observer
from featrix_iac.collector import collector_paused
from featrix_iac.diagnostics import fail
from featrix_iac.operations.planning import PlanOptions, PlanResult, make_plan_with
from featrix_iac.operations.session import Session, connect, open_session

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.plan.model import Plan
    from featrix_iac.state import Lockfile


@dataclass
class ApplyOutcome:
    """What `apply` did: the plan it executed (approved or not) and the applier's result."""

    planned: PlanResult
    approved: bool
    result: ApplyResult | None = None
    # each address's ids before the apply (what a smoke check's on_failure: rollback goes back to)
    ids_before: dict[str, dict[str, str]] = field(default_factory=dict)
    env: str | None = None  # the environment applied (a saved plan's own, when none was asked)
    session: Session | None = None  # the project and state it was applied with (the smoke checks reuse them)


def ids_before(lockfile: Lockfile) -> dict[str, dict[str, str]]:
    """Each ready address's ids, before an apply changes them (ApplyOutcome.ids_before)."""
    return {a: dict(e.ids) for a, e in lockfile.resources.items() if e.status == "ready"}


def apply(
    root: Path | str,
    env: str | None = None,
    options: PlanOptions = PlanOptions(),
    *,
    confirm: Callable[[PlanResult], bool],
    observer: Observer | None = None,
    parallelism: int = 8,
    interrupt: Interrupt | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    timeouts: tuple[str, ...] = (),
    skip_gates: tuple[str, ...] = (),
) -> ApplyOutcome:
    """`featrix apply` / `featrix destroy` (`options.destroy`): under the environment's lock, plan with `options`,
    ask `confirm`, then apply.

    `confirm` sees the plan (the CLI shows it and asks); it is not called when there is nothing to do.
    `timeouts` are `WAIT.LIMIT=SECONDS` overrides of the manifest's `server.timeouts` for this run;
    `skip_gates` the addresses whose quality gates are waived for this run.
    """
    session = open_session(root, env)
    limits = wait_limits(session, timeouts)
    with session.store.lock("destroy" if options.destroy else "apply"):
        with collector_paused():
            lockfile = session.store.load()
        with connect(session.loaded, on_retry=on_retry) as (client, url):
            planned = make_plan_with(session, client, url, lockfile, options)
            if not planned.plan.has_changes():
                return ApplyOutcome(planned, approved=False, env=env, session=session)
            _check_skip_gates(planned.plan, skip_gates)  # before asking: a mistyped waiver stops everything
            if not confirm(planned):
                return ApplyOutcome(planned, approved=False, env=env, session=session)
            before = ids_before(planned.lockfile)
            result = run_apply(session, client, planned, observer, parallelism, interrupt, limits, skip_gates)
            return ApplyOutcome(planned, approved=True, result=result, ids_before=before, env=env, session=session)


def run_apply(
    session: Session,
    client: FeatrixClient,
    planned: PlanResult,
    observer: Observer | None,
    parallelism: int,
    interrupt: Interrupt | None,
    limits: dict[str, Any] | None = None,
    skip_gates: tuple[str, ...] = (),
) -> ApplyResult:
    from featrix_iac.apply import apply_plan

    if parallelism < 1:
        raise fail(f"--parallelism must be at least 1, not {parallelism}")
    _require_lock_key(session, planned.plan)
    _check_skip_gates(planned.plan, skip_gates)
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
        timeouts=limits,
        skip_gates=frozenset(skip_gates),
        server_version=server_version(client) if _trains(planned.plan) else "",
    )


def _trains(plan: Plan) -> bool:
    """Whether applying `plan` waits for a training (its provenance then names the server's version)."""
    from featrix_iac.plan.model import TRAIN

    return any(s.call == TRAIN for a in plan.actions for s in a.steps)


def server_version(client: FeatrixClient) -> str:
    """The server's version (GET /health: client.py:FeatrixSphere.health_check), "" when it says none or fails."""
    from featrix_iac.client import FeatrixError

    try:
        doc = client.get("/health")
    except FeatrixError:  # provenance is a record, never a reason to stop an apply
        return ""
    return str(doc.get("version") or "") if isinstance(doc, dict) else ""


def _check_skip_gates(plan: Plan, skip_gates: tuple[str, ...]) -> None:
    """`--skip-gate ADDRESS` names an address of the plan that has gates, else it is a mistake worth stopping for."""
    gated = {a.address for a in plan.actions if a.gates}
    wrong = [a for a in skip_gates if a not in gated]
    if wrong:
        listed = ", ".join(sorted(gated)) or "none"
        raise fail(
            f"--skip-gate {wrong[0]}: no quality gate of that address is checked by this plan",
            detail=f"addresses whose gates this plan checks: {listed}",
        )


def _require_lock_key(session: Session, plan: Plan) -> None:
    """A plan that will receive secrets (an endpoint's key) needs the lock key before its first step, so a
    missing key (CI without FEATRIX_LOCK_KEY, a fresh clone of a lockfile with secrets) creates nothing."""
    from featrix_iac.plan.model import ActionType
    from featrix_iac.resources.registry import HANDLERS

    quiet = (ActionType.NOOP, ActionType.DELETE, ActionType.RETIRE)
    if any(a.action not in quiet and HANDLERS[a.kind].makes_secrets for a in plan.actions if a.kind in HANDLERS):
        session.store.require_key()


def wait_limits(session: Session, flags: tuple[str, ...]) -> dict[str, Any]:
    """Every wait's stall and total limits: defaults, the manifest's `server.timeouts`, then `--timeout` flags."""
    from featrix_iac.apply.applier import run_limits
    from featrix_iac.resources.waits import parse_overrides

    try:
        return parse_overrides(flags, run_limits(session.loaded.project.server))
    except ValueError as exc:
        raise fail("invalid --timeout", detail=str(exc)) from None


__all__ = [
    "ApplyOutcome",
    "ApplyResult",
    "Interrupt",
    "Observer",
    "PlanOptions",
    "apply",
    "ids_before",
    "run_apply",
    "wait_limits",
]
