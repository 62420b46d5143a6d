"""A plan deleting a model's session is refused while an endpoint the environment does not manage serves or
shadows a predictor of it (plan/served.py, resources/serving.py), against a fake server."""

from __future__ import annotations

from typing import Any

import pytest

from featrix_iac.addresses import Address
from featrix_iac.client import NotFoundError
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.model import Action, ActionType, Phase, Plan, Step
from featrix_iac.plan.served import check_served, deleted_sessions
from featrix_iac.resources.registry import HANDLERS
from featrix_iac.state import LockEntry, Lockfile


class FakeServer:
    """GET only: session documents and the endpoint list; records every path asked."""

    def __init__(self, sessions: dict[str, list[str]], endpoints: list[dict[str, Any]]) -> None:
        self.sessions, self.endpoints, self.asked = sessions, endpoints, []  # type: list[str]

    def get(self, path: str, **_: Any) -> Any:
        self.asked.append(path)
        if path == "/endpoints":
            return {"endpoints": self.endpoints}
        sid = path.rsplit("/", 1)[-1]
        if sid not in self.sessions:
            raise NotFoundError("no such session")
        plan = [
            {"job_type": "train_single_predictor", "predictor_id": p, "status": "completed"} for p in self.sessions[sid]
        ]
        return {"session": {"session_id": sid, "status": "done", "job_plan": plan}, "jobs": {}}


def plan_deleting(kind: str, ids: dict[str, str], calls: tuple[str, ...] = ("mark_for_deletion",)) -> Plan:
    target = ",".join(f"{k}={v}" for k, v in sorted(ids.items()))
    steps = [Step(call=c, phase=Phase.DESTROY, target=target) for c in calls]
    action = Action(address=Address(kind, "m"), kind=kind, action=ActionType.DELETE, prior_ids=ids, steps=steps)
    return Plan(
        tool_version="0", project="p", environment="staging", server_url="x", lineage="l", serial=1, actions=[action]
    )


def staging_lock(endpoint_id: str = "ep-own") -> Lockfile:
    own = LockEntry(kind="endpoint", status="ready", ids={"endpoint_id": endpoint_id})
    return Lockfile(environment="staging", resources={"endpoint.api": own})


def test_an_endpoint_of_another_environment_on_a_deleted_session_refuses_the_plan() -> None:
    server = FakeServer(
        {"s-1": ["p-1", "p-2"]},
        [
            {"id": "ep-prod", "name": "api-prod", "serving_predictor_id": "p-2"},
            {"id": "ep-own", "name": "api", "serving_predictor_id": "p-1"},
            {
                "id": "ep-x",
                "name": "x",
                "serving_predictor_id": "p-9",
                "plan": {"shadows": [{"neural_function_id": "p-1"}]},
            },
        ],
    )
    with pytest.raises(DiagnosticsError) as err:
        check_served(server, plan_deleting("foundational_model", {"session_id": "s-1"}), staging_lock())  # type: ignore[arg-type]
    text = str(err.value.diagnostics.items[0].summary)
    assert "foundational_model.m cannot be deleted" in text
    assert "endpoint 'api-prod' (ep-prod) serves predictor p-2" in text
    assert "endpoint 'x' (ep-x) shadows predictor p-1" in text
    assert "ep-own" not in text  # this environment's own endpoint follows the plan


def test_nothing_served_elsewhere_or_nothing_deleted_passes() -> None:
    server = FakeServer({"s-1": ["p-1"]}, [{"id": "ep-own", "serving_predictor_id": "p-1"}])
    check_served(server, plan_deleting("foundational_model", {"session_id": "s-1"}), staging_lock())  # type: ignore[arg-type]
    gone = FakeServer({}, [{"id": "ep-prod", "serving_predictor_id": "p-1"}])
    check_served(gone, plan_deleting("foundational_model", {"session_id": "s-1"}), staging_lock())  # type: ignore[arg-type]
    assert (
        "/endpoints" not in gone.asked
    )  # a session already gone (404 confirmed) serves nothing: no endpoint list read
    quiet = FakeServer({}, [])
    check_served(
        quiet, plan_deleting("predictor", {"session_id": "s-1", "predictor_id": "p-1"}, ("unprotect",)), staging_lock()
    )  # type: ignore[arg-type]
    assert quiet.asked == []  # a predictor's session is not deleted with it: no read at all


def test_deleted_sessions_come_from_the_destroy_steps_of_kinds_that_own_what_lives_in_them() -> None:
    plan = plan_deleting("foundational_model", {"session_id": "s-1"}, ("unprotect", "mark_for_deletion"))
    assert deleted_sessions(plan, HANDLERS) == {"s-1": "foundational_model.m"}
