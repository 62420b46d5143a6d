"""The session document rebuilt from its changed parts: always what the documents say, and only changed parts made again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.server.http import views
from featrix_iac.server.http.documents import job_view, plan_entry, session_fields
from featrix_iac.server.store import Store

SID = "sess-1"


def _job(jid: str, pid: str | None = None, **fields: Any) -> dict[str, Any]:
    job = {"job_id": jid, "session_id": SID, "status": "running", "created_at": "2026-01-01T00:00:00+00:00"}
    if pid is None:
        job.update(job_type="train_es", total_epochs=5)
    else:
        job.update(job_type="train_single_predictor", predictor_id=pid, target_column="t", target_column_type="set")
    return {**job, **fields}


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "featrix.sqlite3")
    store.put("session", SID, {"session_id": SID, "name": "fm", "d_model": 8})
    store.put("job", "es", _job("es", status="done"), parent=SID)
    for i in range(3):
        pid = f"pred_{i}"
        store.put(
            "predictor", pid, {"predictor_id": pid, "session_id": SID, "predictor_index": i, "name": f"p{i}"}, SID
        )
        store.put("job", f"j{i}", _job(f"j{i}", pid, progress=0.1, loss=float("nan")), parent=SID)
    store.put("job", "j0-more", _job("j0-more", "pred_0", status="ready"), parent=SID)  # train_predictor_more
    return store


def _expected(store: Store) -> dict[str, Any]:
    """The document spelled out from the stored documents, without any kept part."""
    session = store.get("session", SID) or {}
    jobs, preds = store.list("job", SID), store.list("predictor", SID)
    by_pid = {p["predictor_id"]: p for p in preds}
    newest = {j["predictor_id"]: j["job_id"] for j in jobs if j.get("predictor_id")}
    plan = [
        plan_entry(session, j, by_pid.get(j.get("predictor_id", "")))
        for j in jobs
        if not j.get("predictor_id") or newest[j["predictor_id"]] == j["job_id"]
    ]
    fields = {**session_fields(session, jobs, preds), "job_plan": plan}
    doc = {"session": fields, "jobs": {j["job_id"]: job_view(j) for j in jobs}, "job_plan": plan}
    return json.loads(views.dump(doc))  # NaN as null, as the routes answer


def _served(sv: views.SessionViews, store: Store) -> dict[str, Any]:
    raw = sv.document(
        store.get("session", SID) or {}, store.list_shared("job", SID), store.list_shared("predictor", SID)
    )
    return json.loads(raw)


def test_the_document_is_what_the_stored_documents_say(tmp_path: Path) -> None:
    store, sv = _store(tmp_path), views.SessionViews()
    doc = _served(sv, store)
    assert doc == _expected(store)
    assert [e["job_id"] for e in doc["job_plan"]] == ["es", "j1", "j2", "j0-more"]  # one entry per predictor
    assert doc["jobs"]["j0"]["loss"] is None


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update("job", "j1", lambda d: d.update(progress=0.5, status="done")),
        lambda s: s.update("predictor", "pred_2", lambda d: d.update(name="renamed")),
        lambda s: s.update("session", SID, lambda d: d.update(name="fm-renamed")),
        lambda s: s.put("job", "j3", _job("j3", "pred_1"), parent=SID),
        lambda s: s.delete("job", "j0-more"),
    ],
    ids=["job", "predictor", "session-name", "new-job", "deleted-job"],
)
def test_a_change_is_served_at_once(tmp_path: Path, change: Any) -> None:
    store, sv = _store(tmp_path), views.SessionViews()
    before = _served(sv, store)
    change(store)
    after = _served(sv, store)
    assert after == _expected(store) and after != before


def test_only_the_changed_jobs_views_are_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, sv = _store(tmp_path), views.SessionViews()
    _served(sv, store)
    made: list[str] = []
    monkeypatch.setattr(views, "job_view", lambda job: made.append(job["job_id"]) or job_view(job))
    _served(sv, store)
    assert made == []
    store.update("job", "j2", lambda d: d.update(progress=0.7))
    assert _served(sv, store)["jobs"]["j2"]["progress"] == 0.7
    assert made == ["j2"]


def test_the_parts_kept_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, sv = _store(tmp_path), views.SessionViews()
    session, jobs = store.get("session", SID) or {}, store.list_shared("job", SID)
    sv.document(session, jobs, [])
    monkeypatch.setattr(views, "BYTES_KEPT", 2 * sv._bytes)  # room for two sessions' parts
    for i in range(4):
        sv.document({**session, "session_id": f"s{i}"}, jobs, [])
    assert sorted(sv._parts) == ["s2", "s3"]  # the least recently served went first
    assert sv._bytes == sum(size for size, _ in sv._parts.values())
    assert json.loads(sv.document(session, jobs, []))["session"]["session_id"] == SID
