"""The training quota: past N unfinished trainings, the training routes answer 429 quota_exceeded.

The real service caps each organisation's job queue: a training request past the cap is refused with
HTTP 429 and a body carrying `quota_exceeded: true`, `pending_count` and `queue_limit`, which the
official client recognises and waits out, sleeping Retry-After (featrixsphere/api/http_client.py,
_quota_exceeded_info and HTTPClientMixin._make_request; "a depth cap ... it clears only when one of
the org's own pending jobs gets dispatched"). Off by default; FEATRIX_LOCAL_TRAINING_QUOTA=N turns it
on (see server/durations.py). A refused request creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featrix_iac.server.service import Service


class QuotaExceeded(Exception):
    """The account already has `pending` unfinished trainings, `limit` being the quota."""

    def __init__(self, pending: int, limit: int, retry_after: int) -> None:
        super().__init__(f"training quota exceeded: {pending} of {limit} trainings are queued or running")
        self.pending, self.limit, self.retry_after = pending, limit, retry_after

    def body(self) -> dict[str, Any]:
        return {"detail": str(self), "quota_exceeded": True, "pending_count": self.pending, "queue_limit": self.limit}


@contextmanager
def training_slot(svc: Service) -> Iterator[None]:
    """Hold a place for one more training while the block creates and submits it; QuotaExceeded when full."""
    limit = svc.durations.training_quota
    if limit <= 0 or svc.worker is None:
        yield
        return
    held, count = svc.worker.reserve(limit)
    if not held:
        raise QuotaExceeded(count, limit, svc.durations.quota_retry_after)
    try:
        yield
    finally:
        svc.worker.unreserve()
