"""The FastAPI application factory of the local Featrix-compatible server."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from featrix_iac.server.keys import resolve_account_key

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
log = logging.getLogger("featrix.server")


def hooks_enabled_by_env() -> bool:
    return os.environ.get("FEATRIX_LOCAL_TEST_HOOKS", "") not in ("", "0", "false", "no")


def workers_from_env(default: int = 2) -> int:
    """Training workers (a thread and a training process each): FEATRIX_LOCAL_WORKERS (1-64), else `default`."""
    try:
        return max(1, min(64, int(os.environ.get("FEATRIX_LOCAL_WORKERS", default))))
    except ValueError:
        return default


def create_app(
    data_dir: Path | str,
    api_key: str | None = None,
    *,
    test_hooks: bool = False,
    workers: int | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_json_bytes: int = MAX_JSON_BYTES,
    durations: Any = None,
    allow_loopback_webhooks: bool = False,
) -> Any:
    """An ASGI app serving the Featrix routes from `data_dir`; `api_key` None = FEATRIX_API_KEY or the stored key.

    `allow_loopback_webhooks` lets webhooks go to 127.0.0.1 / localhost (local development and tests).
    Returns the outer ASGI callable (auth / limits / hooks gate); the FastAPI app is its `.app`,
    and the shared Service is `.app.state.svc`. Training workers start with the app's lifespan.
    `durations` (server.durations.Durations) defaults to FEATRIX_LOCAL_REALISM / FEATRIX_LOCAL_*_SECONDS.
    """
    from contextlib import asynccontextmanager

    from fastapi import Depends, FastAPI

    from featrix_iac.server.durations import durations_from_env
    from featrix_iac.server.http.bodies import check_body
    from featrix_iac.server.http.gate import Gate
    from featrix_iac.server.jobs.runtime import background
    from featrix_iac.server.service import Service
    from featrix_iac.server.testhooks import TestHooks

    data_dir = Path(data_dir)
    workers = workers or workers_from_env()
    key, _ = resolve_account_key(data_dir, api_key)
    hooks = TestHooks() if test_hooks else None
    service = Service(
        data_dir, key, hooks, durations or durations_from_env(), allow_loopback_webhooks=allow_loopback_webhooks
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        with background(service, workers):
            yield

    app = FastAPI(
        title="featrix-iac local server",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check_body)],  # bodies.BODIES: 422 on keys and types the official client never sends
    )
    app.state.svc = service
    _install_routes(app, test_hooks)
    _install_errors(app)
    return Gate(app, key, hooks, max_upload_bytes, max_json_bytes)


def _install_routes(app: Any, test_hooks: bool) -> None:
    from featrix_iac.server.http import (
        routes_endpoints,
        routes_lifecycle,
        routes_misc,
        routes_predictors,
        routes_sessions,
        routes_vdb,
    )

    for module in (routes_misc, routes_sessions, routes_predictors, routes_lifecycle, routes_endpoints, routes_vdb):
        app.include_router(module.router)
    if test_hooks:
        app.include_router(routes_misc.test_router)
    app.add_api_route(
        "/session/{sid}/predict",
        routes_predictors.predict,
        methods=["POST"],
        include_in_schema=False,
        response_model=None,
    )


def _install_errors(app: Any) -> None:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from featrix_iac.server.jobs.quota import QuotaExceeded
    from featrix_iac.server.service import NotFound

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc).strip("'\"")})

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": f"invalid request: {exc}"})

    async def quota(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, QuotaExceeded)
        return JSONResponse(status_code=429, content=exc.body(), headers={"Retry-After": str(exc.retry_after)})

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}: {exc}"})

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(QuotaExceeded, quota)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)
