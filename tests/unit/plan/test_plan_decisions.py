"""The plan alone decides: reason codes (cascades found by code), create-before-destroy, steps, and a frozen result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from featrix_iac.addresses import Address
from featrix_iac.config import load_project
from featrix_iac.graph import build_graph
from featrix_iac.plan.compact import cascades
from featrix_iac.plan.jsonformat import plan_json
from featrix_iac.plan.model import SEQUENCES, Action, ActionDraft, ActionType, Phase, Plan, Reason, ReasonCode
from featrix_iac.plan.planner import make_plan
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.desired import desired_state
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import LockEntry, Lockfile

A = ActionType

MANIFEST = """\
version: 1
project: decisions
server: {url: "http://127.0.0.1:1"}
foundational_models:
  old: {data: old.csv, epochs: 3}
  new: {data: new.csv, epochs: 3}
predictors:
  p: {foundational_model: FM, type: binary_classifier, target_column: c}
endpoints:
  e: {predictor: p}
"""


def _project(root: Path, fm: str, data: str = "old.csv") -> Any:
    (root / "featrix.yaml").write_text(MANIFEST.replace("FM", fm).replace("old.csv", data, 1))
    for name in ("old.csv", "new.csv", "old2.csv"):
        (root / name).write_text("a,c\n1,yes\n2,no\n")
    loaded = load_project(root)
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
    return loaded, desired_state(loaded.project, ctx)


def _ids(address: str) -> dict[str, str]:
    kind = address.split(".")[0]
    return {"predictor": {"predictor_id": "pred-1", "session_id": "sess-old"}}.get(kind, {"session_id": f"s-{address}"})


def _applied(desired: dict[str, Any], graph: Any) -> Lockfile:
    lock = Lockfile(project="decisions")
    for address, declared in desired.items():
        kind = address.split(".")[0]
        applied, hashes = handler_for(kind).split_applied(declared.fields)
        deps = sorted(graph.dependencies(address))
        lock.resources[address] = LockEntry(
            kind=kind, status="ready", ids=_ids(address), applied=applied, hashes=hashes, depends_on=deps
        )
    return lock


def _live(lock: Lockfile) -> dict[str, LiveObject | None]:
    return {
        a: LiveObject(ids=dict(e.ids), fields=handler_for(e.kind).merge_live(e, {})) for a, e in lock.resources.items()
    }


def _plan(tmp_path: Path, *, applied_on: str, now_on: str, data: str = "old.csv") -> Plan:
    loaded, before = _project(tmp_path, applied_on)
    lock = _applied(before, build_graph(loaded.project))
    loaded, desired = _project(tmp_path, now_on, data)
    return make_plan(desired, lock, _live(lock), build_graph(loaded.project))


def _by_address(plan: Plan) -> dict[str, Action]:
    return {a.address: a for a in plan.actions}


def test_each_reason_has_a_code_and_cascades_name_what_they_follow(tmp_path: Path) -> None:
    plan = _by_address(_plan(tmp_path, applied_on="old", now_on="old", data="old2.csv"))
    fm, p, e = plan["foundational_model.old"], plan["predictor.p"], plan["endpoint.e"]
    assert [r.code for r in fm.reasons] == [ReasonCode.FIELD_CHANGED]
    assert [(r.code, r.follows) for r in p.reasons] == [(ReasonCode.DEPENDENCY_REPLACED, "foundational_model.old")]
    assert [(r.code, r.follows) for r in e.reasons] == [(ReasonCode.DEPENDENCY_REPLACED, "predictor.p")]


def test_cascades_are_grouped_by_code_not_by_wording() -> None:
    """A cascade reason whose text reads nothing like "follows ..." is still a cascade, and a note that does is not."""
    root = Action(address="foundational_model.m", kind="foundational_model", action=A.REPLACE)
    moved = Reason(code=ReasonCode.DEPENDENCY_REPLACED, text="retrained on the new model", follows=root.address)
    follower = Action(address="predictor.p", kind="predictor", action=A.REPLACE, reasons=[moved])
    lookalike = Action(
        address="predictor.q", kind="predictor", action=A.REPLACE, reasons=["follows foundational_model.m: edited"]
    )
    assert cascades([root, follower, lookalike]) == {root.address: [follower]}


def test_create_before_destroy_is_decided_by_the_planner_from_recorded_dependencies_too(tmp_path: Path) -> None:
    """The predictor moves from `old` to `new` while `old` is retrained: it depended on `old` when it was applied, so
    `old` is created before it is destroyed, as the predictor (which the API cannot delete) is."""
    plan = _by_address(_plan(tmp_path, applied_on="old", now_on="new", data="old2.csv"))
    assert plan["predictor.p"].action is A.REPLACE and plan["predictor.p"].create_before_destroy
    assert plan["foundational_model.old"].action is A.REPLACE
    assert plan["foundational_model.old"].create_before_destroy


def test_plan_json_carries_the_codes_and_its_format_version(tmp_path: Path) -> None:
    data = json.loads(plan_json(_plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")))
    assert data["format_version"] == 2
    predictor = next(a for a in data["actions"] if a["address"] == "predictor.p")
    assert predictor["reasons"][0]["code"] == "dependency_replaced"
    assert predictor["reasons"][0]["follows"] == "foundational_model.old"
    assert predictor["reasons"][0]["text"].startswith("follows foundational_model.old")


@pytest.mark.parametrize("code", list(ReasonCode))
def test_every_code_reads_as_itself_in_json(code: ReasonCode) -> None:
    assert Reason.model_validate_json(Reason(code=code, text="t").model_dump_json()).code is code


def _steps(action: Action, phase: Phase) -> list[str]:
    return [s.call for s in action.steps if s.phase is phase]


def test_each_action_records_its_ordered_steps_per_phase(tmp_path: Path) -> None:
    plan = _by_address(_plan(tmp_path, applied_on="old", now_on="old", data="old2.csv"))
    fm, p, e = plan["foundational_model.old"], plan["predictor.p"], plan["endpoint.e"]
    assert _steps(fm, Phase.MAIN) == ["create", "wait_for_training", "record"]
    assert _steps(fm, Phase.DESTROY) == ["unprotect", "mark_for_deletion", "forget"]  # once the new one is made
    assert {s.target for s in fm.steps if s.call == "mark_for_deletion"} == {"session_id=s-foundational_model.old"}
    assert _steps(p, Phase.MAIN) == ["create", "wait_for_training", "record"]
    assert _steps(p, Phase.DESTROY) == ["retire"]  # the API cannot delete predictors
    assert _steps(e, Phase.MAIN) == ["shadow", "promote", "stop_shadowing", "record"] and e.phases() == [Phase.MAIN]
    assert e.calls(Phase.MAIN) == ["shadow", "promote", "stop_shadowing"]  # what the handler is asked to do
    assert plan["foundational_model.new"].steps == ()  # no-op: nothing to do, no node


def test_plan_json_carries_the_steps(tmp_path: Path) -> None:
    data = json.loads(plan_json(_plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")))
    endpoint = next(a for a in data["actions"] if a["address"] == "endpoint.e")
    assert [(s["call"], s["phase"]) for s in endpoint["steps"]][:2] == [("shadow", "main"), ("promote", "main")]


def test_the_plan_is_frozen_once_the_planner_returns(tmp_path: Path) -> None:
    plan = _plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")
    action = _by_address(plan)["foundational_model.old"]
    for obj, name, value in [
        (plan, "warnings", ()),
        (plan, "actions", ()),
        (action, "action", A.NOOP),
        (action, "create_before_destroy", False),
        (action.reasons[0], "code", ReasonCode.NOTE),
        (action.steps[0], "call", "x"),
    ]:
        with pytest.raises(ValidationError):
            setattr(obj, name, value)
    assert all(
        isinstance(seq, tuple) for seq in (plan.actions, plan.drift, plan.warnings, action.reasons, action.steps)
    )
    with pytest.raises(AttributeError):
        action.warnings.append("x")  # type: ignore[attr-defined]


def test_steps_that_change_a_plan_build_a_new_one(tmp_path: Path) -> None:
    plan = _plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")
    noted = plan.with_warnings(["from refresh", *plan.warnings])
    assert noted.warnings == tuple(sorted({"from refresh", *plan.warnings})) and "from refresh" not in plan.warnings
    original = _by_address(plan)["foundational_model.old"]
    draft = original.thaw()
    draft.reasons.append(Reason(code=ReasonCode.NOTE, text="only in the draft"))
    draft.desired["epochs"] = 99
    assert draft.freeze().reasons[-1].text == "only in the draft"
    assert all(r.text != "only in the draft" for r in original.reasons) and original.desired["epochs"] != 99


def test_a_frozen_action_is_what_pydantic_would_construct(tmp_path: Path) -> None:
    plan = _plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")
    for action in plan.actions:
        fields = dict(action.thaw().__dict__)
        fields.update({name: tuple(fields[name]) for name in SEQUENCES})
        built, frozen = Action.model_construct(**fields), action.thaw().freeze()
        assert frozen == built and frozen.model_fields_set == built.model_fields_set
        assert frozen.model_dump_json() == built.model_dump_json()
        assert frozen.__pydantic_extra__ is None and frozen.__pydantic_private__ is None
        with pytest.raises(ValidationError):
            frozen.action = A.NOOP  # type: ignore[misc]


def test_a_draft_made_without_validation_is_what_validation_makes() -> None:
    given: dict[str, Any] = {
        "address": Address("predictor", "species"),
        "kind": "predictor",
        "action": A.NOOP,
        "desired": {"epochs": 5, "webhooks": {}},
        "prior_ids": {"session_id": "s-1"},
        "create_before_destroy": True,
    }
    made, validated = ActionDraft.of(**given), ActionDraft(**given)
    assert made == validated and list(made.__dict__) == list(validated.__dict__)
    assert made.model_fields_set == validated.model_fields_set and made.model_dump_json() == validated.model_dump_json()
    other = ActionDraft.of(**given)
    other.reasons.append(Reason(code=ReasonCode.NOTE, text="only here"))
    other.gates["auc"] = 0.9
    assert made.reasons == [] and made.gates == {}  # defaults are new objects per draft
    with pytest.raises(TypeError, match="kind"):
        ActionDraft.of(address=given["address"], action=A.NOOP)


def test_views_count_from_the_plans_summary_and_json_carries_it(tmp_path: Path) -> None:
    plan = _plan(tmp_path, applied_on="old", now_on="old", data="old2.csv")
    summary = plan.summary
    assert (summary.add, summary.change, summary.replace, summary.destroy, summary.unchanged) == (0, 1, 2, 0, 1)
    assert plan.summary_line() == "Plan: 0 to add, 1 to change, 2 to replace, 0 to destroy."
    data = json.loads(plan_json(plan))
    assert data["summary"]["replace"] == 2 and data["summary"]["trainings"] == summary.trainings
    data["summary"]["replace"] = 99  # derived, never trusted: a plan read back counts its actions again
    assert Plan.model_validate(data).summary == summary
