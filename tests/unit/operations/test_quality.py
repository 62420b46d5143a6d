"""The model-quality verdict: live figure of the shadow comparisons against the training metric."""

from __future__ import annotations

from typing import Any

from featrix_iac.operations.quality import ACCURACY, ERROR, judge


def _comp(figure: str, value: float, paired: int, verdict: str = "undecided") -> dict[str, Any]:
    return {
        "shadow_neural_function_id": "nf",
        "serving": {figure: value},
        "paired_with_ground_truth": paired,
        "verdict": verdict,
    }


def _judge(kind: tuple[str, str, bool], base: float, comps: list[dict[str, Any]], min_paired: int = 30) -> Any:
    return judge("endpoint.e", *kind, base, comps, 0.1, min_paired)


def test_accuracy_below_the_tolerance_is_degraded_and_within_it_ok() -> None:
    assert _judge(ACCURACY, 0.9, [_comp("accuracy_rate", 0.7, 40)]).verdict == "degraded"
    ok = _judge(ACCURACY, 0.9, [_comp("accuracy_rate", 0.85, 40)])
    assert ok.verdict == "ok" and ok.live == 0.85 and ok.paired == 40


def test_an_error_metric_degrades_upwards() -> None:
    assert _judge(ERROR, 100.0, [_comp("mae", 130.0, 40)]).verdict == "degraded"
    assert _judge(ERROR, 100.0, [_comp("mae", 105.0, 40)]).verdict == "ok"


def test_without_comparisons_or_enough_labels_it_is_unknown_with_why() -> None:
    none = _judge(ACCURACY, 0.9, [])
    assert none.verdict == "unknown" and "shadow" in none.why
    few = _judge(ACCURACY, 0.9, [_comp("accuracy_rate", 0.1, 3)])
    assert few.verdict == "unknown" and "3 labelled" in few.why
    blank = _judge(ERROR, 10.0, [_comp("accuracy_rate", 0.9, 40)])  # a comparison without the figure
    assert blank.verdict == "unknown" and "mae" in blank.why


def test_a_significantly_better_shadow_means_the_serving_predictor_degraded() -> None:
    r = _judge(ACCURACY, 0.9, [_comp("accuracy_rate", 0.88, 40, verdict="shadow_better")])
    assert r.verdict == "degraded" and "nf" in r.why


def test_the_serving_predictors_session_comes_from_the_lockfile_retired_ones_included() -> None:
    from featrix_iac.operations.quality import _baseline, _sessions_of_predictors
    from featrix_iac.state import LockEntry, Lockfile

    entry = LockEntry(
        kind="predictor",
        status="ready",
        ids={"predictor_id": "p2", "session_id": "s2"},
        retired=[{"predictor_id": "p1", "session_id": "s1", "reason": "retired"}],
    )
    lock = Lockfile(resources={"predictor.species": entry})
    sessions = _sessions_of_predictors(lock)
    assert sessions == {"p2": "s2", "p1": "s1"}
    why = _baseline(None, "p9", sessions)  # type: ignore[arg-type]  # no server call for an unknown predictor
    assert isinstance(why, str) and "p9" in why and "lockfile" in why


class _Failing:
    """A client whose every read fails the way an overloaded server does."""

    def get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        from featrix_iac.client import ServerError

        raise ServerError(status=503, method="GET", path=path)


def test_a_server_error_is_an_error_at_the_endpoint_not_a_verdict() -> None:
    import pytest

    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.operations.quality import _assess

    with pytest.raises(DiagnosticsError) as caught:
        _assess(_Failing(), "endpoint.e", "e1", {}, 0.1, 30)  # type: ignore[arg-type]
    assert "endpoint.e" in str(caught.value.diagnostics.items[0].address) and "503" in str(caught.value)
