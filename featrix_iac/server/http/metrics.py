"""Read-only training reports: training_metrics (both shapes), model_card, classification_metrics."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from featrix_iac.server.jobs.records import SP_JOB, latest_fm, with_detail
from featrix_iac.server.service import Service
from featrix_iac.server.store import Doc


def es_timeline(session: Doc, job: Doc) -> Doc:
    hist = job.get("history") or {}
    train, val = hist.get("train_loss") or [], hist.get("val_loss") or []
    return {
        "epochs": list(range(1, len(train) + 1)),
        "train_loss": train,
        "val_loss": val,
        "learning_rate": [3e-3] * len(train),
        "gradient_norm": [None] * len(train),
        "best_val_loss": job.get("best_val_loss"),
        "best_epoch": job.get("best_epoch"),
        "d_model": session.get("d_model"),
        "metadata": {"n_parameters": job.get("n_parameters")},
    }


def predictor_metrics(pred: Doc, job: Doc) -> Doc:
    final = dict(job.get("metrics") or {})
    for key in ("accuracy", "auc", "f1", "rmse", "mae", "r2"):
        if key in final:
            final[f"val_{key}"] = final[key]
    if "auc" in final:
        final["val_roc_auc"] = final["auc"]
    info = list(job.get("training_info") or [])
    info.append({"metrics": final})
    return {
        "training_info": info,
        "final_metrics": final,
        "target_column": pred["target_column"],
        "target_column_type": pred["target_column_type"],
        "predictor_id": pred["predictor_id"],
    }


def _pick_predictor(svc: Service, sid: str, pid: str | None, target: str | None) -> tuple[Doc, Doc] | None:
    # read only: the store's shared decoding (a session holds a job and a predictor per predictor)
    jobs = {j["job_id"]: j for j in svc.store.list_shared("job", sid, having=("job_type", SP_JOB))}
    done = [p for p in svc.store.list_shared("predictor", sid) if p.get("status") == "done" and p.get("job_id") in jobs]
    if pid:
        done = [p for p in done if p["predictor_id"] == pid]
    if target:
        done = [p for p in done if p["target_column"] == target]
    if not done:
        return None
    pred = max(done, key=lambda p: p.get("trained_at") or "")
    return pred, jobs[pred["job_id"]]


def training_metrics_document(svc: Service, session: Doc, pid: str | None, target: str | None) -> Doc:
    """The ES timeline shape and, when a predictor is trained, the predictor shape, in one object."""
    sid = session["session_id"]
    out: Doc = {}
    es = latest_fm(svc, sid)
    if es and es["status"] == "done":
        out.update(source="embedding_space_training", data=es_timeline(session, with_detail(svc, es)))
    picked = _pick_predictor(svc, sid, pid, target)
    if picked:
        out["training_metrics"] = predictor_metrics(picked[0], with_detail(svc, picked[1]))
    if not out:
        raise HTTPException(status_code=404, detail="no training metrics yet: training has not finished")
    return out


def model_card_document(svc: Service, session: Doc) -> Doc:
    sid = session["session_id"]
    es = latest_fm(svc, sid) or {}
    types = session.get("column_types") or {}
    preds = [p for p in svc.store.list_shared("predictor", sid) if p.get("status") == "done"]  # read only
    return {
        "session_id": sid,
        "name": session.get("name"),
        "columns": [{"name": c, "type": types.get(c)} for c in session.get("column_names") or []],
        "excluded_columns": session.get("ignore_columns") or [],
        "training_config": {
            "epochs": es.get("total_epochs"),
            "d_model": session.get("d_model"),
            "seed": session.get("seed"),
        },
        "quality_metrics": {"final_loss": es.get("final_loss"), "best_val_loss": es.get("best_val_loss")},
        "data_summary": {"n_rows": session.get("n_rows"), "n_columns": len(session.get("column_names") or [])},
        "predictors": [
            {"predictor_id": p["predictor_id"], "target_column": p["target_column"], "metrics": p.get("metrics")}
            for p in preds
        ],
        "what_is_this_model_good_for": {
            "headline": "A self-supervised embedding of the table, for predictors, similarity search and encoding.",
            "uses": ["classification and regression on its columns", "nearest-neighbour search"],
            "anti": ["data far from the training distribution"],
        },
        "warnings": [],
        "model_fit": {"status": es.get("status")},
    }


def classification_document(svc: Service, session: Doc, pred: Doc) -> Doc:
    job = svc.store.get("job", pred["job_id"]) if pred.get("job_id") else None  # its job only, not the session's
    if not job or job.get("session_id") != session["session_id"] or job["status"] != "done":
        raise HTTPException(status_code=404, detail="no metrics yet: the predictor has not finished training")
    out: Doc = {"job_id": job["job_id"], "target_column": pred["target_column"], "predictor_id": pred["predictor_id"]}
    metrics: dict[str, Any] = job.get("metrics") or {}
    if pred["target_column_type"] == "scalar":
        out["regression_metrics"] = metrics
    else:
        out["classification_metrics"] = metrics
        out["confusion_matrix"] = job.get("confusion_matrix")
    return out
