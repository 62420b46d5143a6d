"""The outermost ASGI layer: account-key auth, request size limits, and (when enabled) injected faults."""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from typing import Any

from featrix_iac.server.http.wirelog import Capture, request_shape
from featrix_iac.server.testhooks import FaultRule, TestHooks

Scope = dict[str, Any]
OPEN_PATHS = {"/health"}
ENDPOINT_PREDICT = re.compile(r"^/endpoint/[^/]+/predict/?$")
UPLOAD = re.compile(r"/upload_with_new_session|/extend_embedding_space_data|/train_on_foundational_model")


class BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


def drop(send: Any) -> bool:
    """Close the client's TCP connection without an answer (uvicorn: the cycle behind `send` has the transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


class Gate:
    def __init__(self, app: Any, api_key: str, hooks: TestHooks | None, max_upload: int, max_json: int) -> None:
        self.app, self.api_key, self.hooks = app, api_key, hooks
        self.max_upload, self.max_json = max_upload, max_json

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path not in OPEN_PATHS and not ENDPOINT_PREDICT.match(path):
            given = _header(scope, b"x-api-key") or ""
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                msg = "missing API key: send X-Api-Key" if not given else "invalid API key"
                await send_json(send, 401, {"error": msg})
                return
        limit = self.max_upload if UPLOAD.search(path) else self.max_json
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await send_json(send, 413, {"detail": f"request body too large: {length} bytes, limit {limit}"})
            return
        if length is None and method in ("POST", "PUT", "PATCH"):
            try:
                receive = await _buffered(receive, limit)
            except BodyTooLarge:
                await send_json(send, 413, {"detail": f"request body too large: limit {limit} bytes"})
                return
        if self.hooks is None or path.startswith("/__test__"):
            await self.app(scope, receive, send)
            return
        await self._with_hooks(scope, receive, send, path, method)

    async def _with_hooks(self, scope: Scope, receive: Any, send: Any, path: str, method: str) -> None:
        hooks = self.hooks
        assert hooks is not None
        rule = hooks.match(method, path)
        status_box = {"status": 0}
        receive = capture = await Capture(receive).prime()

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        try:
            if rule is not None and rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule is not None and rule.when == "before" and await self._fault(rule, send, logged_send):
                return
            if hooks.consume_first_get(method, path):
                await logged_send_json(logged_send, 404, {"detail": "not found (injected: first read after create)"})
                return
            if rule is not None and rule.when == "after" and (rule.status or rule.drop_connection or rule.hang_seconds):
                held: list[dict[str, Any]] = []

                async def hold(message: dict[str, Any]) -> None:
                    held.append(message)

                await self.app(scope, receive, hold)  # the change is committed; its answer is held back
                if not await self._fault(rule, send, logged_send):
                    for message in held:  # a hang-only rule: the real answer, late
                        await logged_send(message)
                return
            await self.app(scope, receive, logged_send)
        finally:
            try:
                wire = request_shape(scope, capture.raw, capture.truncated, self.api_key)
            except Exception:  # noqa: BLE001 - recording must never break serving
                wire = {"route": path, "content": "unrecorded"}
            hooks.log(method, path, status_box["status"], rule.id if rule else None, wire)

    async def _fault(self, rule: FaultRule, send: Any, logged_send: Any) -> bool:
        """Apply a rule's answer; False when the rule only adds latency (the route then runs normally)."""
        if rule.hang_seconds:
            await asyncio.sleep(rule.hang_seconds)
        if rule.drop_connection:
            if drop(send):
                return True
            await send({"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"100")]})
            raise ConnectionAbortedError("injected dropped connection")
        if rule.status:
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
            await logged_send_json(
                logged_send, rule.status, rule.body if rule.body is not None else {"detail": "injected fault"}, headers
            )
            return True
        return False


async def logged_send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    await send_json(send, status, body, headers)


SPOOL_IN_MEMORY = 1024 * 1024  # a body without Content-Length goes to a temporary file past this size
REPLAY_CHUNK = 64 * 1024


async def _buffered(receive: Any, limit: int) -> Any:
    """Read a body of unknown length (chunked) up to `limit` bytes into a spooled temporary file, then replay
    it in chunks: the limit is known before the app runs, and a large body never sits whole in memory."""
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the replay
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            spool.write(chunk)
            if not message.get("more_body"):
                break
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    async def replay() -> dict[str, Any]:
        if not spool.closed:
            chunk = spool.read(REPLAY_CHUNK)
            more = spool.tell() < size
            if not more:
                spool.close()
            return {"type": "http.request", "body": chunk, "more_body": more}
        message: dict[str, Any] = await receive()
        return message

    return replay
