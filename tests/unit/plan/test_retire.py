"""lifecycle.retire in the planner: begin (deprecate), wait (a no-op that says where it stands), delete when due."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from test_planner import _applied as applied_lockfile

from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.graph import build_graph
from featrix_iac.plan.model import BEGIN_RETIREMENT, ActionType, Phase, Plan
from featrix_iac.plan.planner import make_plan
from featrix_iac.resources import retirement
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.desired import desired_state
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import Lockfile

A = ActionType
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
HEAD = 'version: 1\nproject: unit\nserver: {url: "http://127.0.0.1:1"}\n'
FM = """foundational_models:
  fm:
    data: data.csv
    published: true
    lifecycle: {retire: {deprecate_for: 30d}}
"""
PRED = "predictors:\n  p: {foundational_model: fm, type: binary_classifier, target_column: c}\n"
EP = "endpoints:\n  e:\n    predictor: p\n    lifecycle: {retire: {deprecate_for: 30d}}\n"


def _project(tmp_path: Path, *blocks: str) -> tuple[Any, Any]:
    (tmp_path / "featrix.yaml").write_text(HEAD + "".join(blocks))
    (tmp_path / "data.csv").write_text("a,c\n1,yes\n2,no\n")
    loaded = load_project(tmp_path)
    ctx = DesiredContext("unit", loaded.environment, loaded.root, lambda p: f"sha256:{p.name}")
    return desired_state(loaded.project, ctx), build_graph(loaded.project)


def _applied(tmp_path: Path) -> Lockfile:
    """What an apply of fm + p + e records."""
    return applied_lockfile(*_project(tmp_path, FM, PRED, EP))


def _plan(tmp_path: Path, lock: Lockfile, *blocks: str, used: str | None = None, **kw: Any) -> Plan:
    desired, graph = _project(tmp_path, *blocks)
    live = {
        a: LiveObject(ids=dict(e.ids), fields=handler_for(e.kind).merge_live(e, {}), last_used=used)
        for a, e in lock.resources.items()
    }
    return make_plan(desired, lock, live, graph, now=NOW, allow_empty=True, **kw)


def _action(plan: Plan, address: str) -> Any:
    return next(a for a in plan.actions if a.address == address)


def _retiring(lock: Lockfile, address: str, since: datetime) -> None:
    entry = lock.resources[address]
    entry.retiring = retirement.begin(address, entry.applied[retirement.FIELD], since)


def test_removing_a_resource_under_retire_begins_its_retirement(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    plan = _plan(tmp_path, lock)
    fm, ep = _action(plan, "foundational_model.fm"), _action(plan, "endpoint.e")
    assert fm.action is A.RETIRE and ep.action is A.RETIRE
    # a published model is deprecated through the API; an endpoint has no deprecation: only the lockfile records it
    assert [s.call for s in fm.steps] == ["deprecate", BEGIN_RETIREMENT]
    assert [s.call for s in ep.steps] == [BEGIN_RETIREMENT]
    assert all(s.phase is Phase.DESTROY for s in fm.steps + ep.steps)
    assert "lifecycle.retire" in fm.reasons[0].text and "30d" in fm.reasons[0].text


def test_destroy_deletes_at_once_whatever_the_policy(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    plan = _plan(tmp_path, lock, FM, PRED, EP, destroy=True)
    assert _action(plan, "endpoint.e").action is A.DELETE


def test_a_retirement_waits_until_expired_and_unused(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    _retiring(lock, "endpoint.e", datetime(2029, 12, 20, tzinfo=timezone.utc))
    plan = _plan(tmp_path, lock, FM, PRED, used="2029-12-25T00:00:00")
    action = _action(plan, "endpoint.e")
    assert action.action is A.NOOP and not plan.has_changes()
    assert "retiring (18 days left, last used 2029-12-25T00:00:00Z, 7 days ago" in action.warnings[0]
    # expired, but used within the window
    _retiring(lock, "endpoint.e", datetime(2029, 11, 1, tzinfo=timezone.utc))
    plan = _plan(tmp_path, lock, FM, PRED, used="2029-12-25T00:00:00")
    assert _action(plan, "endpoint.e").action is A.NOOP and not plan.has_changes()
    # expired and unused for the window: deleted
    plan = _plan(tmp_path, lock, FM, PRED, used="2029-11-15T00:00:00Z")
    action = _action(plan, "endpoint.e")
    assert action.action is A.DELETE and [s.call for s in action.steps if s.call == "delete"] == ["delete"]
    assert "retirement is due" in action.reasons[0].text


def test_a_due_model_waits_for_a_retiring_endpoint_that_depends_on_it(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    _retiring(lock, "foundational_model.fm", datetime(2029, 1, 1, tzinfo=timezone.utc))
    _retiring(lock, "endpoint.e", datetime(2029, 12, 20, tzinfo=timezone.utc))
    lock.resources["predictor.p"].status = "retired"
    plan = _plan(tmp_path, lock)
    fm = _action(plan, "foundational_model.fm")
    assert fm.action is A.NOOP and "kept while endpoint.e still depend" in fm.warnings[0]
    # once the endpoint is due too, both go (the endpoint first: it depends on the model)
    _retiring(lock, "endpoint.e", datetime(2029, 1, 1, tzinfo=timezone.utc))
    plan = _plan(tmp_path, lock)
    assert _action(plan, "foundational_model.fm").action is A.DELETE
    assert _action(plan, "endpoint.e").action is A.DELETE


def test_declared_again_the_retirement_ends(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    _retiring(lock, "endpoint.e", NOW)
    action = _action(_plan(tmp_path, lock, FM, PRED, EP), "endpoint.e")
    assert action.action is A.UPDATE and [s.call for s in action.steps] == ["record"]
    assert "retirement ends" in action.reasons[0].text


def test_a_changed_policy_is_recorded_without_an_api_call(tmp_path: Path) -> None:
    lock = _applied(tmp_path)
    assert not _plan(tmp_path, lock, FM, PRED, EP).has_changes()
    plain_ep = "endpoints:\n  e: {predictor: p}\n"
    action = _action(_plan(tmp_path, lock, FM, PRED, plain_ep), "endpoint.e")
    assert action.action is A.UPDATE and [s.call for s in action.steps] == ["record"]
    assert [c.field for c in action.changes] == [retirement.FIELD]
    # without a recorded policy, removing it deletes it at once
    lock.resources["endpoint.e"].applied[retirement.FIELD] = None
    assert _action(_plan(tmp_path, lock, FM, PRED), "endpoint.e").action is A.DELETE


def test_retire_is_refused_on_kinds_the_api_cannot_delete(tmp_path: Path) -> None:
    pred = PRED.replace("target_column: c}", "target_column: c, lifecycle: {retire: {deprecate_for: 3d}}}")
    with pytest.raises(DiagnosticsError) as info:
        _project(tmp_path, FM, pred)
    text = " ".join(f"{d.summary} {d.detail}" for d in info.value.diagnostics)
    assert "lifecycle.retire applies only to foundational models and endpoints" in text


@pytest.mark.parametrize("text", ["30", "d", "0d", "1.5d", "30 days"])
def test_deprecate_for_is_a_positive_duration(tmp_path: Path, text: str) -> None:
    with pytest.raises(DiagnosticsError):
        _project(tmp_path, FM.replace("deprecate_for: 30d", f"deprecate_for: {text!r}"))
