"""The session document (§2.3) as JSON bytes, rebuilt from the parts of it that changed since the last one.

A waiter polls `GET /compute/session/{id}` every fraction of a second, and a session of 100 predictors is
a document of about 230 KB. Building its job views and plan entries and serialising them cost the server
about 1.5 ms of CPU a poll, while a training writes only its own job's progress (every 0.1 s). Each job's
view and plan entry are kept as JSON with the documents they were made from, and made again only when
one of those is no longer the same object: `Store.list_shared` hands out the same dict for as long as the
stored text is unchanged, and the parts hold their documents, so an identity can never be reused by
another document while it is compared.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from featrix_iac.server.http.documents import in_plan, job_view, plan_entry, session_fields
from featrix_iac.server.service import Service
from featrix_iac.server.store import Doc

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
BYTES_KEPT = 32 << 20  # JSON kept for all sessions; the least recently served sessions' parts go first


def dump(value: Any) -> bytes:
    """JSON as the routes answer a dict (FastAPI through pydantic: compact, NaN and infinities as null)."""
    return _JSON.dump_json(value)


@dataclass(frozen=True)
class _Part:
    """One job's share of the document, with the documents it was made from."""

    job: Doc
    pred: Doc | None
    name: Any  # the session's name (a plan entry's fallback name)
    view: bytes  # `"<job_id>":{...}` in `jobs`
    entry: bytes  # its `job_plan` entry


class SessionViews:
    """Per session, the parts of the last document served (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, tuple[int, dict[str, _Part]]] = {}  # session -> (bytes of JSON, parts by job id)
        self._bytes = 0

    def document(self, session: Doc, jobs: list[Doc], preds: list[Doc]) -> bytes:
        """`{"session": {..., "job_plan": [...]}, "jobs": {...}, "job_plan": [...]}`, the session's document."""
        sid, name = session["session_id"], session.get("name")
        by_pid = {p["predictor_id"]: p for p in preds}
        with self._lock:
            size, kept = self._parts.pop(sid, (0, {}))
            self._bytes -= size
        parts: dict[str, _Part] = {}
        for job in jobs:
            pred = by_pid.get(job["predictor_id"]) if job.get("predictor_id") else None
            part = kept.get(job["job_id"])
            if part is None or part.job is not job or part.pred is not pred or part.name != name:
                view = dump(job["job_id"]) + b":" + dump(job_view(job))
                part = _Part(job, pred, name, view, dump(plan_entry(session, job, pred)))
            parts[job["job_id"]] = part
        size = sum(len(p.view) + len(p.entry) for p in parts.values())
        with self._lock:
            self._parts[sid] = (size, parts)
            self._bytes += size
            while self._bytes > BYTES_KEPT and len(self._parts) > 1:
                self._bytes -= self._parts.pop(next(iter(self._parts)))[0]
        ordered = [parts[job["job_id"]] for job in jobs]
        plan = b"[" + b",".join(p.entry for p, kept_ in zip(ordered, in_plan(jobs), strict=True) if kept_) + b"]"
        fields = dump(session_fields(session, jobs, preds))  # a non-empty object: `{...}`
        return b"".join(
            (
                b'{"session":',
                fields[:-1],
                b',"job_plan":',
                plan,
                b'},"jobs":{',
                b",".join(p.view for p in ordered),
                b'},"job_plan":',
                plan,
                b"}",
            )
        )


_VIEWS: weakref.WeakKeyDictionary[Service, SessionViews] = weakref.WeakKeyDictionary()
_VIEWS_LOCK = threading.Lock()


def session_document(svc: Service, session: Doc) -> bytes:
    """The session's document, from its jobs and predictors read through the store's shared decoding."""
    sid = session["session_id"]
    with _VIEWS_LOCK:
        views = _VIEWS.get(svc)
        if views is None:
            views = _VIEWS[svc] = SessionViews()
    # read only here: shared, not decoded again while unchanged (and so the same objects the parts hold)
    return views.document(session, svc.store.list_shared("job", sid), svc.store.list_shared("predictor", sid))
