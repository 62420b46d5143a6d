"""Training slots: the server's training quota (429 quota_exceeded) as backpressure, by critical path.

A server that caps an account's unfinished trainings refuses one more with 429 quota_exceeded (the
official client waits that out, featrixsphere/api/http_client.py). Waiting inside each apply thread
would start the next training up to a Retry-After late, in no particular order, and give up after
the client's hour. Instead the applier asks for a slot before each training's create call and keeps
it until the training is over. There is no limit until the server refuses a create; from then on
the limit is the number of this apply's trainings running at that moment, so the next one starts as
soon as one of them ends. The waiting trainings start in critical-path order (longest chain of
dependents first). A refused node first in line also probes again after the server's Retry-After
(the quota may be used by others, or have room again), backing off while trainings of ours run (their
ends make room anyway). A refusal never fails a node.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from featrix_iac.apply.executor import INTERRUPTED, NodeSkipped

POLL = 0.5  # how often a waiting node looks at the interrupt
PROBE_CEILING = 60.0  # seconds: the longest wait between probes of a refused training while ours run


class TrainingSlots:
    """Counts this apply's running trainings against the limit learned from the server's refusals."""

    def __init__(self, stop: Callable[[], bool] = lambda: False) -> None:
        self._cond = threading.Condition()
        self._stop = stop
        self._running = 0
        self._limit: int | None = None  # None: the server has not refused a training yet
        self._queue: list[tuple[tuple[int, ...], int]] = []  # (-priority, ticket) of the waiting nodes
        self._tickets = itertools.count()
        self.refusals = 0

    @property
    def limit(self) -> int | None:
        return self._limit

    @contextmanager
    def slot(self, priority: tuple[int, ...]) -> Iterator[Slot]:
        """Hold a slot for one training (waiting for it by `priority`, higher first) until the block ends."""
        held = Slot(self, priority)
        held.acquire(probe_after=None)
        try:
            yield held
        finally:
            held.release()

    # -- used by Slot ----------------------------------------------------------------------------

    def _acquire(self, priority: tuple[int, ...], probe_after: float | None) -> None:
        ticket = (tuple(-p for p in priority), next(self._tickets))
        deadline = None if probe_after is None else time.monotonic() + probe_after
        with self._cond:
            heapq.heappush(self._queue, ticket)
            try:
                while True:
                    first = self._queue[0] == ticket
                    if first and (self._limit is None or self._running < self._limit):
                        break
                    if first and deadline is not None and time.monotonic() >= deadline:
                        self._limit = self._running + 1  # probe: the quota may have room again
                        break
                    if self._stop():
                        raise NodeSkipped(INTERRUPTED)
                    wait = POLL if deadline is None else max(0.01, min(POLL, deadline - time.monotonic()))
                    self._cond.wait(wait)
                heapq.heappop(self._queue)
                self._running += 1
            except BaseException:
                self._queue.remove(ticket)
                heapq.heapify(self._queue)
                raise
            finally:
                self._cond.notify_all()

    def _release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def _refused(self) -> int:
        """A create was refused: the quota holds what runs now, not one more. Returns how many of ours run."""
        with self._cond:
            self.refusals += 1
            self._running -= 1
            self._limit = max(1, self._running)
            self._cond.notify_all()
            return self._running


class Slot:
    """One node's place among the trainings; `refused()` gives it back and waits for the next one."""

    def __init__(self, slots: TrainingSlots, priority: tuple[int, ...]) -> None:
        self._slots, self._priority, self._held = slots, priority, False
        self._refusals = 0  # refusals of this training in a row

    def acquire(self, probe_after: float | None) -> None:
        self._slots._acquire(self._priority, probe_after)
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release()

    def refused(self, retry_after: float) -> None:
        """The server refused this training (429 quota_exceeded): wait for room, then the caller retries.

        Room comes when one of ours ends, or (trainings of others, or a limit learned too low) with time:
        first in line, this probes again after the server's `retry_after`. While trainings of ours run
        (their ends make room anyway), each refusal in a row doubles that wait, up to PROBE_CEILING: a
        probe every Retry-After during long trainings was mostly 429s (issue 16: 188 in a 2-minute apply).
        """
        self._held = False
        self._refusals += 1
        ours = self._slots._refused()
        backoff = min(PROBE_CEILING, retry_after * 2 ** (self._refusals - 1)) if ours else retry_after
        self.acquire(probe_after=max(retry_after, backoff))
