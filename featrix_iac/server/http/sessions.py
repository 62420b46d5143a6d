"""Creating foundational-model sessions (upload or URL), with idempotency keys, and their training jobs."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from featrix_iac.server.http.request import bad, epochs_field, int_field, json_field, metadata_field, webhooks_field
from featrix_iac.server.jobs.quota import training_slot
from featrix_iac.server.jobs.records import ES_JOB, new_job
from featrix_iac.server.jobs.worker import auto_fm_epochs
from featrix_iac.server.service import Service, now_iso
from featrix_iac.server.store import Doc
from featrix_iac.server.webhook_policy import TargetPolicy

if TYPE_CHECKING:
    import pandas as pd

IDEMPOTENCY_WINDOW = 24 * 3600.0
_create_lock = threading.Lock()
KNOWN = {
    "name",
    "session_name_prefix",
    "ignore_columns",
    "column_overrides",
    "epochs",
    "webhooks",
    "user_metadata",
    "d_model",
    "seed",
    "priority",
    "project_id",
    "foundation_mode",
    "n_rows",
    "n_cols",
    "s3_file_data_set_training",
    "file",
}


def session_id_for(prefix: str | None) -> str:
    if prefix:
        clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", prefix).strip("-")[:80] or "session"
        return f"{clean}-{uuid.uuid4()}"
    return f"{uuid.uuid4()}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def parse_options(fields: dict[str, Any], policy: TargetPolicy) -> dict[str, Any]:
    """Validate the creation fields (strings in multipart, typed in JSON) into a session's options."""
    d_model = int_field(fields.get("d_model"), "d_model", 16, minimum=2)
    if d_model is not None and d_model > 256:
        raise bad("d_model must be <= 256 on the local server")
    epochs = epochs_field(fields.get("epochs"), None)
    return {
        "name": str(fields.get("name") or ""),
        "prefix": str(fields.get("session_name_prefix") or fields.get("name") or ""),
        "ignore_columns": json_field(fields.get("ignore_columns"), "ignore_columns", list, []),
        "column_overrides": json_field(fields.get("column_overrides"), "column_overrides", dict, {}),
        "webhooks": webhooks_field(fields.get("webhooks"), policy),
        "user_metadata": metadata_field(fields.get("user_metadata")),
        "epochs": epochs or None,
        "d_model": d_model,
        "seed": int_field(fields.get("seed"), "seed", 0),
        "priority": fields.get("priority") or None,
        "project_id": fields.get("project_id") or None,
        "extra": {k: v for k, v in fields.items() if k not in KNOWN and not hasattr(v, "read")},
    }


def idempotent_session(svc: Service, key: str | None) -> str | None:
    if not key:
        return None
    doc = svc.store.get("idempotency", key)
    if doc and time.time() - float(doc["at"]) < IDEMPOTENCY_WINDOW:
        sid = doc["session_id"]
        return sid if svc.store.get("session", sid) else None
    return None


def create_session(
    svc: Service, df: pd.DataFrame, opts: dict[str, Any], cluster: str, idem_key: str | None, source: str
) -> Doc:
    """Store the table and the session, queue its training; a repeated idempotency key returns the first."""
    with _create_lock:
        existing = idempotent_session(svc, idem_key)
        if existing:
            return creation_response(svc.store.get("session", existing) or {}, [])
        with training_slot(svc):  # 429 quota_exceeded past the training quota, before anything is stored
            return _create(svc, df, opts, cluster, idem_key, source)


def _create(
    svc: Service, df: pd.DataFrame, opts: dict[str, Any], cluster: str, idem_key: str | None, source: str
) -> Doc:
    warnings = _apply_ignore(df, opts["ignore_columns"])
    df = df.drop(columns=[c for c in opts["ignore_columns"] if c in df.columns])
    if df.shape[1] < 2:
        raise bad("after ignore_columns the table has fewer than 2 columns")
    sid = session_id_for(opts["prefix"])
    svc.save_frame(sid, df)
    session = _session_doc(sid, df, opts, cluster, source)
    epochs = opts["epochs"] or auto_fm_epochs(len(df))
    job = new_job(sid, ES_JOB, epochs, name=opts["name"] or sid)
    svc.store.put("job", job["job_id"], job, parent=sid)
    svc.store.put("session", sid, session)
    if idem_key:
        svc.store.put("idempotency", idem_key, {"session_id": sid, "at": time.time()})
    if svc.hooks:
        svc.hooks.note_created(sid)
    if svc.worker:
        svc.worker.submit(job["job_id"])
    return creation_response(session, warnings)


def _apply_ignore(df: pd.DataFrame, ignore: list[Any]) -> list[str]:
    return [f"ignore_columns: {c!r} is not a column of the data" for c in ignore if c not in df.columns]


def _session_doc(sid: str, df: pd.DataFrame, opts: dict[str, Any], cluster: str, source: str) -> Doc:
    return {
        "session_id": sid,
        "name": opts["name"] or sid,
        "session_type": "embedding_space",
        "compute_cluster": cluster,
        "user_metadata": opts["user_metadata"],
        "deletion_protection": False,
        "created_at": now_iso(),
        "started_at": None,
        "finished_at": None,
        "d_model": opts["d_model"],
        "epochs": opts["epochs"],
        "seed": opts["seed"],
        "ignore_columns": opts["ignore_columns"],
        "column_overrides": opts["column_overrides"],
        "webhooks": opts["webhooks"],
        "priority": opts["priority"],
        "project_id": opts["project_id"],
        "column_names": [str(c) for c in df.columns],
        "n_rows": int(df.shape[0]),
        "source": source,
        "extra": opts["extra"],
        "next_predictor_index": 0,
    }


def creation_response(session: Doc, warnings: list[str]) -> Doc:
    out: Doc = {
        "session_id": session.get("session_id"),
        "name": session.get("name"),
        "warnings": warnings,
        "queued": False,
        "queue_position": None,
        "compute_cluster": session.get("compute_cluster"),
        "status": "ready",
    }
    # client.py:create_foundational_model reads session_id, warnings, queued, queue_position and
    # compute_cluster; a retried upload (same X-Featrix-Idempotency-Key) gets the original session_id and
    # says nothing more (no echo of user_metadata, no replay marker: the contract shows neither)
    return out
