"""Training jobs' vocabulary: job types, terminal statuses, and a session's status pooled from its jobs."""

from __future__ import annotations

from featrix_iac.server.store import Doc

ES_JOB = "train_es"  # a foundational model's training (the official client's job_type)
SP_JOB = "train_single_predictor"  # a predictor's training
TERMINAL = {"done", "failed", "cancelled"}


def latest_fm_job(jobs: list[Doc]) -> Doc | None:
    """The newest foundational-model training among a session's jobs (oldest first), if any."""
    es = [j for j in jobs if j["job_type"] == ES_JOB]
    return es[-1] if es else None


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
