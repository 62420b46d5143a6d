"""Batch predictions: every row of a CSV file through an endpoint or predictor, into prediction columns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featrix_iac.diagnostics import fail
from featrix_iac.operations.reading import predict

OUTPUT_COLUMNS = ("prediction", "confidence", "error")


@dataclass
class BatchResult:
    """What a batch did: rows predicted, rows that failed (1-based row number, why), and the CSV written."""

    rows: int
    failed: list[tuple[int, str]] = field(default_factory=list)
    csv_text: str | None = None  # the output CSV when no output file was given


def predict_csv(
    root: Path | str,
    env: str | None,
    address: str,
    source: Path,
    output: Path | None = None,
    *,
    on_row: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Predict every row of `source`; write it with prediction, confidence and error columns added."""
    import pandas as pd

    try:
        frame = pd.read_csv(source)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {source} as CSV", str(exc)) from None
    records = [{k: v for k, v in row.items() if v is not None} for row in json.loads(frame.to_json(orient="records"))]
    results = predict(root, env, address, records, keep_going=True, on_row=on_row)
    names = {c: _free(c, set(frame.columns)) for c in OUTPUT_COLUMNS}
    frame[names["prediction"]] = [_prediction(r) for r in results]
    frame[names["confidence"]] = [r.get("confidence") if "error" not in r else None for r in results]
    frame[names["error"]] = [r.get("error", "") for r in results]
    failed = [(n, str(r["error"])) for n, r in enumerate(results, 1) if "error" in r]
    if output is None:
        return BatchResult(len(records), failed, frame.to_csv(index=False))
    try:
        frame.to_csv(output, index=False)
    except OSError as exc:
        raise fail(f"cannot write {output}", exc.strerror or str(exc)) from None
    return BatchResult(len(records), failed)


def _prediction(result: dict[str, Any]) -> Any:
    if "error" in result:
        return None
    return result.get("predicted_class", result.get("prediction"))


def _free(name: str, taken: set[str]) -> str:
    """`name`, or `featrix_name` when the input already has a column of that name."""
    return name if name not in taken else f"featrix_{name}"
