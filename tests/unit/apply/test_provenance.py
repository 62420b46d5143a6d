"""Provenance: the CI run URL from each CI service's standard variables, who applied, the plan id."""

from __future__ import annotations

import pytest

from featrix_iac.apply.provenance import applied_by, ci_run_url
from featrix_iac.plan.jsonformat import plan_data, plan_id
from featrix_iac.plan.model import Action, ActionType, Plan


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "7"},
            "https://github.com/a/b/actions/runs/7",
        ),
        ({"CI_JOB_URL": "https://gitlab.example/a/b/-/jobs/9"}, "https://gitlab.example/a/b/-/jobs/9"),
        ({"BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/3"}, "https://buildkite.com/o/p/builds/3"),
        (
            {"SYSTEM_COLLECTIONURI": "https://dev.azure.com/o/", "SYSTEM_TEAMPROJECT": "p", "BUILD_BUILDID": "5"},
            "https://dev.azure.com/o/p/_build/results?buildId=5",
        ),
        ({"GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "7"}, ""),  # incomplete: no URL
        ({"CI": "true"}, ""),
    ],
)
def test_the_ci_run_url_comes_from_the_standard_variables(environ: dict[str, str], url: str) -> None:
    assert ci_run_url(environ) == url
    assert applied_by(environ).get("ci_run_url", "") == url
    assert applied_by(environ)["host"]


def _plan(action: ActionType) -> Plan:
    actions = (Action(address="predictor.p", kind="predictor", action=action),)
    return Plan(
        tool_version="0", project="p", environment="default", server_url="local", lineage="l", serial=1, actions=actions
    )


def test_the_plan_id_is_the_same_for_the_same_plan_only_saved_or_not() -> None:
    plan = _plan(ActionType.CREATE)
    assert plan_id(plan) == plan_id(_plan(ActionType.CREATE)) != plan_id(_plan(ActionType.REPLACE))
    assert plan_id(plan).startswith("plan-") and len(plan_id(plan)) == 21
    data = plan_data(plan)  # the JSON form (and a saved plan) carries the id, and reads back to the same plan
    assert data["plan_id"] == plan_id(plan) == plan_id(Plan.model_validate(data))
    assert "plan_id" not in plan_data(_plan(ActionType.NOOP))  # nothing to apply: no id


def test_before_the_first_apply_the_plan_id_ignores_the_unborn_lineage() -> None:
    """With no lockfile yet, each plan draws a new lineage: `plan` and the `apply` after it still show one id."""
    fresh = [_plan(ActionType.CREATE).model_copy(update={"serial": 0, "lineage": x}) for x in ("a", "b")]
    assert plan_id(fresh[0]) == plan_id(fresh[1])
    born = [p.model_copy(update={"serial": 1}) for p in fresh]
    assert plan_id(born[0]) != plan_id(born[1])  # the same changes to another lockfile: another plan


def test_the_plan_id_of_the_same_plan_object_is_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text plan, the applier and the apply's summary each show the id: a 10,000-action plan is hashed once."""
    from featrix_iac.plan import jsonformat

    hashed: list[str] = []
    real = jsonformat._id_of
    monkeypatch.setattr(jsonformat, "_id_of", lambda data: hashed.append("x") or real(data))
    plan, other = _plan(ActionType.CREATE), _plan(ActionType.REPLACE)
    first = plan_id(plan)
    assert plan_id(plan) == first and len(hashed) == 1
    changed = plan.with_warnings(["a warning"])  # a copy with other content: its own id, not the kept one
    assert plan_id(changed) != first and plan_id(other) != first and len(hashed) == 3
    assert plan_id(plan) == first  # hashed again once another plan was asked for: still the same id
