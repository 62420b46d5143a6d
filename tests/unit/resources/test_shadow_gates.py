"""Endpoint gates on shadow verdicts: how one comparison is judged."""

from __future__ import annotations

import pytest

from featrix_iac.resources.shadow_gates import judge

NOT_WORSE = {"require_verdict": "not_worse", "min_paired": 200}
BETTER = {"require_verdict": "shadow_better", "min_paired": 200}


def comparison(verdict: str, paired: int) -> dict[str, object]:
    return {"shadow_neural_function_id": "p2", "verdict": verdict, "paired_with_ground_truth": paired}


@pytest.mark.parametrize(
    ("gates", "verdict", "paired", "state"),
    [
        (NOT_WORSE, "undecided", 199, "waiting"),  # too few paired predictions: wait
        (NOT_WORSE, "undecided", 200, "passed"),  # undecided is not worse
        (NOT_WORSE, "shadow_better", 500, "passed"),
        (NOT_WORSE, "shadow_worse", 200, "failed"),
        (NOT_WORSE, "shadow_worse", 10, "waiting"),  # a verdict on too few pairs decides nothing yet
        (BETTER, "undecided", 300, "waiting"),
        (BETTER, "shadow_better", 300, "passed"),
        (BETTER, "shadow_worse", 300, "failed"),
    ],
)
def test_a_comparison_is_judged_against_the_gates(
    gates: dict[str, object], verdict: str, paired: int, state: str
) -> None:
    got, why = judge(gates, comparison(verdict, paired))
    assert got == state and str(paired) in why


def test_no_comparison_yet_waits() -> None:
    assert judge(NOT_WORSE, None)[0] == "waiting"
