"""Refresh: batched per kind, and an error is never read as a deletion."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from featrix_iac.client import AuthError, ConnectionFailed, NotFoundError, ServerError
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.refresh import refresh
from featrix_iac.resources.base import CannotTell, Handler, LiveObject
from featrix_iac.state import LockEntry, Lockfile


class StubClient:
    request_count = 0


class StubHandler(Handler):
    """Answers from a table; records what it was asked (this tests refresh, not the handlers)."""

    kind = "foundational_model"
    answers: ClassVar[dict[str, Any]] = {}

    def __init__(self, error: Exception | None = None, found: Any = None) -> None:
        self.error, self.found, self.calls = error, found, []  # type: ignore[var-annotated]

    def read_all(self, client: Any, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        self.calls.append(sorted(entries))
        if self.error is not None:
            raise self.error
        return {a: self.answers.get(a, LiveObject(ids=dict(e.ids), fields={})) for a, e in entries.items()}

    def find_existing(self, client: Any, tag: dict[str, Any], scope: dict[str, str] | None = None) -> Any:
        self.calls.append(("find", tag["featrix_iac"]["address"], scope))
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def _lock(**statuses: str) -> Lockfile:
    lock = Lockfile(project="p")
    for key, status in statuses.items():
        ids = {} if status == "creating-no-ids" else {"session_id": f"s-{key}"}
        lock.resources[f"foundational_model.{key}"] = LockEntry(
            kind="foundational_model",
            status="creating" if status == "creating-no-ids" else status,
            ids=ids,
            creation_token="tok",
        )
    return lock


def test_one_batch_per_kind_and_only_entries_with_ids() -> None:
    h = StubHandler()
    lock = _lock(a="ready", b="tainted", c="creating", d="retired", e="creating-no-ids")
    seen = refresh(StubClient(), lock, handlers={"foundational_model": h}, desired={})  # type: ignore[arg-type]
    assert h.calls[0] == ["foundational_model.a", "foundational_model.b"]  # one batch
    assert h.calls[1:] == [("find", "foundational_model.e", {})]  # a never-recorded create: looked up by tag
    assert set(seen.live) == {"foundational_model.a", "foundational_model.b"}


def test_a_confirmed_absence_is_none() -> None:
    h = StubHandler()
    StubHandler.answers = {"foundational_model.a": None}
    try:
        seen = refresh(StubClient(), _lock(a="ready"), handlers={"foundational_model": h})  # type: ignore[arg-type]
    finally:
        StubHandler.answers = {}
    assert seen.live == {"foundational_model.a": None}


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (AuthError(status=401, detail="bad key"), "refused the account API key"),
        (AuthError(status=403, detail="forbidden"), "refused the account API key"),
        (ServerError(status=503, detail="down"), "cannot read foundational models from the server"),
        (ConnectionFailed("connection refused"), "cannot read foundational models from the server"),
        (NotFoundError(status=404, detail="list route missing"), "cannot read foundational models"),
    ],
)
def test_errors_abort_the_plan(error: Exception, words: str) -> None:
    h = StubHandler(error=error)
    with pytest.raises(DiagnosticsError) as exc:
        refresh(StubClient(), _lock(a="ready"), handlers={"foundational_model": h})  # type: ignore[arg-type]
    d = next(iter(exc.value.diagnostics))
    assert words in d.summary
    assert "never reads an error as a deletion" in d.detail


def test_an_entry_the_handler_skipped_is_an_error_not_a_deletion() -> None:
    class Forgetful(StubHandler):
        def read_all(self, client: Any, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
            return {}

    with pytest.raises(DiagnosticsError, match="did not report"):
        refresh(StubClient(), _lock(a="ready"), handlers={"foundational_model": Forgetful()})  # type: ignore[arg-type]


def test_orphans_of_creating_entries_are_looked_up_by_tag() -> None:
    ids = {"session_id": "orphan"}
    h = StubHandler(found=ids)
    desired = {"foundational_model.e": {"name": "e"}}
    seen = refresh(
        StubClient(),  # type: ignore[arg-type]
        _lock(e="creating-no-ids"),
        handlers={"foundational_model": h},
        desired=desired,
        project="p",
        environment="dev",
    )
    assert seen.found == {"foundational_model.e": ids}
    assert ("find", "foundational_model.e", {"name": "e"}) in h.calls


def test_cannot_tell_is_a_warning_and_no_finding() -> None:
    h = StubHandler(found=CannotTell("list failed"))
    desired = {"foundational_model.e": {"name": "e"}}
    seen = refresh(
        StubClient(),  # type: ignore[arg-type]
        _lock(e="creating-no-ids"),
        handlers={"foundational_model": h},
        desired=desired,
    )
    assert seen.found == {}
    assert seen.warnings and "cannot tell yet" in seen.warnings[0]
