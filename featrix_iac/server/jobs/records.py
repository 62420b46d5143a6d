"""Training job records: job types, a new job's document, what a finished job writes, and a session's pooled status."""

from __future__ import annotations

from typing import Any

from featrix_iac.server.service import Service, new_id, now_iso
from featrix_iac.server.store import Doc

ES_JOB = "train_es"  # a foundational model's training (the official client's job_type)
SP_JOB = "train_single_predictor"  # a predictor's training
TERMINAL = {"done", "failed", "cancelled"}


def new_job(sid: str, job_type: str, epochs: int, **fields: Any) -> Doc:
    """A queued (status ready) training job of session `sid`; `fields` add to it (target column, predictor)."""
    job: Doc = {
        "job_id": new_id("job_"),
        "session_id": sid,
        "job_type": job_type,
        "status": "ready",
        "created_at": now_iso(),
        "started_at": None,
        "finished_at": None,
        "current_epoch": 0,
        "epoch": 0,
        "total_epochs": epochs,
        "progress": 0.0,
    }
    job.update(fields)
    return job


DETAIL = "job_detail"  # a finished job's per-epoch records, kept apart from it (kind, id = the job's id)
DETAIL_FIELDS = ("history", "training_info")


def split_detail(result: dict[str, Any]) -> tuple[dict[str, Any], Doc]:
    """A finished training's result: (what its job document takes, its per-epoch records kept apart).

    Every read of a session lists its jobs (the session document, a create, a claim): 200 epochs of records
    made each predictor's job about 26 KB, and a session document of 100 predictors cost the server 8.6 ms.
    """
    return {k: v for k, v in result.items() if k not in DETAIL_FIELDS}, {
        k: result[k] for k in DETAIL_FIELDS if k in result
    }


def with_detail(svc: Service, job: Doc) -> Doc:
    """The job with its per-epoch records (kept apart, or in it when an older version wrote it)."""
    if any(k in job for k in DETAIL_FIELDS):
        return job
    return {**job, **(svc.store.get(DETAIL, job["job_id"]) or {})}


def latest_fm_job(jobs: list[Doc]) -> Doc | None:
    """The newest foundational-model training among a session's jobs (oldest first), if any."""
    es = [j for j in jobs if j["job_type"] == ES_JOB]
    return es[-1] if es else None


def fm_jobs(svc: Service, sid: str) -> list[Doc]:
    """The session's foundational-model trainings, oldest first (read only: the store's shared decoding). Not
    all its jobs: a create or a claim reads this, and a session holds a job per predictor."""
    return svc.store.list_shared("job", sid, having=("job_type", ES_JOB))


def latest_fm(svc: Service, sid: str) -> Doc | None:
    """The session's newest foundational-model training, if any (read only, as `fm_jobs`)."""
    return latest_fm_job(fm_jobs(svc, sid))


def es_status(svc: Service, sid: str, session: Doc) -> str | None:
    """Session `sid`'s foundational-model status, as its document's `es_status`."""
    return pooled_status(session, fm_jobs(svc, sid))[1]


def pooled_status(session: Doc, jobs: list[Doc]) -> tuple[str, str | None, str | None]:
    """(session status, es_status, sp_status) from the jobs, newest job of each kind."""
    es = latest_fm_job(jobs)
    sp = [j for j in jobs if j["job_type"] == SP_JOB]
    es_status = es["status"] if es else ("done" if session.get("session_type") != "predictor" else None)
    sp_status = sp[-1]["status"] if sp else None
    latest = {j["job_id"]: j["status"] for j in jobs}
    if es_status in ("failed", "cancelled"):
        return es_status, es_status, sp_status
    if "running" in latest.values():
        status = "running"
    elif "ready" in latest.values():
        status = "ready"
    else:
        status = "done"
    return status, es_status, sp_status


def after_job(svc: Service, job: Doc) -> None:
    """Mirror a finished job onto its session / predictor documents."""
    sid = job["session_id"]
    if job["job_type"] == SP_JOB and job.get("predictor_id"):
        pid = job["predictor_id"]

        def apply(doc: Doc) -> None:
            doc["status"] = job["status"]
            if job["status"] == "done":
                doc.update(model_path=job.get("model_path"), metrics=job.get("metrics"), trained_at=now_iso())
                doc["epochs_trained"] = job.get("current_epoch")
            if job.get("error"):
                doc["error"] = job["error"]

        svc.store.update("predictor", pid, apply)
    svc.store.update(
        "session",
        sid,
        lambda d: d.update(finished_at=now_iso()) if job["status"] in ("done", "failed", "cancelled") else None,
    )


def webhook_config(svc: Service, sid: str, pid: str | None) -> dict[str, Any]:
    """Predictor webhooks when the job is a predictor's, falling back to the session's creation-time ones."""
    config: dict[str, Any] = dict((svc.store.get("session", sid) or {}).get("webhooks") or {})
    if pid:
        config.update((svc.store.get("predictor", pid) or {}).get("webhooks") or {})
    return config


def started_data(job: Doc) -> dict[str, Any]:
    data: dict[str, Any] = {"epochs": job.get("total_epochs")}
    if job.get("target_column"):
        data.update(target_column=job["target_column"], target_type=job.get("target_column_type"))
    return data
