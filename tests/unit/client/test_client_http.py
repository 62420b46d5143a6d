"""FeatrixClient against httpx.MockTransport: headers, unwrapping, the retry policy, errors, secrecy."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from featrix_iac.client import (
    AmbiguousResult,
    AuthError,
    ConfigError,
    ConflictError,
    ConnectionFailed,
    FeatrixClient,
    NotFoundError,
    RequestError,
    ServerError,
)

KEY = "fx_test_0123456789abcdef"


class Server:
    """Answers scripted responses in order (the last one repeats) and records every request."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def make(server: Server, **kw: Any) -> tuple[FeatrixClient, list[float]]:
    sleeps: list[float] = []
    client = FeatrixClient("http://fx.test/", KEY, transport=httpx.MockTransport(server), sleep=sleeps.append, **kw)
    return client, sleeps


def ok(body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.Response(200, json={} if body is None else body, **kw)


def status(code: int, body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.Response(code, json=body if body is not None else {"detail": f"boom {code}"}, **kw)


def raising(exc_type: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)  # type: ignore[call-arg]

    return handler


# -- plumbing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"_meta": {"compute_cluster": "churro"}, "data": {"a": 1}}, {"a": 1}),
        ({"_meta": {}, "response": {"b": 2}}, {"b": 2}),
        ({"response": {"c": 3}}, {"c": 3}),
        ({"response": {"c": 3}, "other": 1}, {"response": {"c": 3}, "other": 1}),
        ({"plain": True}, {"plain": True}),
    ],
)
def test_responses_are_unwrapped_like_the_official_client(payload: Any, expected: Any) -> None:
    client, _ = make(Server(ok(payload)))
    assert client.get("/health") == expected


def test_meta_is_kept_and_empty_bodies_are_empty_dicts() -> None:
    client, _ = make(Server(ok({"_meta": {"compute_cluster": "churro"}, "data": {}}), httpx.Response(204)))
    client.get("/x")
    assert client.last_server_metadata == {"compute_cluster": "churro"}
    assert client.delete("/endpoints/e1") == {}


def test_headers_node_and_session_prefix() -> None:
    server = Server(ok())
    client, _ = make(server, compute_cluster="burrito")
    client.get("/session/s1", params={"a": "b"})
    client.post("/session/s1/train_predictor", {"target_column": "y"}, node="churro", headers={"X-Extra": "1"})
    first, second = server.requests
    assert first.url.path == "/compute/session/s1" and first.url.params["a"] == "b"
    assert first.headers["x-api-key"] == KEY
    assert first.headers["user-agent"].startswith("featrix-iac/")
    assert first.headers["x-featrix-node"] == "burrito"
    assert second.headers["x-featrix-node"] == "churro" and second.headers["x-extra"] == "1"
    assert second.url.path == "/compute/session/s1/train_predictor"
    assert b'"target_column"' in second.content
    assert client.request_count == 2


def test_no_node_header_without_a_cluster() -> None:
    server = Server(ok())
    client, _ = make(server)
    client.put("/endpoints/e1", {"description": "x"})
    assert "x-featrix-node" not in server.requests[0].headers


def test_multipart_upload_sends_files_and_form_fields() -> None:
    server = Server(ok({"session_id": "s1"}))
    client, _ = make(server)
    out = client.post(
        "/compute/upload_with_new_session/",
        files={"file": ("data.csv", b"a,b\n1,2\n", "text/csv")},
        data={"name": "pen"},
        idempotency_key="idem-1",
    )
    assert out == {"session_id": "s1"}
    req = server.requests[0]
    assert req.headers["x-featrix-idempotency-key"] == "idem-1"
    assert b'name="name"' in req.content and b"a,b\n1,2\n" in req.content
    assert req.extensions["timeout"]["read"] == 600.0


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, err",
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (400, RequestError),
        (422, RequestError),
        (409, ConflictError),
    ],
)
def test_permanent_statuses_raise_typed_errors_at_once(code: int, err: type[Exception]) -> None:
    server = Server(status(code, {"detail": "resource-already-exists" if code == 409 else "nope"}))
    client, sleeps = make(server)
    with pytest.raises(err) as info:
        client.get("/compute/session/s1")
    e = info.value
    assert e.status == code and e.method == "GET" and e.path == "/compute/session/s1"  # type: ignore[attr-defined]
    assert e.detail in ("nope", "resource-already-exists")  # type: ignore[attr-defined]
    assert str(e).startswith(f"GET /compute/session/s1: HTTP {code}: ")
    assert len(server.requests) == 1 and sleeps == []


def test_auth_error_reads_the_error_field_and_hints_at_the_key() -> None:
    client, _ = make(Server(status(401, {"error": "invalid API key"})), key_source="$MY_FEATRIX_KEY")
    with pytest.raises(AuthError) as info:
        client.get("/auth/whoami")
    assert info.value.detail == "invalid API key"
    assert "$MY_FEATRIX_KEY" in str(info.value)  # where the key came from, not a variable the project may not use


def test_server_error_after_five_attempts_with_exponential_backoff() -> None:
    server = Server(status(500, {"detail": "kaput"}))
    client, sleeps = make(server)
    with pytest.raises(ServerError) as info:
        client.get("/compute/session/s1")
    assert len(server.requests) == 5
    assert sleeps == [2.0, 4.0, 8.0, 16.0]
    assert info.value.status == 500 and info.value.detail == "kaput"


def test_backoff_is_capped_and_the_time_budget_is_honoured() -> None:
    server = Server(status(503))
    client, sleeps = make(server, max_retry_time=10.0)
    with pytest.raises(ServerError):
        client.get("/x")
    assert sleeps == [2.0, 4.0, 8.0]  # 14 s slept > 10 s budget: no fourth retry


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(code: int) -> None:
    server = Server(status(code), ok({"fine": 1}))
    client, sleeps = make(server)
    assert client.post("/compute/session/s1/publish", {"name": "n"}) == {"fine": 1}
    assert len(server.requests) == 2 and sleeps == [2.0]


def test_retry_after_is_honoured_and_capped() -> None:
    server = Server(status(429, headers={"Retry-After": "7"}), status(503, headers={"Retry-After": "999"}), ok())
    client, sleeps = make(server)
    client.get("/x")
    assert sleeps == [7.0, 120.0]


def test_unparseable_or_negative_retry_after_falls_back_to_backoff() -> None:
    server = Server(
        status(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        status(429, headers={"Retry-After": "-3"}),
        ok(),
    )
    client, sleeps = make(server)
    client.get("/x")
    assert sleeps == [2.0, 4.0]


def test_stalled_node_busy_is_retried_other_409s_are_not() -> None:
    server = Server(status(409, {"detail": "stalled-node-busy"}), ok({"predictor_id": "p1"}))
    client, sleeps = make(server)
    assert client.post("/compute/session/s1/train_predictor", {}) == {"predictor_id": "p1"}
    assert sleeps == [2.0]
    server = Server(status(409, {"detail": "duplicate-dispatch-blocked"}))
    client, sleeps = make(server)
    with pytest.raises(ConflictError):
        client.post("/compute/session/s1/train_predictor", {})
    assert len(server.requests) == 1


def test_stalled_node_busy_is_retried_even_for_a_once_call() -> None:
    # the server refused before doing anything, so re-sending cannot duplicate (unlike a lost answer)
    server = Server(*([status(409, {"detail": "stalled-node-busy"})] * 2), ok({"predictor_id": "p1"}))
    client, sleeps = make(server)
    assert client.post("/compute/session/s1/train_predictor", {}, once=True) == {"predictor_id": "p1"}
    assert len(server.requests) == 3 and sleeps == [2.0, 4.0]
    server = Server(status(500, {"detail": "boom"}))
    client, _ = make(server)
    with pytest.raises(ServerError):
        client.post("/compute/session/s1/train_predictor", {}, once=True)
    assert len(server.requests) == 1  # a 5xx may have committed: a once call is not re-sent


def test_quota_exceeded_waits_beyond_the_attempt_limit() -> None:
    quota = {"quota_exceeded": True, "pending_count": 8, "queue_limit": 8}
    server = Server(*([status(429, quota)] * 9), ok({"session_id": "s"}))
    client, sleeps = make(server)
    assert client.post("/compute/session/s1/train_predictor", {}, once=True) == {"session_id": "s"}
    assert len(server.requests) == 10 and sleeps == [15.0] * 9


def test_quota_wait_gives_up_after_an_hour() -> None:
    quota = {"quota_exceeded": True}
    server = Server(status(429, quota, headers={"Retry-After": "120"}))
    client, sleeps = make(server)
    with pytest.raises(RequestError) as info:
        client.get("/x")
    assert info.value.status == 429
    assert sum(sleeps) == 3600.0


def test_node_upgrading_is_waited_out_including_connection_drops() -> None:
    upgrading = status(503, {"detail": "NodeUpgradingException: burrito"})
    server = Server(
        upgrading, raising(httpx.ConnectError), status(500, {"detail": "node is currently upgrading"}), ok({"x": 1})
    )
    client, sleeps = make(server)
    assert client.get("/x") == {"x": 1}
    assert sleeps == [15.0, 15.0, 15.0]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "training_in_progress", "message": "epoch 3/10", "training_info": {"epoch": 3}},
        {"detail": {"status": "training_not_started", "message": "queued"}},
    ],
)
def test_soft_503_training_in_progress_is_returned_not_raised(body: dict[str, Any]) -> None:
    server = Server(httpx.Response(503, json=body))
    client, sleeps = make(server)
    out = client.post("/compute/session/s1/predict", {"query_record": {}})
    assert out["status"] in ("training_in_progress", "training_not_started")
    assert len(server.requests) == 1 and sleeps == []


# -- once, predicts, transport -------------------------------------------------------------------


def test_once_makes_exactly_one_attempt() -> None:
    server = Server(status(503), ok())
    client, sleeps = make(server)
    with pytest.raises(ServerError):
        client.post("/endpoints", {"name": "e"}, once=True)
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout])
def test_once_request_lost_after_sending_is_ambiguous(exc: type[Exception]) -> None:
    server = Server(raising(exc), ok())
    client, _ = make(server)
    with pytest.raises(AmbiguousResult) as info:
        client.post("/endpoints/e1/regenerate_key", {}, once=True)
    assert len(server.requests) == 1
    assert "not re-sent" in str(info.value) and info.value.status is None


def test_once_connect_error_is_a_plain_connection_failure() -> None:
    server = Server(raising(httpx.ConnectError), ok())
    client, _ = make(server)
    with pytest.raises(ConnectionFailed) as info:
        client.post("/endpoints", {}, once=True)
    assert len(server.requests) == 1
    assert "cannot reach the Featrix server at http://fx.test" in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        "/compute/session/s/predict",
        "/endpoint/e1/predict",
        "/session/s/predict_table",
        "/session/s/light_predict",
        "/x/es_predict",
    ],
)
def test_predict_read_timeout_is_never_resent(path: str) -> None:
    server = Server(raising(httpx.ReadTimeout), ok())
    client, sleeps = make(server)
    with pytest.raises(AmbiguousResult):
        client.post(path, {"query_record": {}})
    assert len(server.requests) == 1 and sleeps == []


def test_predict_connect_error_is_retried() -> None:
    server = Server(raising(httpx.ConnectError), ok({"prediction": "a"}))
    client, _ = make(server)
    assert client.post("/compute/session/s/predict", {}) == {"prediction": "a"}


def test_reads_are_retried_on_timeouts_and_connect_errors_then_fail() -> None:
    server = Server(raising(httpx.ReadTimeout), raising(httpx.ConnectError), ok({"v": 1}))
    client, sleeps = make(server)
    assert client.get("/compute/session/s1") == {"v": 1}
    assert sleeps == [2.0, 4.0]
    server = Server(raising(httpx.ConnectError))
    client, _ = make(server)
    with pytest.raises(ConnectionFailed):
        client.get("/health")
    assert len(server.requests) == 5


def test_upload_is_retried_by_time_with_the_same_idempotency_key() -> None:
    server = Server(*([status(502)] * 7), raising(httpx.ReadTimeout), ok({"session_id": "s1"}))
    client, sleeps = make(server)
    out = client.post("/compute/upload_with_new_session/", files={"file": ("d.csv", b"a,b\n")}, idempotency_key="k-1")
    assert out == {"session_id": "s1"}
    assert len(server.requests) == 9  # more than the 5 attempts of an ordinary request
    assert {r.headers["x-featrix-idempotency-key"] for r in server.requests} == {"k-1"}
    assert all(r.content.endswith(b"--\r\n") and b"a,b\n" in r.content for r in server.requests)
    assert sleeps[-1] == 60.0


def test_upload_file_objects_are_rewound_before_a_retry(tmp_path: Any) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"x,y\n1,2\n")
    server = Server(status(503), ok({"session_id": "s"}))
    client, _ = make(server)
    with path.open("rb") as fh:
        client.post("/compute/upload_with_new_session/", files={"file": ("d.csv", fh)}, idempotency_key="k")
    assert all(b"x,y\n1,2\n" in r.content for r in server.requests)


def test_per_call_timeout_is_used() -> None:
    server = Server(ok())
    client, _ = make(server, timeout=5.0)
    client.get("/x")
    client.post("/compute/session/s/predict", {}, timeout=300.0)
    assert server.requests[0].extensions["timeout"]["read"] == 5.0
    assert server.requests[1].extensions["timeout"]["read"] == 300.0


def test_non_json_success_is_an_error() -> None:
    client, _ = make(Server(httpx.Response(200, content=b"<html>")))
    with pytest.raises(Exception) as info:
        client.get("/x")
    assert "not JSON" in str(info.value)


# -- secrecy, threads ----------------------------------------------------------------------------


def test_the_key_never_appears_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"detail": f"bad key {KEY} for this route"}
    server = Server(status(500, echo), status(403, echo))
    client, _ = make(server)
    with pytest.raises(AuthError) as info:
        client.get("/x")
    texts = [str(info.value), repr(info.value), info.value.detail, repr(client), caplog.text]
    assert all(KEY not in t for t in texts)
    assert "fx_***" in str(info.value)


def test_a_key_without_fx_prefix_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        FeatrixClient("http://fx.test", "sk_live_supersecret")
    assert "supersecret" not in str(info.value) and "fx_" in str(info.value)


def test_a_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        FeatrixClient("fx.test", KEY)


def test_thread_safe_request_count() -> None:
    server = Server(ok())
    client, _ = make(server)
    threads = [threading.Thread(target=lambda: [client.get("/x") for _ in range(25)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.request_count == 200 == len(server.requests)


def test_context_manager_closes_the_pool() -> None:
    with make(Server(ok()))[0] as client:
        client.get("/x")
    with pytest.raises(RuntimeError):
        client.get("/x")


def test_on_retry_reports_each_wait_and_logs_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="featrix_iac.client")
    quota = {"quota_exceeded": True, "pending_count": 8, "queue_limit": 8}
    events: list[Any] = []
    server = Server(status(429, quota), status(429, quota), status(502), ok())
    client = FeatrixClient(
        "http://fx.test", KEY, transport=httpx.MockTransport(server), sleep=lambda s: None, on_retry=events.append
    )
    client.post("/compute/session/s/train_predictor", {})
    assert [(e.rule, e.delay, e.status) for e in events] == [
        ("quota_exceeded", 15.0, 429),
        ("quota_exceeded", 15.0, 429),
        ("transient_status", 2.0, 502),
    ]
    assert events[0].body["pending_count"] == 8
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "quota_exceeded" in warnings[0].getMessage()


def test_from_environment_passes_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_API_KEY", KEY)
    server = Server(ok({"status": "healthy"}))
    client = FeatrixClient.from_environment("http://fx.test", transport=httpx.MockTransport(server))
    assert client.get("/health") == {"status": "healthy"}
    assert server.requests[0].headers["x-api-key"] == KEY


def test_endpoint_key_header_replaces_the_account_key_and_is_redacted() -> None:
    ep_key = "fx_ep_abcdef123456"
    server = Server(status(400, {"detail": f"bad record for key {ep_key}"}))
    client, _ = make(server)
    with pytest.raises(RequestError) as info:
        client.post("/endpoint/e1/predict", {"query_record": {}}, headers={"X-API-Key": ep_key})
    assert server.requests[0].headers.get_list("x-api-key") == [ep_key]
    assert ep_key not in str(info.value) and ep_key not in info.value.detail


def test_a_plain_http_client_loads_no_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: loading the CA bundle cost ~17 ms on every run, for servers spoken to without TLS."""
    import ssl

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a CA bundle was loaded for a plain-HTTP server")

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", refuse)
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", refuse)
    with FeatrixClient("http://127.0.0.1:9", KEY) as client:
        assert client.base_url == "http://127.0.0.1:9"


def test_https_clients_share_one_verifying_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from featrix_iac.client import http

    built: list[object] = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: built.append(1) or real(*a, **k))
    http.tls_context.cache_clear()
    try:
        for _ in range(3):
            FeatrixClient("https://sphere-api.example.com", KEY).close()
        context = http.tls_context(True)
    finally:
        http.tls_context.cache_clear()
    assert len(built) == 1
    import ssl

    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def _connect_error_caused_by(cause: BaseException) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError("simulated", request=request) from exc

    return handler


@pytest.mark.parametrize(
    "cause",
    [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    ],
    ids=["unknown host", "https to a plain-http port"],
)
@pytest.mark.parametrize("upload", [False, True])
def test_a_wrong_server_url_fails_at_once_naming_where_the_url_comes_from(cause: BaseException, upload: bool) -> None:
    server = Server(_connect_error_caused_by(cause), ok())
    client, sleeps = make(server, url_source="server.url in featrix.yaml:4:8")
    with pytest.raises(ConnectionFailed) as info:
        if upload:
            client.post("/compute/upload_with_new_session/", files={"file": ("t.csv", b"a\n1\n")}, idempotency_key="k")
        else:
            client.get("/compute/session/s1")
    assert len(server.requests) == 1 and sleeps == []  # retrying cannot help
    assert "server.url in featrix.yaml:4:8" in str(info.value) and "http://fx.test" in str(info.value)
    assert info.value.never_sent


def test_a_busy_dns_and_a_refused_connection_are_still_retried() -> None:
    busy = _connect_error_caused_by(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    refused = _connect_error_caused_by(ConnectionRefusedError(111, "Connection refused"))
    server = Server(busy, refused, ok({"v": 1}))
    client, sleeps = make(server)
    assert client.get("/compute/session/s1") == {"v": 1}
    assert sleeps == [2.0, 4.0]
    server = Server(refused)
    client, _ = make(server)
    with pytest.raises(ConnectionFailed) as info:
        client.get("/compute/session/s1")
    assert info.value.never_sent and len(server.requests) == 5


def test_a_connection_lost_after_sending_is_not_never_sent() -> None:
    server = Server(raising(httpx.ReadTimeout), raising(httpx.ConnectError))
    client, _ = make(server)
    with pytest.raises(ConnectionFailed) as info:
        client.get("/compute/session/s1")
    assert not info.value.never_sent


def test_inside_quota_as_error_a_full_quota_raises_at_once_with_the_servers_wait() -> None:
    """Issue 16: the applier schedules around the quota, so it needs the refusal, not a sleeping thread."""
    from featrix_iac.client import QuotaExceeded

    quota = {"quota_exceeded": True, "pending_count": 4, "queue_limit": 4}
    server = Server(status(429, quota, headers={"Retry-After": "7"}), ok({"session_id": "s"}))
    client, sleeps = make(server)
    with client.quota_as_error(), pytest.raises(QuotaExceeded) as caught:
        client.post("/compute/upload_with_new_session/", json={}, once=True)
    assert caught.value.status == 429 and caught.value.retry_after == 7.0 and sleeps == []
    assert caught.value.body["queue_limit"] == 4
    assert client.post("/compute/upload_with_new_session/", json={}, once=True) == {"session_id": "s"}


def test_quota_as_error_is_per_thread_and_restored() -> None:
    quota = {"quota_exceeded": True}
    server = Server(status(429, quota), ok({"done": True}))
    client, sleeps = make(server)
    seen: list[dict[str, Any]] = []
    with client.quota_as_error():
        worker = threading.Thread(target=lambda: seen.append(client.post("/x", json={})))
        worker.start()
        worker.join()
    assert seen == [{"done": True}] and sleeps == [15.0]  # the other thread waited it out as usual


def test_the_client_imports_httpx_without_its_command_line_tool() -> None:
    """httpx imports its CLI (rich, pygments) when click is installed; the client skips it, and it still runs."""
    import subprocess
    import sys

    code = (
        "import sys; import click, featrix_iac.client.http, httpx\n"
        "assert httpx.Client and 'rich' not in sys.modules and 'pygments' not in sys.modules, sorted(sys.modules)\n"
        "sys.argv = ['httpx', '--help']; httpx.main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()  # the real command printed its help


def test_a_read_response_is_freed_without_the_cyclic_collector() -> None:
    """A plan keeps the collector paused: httpx's response <-> stream cycle would keep every document it read."""
    import gc
    import weakref

    client, _ = make(Server(lambda request: ok({"big": "x" * 1000})))  # a new response each time, kept by no one
    seen: list[weakref.ref[httpx.Response]] = []
    client._http.event_hooks["response"].append(lambda r: seen.append(weakref.ref(r)))
    enabled = gc.isenabled()
    gc.disable()
    try:
        assert client.get("/doc") == {"big": "x" * 1000}
        assert len(seen) == 1 and seen[0]() is None  # freed by reference counting alone
    finally:
        if enabled:
            gc.enable()
