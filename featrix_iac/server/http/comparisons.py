"""Prediction records, ground-truth feedback, and serving-vs-shadow comparisons for endpoints."""

from __future__ import annotations

import math
import statistics
from typing import Any

from featrix_iac.server.service import Service, now_iso
from featrix_iac.server.store import Doc

MIN_PAIRED = 2


def record_prediction(svc: Service, parent: str, result: Doc, shadows: dict[str, Any] | None = None) -> None:
    """Keep one prediction (value, serving predictor, shadow values) so feedback can score it later."""
    uuid = result["prediction_uuid"]
    doc = {
        "prediction_uuid": uuid,
        "session_id": result.get("session_id"),
        "predictor_id": result.get("predictor_id"),
        "endpoint_id": result.get("endpoint_id"),
        "prediction": result.get("prediction"),
        "shadows": shadows or {},
        "ground_truth": None,
        "created_at": now_iso(),
    }
    svc.store.put("prediction", uuid, doc, parent=parent)


def add_feedback(svc: Service, uuid: str, ground_truth: Any, sid: str | None, meta: Any = None) -> Doc | None:
    doc = svc.store.get("prediction", uuid)
    if doc is None or (sid and doc.get("session_id") != sid):
        return None
    return svc.store.update(
        "prediction",
        uuid,
        lambda d: d.update(ground_truth=str(ground_truth), feedback_meta=meta, feedback_at=now_iso()),
    )


def comparisons(svc: Service, endpoint: Doc, target_type: str) -> list[Doc]:
    """One entry per current shadow, scored on the predictions that have ground truth."""
    rows = [r for r in svc.store.list("prediction", parent=endpoint["id"]) if r.get("ground_truth") is not None]
    out = []
    for shadow in endpoint["plan"]["shadows"]:
        nf = shadow["neural_function_id"]
        paired = [r for r in rows if nf in r["shadows"] and r.get("predictor_id") == endpoint["serving_predictor_id"]]
        out.append(_compare(nf, paired, target_type))
    return out


def _compare(nf: str, paired: list[Doc], target_type: str) -> Doc:
    if target_type == "scalar":
        errors = [
            (_abs_err(r["prediction"], r["ground_truth"]), _abs_err(r["shadows"][nf], r["ground_truth"]))
            for r in paired
        ]
        pairs = [(a, b) for a, b in errors if a is not None and b is not None]
        serving = {"mae": _mean([a for a, _ in pairs])}
        shadow = {"mae": _mean([b for _, b in pairs])}
        deltas = [a - b for a, b in pairs]  # positive: the shadow's error is smaller
        loss = "abs_error"
    else:
        hits = [(str(r["prediction"]) == r["ground_truth"], str(r["shadows"][nf]) == r["ground_truth"]) for r in paired]
        serving = {"accuracy_rate": _mean([float(a) for a, _ in hits])}
        shadow = {"accuracy_rate": _mean([float(b) for _, b in hits])}
        deltas = [float(b) - float(a) for a, b in hits]  # positive: the shadow is right more often
        loss = "zero_one"
    mean, ci = _ci(deltas)
    verdict = "undecided"
    if ci is not None and ci[0] > 0:
        verdict = "shadow_better"
    elif ci is not None and ci[1] < 0:
        verdict = "shadow_worse"
    return {
        "shadow_neural_function_id": nf,
        "paired_with_ground_truth": len(deltas),
        "paired_loss": loss,
        "serving": serving,
        "shadow": shadow,
        "delta_mean": mean,
        "delta_ci95": list(ci) if ci is not None else None,
        "verdict": verdict,
    }


def _abs_err(value: Any, truth: str) -> float | None:
    try:
        return abs(float(value) - float(truth))
    except (TypeError, ValueError):
        return None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _ci(deltas: list[float]) -> tuple[float | None, tuple[float, float] | None]:
    if len(deltas) < MIN_PAIRED:
        return _mean(deltas), None
    mean = statistics.fmean(deltas)
    half = 1.96 * statistics.stdev(deltas) / math.sqrt(len(deltas))
    return mean, (mean - half, mean + half)
