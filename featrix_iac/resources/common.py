"""Helpers shared by the handlers: status folding, session-document access, record digests, tag bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from featrix_iac.resources.base import Progress

DONE = {"done", "completed"}
FAILED = {"failed", "error", "aborted", "abandoned"}
CANCELLED = {"cancelled"}


# job statuses of a job that has not started (contract: job `ready` = queued for a worker, poll_utils.py)
WAITING_STATUSES = frozenset({"ready", "queued", "pending", "new", "training_not_started", "no_training_started"})


def fold_status(status: str | None) -> str:
    """Server status vocabulary -> ready | training | failed."""
    if status in DONE:
        return "ready"
    if status in FAILED or status in CANCELLED:
        return "failed"
    return "training"


def session_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The session fields of GET /compute/session/{id} (nested under "session", or flat)."""
    inner = doc.get("session")
    return inner if isinstance(inner, dict) else doc


def session_check(sid: str) -> Callable[[Any], str]:
    """What is wrong with an answer to GET /compute/session/{sid} ("" when it is that session's document).

    Shape per the contract (§2.3, `foundational_model.py:FoundationalModel.from_session_id`):
    `{"session": {...}, "jobs": {...}}` or the session fields flat; `job_plan` a list, `jobs` an object.
    """

    def check(doc: Any) -> str:
        if not isinstance(doc, dict):
            return f"a JSON {type(doc).__name__}, not an object"
        s = session_of(doc)
        got = s.get("session_id")
        if got is not None and str(got) != sid:
            return f"the document of session {got}, not of {sid}"
        if got is None and not isinstance(s.get("status"), str):
            return "neither a session_id nor a status: not a session document"
        for where, key, kind in ((doc, "jobs", dict), (s, "job_plan", list), (doc, "job_plan", list)):
            if where.get(key) is not None and not isinstance(where[key], kind):
                return f"{key} is not a JSON {'object' if kind is dict else 'list'}"
        return ""

    return check


def is_replayed(doc: dict[str, Any]) -> bool:
    """`stale: true`: the router replayed a cached answer (contract §2.3): it cannot confirm an absence."""
    return doc.get("stale") is True


def cannot_confirm_absence(doc: dict[str, Any]) -> str:
    """Why a session document that does not list a predictor still says nothing about it ("" when it does).

    A replayed answer (`stale: true`, contract §2.3) may be older than the predictor; a document without a
    `job_plan` list (in the session or at the top level) does not list predictors at all.
    """
    if is_replayed(doc):
        return "a replayed (stale) answer"
    if not isinstance(session_of(doc).get("job_plan"), list) and not isinstance(doc.get("job_plan"), list):
        return "an answer without a job_plan"
    return ""


def job_plan_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    plan = session_of(doc).get("job_plan") or doc.get("job_plan") or []
    return [e for e in plan if isinstance(e, dict)]


def jobs_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    jobs = doc.get("jobs") or {}
    return {k: v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}


def job_error(job: dict[str, Any]) -> str:
    for key in ("error", "error_message", "failure_reason"):
        if job.get(key):
            return str(job[key])
    return ""


def job_progress(job: dict[str, Any], what: str) -> Progress:
    """A Progress from one job record (status, epochs, progress fraction)."""
    state = fold_status(job.get("status"))
    epoch = job.get("current_epoch", job.get("epoch"))
    total = job.get("total_epochs", job.get("epochs"))
    fraction = job.get("progress")
    if not isinstance(fraction, (int, float)) and isinstance(epoch, int) and isinstance(total, int) and total:
        fraction = epoch / total
    if isinstance(fraction, (int, float)) and fraction > 1:
        fraction = fraction / 100.0
    if state == "failed":
        return Progress("failed", None, f"{what} {job.get('status')}: {job_error(job) or 'no detail'}")
    if state == "ready":
        return Progress("ready", 1.0, f"{what} done")
    status = str(job.get("status") or "queued")
    waiting = status in WAITING_STATUSES and not (isinstance(epoch, int) and epoch > 0)
    epochs = f" epoch {epoch}/{total}" if isinstance(epoch, int) and total and not waiting else ""
    shown = "queued" if waiting else status  # the job status `ready` means "ready for a worker", not done
    return Progress(
        "training", float(fraction) if isinstance(fraction, (int, float)) else None, f"{what} {shown}{epochs}"
    )


def newest(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(jobs, key=lambda j: str(j.get("created_at") or ""), default=None)


def record_digest(record: dict[str, Any]) -> str:
    """A short stable digest of one record (canonical JSON), for append-only comparison."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def without_tag(user_metadata: Any) -> dict[str, Any]:
    from featrix_iac.resources.base import TAG_KEY

    if isinstance(user_metadata, str):
        try:
            user_metadata = json.loads(user_metadata)
        except ValueError:
            return {}
    if not isinstance(user_metadata, dict):
        return {}
    return {k: v for k, v in user_metadata.items() if k != TAG_KEY}
