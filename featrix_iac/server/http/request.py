"""Small request helpers shared by the route modules: JSON bodies, typed fields, errors, the service handle."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request

from featrix_iac.server.limits import MAX_EPOCHS
from featrix_iac.server.service import DEFAULT_CLUSTER, Service
from featrix_iac.server.webhook_policy import TargetPolicy
from featrix_iac.server.webhooks import SECRET_KEY

MAX_METADATA_BYTES = 32 * 1024


def svc(request: Request) -> Service:
    service: Service = request.app.state.svc
    return service


def bad(detail: str, status: int = 400) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = loads(raw, "request body")
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    return body


def loads(raw: str | bytes, what: str) -> Any:
    """Parse JSON; malformed or nested too deeply (the parser's recursion limit) is a 400, never a 500."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise bad(f"{what} is nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"{what} is not valid JSON: {exc}") from exc


def cluster(request: Request) -> str:
    return request.headers.get("x-featrix-node") or DEFAULT_CLUSTER


def json_field(value: Any, name: str, kind: type, default: Any = None) -> Any:
    """A field that may arrive as a JSON-encoded string (multipart, or the user_metadata quirk)."""
    if value is None or value == "":
        return default
    if isinstance(value, str) and kind is not str:
        value = loads(value, name)
    if not isinstance(value, kind):
        raise bad(f"{name} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def metadata_field(value: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json_field(value, "user_metadata", dict, {})
    if len(json.dumps(meta)) > MAX_METADATA_BYTES:
        raise bad("user_metadata is larger than 32 KB")
    return meta


def webhooks_field(value: Any, policy: TargetPolicy) -> dict[str, Any]:
    """A webhook configuration (event -> URL, plus the secret) whose every URL the target policy accepts."""
    hooks: dict[str, Any] = json_field(value, "webhooks", dict, {})
    for event, url in hooks.items():
        if event == SECRET_KEY:
            continue
        if not isinstance(url, str):
            raise bad(f"webhook {event}: the URL must be a string")
        refused = policy.refusal(url)
        if refused:
            raise bad(f"webhook {event}: the URL is refused: {refused}")
    return hooks


def int_field(
    value: Any, name: str, default: int | None = None, minimum: int = 0, maximum: int | None = None
) -> int | None:
    if value is None or value == "":
        return default
    try:
        out = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad(f"{name} must be an integer, got {value!r}") from exc
    if out < minimum:
        raise bad(f"{name} must be >= {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise bad(f"{name} must be <= {maximum} on the local server, got {out}")
    return out


def epochs_field(value: Any, default: int | None = None, minimum: int = 0) -> int | None:
    """An epoch count, bounded by MAX_EPOCHS (foundational models and predictors alike)."""
    return int_field(value, "epochs", default, minimum=minimum, maximum=MAX_EPOCHS)


def bool_field(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise bad(f"{name} must be a boolean, got {value!r}")
