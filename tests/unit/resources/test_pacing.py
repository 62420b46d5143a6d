"""Poll pacing: a training's next poll moves to the end its progress predicts, at most every other poll."""

from __future__ import annotations

import pytest

from featrix_iac.resources.pacing import EARLIEST, Pacer


def test_the_poll_after_a_young_one_moves_to_the_predicted_end() -> None:
    pacer = Pacer()
    assert pacer.wait(0.0, 0.1, paced=0.2) == 0.2  # one fraction: no rate yet
    assert pacer.wait(0.2, 0.5, paced=0.2) == 0.2  # 0.4 per 0.2 s: 0.25 s to go, later than the paced poll
    assert pacer.wait(0.4, 0.9, paced=0.2) == pytest.approx(0.05)  # 0.1 left at 0.8 per 0.4 s: 0.05 s
    assert pacer.wait(0.45, 0.95, paced=0.2) == pytest.approx(0.1)  # the prediction was early: half a pace
    assert pacer.wait(0.55, 0.99, paced=0.2) == 0.2  # then the pace


def test_long_trainings_poll_at_their_predicted_end_not_a_pace_later() -> None:
    pacer = Pacer()
    pacer.wait(0.0, 0.0, paced=5.0)
    assert pacer.wait(100.0, 0.5, paced=5.0) == 5.0
    assert pacer.wait(196.0, 0.98, paced=5.0) == pytest.approx(4.0)  # 0.02 left at 0.98 per 196 s


def test_a_prediction_that_keeps_being_early_at_most_doubles_the_polls() -> None:
    pacer = Pacer()
    pacer.wait(0.0, 0.5, paced=1.0)
    waits = [pacer.wait(1.0 + i, 1.0, paced=1.0) for i in range(6)]  # done training, still saving: 0 s predicted
    assert waits == [EARLIEST, 0.5, 1.0] * 2
    assert len(waits) <= 2 * sum(waits)  # polls over that time: at most twice the paced ones (1 per second)


def test_an_early_poll_at_the_predicted_end_is_followed_half_a_pace_later() -> None:
    """Issue 16: the service's progress reaches 1.0 before the job's closing work; a whole pace after the early
    poll was the next training's wait under a quota."""
    pacer = Pacer()
    pacer.wait(0.0, 0.0, paced=0.6)
    assert pacer.wait(6.0, 0.5, paced=0.6) == 0.6  # 6 s to go
    assert pacer.wait(11.52, 0.96, paced=0.6) == pytest.approx(0.48)  # 0.04 left at 0.96 per 11.52 s: moved
    assert pacer.wait(12.0, 1.0, paced=0.6) == pytest.approx(0.3)  # still saving: half a pace, not a whole one
    assert pacer.wait(12.3, 1.0, paced=0.6) == 0.6  # then the pace


@pytest.mark.parametrize("fractions", [[None, None, None], [0.3, 0.3, 0.3], [0.5, 0.2, 0.1], [0.2, 1.5, 2.0]])
def test_no_advancing_fraction_keeps_the_pace(fractions: list[float | None]) -> None:
    pacer = Pacer()
    assert [pacer.wait(float(i), f, paced=0.7) for i, f in enumerate(fractions)] == [0.7] * len(fractions)
