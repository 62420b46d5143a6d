"""When to poll a training next: the elapsed-time pace, or sooner, at the end its progress predicts.

The paced poll (api/poll_utils.py `adaptive_poll_interval`: elapsed / 20, at least a base interval)
notices a training's end half an interval late on average, and under a training quota the next training
waits for that notice (issue 16). The service writes a smooth 0..1 `progress` fraction per batch (the
official client's wait loops in api/foundational_model.py read it): from how fast it advances, the poll
after a young one is moved to the predicted end; when that one comes early (a training that saves its
model after the last batch), the next comes half a pace later, then the pace resumes. A prediction that
keeps being early so costs no more than twice the paced polls, and usually one or two polls per training.
"""

from __future__ import annotations

EARLIEST = 0.05  # seconds: the shortest wait, however close the predicted end


class Pacer:
    """The waits between one training's polls: `wait(now, fraction, paced)` before each next poll."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None  # (time, fraction) of the first poll reporting a fraction
        self._shortened = (
            0  # waits shortened in a row: 1 after the poll moved to a predicted end, 2 after its follow-up
        )

    def wait(self, now: float, fraction: float | None, paced: float) -> float:
        """Seconds to wait: `paced`, or less when the progress so far predicts the end sooner.

        The poll at the predicted end often comes a little early (the job saves its model after the last
        batch): the next one then comes half a pace later, and the one after that a whole pace.
        """
        remaining = self.remaining(now, fraction)
        if remaining is None or remaining >= paced or self._shortened >= 2:
            self._shortened = 0
            return paced
        if self._shortened == 1:  # the poll at the predicted end found it still going
            self._shortened = 2
            return max(EARLIEST, paced / 2)
        self._shortened = 1
        return max(EARLIEST, remaining)

    def remaining(self, now: float, fraction: float | None) -> float | None:
        """Predicted seconds to the end at the rate the fraction advanced since it was first reported, if any."""
        if fraction is None or not 0.0 <= fraction <= 1.0:
            return None
        if self._anchor is None:
            self._anchor = (now, fraction)
            return None
        since, first = self._anchor
        if fraction <= first or now <= since:
            return None  # not advancing (yet): no rate to predict from
        return (1.0 - fraction) * (now - since) / (fraction - first)
