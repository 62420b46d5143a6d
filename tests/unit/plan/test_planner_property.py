"""Property: plan → (simulated) apply that records exactly `action.desired` → plan again is empty.

Random manifest edits (in place, replacing, cascading, removals, ignore_changes) against a lockfile that
matches an earlier manifest; the second plan must have no changes and no drift: the plan carries all the
applier needs, and nothing the planner does leaves a perpetual diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.graph import build_graph
from featrix_iac.plan.model import ActionType, Plan
from featrix_iac.plan.planner import make_plan
from featrix_iac.resources.base import LiveObject
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import LockEntry, Lockfile

BASE = """\
version: 1
project: prop
server: {url: "http://127.0.0.1:1"}
foundational_models:
  fm:
    data: DATA
    epochs: EPOCHS
    published: PUBLISHED
predictors:
  p:
    foundational_model: fm
    type: binary_classifier
    target_column: TARGET
    deletion_protection: PROTECT
    value_meaning: {"yes": MEANING}
LIFECYCLE
  q:
    foundational_model: fm
    type: regressor
    target_column: n
ENDPOINTS
"""
ENDPOINT = """endpoints:
  e:
    predictor: SERVED
    description: DESCRIPTION
    api_key: {rotation: ROTATION, revoked: REVOKED}
"""

Edits = dict[str, Any]
EDITS = st.fixed_dictionaries(
    {
        "DATA": st.sampled_from(["a.csv", "b.csv"]),
        "EPOCHS": st.sampled_from([3, 4]),
        "PUBLISHED": st.sampled_from(["true", "false"]),
        "TARGET": st.sampled_from(["c", "d"]),
        "PROTECT": st.sampled_from(["true", "false"]),
        "MEANING": st.sampled_from(["Approved", "Accepted"]),
        "LIFECYCLE": st.sampled_from(["", "    lifecycle: {ignore_changes: [target_column]}"]),
        "endpoint": st.booleans(),
        "SERVED": st.sampled_from(["p", "q"]),
        "DESCRIPTION": st.sampled_from(["one", "two"]),
        "ROTATION": st.sampled_from([0, 1]),
        "REVOKED": st.sampled_from(["false", "true"]),
    }
)


def _write(root: Path, edits: Edits) -> None:
    text = BASE.replace("ENDPOINTS", ENDPOINT if edits["endpoint"] else "")
    for key, value in edits.items():
        if key.isupper():
            text = text.replace(key, str(value))
    (root / "featrix.yaml").write_text(text)


def _desired(root: Path) -> tuple[Any, Any]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_planner import _desired as desired_of

    return desired_of(root)


def _simulate_apply(plan: Plan, lock: Lockfile, counter: list[int]) -> None:
    """What the applier records: action.desired split into applied/hashes; new ids for new objects."""
    for action in plan.changes():
        if action.action in (ActionType.DELETE, ActionType.RETIRE):
            lock.resources.pop(action.address, None)
            continue
        applied, hashes = handler_for(action.kind).split_applied(action.desired)
        old = lock.resources.get(action.address)
        renewed = action.action is not ActionType.UPDATE or old is None
        counter[0] += 1
        ids = {"id": f"{action.address}-{counter[0]}"} if renewed else dict(old.ids)
        if action.kind == "endpoint" and any(c.field == "predictor" for c in action.changes):
            ids = {**ids, "predictor_id": f"moved-{counter[0]}"}
        lock.resources[action.address] = LockEntry(
            kind=action.kind,
            status="ready",
            ids=ids,
            applied=applied,
            hashes=hashes,
            depends_on=list(action.depends_on),
            protected=bool(action.desired.get("deletion_protection")),
        )


def _live(lock: Lockfile) -> dict[str, LiveObject | None]:
    return {
        a: LiveObject(ids=dict(e.ids), fields=handler_for(e.kind).merge_live(e, {})) for a, e in lock.resources.items()
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=EDITS, second=EDITS)
def test_apply_converges_in_one_step(tmp_path: Path, first: Edits, second: Edits) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("c,d,n\nyes,yes,1\nno,no,2\n")
    counter = [0]
    lock = Lockfile(project="prop")
    for edits in (first, second):
        _write(tmp_path, edits)
        loaded, desired = _desired(tmp_path)
        graph = build_graph(loaded.project)
        try:
            plan = make_plan(desired, lock, _live(lock), graph, allow_empty=True)
        except DiagnosticsError as exc:  # a refusal (deletion protection) is a valid outcome: nothing applied
            assert all("deletion protection" in d.summary for d in exc.diagnostics)
            continue
        _simulate_apply(plan, lock, counter)
        again = make_plan(desired, lock, _live(lock), graph, allow_empty=True)
        assert [(a.address, a.action.value, a.reasons) for a in again.changes()] == []
        assert again.drift == ()
