"""Removing an entry removes everything it records (issue 9.1): pending deletes, tag-found objects, old objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from featrix_iac.apply import RecordingObserver, apply_plan
from featrix_iac.plan.model import ActionType
from featrix_iac.plan.steps import decided
from featrix_iac.state import LockEntry

from .fakes import Log, action, handlers, plan, store_and_lock

FM, P1 = "foundational_model.fm", "predictor.a"


def run(tmp_path: Path, lock_entries: dict[str, LockEntry], *actions: Any) -> tuple[Log, Any, Any]:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    for address, entry in lock_entries.items():
        store.update(lock, address, entry)
    hs = handlers(log)
    result = apply_plan(
        decided(plan(*actions), lock, hs),  # type: ignore[arg-type]
        loaded=None,
        client=None,
        store=store,
        lockfile=lock,
        observer=RecordingObserver(),
        handlers=hs,  # type: ignore[arg-type]
    )
    return log, lock, result


def test_deleting_an_entry_deletes_its_pending_replaced_objects(tmp_path: Path) -> None:
    pending = {"id": "fm-old", "reason": "replaced", "pending_delete": "true"}
    entry = LockEntry(kind="foundational_model", status="ready", ids={"id": "fm-new"}, retired=[pending])
    delete = action(FM, ActionType.DELETE, prior_ids={"id": "fm-new"}, delete_replaced=True)
    log, lock, result = run(tmp_path, {FM: entry}, delete)
    assert result.done == [FM] and not result.failed
    assert ("delete-id", "fm-new") in log.calls and ("delete-id", "fm-old") in log.calls
    assert lock.entry(FM) is None


def test_deleting_an_interrupted_create_deletes_the_object_found_by_its_tag(tmp_path: Path) -> None:
    entry = LockEntry(kind="foundational_model", status="creating", creation_token="tok")
    log, lock, _ = run(tmp_path, {FM: entry}, action(FM, ActionType.DELETE, prior_ids={"id": "fm-orphan"}))
    assert ("delete-id", "fm-orphan") in log.calls
    assert lock.entry(FM) is None


def test_retiring_lifts_the_protection_of_the_older_objects_it_records(tmp_path: Path) -> None:
    old = {"id": "p-old", "reason": "replaced"}
    entry = LockEntry(kind="predictor", status="tainted", ids={"id": "p-new"}, retired=[old], protected=True)
    log, lock, _ = run(tmp_path, {P1: entry}, action(P1, ActionType.RETIRE, prior_ids={"id": "p-new"}))
    assert ("unprotect-id", "p-new") in log.calls and ("unprotect-id", "p-old") in log.calls
    assert lock.entry(P1).status == "retired"
