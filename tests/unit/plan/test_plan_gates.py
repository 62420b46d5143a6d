"""The plan carries each training's quality gates, and says why a gated-out predictor trains again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from featrix_iac.config import load_project
from featrix_iac.graph import build_graph
from featrix_iac.plan.markdown import render_markdown
from featrix_iac.plan.model import ActionType
from featrix_iac.plan.planner import make_plan
from featrix_iac.plan.render import render_text
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.gates import evaluate
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import LockEntry, Lockfile

MANIFEST = """\
version: 1
project: unit
server: {url: "http://127.0.0.1:1"}
foundational_models:
  fm: {data: data.csv, epochs: 3}
predictors:
  p:
    foundational_model: fm
    type: multi_classifier
    target_column: c
    gates: {min_accuracy: 0.9, min_f1: 0.8}
endpoints:
  e: {predictor: p}
"""


def _setup(tmp_path: Path) -> tuple[dict[str, Any], Any]:
    (tmp_path / "featrix.yaml").write_text(MANIFEST)
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,x\n3,4,y\n")
    loaded = load_project(tmp_path)
    ctx = DesiredContext("unit", loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
    desired = {str(a): (r, handler_for(a.kind).desired(a.key, r, ctx)) for a, r in loaded.project.resources()}
    return desired, build_graph(loaded.project)


def _applied(desired: dict[str, Any], graph: Any) -> Lockfile:
    lock = Lockfile(project="unit")
    for address, (_, d) in desired.items():
        kind = address.split(".")[0]
        applied, hashes = handler_for(kind).split_applied(d)
        lock.resources[address] = LockEntry(
            kind=kind,
            status="ready",
            ids={"id": address},
            applied=applied,
            hashes=hashes,
            depends_on=sorted(graph.dependencies(address)),
        )
    return lock


def _live(lock: Lockfile) -> dict[str, LiveObject | None]:
    return {
        a: LiveObject(ids=dict(e.ids), fields=handler_for(e.kind).merge_live(e, {})) for a, e in lock.resources.items()
    }


def test_a_training_action_carries_its_gates_and_shows_them(tmp_path: Path) -> None:
    desired, graph = _setup(tmp_path)
    plan = make_plan(desired, Lockfile(project="unit"), {}, graph)
    action = next(a for a in plan.actions if a.address == "predictor.p")
    assert action.action is ActionType.CREATE and action.gates == {"min_accuracy": 0.9, "min_f1": 0.8}
    text = render_text(plan)
    assert "gate: accuracy >= 0.9 (min_accuracy)" in text and "gate: f1 >= 0.8 (min_f1)" in text
    assert "gate: accuracy &gt;= 0.9 (min_accuracy)" in render_markdown(plan)  # HTML-escaped in the comment
    assert all(not a.gates for a in plan.actions if a.address != "predictor.p")


def test_changing_only_the_gates_never_retrains(tmp_path: Path) -> None:
    desired, graph = _setup(tmp_path)
    lock = _applied(desired, graph)
    lock.resources["predictor.p"].applied["gates"] = {"min_accuracy": 0.5}
    plan = make_plan(desired, lock, _live(lock), graph)
    assert not plan.has_changes()


def test_a_gated_out_entry_is_trained_again_and_the_plan_says_why(tmp_path: Path) -> None:
    desired, graph = _setup(tmp_path)
    lock = _applied(desired, graph)
    record = {"status": "gated_out", "results": evaluate({"min_accuracy": 0.9}, {"accuracy": 0.42}), "ids": {}}
    lock.resources["predictor.p"].status = "tainted"
    lock.resources["predictor.p"].gate = record
    plan = make_plan(desired, lock, _live(lock), graph)
    action = next(a for a in plan.actions if a.address == "predictor.p")
    assert action.action is ActionType.REPLACE and action.gates
    assert action.reasons[0].startswith("its last training was gated out (accuracy 0.42 < min_accuracy 0.9)")
    assert "--skip-gate predictor.p" in action.reasons[0]
