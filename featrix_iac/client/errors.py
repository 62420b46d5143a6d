"""Typed errors of the Featrix REST client: each carries status, the server's detail, method and path."""

from __future__ import annotations

import json
from typing import Any

from featrix_iac.diagnostics import Diagnostics, DiagnosticsError

_MAX_DETAIL = 500


class FeatrixError(Exception):
    """Base of every client error. `status` is None when no HTTP answer was received."""

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        detail: str = "",
        method: str = "",
        path: str = "",
        body: Any = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        self.body = body
        self.message = message or self._default_message()
        Exception.__init__(self, self.message)  # not super(): ConfigError also derives DiagnosticsError

    def _default_message(self) -> str:
        what = f"{self.method} {self.path}".strip()
        code = f"HTTP {self.status}" if self.status is not None else type(self).__name__
        head = f"{what} failed: {code}" if what else code
        return f"{head}: {self.detail}" if self.detail else head

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, path={self.path!r}, detail={self.detail!r})"


class AuthError(FeatrixError):
    """401 or 403: the API key is missing, wrong, or not allowed to do this. Never retried."""


class NotFoundError(FeatrixError):
    """404: the object does not exist (or not yet: callers confirm before calling it deleted)."""


class ConflictError(FeatrixError):
    """409: a permanent conflict (protected, already exists, ...), or stalled-node-busy out of retries."""


class RequestError(FeatrixError):
    """Any other 4xx: the request was refused as invalid."""


class QuotaExceeded(RequestError):
    """429 quota_exceeded: the account's training queue is full and nothing was created. Raised only inside
    `FeatrixClient.quota_as_error()`; elsewhere the client waits it out like the official client.
    `retry_after` is the wait the server asked for (or the client's default)."""

    retry_after: float = 0.0


class ServerError(FeatrixError):
    """5xx after the retry budget (or on a `once` request, which is never re-sent)."""


class ConnectionFailed(FeatrixError):
    """Transport failure (connect error, timeout, dropped connection) after the retry budget.

    `never_sent` is True when no attempt reached a server (every one failed to connect): nothing was done.
    """

    never_sent: bool = False


class ServerGone(FeatrixError):
    """The server process itself is gone (the embedded local server stopped): retrying cannot help."""


class AmbiguousResult(FeatrixError):
    """A non-idempotent request was sent but its outcome is unknown (read timeout, dropped connection).

    The server may or may not have acted on it: the caller must find out (e.g. by its identity)
    before trying again, never simply re-send.
    """


class ConfigError(FeatrixError, DiagnosticsError):
    """The client cannot be configured (no key, malformed key, bad URL). Never contains the key.

    It is also a DiagnosticsError, so the CLI boundary renders it as `Error: ...` with no traceback.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        FeatrixError.__init__(self, message, detail=detail)
        ds = Diagnostics()
        ds.error(message, detail)
        self.diagnostics = ds


def error_for_status(status: int) -> type[FeatrixError]:
    """The error class for an HTTP status code."""
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if 400 <= status < 500:
        return RequestError
    if status >= 500:
        return ServerError
    return FeatrixError


def detail_of(body: Any, text: str = "") -> str:
    """The server's human-readable detail: `detail`, else `error`, else `message`, else the raw text."""
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            value = body.get(key)
            if isinstance(value, dict):
                inner = value.get("message") or value.get("detail") or value.get("error")
                value = inner if isinstance(inner, str) else json.dumps(value, sort_keys=True, default=str)
            elif isinstance(value, list):
                value = json.dumps(value, default=str)
            if value:
                return _clip(str(value))
        return ""
    return _clip(text.strip())


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
