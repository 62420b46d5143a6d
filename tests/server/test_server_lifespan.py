"""The app's lifespan runs the background work: creating the app starts nothing, leaving the lifespan stops it all."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from featrix_iac.server.http.app import create_app
from featrix_iac.server.jobs.records import ES_JOB, new_job


def _background_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(("featrix-worker-", "featrix-publish-"))}


def test_the_lifespan_starts_and_stops_workers_and_clock(tmp_path: Path) -> None:
    before = _background_threads()
    app = create_app(tmp_path / "data", "fx_" + "k" * 40, workers=3).app
    svc = app.state.svc
    job = new_job("sess-1", ES_JOB, 5)
    job["status"] = "running"  # left running by a server that stopped: the lifespan's start re-queues it
    svc.store.put("job", job["job_id"], job, parent="sess-1")
    assert svc.worker is None and _background_threads() == before
    seen: dict[str, object] = {}

    async def run() -> None:
        async with app.router.lifespan_context(app):
            seen["threads"] = _background_threads() - before
            seen["queue"] = svc.worker

    asyncio.run(run())
    assert seen["threads"] == {"featrix-worker-0", "featrix-worker-1", "featrix-worker-2", "featrix-publish-clock"}
    assert seen["queue"] is not None and getattr(seen["queue"], "n_threads", None) == 3
    assert _background_threads() == before
    assert (svc.store.get("job", job["job_id"]) or {}).get("restarts") == 1
