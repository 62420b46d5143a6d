"""A replaced foundational model stays until the next apply when an endpoint on it may roll back (smoke checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_planner import _applied, _live

from featrix_iac.config import load_project
from featrix_iac.graph import build_graph
from featrix_iac.plan.model import ActionType, Phase, ReasonCode
from featrix_iac.plan.planner import make_plan
from featrix_iac.resources.base import DesiredContext
from featrix_iac.resources.desired import desired_state

MANIFEST = """\
version: 1
project: unit
server: {url: "http://127.0.0.1:1"}
foundational_models:
  fm: {data: data.csv, epochs: EPOCHS}
predictors:
  p: {foundational_model: fm, type: binary_classifier, target_column: c}
endpoints:
  e:
    predictor: p
    checks: [{record: {a: 1}, expect: {label: "yes"}, on_failure: ON_FAILURE}]
"""


def _plan(tmp_path: Path, on_failure: str) -> dict[str, Any]:
    def project(epochs: int) -> tuple[Any, Any]:
        text = MANIFEST.replace("EPOCHS", str(epochs)).replace("ON_FAILURE", on_failure)
        (tmp_path / "featrix.yaml").write_text(text)
        (tmp_path / "data.csv").write_text("a,c\n1,yes\n2,no\n")
        loaded = load_project(tmp_path)
        ctx = DesiredContext("unit", loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
        return desired_state(loaded.project, ctx), build_graph(loaded.project)

    lock = _applied(*project(3))
    desired, graph = project(4)  # a new foundational model: the predictor and the endpoint follow it
    plan = make_plan(desired, lock, _live(lock), graph)
    return {a.address: a for a in plan.actions}


def test_a_rollback_check_keeps_the_replaced_model_until_the_next_apply(tmp_path: Path) -> None:
    fm = _plan(tmp_path, "rollback")["foundational_model.fm"]
    assert fm.action is ActionType.REPLACE and fm.create_before_destroy
    assert any(r.code is ReasonCode.KEPT_FOR_ROLLBACK for r in fm.reasons)
    assert not [s for s in fm.steps if s.phase is Phase.DESTROY]


def test_without_rollback_the_replaced_model_goes_in_the_same_apply(tmp_path: Path) -> None:
    fm = _plan(tmp_path, "fail")["foundational_model.fm"]
    assert not any(r.code is ReasonCode.KEPT_FOR_ROLLBACK for r in fm.reasons)
    assert [s.call for s in fm.steps if s.phase is Phase.DESTROY][-1] == "forget"


def _rolled_back(tmp_path: Path, record: bool) -> dict[str, Any]:
    """The lockfile after a rollback: predictor.p records the new training (p2), the endpoint serves p1 in the
    old model s-old, which the model's entry still records to delete."""
    text = MANIFEST.replace("EPOCHS", "3").replace("ON_FAILURE", "rollback")
    (tmp_path / "featrix.yaml").write_text(text)
    (tmp_path / "data.csv").write_text("a,c\n1,yes\n2,no\n")
    loaded = load_project(tmp_path)
    ctx = DesiredContext("unit", loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
    desired, graph = desired_state(loaded.project, ctx), build_graph(loaded.project)
    lock = _applied(desired, graph)
    lock.resources["foundational_model.fm"].ids = {"session_id": "s-new"}
    lock.resources["foundational_model.fm"].retired = [{"session_id": "s-old", "pending_delete": "true"}]
    lock.resources["predictor.p"].ids = {"predictor_id": "p2", "session_id": "s-new"}
    lock.resources["endpoint.e"].ids = {"endpoint_id": "e1", "predictor_id": "p1", "session_id": "s-old"}
    if record:
        lock.resources["endpoint.e"].checks = {"rolled_back": {"from": {"predictor_id": "p2"}, "to": {}}}
    plan = make_plan(desired, lock, _live(lock), graph)
    return {a.address: a for a in plan.actions}


def test_after_a_rollback_the_endpoint_stays_and_its_model_is_kept(tmp_path: Path) -> None:
    actions = _rolled_back(tmp_path, record=True)
    ep, fm = actions["endpoint.e"], actions["foundational_model.fm"]
    assert ep.action is ActionType.NOOP and "rolled it back" in ep.warnings[0]
    assert fm.action is ActionType.NOOP and "endpoint.e still use it" in fm.warnings[0]


def test_without_a_rollback_a_stale_endpoint_follows_its_predictor(tmp_path: Path) -> None:
    ep = _rolled_back(tmp_path, record=False)["endpoint.e"]
    assert ep.action is ActionType.UPDATE
