"""Data-aware plans: a retrain says what changed in the data, and lifecycle.retrain_on decides what retrains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from featrix_iac.config import LoadedProject, load_project
from featrix_iac.config.data_profile import data_summary
from featrix_iac.graph import build_graph
from featrix_iac.plan.model import ActionType
from featrix_iac.plan.planner import make_plan
from featrix_iac.plan.render import render_text
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.desired import Desired, DesiredState, desired_state
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import LockEntry, Lockfile, fingerprint_file

MANIFEST = """\
version: 1
project: data
server: {{url: "http://127.0.0.1:1"}}
foundational_models:
  fm:
    data: t.csv
    lifecycle: {{retrain_on: {policy}}}
predictors:
  p: {{foundational_model: fm, type: binary_classifier, target_column: label}}
"""
ROWS = ["1,a,0.5", "2,b,1.5", "3,a,2.5", "4,b,3.5"]


def _write(root: Path, header: str, rows: list[str], policy: str) -> None:
    (root / "t.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "featrix.yaml").write_text(MANIFEST.format(policy=policy))


def _desired(root: Path) -> tuple[LoadedProject, dict[str, Desired]]:
    loaded = load_project(root)
    ctx = DesiredContext(
        "data",
        loaded.environment,
        loaded.root,
        lambda p: fingerprint_file(p, root / "fp.json"),
        lambda p: data_summary(p, root),
    )
    return loaded, desired_state(loaded.project, ctx)


def _lock(desired: DesiredState) -> Lockfile:
    lock = Lockfile(project="data")
    for address, declared in desired.items():
        d = declared.fields
        kind = address.split(".")[0]
        applied, hashes = handler_for(kind).split_applied(d)
        lock.resources[address] = LockEntry(
            kind=kind, status="ready", ids={"id": address}, applied=applied, hashes=hashes
        )
    return lock


def _plan_after(tmp_path: Path, policy: str, header: str, rows: list[str]) -> Any:
    _write(tmp_path, "id,label,size", ROWS, policy)
    _, before = _desired(tmp_path)
    lock = _lock(before)
    assert lock.resources["foundational_model.fm"].applied["data_summary"]["rows"] == 4  # recorded with the fingerprint
    _write(tmp_path, header, rows, policy)
    loaded, after = _desired(tmp_path)
    live = {
        a: LiveObject(ids=dict(e.ids), fields=handler_for(e.kind).merge_live(e, {})) for a, e in lock.resources.items()
    }
    return make_plan(after, lock, live, build_graph(loaded.project))


def test_a_retrain_says_what_changed_in_the_data(tmp_path: Path) -> None:
    plan = _plan_after(tmp_path, "content", "id,label,size,extra", [r + ",x" for r in ROWS] + ["5,a,4.5,y"])
    fm = next(a for a in plan.actions if a.address == "foundational_model.fm")
    assert fm.action is ActionType.REPLACE
    text = render_text(plan)
    assert "t.csv: 4 → 5 rows; + column extra (schema change)" in text


def test_a_type_change_is_a_schema_change(tmp_path: Path) -> None:
    plan = _plan_after(tmp_path, "schema", "id,label,size", [r.replace(".5", "x") for r in ROWS])
    fm = next(a for a in plan.actions if a.address == "foundational_model.fm")
    assert fm.action is ActionType.REPLACE
    assert any("size float → string" in r.text for r in fm.reasons)


@pytest.mark.parametrize("policy", ["schema", "never"])
def test_rows_only_under_retrain_on_schema_or_never_keeps_the_model(tmp_path: Path, policy: str) -> None:
    plan = _plan_after(tmp_path, policy, "id,label,size", [*ROWS, "5,a,9.5", "6,b,1.0"])
    assert [a.address for a in plan.changes()] == []
    fm = next(a for a in plan.actions if a.address == "foundational_model.fm")
    assert fm.action is ActionType.NOOP
    [warning] = fm.warnings
    assert "4 → 6 rows (rows only)" in warning and f"retrain_on: {policy}" in warning
    assert fm.desired["data"] != fingerprint_file(tmp_path / "t.csv", tmp_path / "fp.json")  # still the trained data


def test_a_schema_change_retrains_under_schema_but_not_never(tmp_path: Path) -> None:
    rows = [r + ",1" for r in ROWS]
    (tmp_path / "schema").mkdir()
    (tmp_path / "never").mkdir()
    assert _plan_after(tmp_path / "schema", "schema", "id,label,size,n", rows).changes()
    assert not _plan_after(tmp_path / "never", "never", "id,label,size,n", rows).changes()
