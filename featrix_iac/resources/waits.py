"""Waiting on the service's asynchronous work: a stall timer that any progress change resets, and a total limit.

Modelled on the official client (featrixsphere 2.0.13460): `FoundationalModel.publish` and
`wait_for_training` in api/foundational_model.py treat their timeout as a stall detector, reset whenever
the job reports a change, and ride out 404 / 5xx / connection failures (they are not progress);
`api/poll_utils.py` paces polls from the elapsed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from featrix_iac.client.errors import ConnectionFailed, NotFoundError, ServerError
from featrix_iac.resources.base import Progress, TrainingFailed, WaitTimeout


@dataclass(frozen=True)
class Limit:
    """How long one wait may go without progress (`stall`) and in all (`total`), in seconds."""

    stall: float
    total: float


# Defaults at least as patient as the official client: its stall timers are 3600 s for a training
# (wait_for_training) and for a queued predictor (_wait_for_queued_predictor), 600 s for a publish (publish);
# it has no total limit, so ours are generous ceilings.
DEFAULT_LIMITS: dict[str, Limit] = {
    "training": Limit(3600.0, 86400.0),
    "queued": Limit(3600.0, 86400.0),
    "publish": Limit(600.0, 21600.0),
}
WAIT_NAMES = tuple(DEFAULT_LIMITS)


class Interrupted(Exception):
    """The wait was stopped by an interrupt (Ctrl-C); the server-side work goes on."""


@dataclass
class Waits:
    """What a step needs to wait: limits per wait name, a progress callback and an interrupt check."""

    limits: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    on_progress: Callable[[Progress], None] | None = None
    stop: Callable[[], bool] | None = None

    def limit(self, name: str) -> Limit:
        return self.limits.get(name) or DEFAULT_LIMITS[name]


def parse_overrides(values: tuple[str, ...] | list[str], base: dict[str, Limit] | None = None) -> dict[str, Limit]:
    """`WAIT.LIMIT=SECONDS` items (e.g. publish.stall=1200) over `base`; ValueError names a bad item."""
    limits = dict(base or DEFAULT_LIMITS)
    for item in values:
        key, sep, raw = item.partition("=")
        name, dot, which = key.strip().partition(".")
        if not sep or not dot or name not in DEFAULT_LIMITS or which not in ("stall", "total"):
            raise ValueError(
                f"{item!r}: expected WAIT.LIMIT=SECONDS, WAIT one of {', '.join(WAIT_NAMES)}, LIMIT stall or total"
            )
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise ValueError(f"{item!r}: SECONDS must be a positive number")
        old = limits.get(name, DEFAULT_LIMITS[name])
        limits[name] = Limit(seconds, old.total) if which == "stall" else Limit(old.stall, seconds)
    return limits


def pace(elapsed: float, base: float = 0.2, ceiling: float = 5.0) -> float:
    """Seconds before the next poll: `base` while young, elapsed/20 later (poll_utils.adaptive_poll_interval)."""
    return max(base, min(ceiling, elapsed * 0.05))


def wait_for(
    poll: Callable[[], Progress],
    *,
    what: str,
    limit: Limit,
    waits: Waits | None = None,
    ceiling: float = 5.0,
) -> Progress:
    """Poll until `poll()` reports ready (returned) or failed (TrainingFailed).

    Any change of the reported Progress resets the stall timer; 404, 5xx and connection failures are
    ridden out and are not progress. WaitTimeout when stalled for `limit.stall` or running past
    `limit.total`; Interrupted when `waits.stop()` says so.
    """
    waits = waits or Waits()
    start = last_change = time.monotonic()
    last: Progress | None = None
    note = ""
    while True:
        try:
            progress = poll()
        except (NotFoundError, ServerError, ConnectionFailed) as exc:
            note = f"status unavailable: {exc.detail or exc}"
        else:
            if progress.state == "ready":
                return progress
            if progress.state == "failed":
                raise TrainingFailed(progress.message or f"{what} failed")
            if progress != last:
                last, last_change = progress, time.monotonic()
                if waits.on_progress is not None:
                    waits.on_progress(progress)
        now = time.monotonic()
        shown = (last.message if last else "") or note or "no progress reported"
        if now - last_change > limit.stall:
            raise WaitTimeout(f"{what}: no progress for {limit.stall:.0f}s (last: {shown})")
        if now - start > limit.total:
            raise WaitTimeout(f"{what}: not done after {limit.total:.0f}s (last: {shown})")
        if waits.stop is not None and waits.stop():
            raise Interrupted(f"interrupted while waiting: {what}")
        time.sleep(pace(now - start, ceiling=ceiling))
