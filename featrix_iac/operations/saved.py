"""Saved plans: `plan -out FILE` writes one, `show FILE` reads it, `apply FILE` applies it exactly unless stale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from featrix_iac.collector import collector_paused
from featrix_iac.operations.planning import PlanResult, desired_of, fingerprints_of, sources_of
from featrix_iac.operations.session import connect, open_session
from featrix_iac.plan.model import Plan
from featrix_iac.plan.planfile import SavedPlan, check_fresh, manifest_digest, read_planfile, write_planfile
from featrix_iac.plan.served import check_served

if TYPE_CHECKING:
    from featrix_iac.operations.applying import ApplyOutcome, Interrupt, Observer


def save_plan(result: PlanResult, path: Path | str) -> Path:
    """Write `result`'s plan to `path` with what it was made against (lockfile lineage and serial, manifest
    digest, data fingerprints), so that applying it later can refuse it when any of them moved."""
    return write_planfile(
        path,
        result.plan,
        manifest_digest=manifest_digest(result.loaded),
        data_fingerprints=result.data_fingerprints,
        environment=result.loaded.environment,
        server_url=result.plan.server_url,
        lineage=result.lockfile.lineage,
        serial=result.lockfile.serial,
    )


def read_saved(path: Path | str) -> SavedPlan:
    """A plan file, checked (format, version, checksum); refusals are diagnostics."""
    return read_planfile(path)


def apply_saved(
    root: Path | str,
    env: str | None,
    saved: SavedPlan,
    *,
    on_checked: Callable[[Plan], None] | None = None,
    observer: Observer | None = None,
    parallelism: int = 8,
    interrupt: Interrupt | None = None,
    timeouts: tuple[str, ...] = (),
    skip_gates: tuple[str, ...] = (),
) -> ApplyOutcome:
    """Apply a plan made earlier (`featrix apply FILE`) exactly, under the environment's lock, after refusing a
    stale one (every reason at once); `on_checked(plan)` runs once it passed, before the first step.

    Without `env`, the environment the plan was made for."""
    from featrix_iac.operations.applying import ApplyOutcome, ids_before, run_apply, wait_limits

    if env is None and saved.environment != "default":
        env = saved.environment
    session = open_session(root, env)
    limits = wait_limits(session, timeouts)
    with session.store.lock("apply"):
        with collector_paused():
            lockfile = session.store.load()
            desired = desired_of(session)
        current = PlanResult(saved.plan, session.loaded, lockfile, desired, fingerprints_of(desired))
        check_fresh(
            saved,
            lockfile=lockfile,
            manifest_digest=manifest_digest(session.loaded),
            data_fingerprints=current.data_fingerprints,
            environment=session.loaded.environment,
            server_url=session.loaded.project.server.url,
        )
        if on_checked is not None:
            on_checked(saved.plan)
        with connect(session.loaded) as (client, _url):
            # what another environment started serving since the plan was made is never deleted
            check_served(client, saved.plan, lockfile, source_of=lambda a: sources_of(session.loaded)(a, ()))
            before = ids_before(lockfile)
            result = run_apply(session, client, current, observer, parallelism, interrupt, limits, skip_gates)
        return ApplyOutcome(current, approved=True, result=result, ids_before=before, env=env, session=session)


__all__ = ["SavedPlan", "apply_saved", "read_saved", "save_plan"]
