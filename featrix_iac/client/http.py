"""FeatrixClient: the sync, thread-safe httpx client of the Featrix REST API (auth, node, retries, errors)."""

from __future__ import annotations

import functools
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featrix_iac import __version__
from featrix_iac.client import config as cfg
from featrix_iac.client.errors import (
    AmbiguousResult,
    ConfigError,
    ConnectionFailed,
    FeatrixError,
    QuotaExceeded,
    ServerGone,
    detail_of,
    error_for_status,
)
from featrix_iac.client.retry import Action, Budget, Decision, Outcome, Transport, decide, retry_after_seconds
from featrix_iac.client.retry import training_status as soft_training_status

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("featrix_iac.client")


def _without_httpx_cli() -> None:
    """Let `import httpx` skip httpx's own command-line tool, which the client never runs.

    httpx/__init__.py imports httpx._main (the `httpx` command, with rich and pygments) whenever click is
    installed: about 40 ms of CPU at the start of every `featrix plan` (issue 16). Before httpx is first
    imported, a placeholder module stands in for httpx._main; its `main` loads and runs the real one.
    """
    import sys
    import types

    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    placeholder = types.ModuleType("httpx._main", "Placeholder: featrix_iac.client.http imports httpx without its CLI.")

    def main() -> None:
        del sys.modules["httpx._main"]
        import importlib

        importlib.import_module("httpx._main").main()

    placeholder.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = placeholder


_without_httpx_cli()


@dataclass(frozen=True)
class RetryEvent:
    """One wait before a re-send: which rule (e.g. quota_exceeded, node_upgrading), how long, why."""

    method: str
    path: str
    rule: str
    delay: float
    attempt: int
    status: int | None
    body: dict[str, Any]  # the server's answer (e.g. pending_count / queue_limit of a full queue)


NODE_HEADER = "X-Featrix-Node"
IDEMPOTENCY_HEADER = "X-Featrix-Idempotency-Key"
KEY_HEADER = "X-Api-Key"
KEY_SHAPE = re.compile(r"\bfx_[A-Za-z0-9_\-]{6,}")


class FeatrixClient:
    """One connection pool to one Featrix server; safe to share between threads.

    Responses are unwrapped like the official client ({"_meta", "data"} etc.); failures raise the typed
    errors of `featrix_iac.client.errors` after the retry policy of `featrix_iac.client.retry`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        compute_cluster: str | None = None,
        timeout: float = 30.0,
        max_retry_time: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"featrix-iac/{__version__}",
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        alive: Callable[[], bool] | None = None,
        url_source: str = "",
        key_source: str = "",
    ) -> None:
        """`on_retry` (optional) is told about every wait before a re-send, e.g. to show "queue full".

        `alive` (optional, the embedded server's process check): after a transport failure, False means
        the server is gone and the request fails at once with ServerGone instead of retrying.
        `url_source` / `key_source` say where the base URL and the key came from (e.g. "server.url in
        featrix.yaml:4:8", "$FEATRIX_API_KEY"), for the messages of connection and authentication failures.
        """
        import httpx

        self.base_url = cfg.check_base_url(base_url)
        self._api_key = cfg.check_key(api_key)
        self.compute_cluster = compute_cluster
        self.timeout = timeout
        self.max_retry_time = max_retry_time
        self._sleep = scaled_sleep(sleep)
        self._on_retry = on_retry
        self._alive = alive
        self.url_source, self.key_source = url_source, key_source
        self.request_count = 0
        self.last_server_metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()  # per-thread switches (quota_as_error)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={KEY_HEADER: self._api_key, "User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            verify=tls_context(self.base_url.startswith("https://")),
        )

    @classmethod
    def from_environment(
        cls,
        base_url: str | None = None,
        *,
        api_key_env: str = "FEATRIX_API_KEY",
        compute_cluster: str | None = None,
        timeout: float = 30.0,
        **options: Any,
    ) -> FeatrixClient:
        """A client with key and base URL resolved like the official client (see client/config.py).

        `options` go to the constructor (max_retry_time, sleep, user_agent, transport, on_retry, url_source),
        except `exact_url=True`: use base_url as given, never FEATRIX_BASE_URL or a config file's base_url.
        """
        resolved = cfg.resolve(base_url, api_key_env, exact=bool(options.pop("exact_url", False)))
        key = cfg.check_key(resolved.api_key, resolved.key_source, api_key_env)
        options.setdefault("key_source", resolved.key_source)
        return cls(resolved.base_url, key, compute_cluster=compute_cluster, timeout=timeout, **options)

    def __repr__(self) -> str:
        return f"FeatrixClient(base_url={self.base_url!r}, compute_cluster={self.compute_cluster!r})"

    def __enter__(self) -> FeatrixClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def quota_as_error(self) -> Iterator[None]:
        """In this block, on this thread, a 429 quota_exceeded raises QuotaExceeded at once instead of being
        waited out: for a caller that schedules its trainings around the quota itself (the applier)."""
        before = getattr(self._local, "quota_raises", False)
        self._local.quota_raises = True
        try:
            yield
        finally:
            self._local.quota_raises = before

    # -- verbs ---------------------------------------------------------------------------------

    def get(self, path: str, *, params: dict[str, Any] | None = None, node: str | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params, node=node)

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        once: bool = False,
        files: Any = None,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        node: str | None = None,
    ) -> dict[str, Any]:
        """POST. `once=True`: a single attempt, never re-sent (creates, key rotation, shadow, promote).

        As in the official client, a `once` request still waits out the two announced refusals that
        prove the server did not act (429 quota_exceeded, node upgrading); any other failure is
        raised at once, and a request lost after sending raises AmbiguousResult.

        With `idempotency_key` (uploads) the call gets the upload timeout and budget and every retry
        carries the same X-Featrix-Idempotency-Key.
        """
        return self._request(
            "POST",
            path,
            json=json,
            once=once,
            files=files,
            data=data,
            idempotency_key=idempotency_key,
            timeout=timeout,
            headers=headers,
            node=node,
        )

    def put(self, path: str, json: Any = None, *, node: str | None = None) -> dict[str, Any]:
        return self._request("PUT", path, json=json, node=node)

    def delete(self, path: str, *, once: bool = False, node: str | None = None) -> dict[str, Any]:
        return self._request("DELETE", path, once=once, node=node)

    # -- the request loop ----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        once: bool = False,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        node: str | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        path = wire_path(path)
        budget = Budget.for_request(
            path,
            upload=idempotency_key is not None,
            timeout=timeout or self.timeout,
            max_retry_time=self.max_retry_time,
            once=once,
        )
        hdrs = self._headers(node, idempotency_key, headers)
        start, slept, counted, upgrading = time.monotonic(), 0.0, 0, False
        announced: set[str] = set()
        reached = False  # did any attempt get to a server (an answer, or sent and then lost)?
        while True:
            response, transport, exc = self._send(method, path, hdrs, budget.timeout, body)
            if response is not None and response.is_success:
                return self._parse(method, path, response)
            reached = reached or transport not in (Transport.CONNECT, Transport.WRONG_URL)
            if transport is not None and self._alive is not None and not self._alive():
                msg = f"{method} {path}: the local Featrix server at {self.base_url} stopped while in use"
                raise ServerGone(msg, detail="its process is gone", method=method, path=path)
            outcome = _outcome(method, path, once, response, transport, upgrading)
            retry_after = retry_after_seconds(response.headers) if response is not None else None
            elapsed = max(time.monotonic() - start, slept)
            decision = decide(outcome, attempt=counted + 1, elapsed=elapsed, budget=budget, retry_after=retry_after)
            if decision.action is Action.RETURN:
                return soft_training_status(outcome.body) or {}
            if decision.action not in (Action.RETRY, Action.WAIT):
                error = self._error(decision, outcome, exc)
                if isinstance(error, ConnectionFailed):
                    error.never_sent = not reached
                raise error
            if decision.rule.name == "quota_exceeded" and getattr(self._local, "quota_raises", False):
                raise self._quota_error(decision, outcome)
            counted += decision.action is Action.RETRY
            upgrading = upgrading or decision.rule.name == "node_upgrading"
            self._announce(decision, outcome, counted, first=decision.rule.name not in announced)
            announced.add(decision.rule.name)
            self._sleep(decision.delay)
            slept += decision.delay
            _rewind(body.get("files"))

    def _headers(self, node: str | None, idempotency_key: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        hdrs = dict(extra or {})
        node = node or self.compute_cluster
        if node:
            hdrs[NODE_HEADER] = node
        if idempotency_key:
            hdrs[IDEMPOTENCY_HEADER] = idempotency_key
        return hdrs

    def _send(
        self, method: str, path: str, headers: dict[str, str], timeout: float, body: dict[str, Any]
    ) -> tuple[httpx.Response | None, Transport | None, Exception | None]:
        import httpx

        with self._lock:
            self.request_count += 1
        kwargs = {k: v for k, v in body.items() if v is not None}
        try:
            response = self._http.request(method, path, headers=headers, timeout=timeout, **kwargs)
        except httpx.UnsupportedProtocol as exc:
            raise ConfigError(f"invalid Featrix base URL {self.base_url!r}: {exc}") from None
        except httpx.TransportError as exc:
            return None, _transport_kind(exc), exc
        # httpx binds each response and its (now read and closed) stream to each other, a reference cycle: without
        # it the response is freed by reference counting, also while a plan keeps the collector paused
        # (collector.py), which would otherwise keep every document refresh read (12.5 MB at 10,000 resources)
        response.stream = httpx.ByteStream(b"")
        return response, None, None

    def _parse(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            payload = response.json()
        except ValueError:
            raise FeatrixError(
                status=response.status_code,
                detail="the server answered with something that is not JSON",
                method=method,
                path=path,
            ) from None
        result: dict[str, Any] = self._unwrap(payload)  # an object per the contract (a list is passed through)
        return result

    def _unwrap(self, payload: Any) -> Any:
        if isinstance(payload, dict):
            if "_meta" in payload:
                meta = payload["_meta"]
                self.last_server_metadata = meta if isinstance(meta, dict) else None
                for key in ("data", "response"):
                    if key in payload:
                        return payload[key]
            if "response" in payload and len(payload) == 1:
                return payload["response"]
        return payload

    def _error(self, decision: Decision, outcome: Outcome, exc: Exception | None) -> FeatrixError:
        where = f"{outcome.method} {outcome.path}"
        if outcome.status is not None:
            cls = error_for_status(outcome.status)
            detail = self._redact(detail_of(outcome.body, outcome.body if isinstance(outcome.body, str) else ""))
            msg = f"{where}: HTTP {outcome.status}" + (f": {detail}" if detail else "")
            if outcome.status in (401, 403):
                msg += f" (check the Featrix API key{f' from {self.key_source}' if self.key_source else ''})"
            return cls(
                msg, status=outcome.status, detail=detail, method=outcome.method, path=outcome.path, body=outcome.body
            )
        reason = self._redact(f"{type(exc).__name__}: {exc}" if exc else "transport error")
        if decision.action is Action.AMBIGUOUS:
            msg = (
                f"{where}: outcome unknown ({reason}); the request reached the server and was not re-sent, "
                "so it may or may not have been applied"
            )
            return AmbiguousResult(msg, detail=reason, method=outcome.method, path=outcome.path)
        source = f" ({self.url_source})" if self.url_source else ""
        msg = f"{where}: cannot reach the Featrix server at {self.base_url}{source} ({reason})"
        wrong = wrong_url_cause(exc) if exc is not None and outcome.transport is Transport.WRONG_URL else None
        if wrong:
            msg = f"{where}: wrong Featrix server URL {self.base_url}{source}: {wrong} ({reason}); not retried"
        return ConnectionFailed(msg, detail=reason, method=outcome.method, path=outcome.path)

    def _quota_error(self, decision: Decision, outcome: Outcome) -> QuotaExceeded:
        detail = self._redact(detail_of(outcome.body))
        msg = f"{outcome.method} {outcome.path}: HTTP 429: the training quota is full" + (
            f" ({detail})" if detail else ""
        )
        error = QuotaExceeded(
            msg, status=429, detail=detail, method=outcome.method, path=outcome.path, body=outcome.body
        )
        error.retry_after = decision.delay
        return error

    def _redact(self, text: str) -> str:
        """Hide the account key and anything shaped like a Featrix key (e.g. an endpoint key echoed back)."""
        if not text:
            return text
        return KEY_SHAPE.sub("fx_***", text.replace(self._api_key, "fx_***"))

    def _announce(self, decision: Decision, outcome: Outcome, attempt: int, *, first: bool) -> None:
        """Log the wait (a warning the first time per condition, debug after) and tell `on_retry`."""
        what = (
            f"HTTP {outcome.status}"
            if outcome.status is not None
            else f"{outcome.transport.value if outcome.transport else 'error'}"
        )
        loud = first and (decision.action is Action.WAIT or outcome.status == 429)
        log.log(
            logging.WARNING if loud else logging.DEBUG,
            "%s %s: %s (%s), retrying in %.1fs (attempt %d)",
            outcome.method,
            outcome.path,
            what,
            decision.rule.name,
            decision.delay,
            attempt,
        )
        if self._on_retry is not None:
            body = outcome.body if isinstance(outcome.body, dict) else {}
            self._on_retry(
                RetryEvent(
                    outcome.method, outcome.path, decision.rule.name, decision.delay, attempt, outcome.status, body
                )
            )


@functools.cache
def tls_context(https: bool) -> ssl.SSLContext:
    """The TLS context of a client, built once per process.

    For an https:// server: the default verifying context (loading the CA bundle costs tens of ms, so
    once). For a plain-HTTP server no TLS connection is ever made (requests go to the base URL only,
    redirects are not followed), so it gets a context with no CA loaded: cheap, and it would refuse
    any certificate rather than trust one.
    """
    if https:
        import httpx

        return httpx.create_ssl_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


RETRY_SCALE_ENV = "FEATRIX_RETRY_SCALE"


def scaled_sleep(sleep: Callable[[float], None]) -> Callable[[float], None]:
    """`sleep`, or with FEATRIX_RETRY_SCALE=s (0 < s < 1; for tests) every retry wait shortened to s times.

    Only the sleep shrinks: budgets and attempts still count the full delays, so the retry decisions
    (and the waits announced, e.g. a Retry-After of 7 s) are the same as without the knob.
    """
    try:
        scale = float(os.environ.get(RETRY_SCALE_ENV, "") or 1)
    except ValueError:
        return sleep
    if not 0 < scale < 1:
        return sleep
    return lambda seconds: sleep(seconds * scale)


def wire_path(path: str) -> str:
    """The path as sent: leading slash, and `/session/...` gets the `/compute` prefix (contract §1.3)."""
    if not path.startswith("/"):
        path = "/" + path
    if path.startswith("/session/"):
        path = "/compute" + path
    return path


def _outcome(
    method: str, path: str, once: bool, response: httpx.Response | None, transport: Transport | None, upgrading: bool
) -> Outcome:
    if response is None:
        return Outcome(method, path, once, transport=transport, upgrading=upgrading)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    return Outcome(method, path, once, status=response.status_code, body=body, upgrading=upgrading)


def _transport_kind(exc: Exception) -> Transport:
    import httpx

    if isinstance(exc, httpx.ConnectError) and wrong_url_cause(exc) is not None:
        return Transport.WRONG_URL
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)):
        return Transport.CONNECT
    if isinstance(exc, httpx.ReadTimeout):
        return Transport.READ_TIMEOUT
    return Transport.DROPPED


def wrong_url_cause(exc: BaseException) -> str | None:
    """Why a connect error cannot be cured by retrying, from the exception chain's types; None when it may be."""
    import socket
    import ssl

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:  # EAI_AGAIN: DNS was busy
            return "the host name does not resolve"
        if isinstance(cause, ssl.SSLError):
            return "TLS failed (https:// to a plain-http port, or a certificate that is not trusted)"
        cause = cause.__cause__ or cause.__context__
    return None


def _rewind(files: Any) -> None:
    """Seek file objects in a multipart `files` argument back to 0 before a re-send."""
    values = files.values() if isinstance(files, dict) else files if isinstance(files, (list, tuple)) else []
    for item in values:
        parts = item[1] if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], tuple) else item
        candidates = parts if isinstance(parts, tuple) else (parts,)
        for obj in candidates:
            if hasattr(obj, "seek"):
                obj.seek(0)
