"""The shape of a request as sent on the wire (route, auth, headers, query, JSON types, multipart fields).

Recorded only with test hooks on (`GET /__test__/requests`), for the wire-conformance test that compares
the engine's traffic with the official client's. Values are never kept: only key names and JSON types.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

MAX_CAPTURE = 4 * 1024 * 1024  # bytes of a body kept to take its shape
FORM_NAME = re.compile(rb'Content-Disposition:\s*form-data;\s*name="([^"]*)"(;\s*filename="[^"]*")?', re.IGNORECASE)
RECORDED_HEADERS = ("x-featrix-", "x-api-key")
MAX_DEPTH = 16


def json_shape(value: Any, depth: int = 0) -> Any:
    """Key names and JSON types, e.g. {"records": [{"age": "integer"}]}; list items are merged into one.

    Below MAX_DEPTH levels a container is only "object" / "array" (a hostile body cannot exhaust the stack)."""
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        return "object" if isinstance(value, dict) else "array"
    if isinstance(value, dict):
        return {str(k): json_shape(v, depth + 1) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, json_shape(item, depth + 1))
        return [] if merged is None else [merged]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _merge(a: Any, b: Any) -> Any:
    """One shape for two items of a list: keys united, differing scalar types joined ("integer|null")."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in sorted({*a, *b})}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    if isinstance(a, str) and isinstance(b, str):
        return "|".join(sorted({*a.split("|"), *b.split("|")}))
    return "mixed"


def body_shape(content_type: str, raw: bytes, truncated: bool) -> dict[str, Any]:
    """{"content": json|multipart|empty|other, "json": shape} or {"form": [...], "files": [...]}."""
    if not raw.strip():
        return {"content": "empty"}
    if "multipart/form-data" in content_type:
        fields: set[str] = set()
        files: set[str] = set()
        for name, filename in FORM_NAME.findall(raw):
            (files if filename else fields).add(name.decode("utf-8", "replace"))
        return {"content": "multipart", "form": sorted(fields), "files": sorted(files)}
    if truncated:
        return {"content": "json", "json": "(too large to record)"}
    try:
        return {"content": "json", "json": json_shape(json.loads(raw))}
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or nested too deep to parse
        return {"content": "other"}


def request_shape(scope: dict[str, Any], raw: bytes, truncated: bool, account_key: str) -> dict[str, Any]:
    """The recorded shape of one request; `scope["route"]` (set by routing) gives the path template."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    key = headers.get("x-api-key")
    auth = "none" if key is None else "account" if key == account_key else "other"
    route = getattr(scope.get("route"), "path", None)
    query = sorted({k for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)})
    return {
        "route": route or scope["path"],
        "auth": auth,
        "headers": sorted(h for h in headers if h.startswith(RECORDED_HEADERS) and h != "x-api-key"),
        "query": query,
        **body_shape(headers.get("content-type", ""), raw, truncated),
    }


class Capture:
    """An ASGI `receive` that reads the first MAX_CAPTURE bytes of the body up front (so a body the route
    never reads is recorded too), then replays them and hands on the rest."""

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._held: list[dict[str, Any]] = []
        self.raw = b""
        self.truncated = False

    async def prime(self) -> Capture:
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CAPTURE:
            message: dict[str, Any] = await self._receive()
            self._held.append(message)
            if message.get("type") != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body"):
                break
        self.truncated = size > MAX_CAPTURE
        self.raw = b"".join(chunks)[:MAX_CAPTURE]
        return self

    async def __call__(self) -> dict[str, Any]:
        if self._held:
            return self._held.pop(0)
        message: dict[str, Any] = await self._receive()
        return message
