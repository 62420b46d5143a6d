"""Waits: a stall timer reset by any change, a total limit, 404/5xx ridden out, limits from manifest and flags."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from featrix_iac.apply.applier import run_limits
from featrix_iac.client.errors import NotFoundError, ServerError
from featrix_iac.model.project import ServerConfig
from featrix_iac.resources.base import Progress, TrainingFailed, WaitTimeout
from featrix_iac.resources.waits import DEFAULT_LIMITS, Interrupted, Limit, Waits, parse_overrides, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("featrix_iac.resources.waits.time.monotonic", lambda: c.now)
    monkeypatch.setattr("featrix_iac.resources.waits.time.sleep", c.sleep)
    return c


def scripted(items: list[object]):  # type: ignore[no-untyped-def]
    def poll() -> Progress:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Progress)
        return item

    return poll


def test_progress_resets_the_stall_timer(clock: Clock) -> None:
    moving = [Progress("training", i / 100, f"copied {i}") for i in range(60)] + [Progress("ready")]
    seen: list[Progress] = []
    done = wait_for(scripted(moving), what="publish", limit=Limit(5, 10_000), waits=Waits(on_progress=seen.append))
    assert done.state == "ready" and clock.now > 5 and len(seen) == 60  # longer than the stall, never stalled


def test_a_stall_and_the_total_limit_time_out(clock: Clock) -> None:
    with pytest.raises(WaitTimeout, match="no progress for 5s"):
        wait_for(scripted([Progress("training", 0.1, "stuck")]), what="publish", limit=Limit(5, 100))
    moving = [Progress("training", i / 1000, str(i)) for i in range(1000)]
    with pytest.raises(WaitTimeout, match="not done after 20s"):
        wait_for(scripted(moving), what="publish", limit=Limit(5, 20))


def test_errors_are_ridden_out_but_are_not_progress(clock: Clock) -> None:
    flaky = [NotFoundError("x", status=404), ServerError("y", status=503), Progress("ready")]
    assert wait_for(scripted(flaky), what="publish", limit=Limit(60, 600)).state == "ready"
    with pytest.raises(WaitTimeout, match="status unavailable"):
        wait_for(scripted([ServerError("down", status=502)]), what="publish", limit=Limit(3, 600))
    with pytest.raises(TrainingFailed, match="disk full"):
        wait_for(scripted([Progress("failed", None, "disk full")]), what="publish", limit=Limit(3, 600))
    with pytest.raises(Interrupted):
        wait_for(scripted([Progress("training")]), what="x", limit=Limit(3, 600), waits=Waits(stop=lambda: True))


def test_limits_from_defaults_manifest_and_flags() -> None:
    assert DEFAULT_LIMITS["publish"].stall >= 600 and DEFAULT_LIMITS["training"].stall >= 3600  # official client
    server = ServerConfig.model_validate({"timeouts": {"publish": {"stall": 1200}, "training": {"total": 7200}}})
    limits = run_limits(server)
    assert limits["publish"] == Limit(1200, DEFAULT_LIMITS["publish"].total)
    assert limits["training"] == Limit(DEFAULT_LIMITS["training"].stall, 7200)
    assert run_limits(SimpleNamespace(training_timeout=900.0))["training"] == Limit(900, 900)
    flagged = parse_overrides(("publish.total=30", "queued.stall=5"), limits)
    assert flagged["publish"] == Limit(1200, 30) and flagged["queued"].stall == 5
    for bad in ("publish=3", "publish.soon=3", "nothing.stall=3", "publish.stall=-1", "publish.stall=x"):
        with pytest.raises(ValueError, match="publish|nothing"):
            parse_overrides((bad,))
