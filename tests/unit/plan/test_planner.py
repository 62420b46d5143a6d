"""The pure planner: apply-then-plan is empty for every kind, purity, redaction, guards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.config import LoadedProject, load_project
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.graph import build_graph
from featrix_iac.plan.markdown import render_markdown
from featrix_iac.plan.model import ActionType
from featrix_iac.plan.planner import make_plan
from featrix_iac.plan.render import render_text
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.desired import Desired, DesiredState, desired_state
from featrix_iac.resources.gates import evaluate
from featrix_iac.resources.registry import HANDLERS, handler_for
from featrix_iac.state import LockEntry, Lockfile

REPO = Path(__file__).resolve().parents[3]
SECRET = "unit-webhook-secret-9x"

MANIFEST = f"""\
version: 1
project: unit
server: {{url: "http://127.0.0.1:1"}}
foundational_models:
  fm:
    data: data.csv
    epochs: 3
    published: {{name: shared}}
    deletion_protection: true
    deprecation: {{warning_message: old, expiration_date: 2030-01-01}}
    column_overrides: {{b: set}}
predictors:
  p:
    foundational_model: fm
    type: binary_classifier
    target_column: c
    rare_label_value: "yes"
    class_imbalance: {{"yes": 0.2, "no": 0.8}}
    value_meaning: {{"yes": Approved}}
    webhooks:
      training_finished: https://hooks.example.com/x
      webhook_secret: {SECRET}
endpoints:
  e:
    predictor: p
    api_key: {{rotation: 2}}
vector_databases:
  v:
    foundational_model: fm
    records: [{{a: 1}}, {{a: 2}}]
"""


def _desired(root: Path) -> tuple[LoadedProject, dict[str, Desired]]:
    loaded = load_project(root)
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
    return loaded, desired_state(loaded.project, ctx)


def _applied(desired: DesiredState, graph: Any) -> Lockfile:
    """The lockfile an apply records: the applier's split of action.desired, every entry ready."""
    lock = Lockfile(project="unit")
    for address, declared in desired.items():
        d = declared.fields
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


@pytest.fixture
def unit_project(tmp_path: Path) -> Path:
    (tmp_path / "featrix.yaml").write_text(MANIFEST)
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,yes\n3,4,no\n")
    return tmp_path


@pytest.mark.parametrize("example", ["quickstart", "multi-env", "unit"])
def test_apply_then_plan_is_empty_for_every_kind(example: str, unit_project: Path) -> None:
    root = unit_project if example == "unit" else REPO / "examples" / example
    loaded, desired = _desired(root)
    graph = build_graph(loaded.project)
    lock = _applied(desired, graph)
    plan = make_plan(desired, lock, _live(lock), graph)
    assert [a.address for a in plan.changes()] == []
    assert plan.drift == ()
    assert not plan.has_changes()
    if example == "unit":
        assert {a.kind for a in plan.actions} == set(HANDLERS)


def test_planning_is_pure(unit_project: Path) -> None:
    loaded, desired = _desired(unit_project)
    graph = build_graph(loaded.project)
    lock = _applied(desired, graph)
    lock.resources["predictor.p"].status = "tainted"
    before = lock.model_dump_json()
    first = make_plan(desired, lock, _live(lock), graph)
    second = make_plan(desired, lock, _live(lock), graph)
    assert first == second
    assert lock.model_dump_json() == before
    assert {a.address: a.action for a in first.changes()} == {
        "predictor.p": ActionType.REPLACE,
        "endpoint.e": ActionType.UPDATE,
    }


def test_secrets_and_their_hashes_never_reach_the_plan(unit_project: Path) -> None:
    loaded, desired = _desired(unit_project)
    graph = build_graph(loaded.project)
    secret_hash = desired["predictor.p"].fields["webhook_secret"]
    lock = _applied(desired, graph)
    lock.resources["predictor.p"].hashes["webhook_secret"] = "sha256:older"
    plan = make_plan(desired, lock, _live(lock), graph)
    change = next(c for a in plan.changes() for c in a.changes if c.field == "webhook_secret")
    assert change.sensitive and change.old == change.new == "(sensitive value)"
    fresh = make_plan(desired, Lockfile(project="unit"), {}, graph)
    for p in (plan, fresh):
        text, data = render_text(p), p.model_dump_json()
        assert SECRET not in text and SECRET not in data
        assert secret_hash not in text and "sha256:older" not in text
        # the salted hash travels only in action.desired (what the applier records, as the lockfile does)
        assert "sha256:older" not in data


def test_prevent_destroy_error_points_at_the_manifest(unit_project: Path) -> None:
    text = MANIFEST.replace("    epochs: 3\n", "    epochs: 3\n    lifecycle: {prevent_destroy: true}\n")
    (unit_project / "featrix.yaml").write_text(text)
    loaded, desired = _desired(unit_project)
    graph = build_graph(loaded.project)
    lock = _applied(desired, graph)
    with pytest.raises(DiagnosticsError) as exc:
        make_plan(
            desired,
            lock,
            _live(lock),
            graph,
            destroy=True,
            source_of=lambda a, path: loaded.source("foundational_models", a.split(".")[1], *path),
        )
    diags = list(exc.value.diagnostics)
    summaries = [d.summary for d in diags]
    assert "cannot delete foundational_model.fm: lifecycle.prevent_destroy is set" in summaries
    fm = next(d for d in diags if d.address == "foundational_model.fm" and "prevent_destroy" in d.summary)
    assert fm.source is not None and fm.source.file == "featrix.yaml" and fm.source.line == 8


def test_refresh_only_plans_no_action_but_reports_drift(unit_project: Path) -> None:
    loaded, desired = _desired(unit_project)
    graph = build_graph(loaded.project)
    lock = _applied(desired, graph)
    live = _live(lock)
    live["endpoint.e"] = None
    plan = make_plan(desired, lock, live, graph, refresh_only=True)
    assert plan.actions == () and plan.refresh_only
    assert [(d.address, d.deleted) for d in plan.drift] == [("endpoint.e", True)]
    assert plan.has_changes()
    assert json.loads(plan.model_dump_json())["refresh_only"] is True


def test_a_renamed_block_suggests_state_mv(unit_project: Path) -> None:
    """A key renamed in the manifest plans a create and a delete/retire: the plan says `featrix state mv`."""
    loaded, desired = _desired(unit_project)
    lock = _applied(desired, build_graph(loaded.project))
    manifest = unit_project / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("endpoints:\n  e:\n", "endpoints:\n  e2:\n    name: e\n"))
    loaded, desired = _desired(unit_project)
    plan = make_plan(desired, lock, _live(lock), build_graph(loaded.project))
    actions = {a.address: a for a in plan.actions}
    assert actions["endpoint.e2"].action is ActionType.CREATE and actions["endpoint.e"].action is ActionType.DELETE
    hint = "featrix state mv endpoint.e endpoint.e2"
    assert any(hint in w for w in actions["endpoint.e2"].warnings) and any(hint in w for w in plan.warnings)
    # an unrelated new block of the same kind is not called a rename
    manifest.write_text(manifest.read_text().replace("    api_key: {rotation: 2}\n", "    api_key: {rotation: 5}\n"))
    loaded, desired = _desired(unit_project)
    plan = make_plan(desired, lock, _live(lock), build_graph(loaded.project))
    assert not any("state mv" in w for w in plan.warnings)


# -- quality gates --------------------------------------------------------------------------------------

GATED_MANIFEST = """\
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


def _gated(tmp_path: Path) -> tuple[dict[str, Any], Any]:
    (tmp_path / "featrix.yaml").write_text(GATED_MANIFEST)
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,x\n3,4,y\n")
    loaded, desired = _desired(tmp_path)
    return desired, build_graph(loaded.project)


def test_a_training_action_carries_its_gates_and_shows_them(tmp_path: Path) -> None:
    desired, graph = _gated(tmp_path)
    plan = make_plan(desired, Lockfile(project="unit"), {}, graph)
    action = next(a for a in plan.actions if a.address == "predictor.p")
    assert action.action is ActionType.CREATE and action.gates == {"min_accuracy": 0.9, "min_f1": 0.8}
    text = render_text(plan)
    assert "gate: accuracy >= 0.9 (min_accuracy)" in text and "gate: f1 >= 0.8 (min_f1)" in text
    assert "gate: accuracy &gt;= 0.9 (min_accuracy)" in render_markdown(plan)  # HTML-escaped in the comment
    assert all(not a.gates for a in plan.actions if a.address != "predictor.p")


def test_changing_only_the_gates_never_retrains(tmp_path: Path) -> None:
    desired, graph = _gated(tmp_path)
    lock = _applied(desired, graph)
    lock.resources["predictor.p"].applied["gates"] = {"min_accuracy": 0.5}
    plan = make_plan(desired, lock, _live(lock), graph)
    assert not plan.has_changes()


def test_a_gated_out_entry_is_trained_again_and_the_plan_says_why(tmp_path: Path) -> None:
    desired, graph = _gated(tmp_path)
    lock = _applied(desired, graph)
    record = {"status": "gated_out", "results": evaluate({"min_accuracy": 0.9}, {"accuracy": 0.42}), "ids": {}}
    lock.resources["predictor.p"].status = "tainted"
    lock.resources["predictor.p"].gate = record
    plan = make_plan(desired, lock, _live(lock), graph)
    action = next(a for a in plan.actions if a.address == "predictor.p")
    assert action.action is ActionType.REPLACE and action.gates
    assert action.reasons[0].text.startswith("its last training was gated out (accuracy 0.42 < min_accuracy 0.9)")
    assert "--skip-gate predictor.p" in action.reasons[0].text
