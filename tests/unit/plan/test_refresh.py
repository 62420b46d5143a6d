"""Refresh: batched per kind, and an error is never read as a deletion."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from featrix_iac.client import AuthError, ConnectionFailed, NotFoundError, ServerError
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.refresh import refresh
from featrix_iac.resources.base import Ambiguous, CannotTell, Handler, LiveObject, Probe
from featrix_iac.state import LockEntry, Lockfile


class StubClient:
    """Counts nothing (as if refresh made no request), so refresh checks the key with GET /auth/whoami."""

    request_count = 0

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.gets = error, []  # type: ignore[var-annotated]

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        self.gets.append(path)
        if self.error is not None:
            raise self.error
        return {}


class StubHandler(Handler):
    """Answers from a table; records what it was asked (this tests refresh, not the handlers)."""

    kind = "foundational_model"
    answers: ClassVar[dict[str, Any]] = {}

    def __init__(self, error: Exception | None = None, found: Any = None) -> None:
        self.error, self.found, self.calls = error, found, []  # type: ignore[var-annotated]
        self.probes: list[Probe] = []

    def read_all(self, client: Any, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        self.calls.append(sorted(entries))
        if self.error is not None:
            raise self.error
        return {a: self.answers.get(a, LiveObject(ids=dict(e.ids), fields={})) for a, e in entries.items()}

    def find_in(self, get: Any, probe: Probe) -> Any:
        self.calls.append(("find", probe.address, probe.refs))
        self.probes.append(probe)
        found = (
            self.found.get(probe.address)
            if isinstance(self.found, dict) and "session_id" not in self.found
            else self.found
        )
        if isinstance(found, Exception):
            raise found
        return found


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
    assert h.calls[1:] == [("find", "foundational_model.e", {})]  # a never-recorded create: looked up
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


def test_orphans_of_creating_entries_are_looked_up_by_identity() -> None:
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
    probe = h.probes[0]
    assert (probe.address, probe.token, probe.desired, probe.environment) == (
        "foundational_model.e",
        "tok",
        {"name": "e"},
        "dev",
    )


class PredictorStub(StubHandler):
    kind = "predictor"
    id_field = "predictor_id"


def test_declared_objects_missing_from_the_lockfile_are_looked_up_referenced_kinds_first() -> None:
    """A lost lockfile: the foundational model is found first, and its session scopes the predictor's search;
    ids the lockfile records for the kind are never taken for an orphan."""
    fm = StubHandler(found={"foundational_model.a": {"session_id": "s-found"}})
    pred = PredictorStub(found={"predictor.p": {"session_id": "s-found", "predictor_id": "p1"}})
    lock = Lockfile(project="p")
    lock.resources["predictor.old"] = LockEntry(kind="predictor", status="retired", ids={"predictor_id": "p0"})
    desired = {"foundational_model.a": {"name": "a"}, "predictor.p": {"foundational_model": "a", "name": "p"}}
    client = StubClient()
    seen = refresh(
        client,  # type: ignore[arg-type]
        lock,
        handlers={"foundational_model": fm, "predictor": pred},
        desired=desired,
        project="p",
    )
    assert seen.found == {
        "foundational_model.a": {"session_id": "s-found"},
        "predictor.p": {"session_id": "s-found", "predictor_id": "p1"},
    }
    assert pred.probes[0].refs == {"session_id": "s-found"} and pred.probes[0].known == {"p0"}
    assert pred.probes[0].token == "" and pred.probes[0].started == ""  # no intent: the lockfile was lost
    assert client.gets == ["/auth/whoami"]  # the stubs made no request: the key is still checked


def test_cannot_tell_a_declared_object_refuses_the_plan_and_names_the_import_command() -> None:
    h = StubHandler(found=Ambiguous("2 foundational models fit", ["s-1", "s-2"]))
    with pytest.raises(DiagnosticsError) as exc:
        refresh(
            StubClient(),  # type: ignore[arg-type]
            Lockfile(project="p"),
            handlers={"foundational_model": h},
            desired={"foundational_model.e": {"name": "e"}},
            environment="prod",
        )
    d = next(iter(exc.value.diagnostics))
    assert d.summary == "cannot determine creation result for foundational_model.e"
    assert "featrix import -e prod foundational_model.e s-1" in d.detail and "s-2" in d.detail


def test_cannot_tell_a_removed_creating_entry_is_a_warning_and_no_finding() -> None:
    h = StubHandler(found=CannotTell("a training is queued"))
    seen = refresh(
        StubClient(),  # type: ignore[arg-type]
        _lock(e="creating-no-ids"),
        handlers={"foundational_model": h},
        desired={},
    )
    assert seen.found == {}
    assert seen.warnings and "cannot tell yet" in seen.warnings[0]


def test_plan_always_authenticates() -> None:
    with pytest.raises(DiagnosticsError) as exc:
        refresh(StubClient(AuthError(status=401, detail="bad key")), Lockfile(project="p"), handlers={}, desired={})  # type: ignore[arg-type]
    assert "refused the account API key" in next(iter(exc.value.diagnostics)).summary


def test_destroy_looks_only_for_interrupted_creates_and_never_refuses() -> None:
    """destroy plans away what the lockfile records: an unrecorded declared object is not searched, and one
    that cannot be told (an interrupted create) is a warning, not a refusal that would block the destroy."""
    h = StubHandler(found=Ambiguous("2 foundational models fit", ["s-1", "s-2"]))
    desired = {"foundational_model.e": {"name": "e"}, "foundational_model.new": {"name": "new"}}
    seen = refresh(
        StubClient(),  # type: ignore[arg-type]
        _lock(e="creating-no-ids"),
        handlers={"foundational_model": h},
        desired=desired,
        destroy=True,
    )
    assert [c[1] for c in h.calls if c[0] == "find"] == ["foundational_model.e"]
    assert h.probes[0].desired == {"name": "e"}  # the manifest's fields identify it
    assert seen.found == {} and any("cannot tell yet" in w for w in seen.warnings)
