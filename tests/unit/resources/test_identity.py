"""Identity per kind: how an object an earlier apply created is found again from fields the real service shows."""

from __future__ import annotations

from typing import Any

import pytest

from featrix_iac.client import NotFoundError
from featrix_iac.resources.base import Ambiguous, CannotTell, Probe, make_tag, started_after
from featrix_iac.resources.registry import HANDLERS

FM_H, P_H, EP_H = (HANDLERS[k] for k in ("foundational_model", "predictor", "endpoint"))
T0 = "2026-12-01T10:00:00+00:00"


class PathClient:
    """Answers GETs by path and counts them (the search reads each list or document once)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers, self.gets = answers, []  # type: ignore[var-annotated]

    def get(self, path: str, **kw: Any) -> Any:
        self.gets.append(path)
        if path not in self.answers:
            raise NotFoundError(status=404, detail="not found")
        return self.answers[path]


def probe(address: str, desired: dict[str, Any], **kw: Any) -> Probe:
    return Probe(project="proj", environment="dev", address=address, desired=desired, **kw)


# -- foundational model: session name + the creation tag in the session's user_metadata -------------------


def _session(sid: str, name: str, address: str = "foundational_model.fm", **tag: str) -> dict[str, Any]:
    t = {"project": "proj", "environment": "dev", "address": address, "token": "tok", **tag}
    return {"session_id": sid, "name": name, "user_metadata": {"featrix_iac": t, "team": "a"}}


def test_a_foundational_model_is_found_by_name_and_tag_of_this_project_and_environment() -> None:
    sessions = [
        _session("s-other-env", "fm", environment="prod"),
        _session("s-other-project", "fm", project="elsewhere"),
        _session("s-other-name", "renamed"),
        _session("s-recorded", "fm"),
        _session("s-mine", "fm"),
    ]
    client = PathClient({"/compute/sessions-for-org": {"sessions": sessions}})
    p = probe("foundational_model.fm", {"name": "fm"}, token="tok", known=frozenset({"s-recorded"}))
    assert FM_H.find_existing(client, p) == {"session_id": "s-mine"}  # type: ignore[arg-type]
    lost_lockfile = probe("foundational_model.fm", {"name": "fm"}, known=frozenset({"s-recorded"}))  # no token
    assert FM_H.find_existing(client, lost_lockfile) == {"session_id": "s-mine"}  # type: ignore[arg-type]
    other_token = probe("foundational_model.fm", {"name": "fm"}, token="another", known=frozenset({"s-recorded"}))
    assert FM_H.find_existing(client, other_token) is None  # type: ignore[arg-type]


def test_two_sessions_that_fit_are_ambiguous_with_their_import_ids() -> None:
    client = PathClient({"/compute/sessions-for-org": {"sessions": [_session("s-1", "fm"), _session("s-2", "fm")]}})
    with pytest.raises(Ambiguous) as exc:
        FM_H.find_existing(client, probe("foundational_model.fm", {"name": "fm"}))  # type: ignore[arg-type]
    assert exc.value.candidates == ["s-1", "s-2"]


# -- predictor: target column + target type + training start, in the session's job plan ------------------


def _plan_entry(pid: str, target: str, ttype: str = "set", created: str = T0, name: str = "") -> dict[str, Any]:
    spec = {"target_column": target, "target_column_type": ttype}
    return {
        "job_type": "train_single_predictor",
        "predictor_id": pid,
        "spec": spec,
        "created_at": created,
        "name": name,
    }


def _doc(*entries: dict[str, Any], jobs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"session": {"session_id": "s", "job_plan": list(entries)}, "jobs": jobs or {}}


def _pp(**kw: Any) -> Probe:
    desired = {"target_column": "y", "type": "multi_classifier", "name": "sp", **kw.pop("desired", {})}
    return probe("predictor.sp", desired, refs={"session_id": "s"}, **kw)


def test_a_predictor_is_found_by_target_type_and_start_never_by_an_echo() -> None:
    doc = _doc(
        _plan_entry("p-old", "y", created="2026-12-01T09:00:00+00:00"),  # trained before the intent
        _plan_entry("p-regressor", "y", ttype="scalar", created=T0),  # another type
        _plan_entry("p-other", "z", created=T0),  # another target
        _plan_entry("p-recorded", "y", created=T0),  # another entry of the lockfile
        _plan_entry("p-new", "y", created="2026-12-01T10:00:03+00:00"),
    )
    client = PathClient({"/compute/session/s": doc})
    p = _pp(token="tok", started=T0, known=frozenset({"p-recorded"}))
    assert P_H.find_existing(client, p) == {"session_id": "s", "predictor_id": "p-new"}  # type: ignore[arg-type]
    regressor = _pp(desired={"type": "regressor"}, started=T0)
    assert P_H.find_existing(client, regressor) == {"session_id": "s", "predictor_id": "p-regressor"}  # type: ignore[arg-type]
    assert P_H.find_existing(client, _pp(desired={"target_column": "w"}, started=T0)) is None  # type: ignore[arg-type]


def test_predictors_that_fit_equally_are_ambiguous_and_a_queued_one_is_pending() -> None:
    two = PathClient({"/compute/session/s": _doc(_plan_entry("p1", "y"), _plan_entry("p2", "y"))})
    with pytest.raises(Ambiguous) as exc:
        P_H.find_existing(two, _pp())  # type: ignore[arg-type]
    assert exc.value.candidates == ["s/p1", "s/p2"]
    named = PathClient({"/compute/session/s": _doc(_plan_entry("p1", "y", name="sp"), _plan_entry("p2", "y"))})
    assert P_H.find_existing(named, _pp()) == {"session_id": "s", "predictor_id": "p1"}  # type: ignore[arg-type]
    queued_job = {"j1": {"job_type": "train_single_predictor", "job_spec": {"target_column": "y"}, "created_at": T0}}
    queued = PathClient({"/compute/session/s": _doc(jobs=queued_job)})
    # one training queued without an id: found as pending, and the applier waits for its id (resolve)
    assert P_H.find_existing(queued, _pp(started=T0)) == {"session_id": "s"}  # type: ignore[arg-type]
    two_queued = PathClient({"/compute/session/s": _doc(jobs={**queued_job, "j2": queued_job["j1"]})})
    with pytest.raises(CannotTell, match="queued"):
        P_H.find_existing(two_queued, _pp(started=T0))  # type: ignore[arg-type]


def test_a_predictor_without_its_session_cannot_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    client = PathClient({})
    assert P_H.find_existing(client, probe("predictor.sp", {"target_column": "y", "type": "set"})) is None  # type: ignore[arg-type]
    assert client.gets == []  # no foundational model: nothing to read
    monkeypatch.setattr("featrix_iac.resources.predictor.time.sleep", lambda _s: None)
    with pytest.raises(CannotTell, match="404"):  # a queued session 404s for a while: never read as "absent"
        P_H.find_existing(client, _pp())  # type: ignore[arg-type]
    assert len(client.gets) > 3


# -- endpoint: name + serving predictor id from GET /endpoints ------------------------------------------


def test_an_endpoint_is_found_by_name_and_serving_predictor() -> None:
    endpoints = [
        {"id": "ep-other-predictor", "name": "api", "serving_predictor_id": "p-elsewhere"},
        {"id": "ep-other-name", "name": "api2", "serving_predictor_id": "p1"},
        {"id": "ep-recorded", "name": "api", "serving_predictor_id": "p1"},
        {"id": "ep-mine", "name": "api", "serving_predictor_id": "p1"},
    ]
    client = PathClient({"/endpoints": {"endpoints": endpoints}})
    p = probe(
        "endpoint.api",
        {"name": "api", "predictor": "sp"},
        refs={"session_id": "s", "predictor_id": "p1"},
        known=frozenset({"ep-recorded"}),
    )
    assert EP_H.find_existing(client, p) == {"endpoint_id": "ep-mine", "predictor_id": "p1", "session_id": "s"}  # type: ignore[arg-type]
    assert EP_H.find_existing(client, probe("endpoint.api", {"name": "api"})) is None  # type: ignore[arg-type]


def test_one_list_read_serves_every_probe_of_a_kind() -> None:
    endpoints = [{"id": f"ep-{n}", "name": n, "serving_predictor_id": "p1"} for n in ("a", "b", "c")]
    client = PathClient({"/endpoints": {"endpoints": endpoints}})
    probes = {
        f"endpoint.{n}": probe(f"endpoint.{n}", {"name": n}, refs={"predictor_id": "p1"}) for n in ("a", "b", "c", "d")
    }
    found = EP_H.find_all(client, probes)  # type: ignore[arg-type]
    assert found["endpoint.b"] == {"endpoint_id": "ep-b", "predictor_id": "p1"} and found["endpoint.d"] is None
    assert client.gets == ["/endpoints"]


def test_started_after_allows_clock_skew_and_unknown_times() -> None:
    assert started_after("2026-12-01T09:58:00Z", T0)  # two minutes behind: within the skew
    assert not started_after("2026-12-01T09:00:00", T0)  # naive times are UTC
    assert started_after("", T0) and started_after(T0, "")


def test_the_tag_of_a_probe_carries_project_environment_address_and_token() -> None:
    p = probe("foundational_model.fm", {}, token="tok")
    assert p.tag == make_tag("proj", "dev", "foundational_model.fm", "tok")
