"""The applier's quality gates: a gated-out replacement leaves the entry (and its dependents) on the old object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from featrix_iac.apply import RecordingObserver, apply_plan
from featrix_iac.plan.model import ActionType
from featrix_iac.plan.steps import decided
from featrix_iac.state import LockEntry

from .fakes import Log, action, handlers, plan, store_and_lock

P, E = "predictor.p", "endpoint.e"


def run(
    tmp_path: Path, accuracy: float, skip: frozenset[str] = frozenset(), replace: bool = True, **old_fields: Any
) -> tuple[Log, Any]:
    log = Log()
    hs = handlers(log)
    hs["predictor"].metrics = lambda client, ids: {"accuracy": accuracy}  # type: ignore[method-assign]
    store, lock = store_and_lock(tmp_path)
    if replace:
        old = LockEntry(
            kind="predictor", status="ready", ids={"id": "old"}, applied={"size": 1}, outputs={"o": 1}, **old_fields
        )
        store.update(lock, P, old)
        store.update(lock, E, LockEntry(kind="endpoint", status="ready", ids={"id": "ep"}, depends_on=[P]))
    kind_action = ActionType.REPLACE if replace else ActionType.CREATE
    result = apply_plan(
        decided(
            plan(
                action(P, kind_action, desired={"size": 2}, gates={"min_accuracy": 0.9}),
                action(E, ActionType.UPDATE if replace else ActionType.CREATE, deps=(P,)),
            ),
            lock,
            hs,  # type: ignore[arg-type]
        ),
        loaded=None,
        client=None,  # type: ignore[arg-type]
        store=store,
        lockfile=lock,
        observer=RecordingObserver(),
        handlers=hs,  # type: ignore[arg-type]
        skip_gates=skip,
    )
    return log, (result, store.load())


def test_a_gated_out_replacement_keeps_the_old_object_and_skips_dependents(tmp_path: Path) -> None:
    log, (result, lock) = run(tmp_path, accuracy=0.5)
    assert "gated out: accuracy 0.5 < min_accuracy 0.9" in result.failed[P]
    assert E in result.skipped and ("protect", E) not in log.calls
    entry = lock.resources[P]
    assert entry.ids == {"id": "old"} and entry.status == "ready" and entry.applied == {"size": 1}
    assert (
        entry.gate is not None and entry.gate["status"] == "gated_out" and entry.gate["ids"] == {"id": "id-predictor.p"}
    )
    assert [r["reason"] for r in entry.retired] == ["gated_out"] and entry.retired[0]["id"] == "id-predictor.p"
    assert result.gates[P]["results"][0] == {
        "gate": "min_accuracy",
        "metric": "accuracy",
        "value": 0.5,
        "threshold": 0.9,
        "passed": False,
    }


def test_a_gated_out_first_creation_is_tainted(tmp_path: Path) -> None:
    _, (result, lock) = run(tmp_path, accuracy=0.5, replace=False)
    assert P in result.failed and E in result.skipped and E not in lock.resources
    assert lock.resources[P].status == "tainted" and lock.resources[P].gate["status"] == "gated_out"  # type: ignore[index]


def test_passed_and_waived_gates_are_recorded_and_the_apply_goes_on(tmp_path: Path) -> None:
    _, (result, lock) = run(tmp_path / "pass", accuracy=0.95)
    assert result.ok and lock.resources[P].gate["status"] == "passed"  # type: ignore[index]
    assert lock.resources[P].ids == {"id": "id-predictor.p"}
    _, (result, lock) = run(tmp_path / "waive", accuracy=0.5, skip=frozenset({P}))
    assert result.ok and lock.resources[P].gate["status"] == "waived"  # type: ignore[index]
    assert result.gates[P]["status"] == "waived" and lock.resources[P].ids == {"id": "id-predictor.p"}


def test_a_gated_out_replacement_of_a_borrowed_object_keeps_it(tmp_path: Path) -> None:
    _, (result, lock) = run(tmp_path, accuracy=0.5, borrowed={"from": "staging"})
    entry = lock.resources[P]
    assert P in result.failed and E in result.skipped
    assert entry.ids == {"id": "old"} and entry.borrowed == {"from": "staging"} and entry.status == "ready"
    assert entry.gate is not None and entry.gate["status"] == "gated_out"
