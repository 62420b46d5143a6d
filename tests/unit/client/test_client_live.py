"""FeatrixClient against the real local server over loopback, with its fault injection switched on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from featrix_iac.client import AmbiguousResult, AuthError, ConflictError, FeatrixClient, NotFoundError


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from featrix_iac.server.embedded import start_local_server

    with start_local_server(Path(tmp_path_factory.mktemp("srv")), test_hooks=True) as srv:
        yield srv


@pytest.fixture()
def client(server: object) -> Iterator[tuple[FeatrixClient, list[float]]]:
    sleeps: list[float] = []
    with FeatrixClient(server.url, server.api_key, timeout=0.5, sleep=sleeps.append) as c:  # type: ignore[attr-defined]
        c.delete("/__test__/faults")
        yield c, sleeps
        c.delete("/__test__/faults")


def test_reads_and_typed_errors(server: object, client: tuple[FeatrixClient, list[float]]) -> None:
    c, _ = client
    assert c.get("/health")["status"] == "healthy"
    assert c.get("/auth/whoami")["org_id"]
    with pytest.raises(NotFoundError, match="GET /compute/session/nope: HTTP 404"):
        c.get("/session/nope")
    with FeatrixClient(server.url, "fx_not_the_key") as wrong:  # type: ignore[attr-defined]
        with pytest.raises(AuthError) as info:
            wrong.get("/auth/whoami")
    assert "fx_not_the_key" not in str(info.value)


def test_503_with_retry_after_is_retried(client: tuple[FeatrixClient, list[float]]) -> None:
    c, sleeps = client
    c.post("/__test__/faults", {"route": "GET /auth/whoami$", "status": 503, "count": 2, "retry_after": 3})
    before = c.request_count
    assert c.get("/auth/whoami")["org_id"]
    assert sleeps == [3.0, 3.0] and c.request_count - before == 3


def test_stalled_node_busy_then_permanent_conflict(client: tuple[FeatrixClient, list[float]]) -> None:
    c, sleeps = client
    c.post("/__test__/faults", {"route": "GET /health$", "status": 409, "body": {"detail": "stalled-node-busy"}})
    assert c.get("/health")["status"] == "healthy" and sleeps == [2.0]
    c.post("/__test__/faults", {"route": "GET /health$", "status": 409, "body": {"detail": "resource-already-exists"}})
    with pytest.raises(ConflictError) as info:
        c.get("/health")
    assert info.value.detail == "resource-already-exists" and sleeps == [2.0]


def test_connection_dropped_after_commit_on_a_once_call_is_ambiguous(client: tuple[FeatrixClient, list[float]]) -> None:
    c, _ = client
    c.post("/__test__/faults", {"route": "POST /endpoints$", "drop_connection": True, "when": "after"})
    with pytest.raises(AmbiguousResult, match="not re-sent"):
        c.post("/endpoints", {"name": "x", "session_id": "nope"}, once=True)
    log = c.get("/__test__/requests")
    sent = [r for r in log.get("requests", log if isinstance(log, list) else []) if r.get("path") == "/endpoints"]
    assert len(sent) == 1


def test_a_hung_read_is_retried_but_a_hung_predict_is_not(client: tuple[FeatrixClient, list[float]]) -> None:
    c, sleeps = client
    c.post("/__test__/faults", {"route": "GET /health$", "hang_seconds": 1.5})
    assert c.get("/health")["status"] == "healthy" and sleeps == [2.0]
    c.post("/__test__/faults", {"route": "POST /compute/session/.*/predict$", "hang_seconds": 1.5})
    with pytest.raises(AmbiguousResult, match="ReadTimeout"):
        c.post("/session/abc/predict", {"query_record": {}})
    assert sleeps == [2.0]
