"""Handlers read only the documents they asked for: a malformed 200 confirms nothing, least of all an absence."""

from __future__ import annotations

from typing import Any

import pytest

from featrix_iac.client import FeatrixError, NotFoundError
from featrix_iac.resources.registry import HANDLERS
from featrix_iac.state import LockEntry

SID, PID, EID = "sess-1", "pred-1", "ep-1"
GOOD_SESSION = {
    "session": {
        "session_id": SID,
        "status": "done",
        "es_status": "done",
        "job_plan": [{"job_type": "train_single_predictor", "predictor_id": PID, "status": "completed"}],
    },
    "jobs": {},
}


class CannedClient:
    """Answers GETs from a table (missing path: 404), like a server whose answers we choose."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def get(self, path: str, *, params: dict[str, Any] | None = None, node: str | None = None) -> Any:
        if path not in self.answers:
            raise NotFoundError(f"GET {path}: HTTP 404", status=404, method="GET", path=path)
        return self.answers[path]


ENTRIES = {
    "foundational_model": LockEntry(kind="foundational_model", status="ready", ids={"session_id": SID}),
    "predictor": LockEntry(kind="predictor", status="ready", ids={"session_id": SID, "predictor_id": PID}),
    "endpoint": LockEntry(kind="endpoint", status="ready", ids={"endpoint_id": EID, "predictor_id": PID}),
    "vector_database": LockEntry(kind="vector_database", status="ready", ids={"session_id": SID, "name": "docs"}),
}
DOC_PATH = {
    "foundational_model": f"/compute/session/{SID}",
    "predictor": f"/compute/session/{SID}",
    "endpoint": f"/endpoints/{EID}",
    "vector_database": f"/session/{SID}/vector_databases/docs",
}
LIST_PATH = {
    "foundational_model": ("/compute/sessions-for-org", "sessions"),
    "endpoint": ("/endpoints", "endpoints"),
    "vector_database": (f"/session/{SID}/vector_databases", "vector_databases"),
}
MALFORMED = {
    "foundational_model": [
        {},
        {"detail": "injected fault"},
        [],
        {"session": {"session_id": "sess-2", "status": "done"}},
    ],
    "predictor": [
        {},
        {"detail": "oops"},
        "text",
        {"session": {"session_id": "sess-2", "status": "done", "job_plan": []}},
        {"session": {"session_id": SID, "status": "done", "job_plan": {"not": "a list"}}},
        {"session": {"session_id": SID, "status": "done", "job_plan": []}, "stale": True},
        {"session": {"session_id": SID, "status": "done"}, "jobs": {}},  # no job_plan: lists no predictor at all
    ],
    "endpoint": [{}, {"id": "ep-2", "name": "x"}, []],
    "vector_database": [{}, {"name": "other"}],
}


def _read(kind: str, answers: dict[str, Any]) -> Any:
    entries = {f"{kind}.x": ENTRIES[kind]}
    return HANDLERS[kind].read_all(CannedClient(answers), entries)[f"{kind}.x"]


def _empty_lists() -> dict[str, Any]:
    return {path: {key: []} for path, key in LIST_PATH.values()}


@pytest.mark.parametrize(("kind", "doc"), [(k, d) for k, docs in MALFORMED.items() for d in docs])
def test_a_malformed_document_is_an_error_not_a_deletion(kind: str, doc: Any) -> None:
    with pytest.raises(FeatrixError, match="malformed document"):
        _read(kind, {**_empty_lists(), DOC_PATH[kind]: doc})


@pytest.mark.parametrize(("kind", "path_key"), sorted(LIST_PATH.items()))
@pytest.mark.parametrize("answer", [{}, {"detail": "injected fault"}, []])
def test_a_list_answer_without_its_list_is_an_error(kind: str, path_key: tuple[str, str], answer: Any) -> None:
    path, _ = path_key
    with pytest.raises(FeatrixError, match="malformed document"):
        _read(kind, {path: answer, DOC_PATH[kind]: {}})


def test_only_a_current_session_document_without_the_predictor_confirms_its_absence() -> None:
    gone = {"session": {"session_id": SID, "status": "done", "job_plan": []}, "jobs": {}}
    assert _read("predictor", {DOC_PATH["predictor"]: gone}) is None
    live = _read("predictor", {DOC_PATH["predictor"]: GOOD_SESSION})
    assert live is not None and live.ids["predictor_id"] == PID


@pytest.mark.parametrize("kind", sorted(ENTRIES))
def test_a_404_seen_again_and_again_still_confirms_an_absence(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("featrix_iac.resources.base.time.sleep", lambda _s: None)
    assert _read(kind, _empty_lists()) is None


def test_orphan_search_in_a_malformed_list_cannot_tell() -> None:
    from featrix_iac.resources.base import CannotTell, Probe

    probe = Probe("p", "default", "endpoint.x", {"name": "x"}, token="tok", refs={"predictor_id": PID})
    with pytest.raises(CannotTell):
        HANDLERS["endpoint"].find_existing(CannedClient({"/endpoints": {}}), probe)  # type: ignore[arg-type]
    fm = Probe("p", "default", "foundational_model.x", {"name": "x"}, token="tok")
    with pytest.raises(CannotTell):
        HANDLERS["foundational_model"].find_existing(CannedClient({"/compute/sessions-for-org": {}}), fm)  # type: ignore[arg-type]
    with pytest.raises(CannotTell):  # a session document that is another session's
        p = Probe("p", "default", "predictor.x", {"target_column": "y", "type": "set"}, refs={"session_id": "other"})
        HANDLERS["predictor"].find_existing(CannedClient({"/compute/session/other": GOOD_SESSION}), p)  # type: ignore[arg-type]


class SequenceClient:
    """Answers GET of one path with the next document of a list (the last one repeats)."""

    def __init__(self, docs: list[Any]) -> None:
        self.docs = docs

    def get(self, path: str, *, params: dict[str, Any] | None = None, node: str | None = None) -> Any:
        return self.docs.pop(0) if len(self.docs) > 1 else self.docs[0]


@pytest.mark.parametrize("kind", ["foundational_model", "predictor"])
def test_waiting_rides_out_malformed_answers(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed 200 while waiting for training is not "gone" (which would taint the entry and retrain it)."""
    monkeypatch.setattr("featrix_iac.resources.base.time.sleep", lambda _s: None)
    monkeypatch.setattr("featrix_iac.resources.base.GONE_SECONDS", 0.0)
    stale = {"session": {"session_id": SID, "status": "running", "job_plan": []}, "stale": True}
    no_plan = {"session": {"session_id": SID, "status": "running"}, "jobs": {}}
    client = SequenceClient([{}, {"detail": "oops"}, stale, no_plan, {}, {}, {}, {}, GOOD_SESSION])
    progress = HANDLERS[kind].wait_ready(client, dict(ENTRIES[kind].ids), timeout=60)  # type: ignore[arg-type]
    assert progress.state == "ready"
