"""Predictor routes: train_predictor(_more), protection, metrics, predict, predict_table, encode, webhooks."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from featrix_iac.server.http import documents
from featrix_iac.server.http.comparisons import add_feedback, record_prediction
from featrix_iac.server.http.metrics import classification_document
from featrix_iac.server.http.predicting import check_servable, clean_record, customer_metadata, encode, predict_records
from featrix_iac.server.http.request import (
    bad,
    bool_field,
    epochs_field,
    int_field,
    json_body,
    json_field,
    svc,
    webhooks_field,
)
from featrix_iac.server.jobs.quota import training_slot
from featrix_iac.server.jobs.records import SP_JOB, es_status, new_job
from featrix_iac.server.jobs.worker import DEFAULT_SP_EPOCHS
from featrix_iac.server.limits import MAX_EPOCHS
from featrix_iac.server.service import Service, new_id, now_iso
from featrix_iac.server.store import Doc
from featrix_iac.server.webhooks import EVENTS, SECRET_KEY

router = APIRouter()
SUPPORTED_TYPES = {"set", "scalar"}
PRED_KNOWN = {
    "target_column",
    "target_column_type",
    "epochs",
    "name",
    "rare_label_value",
    "webhooks",
    "seed",
}


def _check_target(session: Doc, body: dict[str, Any]) -> tuple[str, str]:
    target = body.get("target_column")
    ttype = body.get("target_column_type") or "set"
    if not target or not isinstance(target, str):
        raise bad("target_column is required")
    if ttype == "numeric":
        raise bad("target_column_type 'numeric' is not valid: use 'scalar' for regression")
    if ttype not in SUPPORTED_TYPES:
        raise bad(f"target_column_type {ttype!r} is not supported by the local server (use 'set' or 'scalar')")
    if target not in (session.get("column_names") or []):
        raise bad(f"target_column {target!r} is not a column of the foundational model's data")
    return target, ttype


@router.post("/compute/session/{sid}/train_predictor")
async def train_predictor(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    target, ttype = _check_target(session, body)
    fm_status = es_status(s, sid, session)
    if fm_status in ("failed", "cancelled"):
        raise bad(f"the foundational model's training {fm_status}; train a new one first")
    epochs = epochs_field(body.get("epochs"), 0) or DEFAULT_SP_EPOCHS
    with training_slot(s):  # 429 quota_exceeded past the training quota, before anything is created
        pred = _predictor_doc(s, session, body, target, ttype, epochs)
        queued = _workers_busy(s)
        job = new_job(
            sid,
            SP_JOB,
            epochs,
            predictor_id=None if queued else pred["predictor_id"],
            target_column=target,
            target_column_type=ttype,
            name=pred["name"],
        )
        pred["job_id"] = job["job_id"]
        if queued:  # the id is minted when a worker picks the job up (worker.dispatch)
            job["pending_predictor"] = pred
        else:
            s.store.put("predictor", pred["predictor_id"], pred, parent=sid)
        s.store.put("job", job["job_id"], job, parent=sid)
        if queued:
            hide = time.time() + s.durations.queued_404_seconds
            s.store.update("session", sid, lambda d: d.update(queued_404_until=hide))
        if s.worker:
            s.worker.submit(job["job_id"], unnamed=queued)
        if queued:
            # foundational_model.py `_create_predictor`: a queued answer carries no predictor_id
            return {"queued": True, "status": "queued", "target_column": target, "message": "every worker is busy"}
    return _predictor_response(pred, job)


def _workers_busy(s: Service) -> bool:
    """Every worker has a job (running, or dispatched and waiting): a new training queues without an id."""
    if not s.durations.queue_when_busy or s.worker is None:
        return False
    return s.worker.busy()  # the worker's own count: reading every job of the account made each create O(jobs)


def _predictor_doc(s: Service, session: Doc, body: dict[str, Any], target: str, ttype: str, epochs: int) -> Doc:
    index = int(session.get("next_predictor_index") or 0)
    s.store.update("session", session["session_id"], lambda d: d.update(next_predictor_index=index + 1))
    rare = body.get("rare_label_value")
    return {
        "predictor_id": new_id("pred_"),
        "session_id": session["session_id"],
        "predictor_index": index,
        "target_column": target,
        "target_column_type": ttype,
        "name": str(body.get("name") or f"{target} predictor"),
        "epochs": epochs,
        "rare_label_value": None if rare is None else str(rare),
        "webhooks": webhooks_field(body.get("webhooks"), s.webhooks.policy),
        "seed": int_field(body.get("seed"), "seed", 0),
        "deletion_protection": False,
        "status": "ready",
        "created_at": now_iso(),
        "extra": {k: v for k, v in body.items() if k not in PRED_KNOWN},
    }


def _predictor_response(pred: Doc, job: Doc) -> Doc:
    # pass-through kwargs (foundational_model.py:_create_predictor, e.g. user_metadata) are used, never
    # echoed: the client reads predictor_id / queued back, and nothing shows the service returning the rest
    out = {k: v for k, v in pred.items() if k not in ("extra", "webhooks")}
    out.update(
        job_id=job["job_id"],
        queued=False,
        status=job["status"],
        webhooks=documents.public_webhooks(pred.get("webhooks")),
    )
    return out


@router.post("/compute/session/{sid}/train_predictor_more")
async def train_predictor_more(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    body = await json_body(request)
    extra = epochs_field(body.get("epochs"), 50, minimum=1) or 50
    preds = [
        p
        for p in s.predictors(sid)
        if p["target_column"] == body.get("target_column") or p["predictor_id"] == body.get("predictor_id")
    ]
    if not preds:
        raise HTTPException(status_code=404, detail=f"no predictor for target_column {body.get('target_column')!r}")
    pred = preds[-1]
    if pred.get("status") in ("ready", "running"):
        raise HTTPException(status_code=409, detail="the predictor is still training; wait before training more")
    if pred.get("status") != "done":
        raise HTTPException(
            status_code=409,
            detail=f"the predictor's training {pred.get('status')}: {pred.get('error') or ''}; train a new one",
        )
    total = int(pred.get("epochs") or 0) + extra
    if total > MAX_EPOCHS:
        raise bad(f"epochs must stay <= {MAX_EPOCHS} in total on the local server: {total - extra} trained + {extra}")
    with training_slot(s):
        job = new_job(
            sid,
            SP_JOB,
            total,
            predictor_id=pred["predictor_id"],
            target_column=pred["target_column"],
            target_column_type=pred["target_column_type"],
            name=pred["name"],
            continued_from=pred.get("job_id"),
        )
        s.store.put("job", job["job_id"], job, parent=sid)
        s.store.update(
            "predictor", pred["predictor_id"], lambda d: d.update(job_id=job["job_id"], epochs=total, status="ready")
        )
        if s.worker:
            s.worker.submit(job["job_id"])
    return {"predictor_id": pred["predictor_id"], "job_id": job["job_id"], "epochs": total, "status": "ready"}


@router.post("/compute/session/{sid}/predictor/{pid}/deletion_protection")
async def predictor_protection(sid: str, pid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    s.predictor(sid, pid)
    body = await json_body(request)
    protected = bool_field(body.get("protected"), "protected")
    s.store.update("predictor", pid, lambda d: d.update(deletion_protection=protected))
    return {"session_id": sid, "predictor_id": pid, "deletion_protection": protected}


@router.get("/compute/session/{sid}/predictor/{pid}/classification_metrics")
async def classification_metrics(sid: str, pid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    return classification_document(s, s.session(sid), s.predictor(sid, pid))


@router.post("/compute/session/{sid}/predict", response_model=None)
async def predict(sid: str, request: Request) -> dict[str, Any] | JSONResponse:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    record = clean_record(body.get("query_record"))
    customer_metadata(request.headers)
    pred = s.predictor(sid, body.get("predictor_id"))
    not_ready = check_servable(s, pred)
    if not_ready is not None:
        return not_ready
    result = predict_records(s, session, pred, [record])[0]
    record_prediction(s, sid, result)
    return result


@router.post("/compute/session/{sid}/predict_table", response_model=None)
async def predict_table(sid: str, request: Request) -> dict[str, Any] | JSONResponse:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    records = body.get("records")
    if not isinstance(records, list):
        raise bad("records must be a list of objects")
    records = [clean_record(r, "each record") for r in records]
    customer_metadata(request.headers)
    pred = s.predictor(sid, body.get("predictor_id"))
    not_ready = check_servable(s, pred)
    if not_ready is not None:
        return not_ready
    return {"predictions": predict_records(s, session, pred, records)}


@router.post("/compute/session/{sid}/encode_records")
async def encode_records(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise bad("records must be a non-empty list of objects")
    if es_status(s, sid, session) != "done":
        return JSONResponse(
            status_code=503,
            content={"status": "training_in_progress", "message": "the foundational model is not trained yet"},
        )  # type: ignore[return-value]
    results = encode(s, session, [clean_record(r, "each record") for r in records])
    if body.get("intent"):
        for r in results:
            r.update(intent=body["intent"], representation=body.get("representation") or "auto")
    return {"results": results}


@router.post("/compute/session/{sid}/configure_webhooks")
async def configure_webhooks(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    body = await json_body(request)
    hooks = json_field(body.get("webhooks"), "webhooks", dict, {})
    for event in hooks:
        if event != SECRET_KEY and event not in EVENTS:
            raise bad(f"unknown webhook event {event!r} (known: {', '.join(EVENTS)})")
    hooks = webhooks_field(hooks, s.webhooks.policy)
    pid = body.get("predictor_id")
    kind, key = ("predictor", s.predictor(sid, pid)["predictor_id"]) if pid else ("session", sid)
    doc = s.store.update(kind, key, lambda d: d.update(webhooks={**(d.get("webhooks") or {}), **hooks}))
    return {"webhooks": documents.public_webhooks((doc or {}).get("webhooks")), "predictor_id": pid}


@router.get("/compute/session/{sid}/webhooks")
async def get_webhooks(sid: str, request: Request, predictor_id: str | None = None) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    merged = dict(session.get("webhooks") or {})
    preds = [s.predictor(sid, predictor_id)] if predictor_id else s.predictors(sid)
    for p in preds:
        merged.update(p.get("webhooks") or {})
    out = documents.public_webhooks(merged)
    return {"webhooks": out, "has_secret": bool(merged.get(SECRET_KEY))}


@router.post("/compute/session/{sid}/disable_webhook")
async def disable_webhook(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    body = await json_body(request)
    event = body.get("event_type")
    if not event:
        raise bad("event_type is required")
    pid = body.get("predictor_id")
    targets = (
        [("predictor", s.predictor(sid, pid)["predictor_id"])]
        if pid
        else [("session", sid)] + [("predictor", p["predictor_id"]) for p in s.predictors(sid)]
    )
    for kind, key in targets:
        s.store.update(
            kind, key, lambda d: d.update(webhooks={k: v for k, v in (d.get("webhooks") or {}).items() if k != event})
        )
    return {"disabled": event, "predictor_id": pid}


@router.get("/compute/session/{sid}/predictor/{pid}/value_meaning")
async def get_value_meaning(sid: str, pid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    return {"value_meaning": s.predictor(sid, pid).get("value_meaning") or {}}


@router.put("/compute/session/{sid}/predictor/{pid}/value_meaning")
async def put_value_meaning(sid: str, pid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    s.predictor(sid, pid)
    body = await json_body(request)
    if not body or not all(isinstance(v, str) for v in body.values()):
        raise bad("value_meaning must be a non-empty object of label -> text")
    doc = s.store.update("predictor", pid, lambda d: d.update(value_meaning={**(d.get("value_meaning") or {}), **body}))
    return {"value_meaning": (doc or {}).get("value_meaning") or {}}


@router.delete("/compute/session/{sid}/predictor/{pid}/value_meaning/{label}")
async def delete_value_meaning(sid: str, pid: str, label: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    s.predictor(sid, pid)

    def drop(d: Doc) -> None:
        d["value_meaning"] = {k: v for k, v in (d.get("value_meaning") or {}).items() if k != label}

    doc = s.store.update("predictor", pid, drop)
    return {"value_meaning": (doc or {}).get("value_meaning") or {}}


@router.post("/compute/session/{sid}/predict/{uuid}/feedback")
async def prediction_feedback(sid: str, uuid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    body = await json_body(request)
    if body.get("ground_truth") is None:
        raise bad("ground_truth is required")
    doc = add_feedback(s, uuid, body["ground_truth"], sid, body.get("meta"))
    if doc is None:
        raise HTTPException(status_code=404, detail=f"prediction {uuid} not found in session {sid}")
    return {"prediction_uuid": uuid, "ground_truth": doc["ground_truth"], "recorded": True}


@router.post("/compute/prediction/{uuid}/update_label")
async def update_label(uuid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    body = await json_body(request)
    if body.get("user_label") is None:
        raise bad("user_label is required")
    doc = add_feedback(s, uuid, body["user_label"], None)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"prediction {uuid} not found")
    return {"prediction_id": uuid, "user_label": doc["ground_truth"], "recorded": True}
