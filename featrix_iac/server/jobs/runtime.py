"""The server's background work, run for the app's lifespan: training workers, the publish clock, webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from featrix_iac.server.jobs.publishing import Clock
from featrix_iac.server.jobs.worker import Worker
from featrix_iac.server.service import Service


@contextmanager
def background(svc: Service, workers: int = 2) -> Iterator[Worker]:
    """Recover and start `workers` training threads and the publish clock; stop them, and webhooks, on exit."""
    worker = Worker(svc, workers)
    svc.worker = worker
    worker.recover()
    worker.start()
    clock = Clock(svc)
    clock.start()
    try:
        yield worker
    finally:
        clock.stop()
        worker.stop()
        svc.webhooks.stop()
