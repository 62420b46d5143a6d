"""The app's lifespan runs the background work: creating the app starts nothing, leaving the lifespan stops it all."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path

from featrix_iac.server.http.app import create_app
from featrix_iac.server.jobs.records import ES_JOB, new_job


def _background_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(("featrix-worker-", "featrix-publish-"))}


def test_the_lifespan_starts_and_stops_workers_and_clock(tmp_path: Path) -> None:
    before = _background_threads()
    app = create_app(tmp_path / "data", "fx_" + "k" * 40, workers=3).app
    svc = app.state.svc
    job = new_job("sess-1", ES_JOB, 5)
    job["status"] = "running"  # left running by a server that stopped: the lifespan's start re-queues it
    svc.store.put("job", job["job_id"], job, parent="sess-1")
    assert svc.worker is None and not _background_threads() - before
    started: set[threading.Thread] = set()
    queues: list[object] = []

    async def run() -> None:
        async with app.router.lifespan_context(app):
            started.update(_background_threads() - before)
            queues.append(svc.worker)

    asyncio.run(run())
    names = {t.name for t in started}
    assert names == {"featrix-worker-0", "featrix-worker-1", "featrix-worker-2", "featrix-publish-clock"}
    assert getattr(queues[0], "n_threads", None) == 3
    # a worker that was starting its training process (the re-queued job) ends as soon as the process is up
    for thread in started:
        thread.join(30)
    assert not [t.name for t in started if t.is_alive()]
    assert not [p for p in multiprocessing.active_children() if p.name == "featrix-training"]  # none left
    assert (svc.store.get("job", job["job_id"]) or {}).get("restarts") == 1
