"""The server's training quota (429 quota_exceeded) is backpressure: nothing fails, the critical path goes first."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from featrix_iac.apply import apply_plan
from featrix_iac.apply.slots import TrainingSlots
from featrix_iac.client import QuotaExceeded
from featrix_iac.plan.steps import decided
from featrix_iac.resources.base import Operation, Progress, StepResult

from .fakes import Log, action, handlers, plan, store_and_lock

FM = "foundational_model.fm"
PREDICTORS = [f"predictor.p{i}" for i in range(6)]


class Quota:
    """A server that refuses a training past `limit` unfinished ones; each training takes two polls."""

    def __init__(self, limit: int) -> None:
        self.limit, self.lock = limit, threading.Lock()
        self.running: dict[str, int] = {}
        self.started: list[str] = []
        self.refused = 0
        self.most = 0

    def create(self, op: Operation) -> StepResult:
        with self.lock:
            if len(self.running) >= self.limit:
                self.refused += 1
                error = QuotaExceeded("HTTP 429: quota", status=429, body={"quota_exceeded": True})
                error.retry_after = 0.05
                raise error
            self.running[f"id-{op.address}"] = 0
            self.started.append(op.address)
            self.most = max(self.most, len(self.running))
        return StepResult(ids={"id": f"id-{op.address}"})

    def poll(self, ident: str) -> Progress:
        with self.lock:
            self.running[ident] += 1
            if self.running[ident] < 2:
                return Progress("training", 0.5, "training")
            del self.running[ident]
            return Progress("ready", 1.0, "done")


def test_a_full_quota_delays_trainings_and_fails_none(tmp_path: Path) -> None:
    quota, hs = Quota(limit=1), handlers(Log())
    actions = [action(FM)] + [action(p, deps=(FM,)) for p in PREDICTORS]
    actions += [action("endpoint.e0", deps=("predictor.p4",)), action("endpoint.e1", deps=("predictor.p5",))]
    for a in actions:
        if a.kind != "endpoint":
            hs[a.kind].on_create[a.address] = quota.create
            hs[a.kind].on_poll[f"id-{a.address}"] = lambda ident=f"id-{a.address}": quota.poll(ident)
    store, lock = store_and_lock(tmp_path)
    result = apply_plan(
        decided(plan(*actions), lock, hs),  # type: ignore[arg-type]
        loaded=None,
        client=None,
        store=store,
        lockfile=lock,
        handlers=hs,
        parallelism=8,  # type: ignore[arg-type]
    )
    assert not result.failed and not result.skipped
    assert sorted(result.done) == sorted(a.address for a in actions)
    assert quota.refused >= 1 and quota.most == 1
    # once the quota is known, waiting trainings start by critical path: p4 and p5 carry endpoints
    after_first = quota.started[2:]  # [0] is the foundational model, [1] won the first race
    assert {"predictor.p4", "predictor.p5"} - {quota.started[1]} <= set(after_first[:2])


def test_slots_learn_the_limit_from_a_refusal_and_admit_by_priority() -> None:
    slots, order = TrainingSlots(), []
    first = slots.slot((1, 0))
    first.__enter__()  # one training of ours runs

    def refused_one() -> None:
        with slots.slot((1, 0)) as mine:
            mine.refused(retry_after=60)  # the quota is the one training: wait for it to end
            order.append("retried")

    def later(name: str, priority: tuple[int, int]) -> None:
        with slots.slot(priority):
            order.append(name)

    t0 = threading.Thread(target=refused_one)
    t0.start()
    _until(lambda: slots.limit == 1)
    threads = [threading.Thread(target=later, args=(n, p)) for n, p in (("low", (1, 0)), ("high", (3, 2)))]
    for t in threads:
        t.start()
    _until(lambda: len(slots._queue) == 3)
    assert order == []
    first.__exit__(None, None, None)  # the running training ends: one at a time, by priority, then in line
    for t in (t0, *threads):
        t.join(5)
    assert order == ["high", "retried", "low"]


def test_alone_a_refused_training_probes_again_after_retry_after() -> None:
    slots = TrainingSlots()
    with slots.slot((1,)) as only:
        only.refused(retry_after=0.05)  # nothing of ours runs: only time frees the quota, so it tries again
        assert slots.limit == 1


def test_a_refused_training_probes_less_often_while_ours_run(monkeypatch: Any) -> None:
    """Issue 16: a probe every Retry-After while long trainings of ours ran was mostly 429s. While one of ours
    runs, each refusal in a row doubles the wait before the next probe; alone, it stays the Retry-After."""
    from featrix_iac.apply import slots as slots_module

    waits: list[float | None] = []
    real = slots_module.Slot.acquire

    def acquire(self: slots_module.Slot, probe_after: float | None) -> None:
        waits.append(probe_after)
        real(self, probe_after=0.0 if probe_after is not None else None)  # probe at once: no test waits

    monkeypatch.setattr(slots_module.Slot, "acquire", acquire)
    slots = TrainingSlots()
    with slots.slot((0,)), slots.slot((1,)) as refused:  # one of ours keeps running
        for _ in range(4):
            refused.refused(retry_after=2.0)
    assert waits[2:] == [2.0, 4.0, 8.0, 16.0]
    waits.clear()
    with TrainingSlots().slot((1,)) as alone:
        for _ in range(3):
            alone.refused(retry_after=2.0)
    assert waits[1:] == [2.0, 2.0, 2.0]
    monkeypatch.setattr(slots_module, "PROBE_CEILING", 5.0)
    waits.clear()
    slots = TrainingSlots()
    with slots.slot((0,)), slots.slot((1,)) as capped:
        for _ in range(4):
            capped.refused(retry_after=2.0)
    assert waits[2:] == [2.0, 4.0, 5.0, 5.0]


def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
