"""What this plan deletes that another environment serves: a foundational model promoted to another environment
(`--promote-from`) lives on in that environment's endpoints, which this environment does not manage. Deleting its
session (destroy, a retrain's cleanup, a removal) would break them, so the plan is refused, naming each endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from featrix_iac.diagnostics import Diagnostics, DiagnosticsError, Source
from featrix_iac.plan.model import Phase, Plan
from featrix_iac.state import Lockfile

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient
    from featrix_iac.resources.base import Handler

WAY_OUT = (
    "featrix never deletes what another environment serves. Move that environment off it first: apply it "
    "without --promote-from (it then trains its own models and stops borrowing this one's), or destroy it "
    "there; then run this again."
)


def deleted_sessions(plan: Plan, handlers: Mapping[str, Handler]) -> dict[str, str]:
    """{session id: address} of every session the plan's destroy steps delete, with what lives in it."""
    out: dict[str, str] = {}
    for action in plan.actions:
        handler = handlers.get(action.kind)
        # a kind whose delete takes what lives in it (a model's session: its predictors) - Handler.owns_recorded
        if not getattr(handler, "owns_recorded", False):
            continue
        id_field = getattr(handler, "id_field", "")
        for step in action.steps:
            ids = dict(p.split("=", 1) for p in step.target.split(",") if "=" in p)
            if step.phase is Phase.DESTROY and ids.get(id_field):
                out.setdefault(ids[id_field], action.address)
    return out


def check_served(
    client: FeatrixClient,
    plan: Plan,
    lockfile: Lockfile,
    *,
    handlers: Mapping[str, Handler] | None = None,
    source_of: Callable[[str], Source | None] | None = None,
) -> None:
    """Refuse the plan (DiagnosticsError) when it deletes a session whose predictors an endpoint this
    environment's lockfile does not record serves or shadows. Reads the server only when sessions are deleted."""
    from featrix_iac.client import FeatrixError
    from featrix_iac.plan.refresh import refresh_error
    from featrix_iac.resources.serving import served_in

    if handlers is None:
        from featrix_iac.resources.registry import HANDLERS

        handlers = HANDLERS
    sessions = deleted_sessions(plan, handlers)
    if not sessions:
        return
    try:
        served = served_in(client, sessions)
    except FeatrixError as exc:
        raise refresh_error("endpoint", sorted(set(sessions.values())), exc) from None
    ours = {v for entry in lockfile.resources.values() for ids in (entry.ids, *entry.retired) for v in ids.values()}
    problems = Diagnostics()
    for sid, address in sorted(sessions.items(), key=lambda item: item[1]):
        foreign = [s for s in served.get(sid, []) if s.endpoint_id not in ours]
        if not foreign:
            continue
        named = "; ".join(
            f"endpoint {s.name or s.endpoint_id!r} ({s.endpoint_id}) {s.role} predictor {s.predictor_id}"
            for s in foreign
        )
        problems.error(
            f"{address} cannot be deleted: an endpoint this environment does not manage serves it ({named})",
            f"Its session {sid} holds the predictor that endpoint answers with (e.g. another environment took "
            f"it with --promote-from {lockfile.environment}). {WAY_OUT}",
            address,
            source_of(address) if source_of is not None else None,
        )
    if problems.has_errors:
        raise DiagnosticsError(problems)
