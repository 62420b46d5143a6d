"""Quality gates: a trained predictor's held-out metrics against the manifest's thresholds (pure data)."""

from __future__ import annotations

import math
from typing import Any

from featrix_iac.model.resources import GATE_METRICS

PASSED, WAIVED, GATED_OUT = "passed", "waived", "gated_out"


def step(gate: str, threshold: float) -> str:
    """The plan's words for one gate: `gate: accuracy >= 0.9`."""
    metric, side, _ = GATE_METRICS[gate]
    return f"gate: {metric} {'>=' if side == 'min' else '<='} {threshold:g} ({gate})"


def evaluate(thresholds: dict[str, float], metrics: dict[str, float]) -> list[dict[str, Any]]:
    """One result per gate, sorted by gate: {gate, metric, value, threshold, passed}. A metric the server
    did not report (or reported as NaN) fails its gate: nothing unproven is served."""
    results: list[dict[str, Any]] = []
    for gate, threshold in sorted(thresholds.items()):
        metric, side, _ = GATE_METRICS[gate]
        value = metrics.get(metric)
        known = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        passed = known and (value >= threshold if side == "min" else value <= threshold)  # type: ignore[operator]
        results.append(
            {
                "gate": gate,
                "metric": metric,
                "value": value if known else None,
                "threshold": threshold,
                "passed": passed,
            }
        )
    return results


def verdict(results: list[dict[str, Any]], waived: bool) -> str:
    if all(r["passed"] for r in results):
        return PASSED
    return WAIVED if waived else GATED_OUT


def describe(result: dict[str, Any]) -> str:
    """`accuracy 0.8312 < min_accuracy 0.999`, or why the metric could not be compared."""
    metric, gate, threshold = result["metric"], result["gate"], result["threshold"]
    if result["value"] is None:
        return f"{metric} not reported by the server (needs {gate} {threshold:g})"
    side = GATE_METRICS[gate][1]
    sign = (">=" if side == "min" else "<=") if result["passed"] else ("<" if side == "min" else ">")
    return f"{metric} {result['value']:.4g} {sign} {gate} {threshold:g}"


def failures(record: dict[str, Any]) -> str:
    """The failed gates of a gate record, joined: `accuracy 0.83 < min_accuracy 0.999; f1 0.7 < min_f1 0.8`."""
    return "; ".join(describe(r) for r in record.get("results", []) if not r.get("passed"))


def details(record: dict[str, Any]) -> list[str]:
    """The lines under a gate record in the apply summary: each metric against its threshold (a predictor's
    gates), or the verdict and paired count against the gates (an endpoint's shadow gate: its `why`)."""
    if "results" in record:
        return [describe(r) for r in record["results"]]
    return [str(record["why"])] if record.get("why") else []
