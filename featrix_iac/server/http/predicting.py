"""Running predictions: the soft-503 'not ready' answer, result shaping, and encoding records."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from featrix_iac.server.http.request import loads
from featrix_iac.server.ml.training import load_fm, load_predictor
from featrix_iac.server.service import Service
from featrix_iac.server.store import Doc


def not_ready_response(svc: Service, pred: Doc, count: int | None = None) -> JSONResponse:
    """HTTP 503 with a top-level not-ready status: the official client returns it as a result, not an error."""
    job = svc.store.get("job", pred.get("job_id") or "") or {}
    running = job.get("status") == "running"
    body: Doc = {
        "status": "training_in_progress_no_checkpoint" if running else "training_not_started",
        "message": f"predictor {pred['predictor_id']} is not trained yet ({job.get('status', 'unknown')})",
        "training_info": {
            "epoch": job.get("current_epoch"),
            "total_epochs": job.get("total_epochs"),
            "progress_percent": round(100 * float(job.get("progress") or 0), 1),
            "is_training": running,
            "checkpoint_path": None,
        },
    }
    if count is not None:
        body["predictions"] = [None] * count
    return JSONResponse(status_code=503, content=body)


def check_servable(svc: Service, pred: Doc) -> JSONResponse | None:
    status = pred.get("status")
    if status == "done":
        return None
    if status in ("failed", "cancelled"):
        raise HTTPException(
            status_code=409,
            detail=f"predictor {pred['predictor_id']} training {status}: {pred.get('error') or ''}".strip(),
        )
    return not_ready_response(svc, pred)


def customer_metadata(headers: Any) -> dict[str, Any] | None:
    """The optional X-Featrix-Customer-Metadata header: a JSON object of at most 16 KB (never given to the model)."""
    raw = headers.get("x-featrix-customer-metadata")
    if raw is None:
        return None
    if len(raw.encode()) > 16 * 1024:
        raise HTTPException(status_code=400, detail="X-Featrix-Customer-Metadata is larger than 16 KB")
    value = loads(raw, "X-Featrix-Customer-Metadata")
    if not isinstance(value, dict):
        raise HTTPException(status_code=400, detail="X-Featrix-Customer-Metadata must be a JSON object")
    return value


def clean_record(record: Any, name: str = "query_record") -> dict[str, Any]:
    if not isinstance(record, dict):
        raise HTTPException(status_code=400, detail=f"{name} must be a JSON object")
    return record


def predict_records(svc: Service, session: Doc, pred: Doc, records: list[dict[str, Any]]) -> list[Doc]:
    fm_sid = pred.get("fm_session_id") or session["session_id"]
    fm = load_fm(svc, fm_sid)
    model = load_predictor(svc, session["session_id"], pred["predictor_id"])
    results = model.predict_records(fm, records)
    known = set(session.get("column_names") or [])
    meanings = pred.get("value_meaning") or {}
    out = []
    for rec, res in zip(records, results, strict=True):
        res.update(
            prediction_uuid=str(uuid.uuid4()),
            predictor_id=pred["predictor_id"],
            session_id=session["session_id"],
            target_column=pred["target_column"],
            model_version=pred.get("job_id"),
            model_type="sp",
            guardrails={},
            ignored_query_columns=sorted(k for k in rec if k not in known or k == pred["target_column"]),
            available_query_columns=sorted(known - {pred["target_column"]}),
        )
        res["prediction_id"] = res["prediction_uuid"]
        if res.get("predicted_class") in meanings:
            res["value_meaning"] = meanings[res["predicted_class"]]
        dep = session.get("deprecation")
        if dep:
            res["model_expiration"] = dep.get("expiration_date")
            res["deprecation_warning"] = dep.get("warning_message")
        out.append(res)
    return out


def encode(svc: Service, session: Doc, records: list[dict[str, Any]]) -> list[Doc]:
    import numpy as np

    fm = load_fm(svc, session["session_id"])
    z = fm.embed_records(records)
    proj = np.random.default_rng(0).normal(size=(z.shape[1], 3)) / np.sqrt(z.shape[1])
    short = z @ proj
    return [
        {
            "embedding": [round(float(v), 6) for v in s],
            "embedding_long": [round(float(v), 6) for v in row],
            "query_record": rec,
        }
        for rec, s, row in zip(records, short, z, strict=True)
    ]
