"""JSON views the routes return: the session document (§2.3), list items (§2.6) and job records."""

from __future__ import annotations

from typing import Any

from featrix_iac.server.jobs.records import latest_fm_job, pooled_status
from featrix_iac.server.service import Service
from featrix_iac.server.store import Doc
from featrix_iac.server.webhooks import SECRET_KEY

JOB_FIELDS = (
    "job_id",
    "job_type",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "current_epoch",
    "epoch",
    "total_epochs",
    "epochs",
    "progress",
    "error",
    "message",
    "loss",
    "validation_loss",
    "predictor_id",
    "target_column",
    "target_column_type",
    "name",
    "accuracy",
    "auc",
    "roc_auc",
    "f1",
    "restarts",
    "metrics",
)


def job_view(job: Doc) -> Doc:
    out = {k: job.get(k) for k in JOB_FIELDS if k in job}
    out["epochs"] = job.get("total_epochs")
    if job.get("error"):
        out["error_message"] = job["error"]
    if job.get("target_column"):
        out["job_spec"] = {"target_column": job["target_column"], "predictor_id": job.get("predictor_id")}
    return out


def plan_entry(session: Doc, job: Doc, pred: Doc | None) -> Doc:
    """The job's entry in `job_plan`; `pred` is its predictor's document, if any."""
    entry: Doc = {
        "job_type": job["job_type"],
        "job_id": job["job_id"],
        "status": "completed" if job["status"] == "done" else job["status"],
        "created_at": job["created_at"],
        "name": job.get("name") or session.get("name"),
    }
    pid = job.get("predictor_id")
    if pid:
        pred = pred or {}
        entry.update(
            predictor_id=pid,
            predictor_index=pred.get("predictor_index", 0),
            spec={"target_column": job["target_column"], "target_column_type": job["target_column_type"]},
            target_column=job["target_column"],
            target_column_type=job["target_column_type"],
            name=pred.get("name") or job.get("name"),
        )
    return entry


def in_plan(jobs: list[Doc]) -> list[bool]:
    """Which jobs have an entry in `job_plan`: all but a predictor's older ones (train_predictor_more: one entry
    per predictor, its newest job's, at that job's place)."""
    last = {job["predictor_id"]: i for i, job in enumerate(jobs) if job.get("predictor_id")}
    return [not job.get("predictor_id") or last[job["predictor_id"]] == i for i, job in enumerate(jobs)]


def single_predictors(preds: list[Doc]) -> list[str | None]:
    """Indexed by predictor_index: the model path of a trained predictor, else None."""
    single: list[str | None] = [None] * len(preds)
    for p in preds:
        idx = int(p.get("predictor_index", 0))
        if idx < len(single):
            single[idx] = p.get("model_path") if p.get("status") == "done" else None
    return single


def _summary(session: Doc, jobs: list[Doc]) -> Doc:
    """What both the session document and a list item show: identity, pooled statuses, flags."""
    status, es_status, sp_status = pooled_status(session, jobs)
    if session.get("cancelled") and status in ("ready", "done") and es_status == "cancelled":
        status = "cancelled"
    return {
        "session_id": session["session_id"],
        "name": session.get("name"),
        "status": status,
        "es_status": es_status,
        "sp_status": sp_status,
        "session_type": session.get("session_type", "embedding_space"),
        "compute_cluster": session.get("compute_cluster"),
        "user_metadata": session.get("user_metadata") or {},
        "deletion_protection": bool(session.get("deletion_protection")),
        "created_at": session.get("created_at"),
        "published": bool(session.get("published")),
        "published_name": session.get("published_name"),
        "deprecation": session.get("deprecation"),
    }


def session_fields(session: Doc, jobs: list[Doc], preds: list[Doc]) -> Doc:
    """The session's fields, all but `job_plan` (views.py adds it)."""
    fields = _summary(session, jobs)
    status = fields["status"]
    fields.update(
        {
            "predictor_deletion_protection": {p["predictor_id"]: bool(p.get("deletion_protection")) for p in preds},
            "started_at": session.get("started_at"),
            "finished_at": session.get("finished_at") if status in ("done", "failed", "cancelled") else None,
            "es_architecture": {"d_model": session.get("d_model")},
            "d_model": session.get("d_model"),
            "single_predictors": single_predictors(preds),
            "priority_tier": session.get("priority") or "regular",
            "column_names": session.get("column_names"),
            "n_rows": session.get("n_rows"),
        }
    )
    if session.get("parent_session_id"):
        fields["parent_session_id"] = session["parent_session_id"]
    return fields  # pass-through creation kwargs ("extra") are kept, never echoed: the contract does not show it


def list_item(svc: Service, session: Doc) -> Doc:
    """A session in a listing (§2.6): its summary and latest foundational training, read with one jobs query."""
    jobs = svc.store.list_shared("job", session["session_id"])
    item = _summary(session, jobs)
    es = latest_fm_job(jobs) or {}
    item.update(d_model=session.get("d_model"), dimensions=session.get("d_model"), epochs=es.get("current_epoch"))
    item["final_loss"] = es.get("final_loss")
    return item


def public_webhooks(config: dict[str, Any] | None) -> dict[str, Any]:
    """A webhook configuration without its secret (GET never returns it)."""
    return {k: v for k, v in (config or {}).items() if k != SECRET_KEY}
