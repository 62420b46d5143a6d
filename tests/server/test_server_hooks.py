"""Test hooks: injected statuses before / after commit, dropped connections, hangs, latency, eventual consistency."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests


@pytest.fixture(autouse=True)
def reset(api) -> Iterator[None]:
    yield
    api.ok("delete", "/__test__/faults")


def _endpoint_count(api) -> int:
    return len(api.ok("get", "/endpoints")["endpoints"])


def test_status_before_commit_for_n_calls(api, trained) -> None:
    rule = {
        "route": "POST /endpoints$",
        "status": 409,
        "body": {"detail": "stalled-node-busy"},
        "count": 2,
        "retry_after": 3,
    }
    added = api.ok("post", "/__test__/faults", json=rule)["faults"][0]
    assert added["remaining"] == 2
    before = _endpoint_count(api)
    body = {"name": "faulty", "predictor_id": trained["pids"]["sex"]}
    for _ in range(2):
        resp = api.post("/endpoints", json=body)
        assert (
            resp.status_code == 409
            and resp.json() == {"detail": "stalled-node-busy"}
            and resp.headers["Retry-After"] == "3"
        )
    assert _endpoint_count(api) == before  # nothing was created
    assert api.post("/endpoints", json=body).status_code == 200
    assert _endpoint_count(api) == before + 1
    listed = api.ok("get", "/__test__/faults")["faults"][0]
    assert listed["hits"] == 2 and listed["remaining"] == 0


def test_status_after_commit(api, trained) -> None:
    sid = trained["sid"]
    api.ok(
        "post",
        "/__test__/faults",
        json={"route": r"POST /compute/session/[^/]+/deletion_protection$", "status": 500, "when": "after"},
    )
    resp = api.post(f"/compute/session/{sid}/deletion_protection", json={"protected": True})
    assert resp.status_code == 500
    assert api.ok("get", f"/compute/session/{sid}")["session"]["deletion_protection"] is True  # it was committed
    api.ok("post", f"/compute/session/{sid}/deletion_protection", json={"protected": False})


def test_drop_connection_before_and_after_commit(api, server, trained) -> None:
    sid, pid = trained["sid"], trained["pids"]["sex"]
    api.ok("post", "/__test__/faults", json={"route": "POST /endpoints$", "drop_connection": True})
    before = _endpoint_count(api)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            server.url + "/endpoints",
            json={"name": "dropped", "predictor_id": pid},
            headers={"X-Api-Key": server.api_key},
            timeout=10,
        )
    assert _endpoint_count(api) == before
    api.ok("post", "/__test__/faults", json={"route": "POST /endpoints$", "drop_connection": True, "when": "after"})
    with pytest.raises(requests.ConnectionError):
        requests.post(
            server.url + "/endpoints",
            json={"name": "dropped-after", "predictor_id": pid, "session_id": sid},
            headers={"X-Api-Key": server.api_key},
            timeout=10,
        )
    assert "dropped-after" in [e["name"] for e in api.ok("get", "/endpoints")["endpoints"]]


def test_hang_makes_the_client_time_out(api, server) -> None:
    api.ok("post", "/__test__/faults", json={"route": "GET /auth/whoami$", "hang_seconds": 1.5, "status": 503})
    with pytest.raises(requests.ReadTimeout):
        requests.get(server.url + "/auth/whoami", headers={"X-Api-Key": server.api_key}, timeout=0.3)
    assert api.get("/auth/whoami").status_code == 200  # count 1: only the first call hung


def test_latency_only_rule_keeps_the_answer(api) -> None:
    api.ok("post", "/__test__/faults", json={"route": "GET /auth/whoami$", "latency_ms": 50, "count": 0})
    for _ in range(3):
        assert api.get("/auth/whoami").status_code == 200
    assert api.ok("get", "/__test__/faults")["faults"][0]["hits"] == 3


def test_first_get_after_create_is_404_once(api, penguins) -> None:
    api.ok("post", "/__test__/consistency", json={"first_get_404": True})
    sid = api.upload(penguins.sample(30, random_state=4), "eventual", epochs=2)
    assert api.get(f"/compute/session/{sid}").status_code == 404
    assert api.get(f"/compute/session/{sid}").status_code == 200


def test_stale_listing(api, penguins) -> None:
    api.ok("post", "/__test__/consistency", json={"stale_list_seconds": 60})
    sid = api.upload(penguins.sample(30, random_state=5), "stale", epochs=2)
    assert sid not in [s["session_id"] for s in api.ok("get", "/compute/sessions-for-org")["sessions"]]
    assert api.get(f"/compute/session/{sid}").status_code == 200
    api.ok("post", "/__test__/consistency", json={"stale_list_seconds": 0})
    assert sid in [s["session_id"] for s in api.ok("get", "/compute/sessions-for-org")["sessions"]]


def test_request_log_and_bad_rules(api) -> None:
    api.ok("delete", "/__test__/requests")
    api.get("/auth/whoami")
    log = api.ok("get", "/__test__/requests")["requests"]
    seen = [{k: r[k] for k in ("method", "path", "status", "fault")} for r in log]
    assert {"method": "GET", "path": "/auth/whoami", "status": 200, "fault": None} in seen
    again = api.ok("get", "/__test__/requests")  # `counts`: every request since the clear, past the log's 2000
    assert again["counts"]["GET 200"] == sum(1 for r in again["requests"] if (r["method"], r["status"]) == ("GET", 200))
    assert again["counts"]["GET 200"] == 1  # the whoami (the hooks' own routes are not logged)
    assert api.post("/__test__/faults", json={"status": 500}).status_code == 400
    assert api.post("/__test__/faults", json={"route": "GET /x", "when": "sometime"}).status_code == 400
    assert api.post("/__test__/faults", json={"route": "GET /x", "bogus": 1}).status_code == 400


def test_hang_after_commit_then_the_real_answer(api, server, trained) -> None:
    sid = trained["sid"]
    api.ok(
        "post",
        "/__test__/faults",
        json={"route": r"POST /compute/session/[^/]+/deletion_protection$", "hang_seconds": 0.2, "when": "after"},
    )
    resp = api.post(f"/compute/session/{sid}/deletion_protection", json={"protected": False})
    assert resp.status_code == 200 and resp.json()["deletion_protection"] is False
