"""Quality gates as data: evaluation against metrics, the words shown, and the manifest's type checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from featrix_iac.model.resources import Predictor
from featrix_iac.resources.gates import GATED_OUT, PASSED, WAIVED, describe, evaluate, failures, step, verdict


def test_min_and_max_gates_compare_in_their_direction() -> None:
    results = evaluate({"min_accuracy": 0.9, "max_rmse": 300.0}, {"accuracy": 0.95, "rmse": 301.0})
    assert [(r["gate"], r["passed"]) for r in results] == [("max_rmse", False), ("min_accuracy", True)]
    assert evaluate({"min_f1": 0.8}, {"f1": 0.8})[0]["passed"]  # the threshold itself passes
    assert evaluate({"max_rmse": 300.0}, {"rmse": 300.0})[0]["passed"]


@pytest.mark.parametrize("metrics", [{}, {"auc": float("nan")}, {"auc": None}, {"auc": True}])
def test_a_metric_not_reported_fails_its_gate(metrics: dict[str, float]) -> None:
    (result,) = evaluate({"min_auc": 0.5}, metrics)
    assert result["passed"] is False and result["value"] is None
    assert "not reported" in describe(result)


def test_verdict_and_words() -> None:
    results = evaluate({"min_accuracy": 0.999, "min_f1": 0.1}, {"accuracy": 0.8312, "f1": 0.5})
    assert verdict(results, waived=False) == GATED_OUT
    assert verdict(results, waived=True) == WAIVED
    assert verdict([r for r in results if r["passed"]], waived=False) == PASSED
    assert failures({"results": results}) == "accuracy 0.8312 < min_accuracy 0.999"
    assert describe(results[1]) == "f1 0.5 >= min_f1 0.1"
    assert describe(evaluate({"max_rmse": 1e-4}, {"rmse": 12.5})[0]) == "rmse 12.5 > max_rmse 0.0001"
    assert step("max_rmse", 300) == "gate: rmse <= 300 (max_rmse)"


def _predictor(kind: str, gates: dict[str, float]) -> Predictor:
    return Predictor.model_validate({"foundational_model": "fm", "type": kind, "target_column": "t", "gates": gates})


def test_gates_must_fit_the_predictor_type_and_range() -> None:
    assert _predictor("regressor", {"max_rmse": 300, "min_r2": 0.8}).gates.thresholds() == {  # type: ignore[union-attr]
        "max_rmse": 300,
        "min_r2": 0.8,
    }
    with pytest.raises(ValidationError, match="gate min_accuracy .* applies only to"):
        _predictor("regressor", {"min_accuracy": 0.9})
    with pytest.raises(ValidationError, match="max_rmse"):
        _predictor("binary_classifier", {"max_rmse": 1})
    with pytest.raises(ValidationError):
        _predictor("multi_classifier", {"min_accuracy": 1.01})
    with pytest.raises(ValidationError):
        _predictor("multi_classifier", {"min_acuracy": 0.9})  # a typo is an error, not a silently absent gate
