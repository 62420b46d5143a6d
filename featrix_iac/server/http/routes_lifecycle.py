"""Foundational-model lifecycle: publish (+ publish_job), unpublish, deprecate, protection, delete, cancel, clone."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from featrix_iac.server.http.request import bad, bool_field, cluster, int_field, json_body, svc
from featrix_iac.server.http.sessions import session_id_for
from featrix_iac.server.jobs import publishing
from featrix_iac.server.jobs.records import DETAIL, latest_fm, split_detail, with_detail
from featrix_iac.server.service import NotFound, Service, new_id, now_iso
from featrix_iac.server.store import Doc

router = APIRouter()


@router.post("/compute/session/{sid}/publish")
async def publish(sid: str, request: Request) -> dict[str, Any]:
    """A publish job (foundational_model.py `publish`): {job_id}; a publish already going answers the same job."""
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    if session.get("published"):
        return {"status": "already_published", "published_name": session.get("published_name")}
    running = publishing.active_for(s, sid)
    if running is not None:
        return {"job_id": running["job_id"], "status": running["status"], "publish_name": running["name"]}
    name = str(body.get("name") or session.get("name") or sid)
    job = publishing.start(s, sid, name, seconds=s.durations.publish_seconds)
    return {"job_id": job["job_id"], "status": "queued", "publish_name": name}


@router.get("/compute/session/{sid}/publish_job/{job_id}")
async def publish_job(sid: str, job_id: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    job = s.store.get(publishing.KIND, job_id)
    if job is None or job["session_id"] != sid:
        raise NotFound(f"publish job {job_id} not found")
    return publishing.view(publishing.settle(s, job))


@router.post("/compute/session/{sid}/unpublish")
async def unpublish(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    publishing.fail_active(s, sid, "unpublished before the publish completed")
    s.store.update("session", sid, lambda d: d.update(published=False, published_name=None))
    return {"session_id": sid, "published": False}


@router.post("/compute/session/{sid}/deprecate")
async def deprecate(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    message, expires = body.get("warning_message"), body.get("expiration_date")
    if not message or not isinstance(message, str):
        raise bad("warning_message is required")
    _check_expiration(expires)  # the body is checked first, as a validated request model would be
    refused = publishing.refuse_unless_published(session)
    if refused:
        raise HTTPException(status_code=409, detail=refused)
    dep = {"warning_message": message, "expiration_date": str(expires), "deprecated_at": now_iso()}
    s.store.update("session", sid, lambda d: d.update(deprecation=dep))
    return {"session_id": sid, "deprecation": dep}


def _check_expiration(expires: Any) -> None:
    """An ISO datetime, as the official client documents it: "2026-06-01T00:00:00Z"
    (foundational_model.py:FoundationalModel.deprecate); a bare date is refused (422)."""
    text = str(expires)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad(f"expiration_date must be an ISO datetime, got {expires!r}") from exc
    if "T" not in text:
        raise bad(f"expiration_date must be an ISO datetime such as 2026-06-01T00:00:00Z, got {text!r}", 422)


@router.post("/compute/session/{sid}/deletion_protection")
async def deletion_protection(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    body = await json_body(request)
    protected = bool_field(body.get("protected"), "protected")
    s.store.update("session", sid, lambda d: d.update(deletion_protection=protected))
    return {"session_id": sid, "deletion_protection": protected}


@router.post("/compute/session/{sid}/mark_for_deletion")
async def mark_for_deletion(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    if session.get("deletion_protection"):
        raise HTTPException(
            status_code=409, detail=f"deletion protected: foundational model {sid} is protected; unprotect it first"
        )
    protected = [p["predictor_id"] for p in s.predictors(sid) if p.get("deletion_protection")]
    if protected:
        raise HTTPException(
            status_code=409,
            detail=f"deletion protected: predictor(s) {', '.join(protected)} are protected; unprotect them first",
        )
    while _cancel_active(s, sid) is not None:  # every queued or running job of the session
        pass
    s.store.update("session", sid, lambda d: d.update(marked_for_deletion=True, deleted_at=now_iso()))
    _purge(s, sid)
    return {"session_id": sid, "marked_for_deletion": True}


def _purge(s: Service, sid: str) -> None:
    """The local 'GC': drop the session's children and artifacts at once (the session row stays as a tombstone)."""
    for kind in ("predictor", "job", DETAIL, publishing.KIND, "vdb", "prediction"):
        s.store.delete_children(kind, sid)
    s.forget_objects(f"{sid}/")
    shutil.rmtree(s.artifacts / sid, ignore_errors=True)


def _cancel_active(s: Service, sid: str) -> Doc | None:
    """Cancel the newest non-terminal job: queued ones at once, a running one cooperatively."""
    cancelling = s.worker.cancelling() if s.worker else set()
    active = [j for j in s.jobs(sid) if j["status"] in ("ready", "running") and j["job_id"] not in cancelling]
    if not active:
        return None
    job = active[-1]
    if s.worker:
        s.worker.cancel(job["job_id"])
    if job["status"] == "ready":
        from featrix_iac.server.jobs.records import after_job

        done = s.store.update("job", job["job_id"], lambda d: d.update(status="cancelled", finished_at=now_iso()))
        if done:
            after_job(s, done)
    return s.store.get("job", job["job_id"])


@router.post("/compute/session/{sid}/cancel")
async def cancel(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    await json_body(request)
    job = _cancel_active(s, sid)
    if job is None:
        jobs = s.jobs(sid)
        return {"cancelled": False, "status": jobs[-1]["status"] if jobs else "done"}
    return {
        "cancelled": True,
        "status": job["status"] if job["status"] == "cancelled" else "cancelling",
        "job_id": job["job_id"],
    }


def _done_es_job(s: Service, sid: str) -> Doc:
    es = latest_fm(s, sid)
    if es is None or es["status"] != "done":
        raise HTTPException(
            status_code=409, detail="the foundational model has not finished training; it cannot be copied yet"
        )
    return es


def _new_session_from(
    s: Service, session: Doc, fm: Any, es_job: Doc, name: str | None, node: str, prefix: str | None = None
) -> Doc:
    """A new, trained foundational-model session holding `fm` and the source's data (no predictors, no VDBs)."""
    from featrix_iac.server.ml.training import fm_path

    new_sid = session_id_for(prefix or name or session.get("name"))
    s.session_dir(new_sid)
    shutil.copy2(s.artifacts / session["session_id"] / "data.pkl", s.artifacts / new_sid / "data.pkl")
    s.save_object(fm_path(new_sid), fm)
    doc = {k: v for k, v in session.items() if k not in ("published", "published_name", "deprecation", "published_at")}
    doc.update(session_id=new_sid, name=name or session.get("name"), compute_cluster=node, created_at=now_iso())
    doc.update(parent_session_id=session["session_id"], deletion_protection=False, next_predictor_index=0)
    # its per-epoch records too (kept apart from the job, jobs/records.py): the copy's training_metrics shows them
    job, detail = split_detail(
        dict(with_detail(s, es_job), job_id=new_id("job_"), session_id=new_sid, status="done", progress=1.0)
    )
    if detail:
        s.store.put(DETAIL, job["job_id"], detail, parent=new_sid)
    s.store.put("job", job["job_id"], job, parent=new_sid)
    s.store.put("session", new_sid, doc)
    if s.hooks:
        s.hooks.note_created(new_sid)
    return doc


@router.post("/compute/session/{sid}/clone_embedding_space")
async def clone_embedding_space(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    target = body.get("to_compute") or cluster(request)
    from featrix_iac.server.ml.training import load_fm

    es = _done_es_job(s, sid)
    doc = _new_session_from(s, session, load_fm(s, sid), es, body.get("new_session_name"), str(target))
    return {
        "new_session_id": doc["session_id"],
        "session_id": doc["session_id"],
        "compute_cluster": target,
        "status": "done",
    }


@router.post("/compute/session/{sid}/publish_partial_foundation")
async def publish_partial_foundation(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    name = body.get("name")
    if not name:
        raise bad("name is required")
    from featrix_iac.server.ml.training import checkpoint_epochs, checkpoint_fm

    epochs = checkpoint_epochs(s, sid)
    if not epochs:
        raise HTTPException(
            status_code=409, detail="no checkpoint yet: the foundational model has not finished an epoch"
        )
    wanted = int_field(body.get("checkpoint_epoch"), "checkpoint_epoch")
    epoch = epochs[-1] if wanted is None else wanted
    if epoch not in epochs:
        raise bad(f"checkpoint_epoch {epoch} is not available (epochs {epochs[0]}..{epochs[-1]})")
    fm = checkpoint_fm(s, sid, epoch)
    es = latest_fm(s, sid) or {}
    hist = fm.history
    job = dict(es, current_epoch=epoch, epoch=epoch, total_epochs=epoch, history=hist, final_loss=hist["val_loss"][-1])
    job.update(
        best_epoch=None, best_val_loss=min(hist["val_loss"]), n_parameters=fm.n_parameters(), finished_at=now_iso()
    )
    node = session.get("compute_cluster") or cluster(request)
    doc = _new_session_from(s, session, fm, job, str(name), node, body.get("session_name_prefix"))
    if body.get("publish"):
        s.store.update(
            "session",
            doc["session_id"],
            lambda d: d.update(published=True, published_name=name, deletion_protection=True),
        )
    return {"foundation_session_id": doc["session_id"], "checkpoint_epoch": epoch, "session_id": doc["session_id"]}
