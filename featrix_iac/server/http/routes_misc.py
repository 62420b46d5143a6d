"""Health, identity and projects, plus the test-hook admin routes (mounted only when hooks are enabled)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request

from featrix_iac.server.http.request import bad, json_body, svc
from featrix_iac.server.service import VERSION, now_iso

router = APIRouter()
test_router = APIRouter(prefix="/__test__")


@router.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "healthy", "version": VERSION, "nodes": {"local": {"status": "healthy", "version": VERSION}}}


@router.get("/auth/whoami")
async def whoami(request: Request) -> dict[str, Any]:
    key_id = hashlib.sha256(svc(request).api_key.encode()).hexdigest()[:12]
    return {
        "user_id": "local-user",
        "org_id": "local",
        "org_name": "Local",
        "org_slug": "local",
        "api_key_id": key_id,
        "scopes": ["*"],
        "authenticated_at": now_iso(),
        "queue_limit": 100,
    }


@router.get("/projects/{project}")
async def project(project: str) -> dict[str, Any]:
    return {"id": project, "name": project}


@test_router.post("/faults")
async def add_faults(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    body = await json_body(request)
    specs = body.get("faults") if "faults" in body else [body]
    try:
        rules = [hooks.add_fault(dict(spec)) for spec in specs or []]
    except (TypeError, ValueError) as exc:
        raise bad(f"bad fault rule: {exc}") from exc
    return {"faults": [r.view() for r in rules]}


@test_router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    return {
        "faults": [r.view() for r in hooks.faults],
        "consistency": {"first_get_404": hooks.first_get_404, "stale_list_seconds": hooks.stale_list_seconds},
    }


@test_router.delete("/faults")
async def reset_faults(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    hooks.reset()
    return {"faults": [], "reset": True}


@test_router.post("/consistency")
async def consistency(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    body = await json_body(request)
    try:
        stale = float(body.get("stale_list_seconds", hooks.stale_list_seconds) or 0)
    except (TypeError, ValueError) as exc:
        raise bad(f"stale_list_seconds must be a number: {exc}") from exc
    if "first_get_404" in body:
        hooks.first_get_404 = bool(body["first_get_404"])
    hooks.stale_list_seconds = stale
    return {"first_get_404": hooks.first_get_404, "stale_list_seconds": hooks.stale_list_seconds}


@test_router.get("/requests")
async def requests_log(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    return {"requests": list(hooks.requests), "counts": dict(sorted(hooks.counts.items()))}


@test_router.delete("/requests")
async def clear_requests(request: Request) -> dict[str, Any]:
    hooks = svc(request).hooks
    assert hooks is not None
    hooks.requests.clear()
    hooks.counts.clear()
    return {"cleared": True}
