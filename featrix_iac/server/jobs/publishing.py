"""Publish jobs: a foundational model's publish and an endpoint's shadow run for a configured time, reporting progress.

The shape follows the official client (featrixsphere 2.0.13460): `FoundationalModel.publish` in
api/foundational_model.py polls `GET /compute/session/{sid}/publish_job/{job_id}` and reads `status`
(completed / failed / anything else = still going), `step`, `message`, `bytes_copied`, `files_copied`,
`progress_pct`, `eta_minutes`, `published_path` and `error`; deletion protection counts as on only once the
job completes. `APIEndpoint.shadow` (api/api_endpoint.py) publishes the predictor through the same machinery:
the shadow's `name` appears in `plan.shadows` only when that publish lands.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from featrix_iac.server.jobs.records import es_status
from featrix_iac.server.service import Service, new_id, now_iso
from featrix_iac.server.store import Doc

log = logging.getLogger("featrix.server.publishing")
ORG = "local"
KIND = "publish_job"
STEPS = ("copying the session to the backplane", "uploading to cloud storage", "writing the deployment manifest")
ACTIVE = ("queued", "waiting_for_training", "running")


def start(s: Service, sid: str, name: str, *, seconds: float, shadow: dict[str, str] | None = None) -> Doc:
    """Record a new publish job of session `sid` (a shadow job carries endpoint_id / predictor_id)."""
    job: Doc = {
        "job_id": new_id("pub_"),
        "session_id": sid,
        "name": name,
        "status": "queued",
        "created_at": now_iso(),
        "duration": float(seconds),
        "started_ts": None,
        "total_files": 12,
        "total_bytes": _session_bytes(s, sid),
    }
    if shadow:
        job.update(shadow)
    s.store.put(KIND, job["job_id"], job, parent=sid)
    settle(s, job)
    return job


def active_for(s: Service, sid: str) -> Doc | None:
    """The session's foundational-model publish that is still going, if any."""
    jobs = [j for j in s.store.list(KIND, parent=sid) if j["status"] in ACTIVE and not j.get("endpoint_id")]
    return jobs[-1] if jobs else None


def fail_active(s: Service, sid: str, error: str) -> None:
    job = active_for(s, sid)
    if job is not None:
        s.store.update(KIND, job["job_id"], lambda d: d.update(status="failed", error=error, finished_at=now_iso()))


def _session_bytes(s: Service, sid: str) -> int:
    folder = s.artifacts / sid
    try:
        return max(1, sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))
    except OSError:
        return 1


def _training_status(s: Service, job: Doc) -> str:
    session = s.store.get("session", job["session_id"]) or {}
    if job.get("predictor_id"):
        return str((s.store.get("predictor", job["predictor_id"]) or {}).get("status") or "done")
    return es_status(s, job["session_id"], session) or "done"


def settle(s: Service, job: Doc) -> Doc:
    """Move one job along the clock: start it once its model is trained, complete it when its time is up."""
    if job["status"] not in ACTIVE:
        return job
    session = s.store.get("session", job["session_id"])
    if session is None or session.get("marked_for_deletion"):
        return _finish(s, job, "failed", error="the session was deleted")
    if job.get("started_ts") is None:
        trained = _training_status(s, job)
        if trained in ("failed", "cancelled"):
            return _finish(s, job, "failed", error=f"the model's training {trained}; nothing to publish")
        if trained != "done":
            return s.store.update(KIND, job["job_id"], lambda d: d.update(status="waiting_for_training")) or job
        job = s.store.update(KIND, job["job_id"], lambda d: d.update(status="running", started_ts=time.time())) or job
    if time.time() - float(job["started_ts"]) >= float(job["duration"]):
        return _finish(s, job, "completed")
    return job


def _finish(s: Service, job: Doc, status: str, error: str | None = None) -> Doc:
    if status == "completed":
        _land(s, job)
    done = s.store.update(
        KIND,
        job["job_id"],
        lambda d: d.update(status=status, finished_at=now_iso(), **({"error": error} if error else {})),
    )
    return done or job


def _land(s: Service, job: Doc) -> None:
    """What a completed publish changes: the session is published and protected, or the shadow gets its name."""
    if job.get("endpoint_id"):
        pid, name = job.get("predictor_id"), job["name"]

        def named(d: Doc) -> None:
            for sh in d["plan"]["shadows"]:
                if sh.get("neural_function_id") == pid:
                    sh.update(name=name, activated_at=now_iso())

        s.store.update("endpoint", job["endpoint_id"], named)
        return
    s.store.update(
        "session",
        job["session_id"],
        lambda d: d.update(
            published=True, published_name=job["name"], deletion_protection=True, published_at=now_iso()
        ),
    )


def view(job: Doc) -> Doc:
    """The publish_job document: status, step, message, bytes/files copied, progress and ETA."""
    status, duration = job["status"], max(0.001, float(job["duration"]))
    started = job.get("started_ts")
    fraction = 1.0 if status == "completed" else 0.0
    if status == "running" and started is not None:
        fraction = min(0.99, max(0.0, (time.time() - float(started)) / duration))
    step = STEPS[min(len(STEPS) - 1, int(fraction * len(STEPS)))] if status == "running" else status
    out: Doc = {
        "job_id": job["job_id"],
        "status": status,
        "step": step,
        "message": f"publish {job['name']}: {step}",
        "bytes_copied": int(job["total_bytes"] * fraction),
        "files_copied": int(job["total_files"] * fraction),
        "progress_pct": round(100.0 * fraction, 1),
        "eta_minutes": round((1.0 - fraction) * duration / 60.0, 2) if status == "running" else None,
    }
    if status == "completed":
        out["published_path"] = f"{ORG}/{job['name']}"
    if status == "failed":
        out["error"] = job.get("error") or "publish failed"
    return out


class Clock:
    """A daemon thread that settles every active publish job, so a publish lands whether or not anyone polls."""

    def __init__(self, s: Service, tick: float = 0.1) -> None:
        self.s, self.tick = s, tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="featrix-publish-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                for job in self.s.store.list(KIND):
                    if job["status"] in ACTIVE:
                        settle(self.s, job)
            except Exception:  # noqa: BLE001 - the clock must keep running (a closed store at shutdown)
                log.debug("publish clock tick failed", exc_info=True)


def refuse_unless_published(session: Doc) -> str | None:
    """Why a deprecate is refused (the stricter reading of foundational_model.py `deprecate`: 'Deprecate this
    published model'), or None."""
    if session.get("published"):
        return None
    return "deprecate applies to a published model: publish it and wait for the publish job to complete first"


def active_shadow(s: Service, eid: str, pid: str) -> Any:
    jobs = [j for j in s.store.list(KIND) if j.get("endpoint_id") == eid and j.get("predictor_id") == pid]
    return next((j for j in reversed(jobs) if j["status"] in ACTIVE), None)
