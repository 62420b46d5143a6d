"""Vector databases: named, per foundational model, cosine similarity over the model's embeddings."""

from __future__ import annotations

import operator
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from featrix_iac.server.http.request import bad, bool_field, int_field, json_body, svc
from featrix_iac.server.jobs.records import es_status
from featrix_iac.server.limits import check_name
from featrix_iac.server.ml.training import load_fm
from featrix_iac.server.service import NotFound, Service, new_id, now_iso
from featrix_iac.server.store import Doc

router = APIRouter()
MAX_BATCH = 10_000
WHERE = re.compile(r"^\s*(\w+)\s*(=|==|!=|>=|<=|>|<)\s*('(?:[^']*)'|\"(?:[^\"]*)\"|[-\w.]+)\s*$")


def _key(sid: str, name: str) -> str:
    return f"{sid}/{name}"


def _vdb(s: Service, sid: str, name: str) -> Doc:
    s.session(sid)
    doc = s.store.get("vdb", _key(sid, name))
    if doc is None:
        raise NotFound(f"vector database {name!r} not found in session {sid}")
    if not doc.get("vdb_id"):  # made by a version that stored vectors under the user's name: start empty
        doc = s.store.update("vdb", _key(sid, name), lambda d: d.update(vdb_id=new_id("vdb_"), record_count=0)) or doc
    return doc


def _public(doc: Doc) -> Doc:
    """The document as the API shows it: the artifact id is the server's own business."""
    return {k: v for k, v in doc.items() if k != "vdb_id"}


def _require_trained(s: Service, session: Doc) -> None:
    if es_status(s, session["session_id"], session) != "done":
        raise HTTPException(status_code=409, detail="the foundational model has not finished training")


def _embed(s: Service, sid: str, records: list[dict[str, Any]]) -> Any:
    import numpy as np

    z = load_fm(s, sid).embed_records(records)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norms == 0, 1.0, norms)


def _artifact(doc: Doc) -> str:
    """Where a vector database's vectors live: named by its server id, never by the user's name."""
    return f"{doc['session_id']}/vdb/{doc['vdb_id']}.pkl"


def _add(s: Service, doc: Doc, records: list[dict[str, Any]]) -> int:
    import numpy as np

    sid, name, rel = doc["session_id"], doc["name"], _artifact(doc)
    try:
        store = s.load_object(rel)
    except FileNotFoundError:
        store = {"records": [], "vectors": np.zeros((0, 0))}
    if records:
        vecs = _embed(s, sid, records)
        old = store["vectors"]
        store = {"records": store["records"] + records, "vectors": vecs if old.size == 0 else np.vstack([old, vecs])}
    s.save_object(rel, store)
    count = len(store["records"])
    s.store.update("vdb", _key(sid, name), lambda d: d.update(record_count=count))
    return count


@router.post("/compute/session/{sid}/vector_databases")
async def create_vdb(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    session = s.session(sid)
    body = await json_body(request)
    name = str(body.get("name") or "default")
    try:
        check_name(name, "vector database name")
    except ValueError as exc:
        raise bad(str(exc)) from None
    auto = bool_field(body.get("auto_populate", True), "auto_populate")
    _require_trained(s, session)
    if s.store.get("vdb", _key(sid, name)):
        raise HTTPException(status_code=409, detail=f"resource-already-exists: vector database {name!r}")
    doc = {
        "name": name,
        "vdb_id": new_id("vdb_"),
        "session_id": sid,
        "record_count": 0,
        "auto_populated": auto,
        "created_at": now_iso(),
    }
    s.store.put("vdb", _key(sid, name), doc, parent=sid)
    records = (
        s.load_frame(sid).astype(object).where(lambda d: d.notna(), None).to_dict(orient="records") if auto else []
    )
    doc["record_count"] = _add(s, doc, records)
    if s.hooks:
        s.hooks.note_created(name)
    return _public(doc)


@router.get("/compute/session/{sid}/vector_databases")
async def list_vdbs(sid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    s.session(sid)
    docs = [d for d in s.store.list("vdb", parent=sid) if not (s.hooks and s.hooks.hidden_from_lists(d["name"]))]
    return {"vector_databases": [_public(d) for d in docs]}


@router.get("/compute/session/{sid}/vector_databases/{name}")
async def get_vdb(sid: str, name: str, request: Request) -> dict[str, Any]:
    return _public(_vdb(svc(request), sid, name))


@router.delete("/compute/session/{sid}/vector_databases/{name}")
async def delete_vdb(sid: str, name: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    doc = _vdb(s, sid, name)
    s.store.delete("vdb", _key(sid, name))
    s.forget_objects(_artifact(doc))
    s.path(_artifact(doc)).unlink(missing_ok=True)
    return {"deleted": True, "name": name}


@router.post("/compute/session/{sid}/vector_databases/{name}/records")
async def add_records(sid: str, name: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    doc = _vdb(s, sid, name)
    body = await json_body(request)
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise bad("records must be a list of objects")
    if len(records) > MAX_BATCH:
        raise bad(f"at most {MAX_BATCH} records per call")
    _check_types(s.session(sid), records)
    count = _add(s, doc, records)
    return {"records_added": len(records), "record_count": count}


def _check_types(session: Doc, records: list[dict[str, Any]]) -> None:
    """422 for a string in a numeric column: the official client sends a DataFrame's typed values
    (vector_database.py:VectorDatabase.add_records), never "47.5" for 47.5."""
    scalar = {c for c, t in (session.get("column_types") or {}).items() if t == "scalar"}
    for i, record in enumerate(records):
        for column, value in record.items():
            if column in scalar and isinstance(value, str):
                raise bad(
                    f"records[{i}].{column}: a number is expected (a numeric column), got the string {value!r}", 422
                )


@router.get("/compute/session/{sid}/vector_databases/{name}/size")
async def vdb_size(sid: str, name: str, request: Request) -> dict[str, Any]:
    doc = _vdb(svc(request), sid, name)
    return {"size": doc.get("record_count", 0), "name": name}


@router.post("/compute/session/{sid}/vector_databases/{name}/search")
async def search(sid: str, name: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    doc = _vdb(s, sid, name)
    body = await json_body(request)
    query = body.get("query_record")
    if not isinstance(query, dict):
        raise bad("query_record must be a JSON object")
    k = int_field(body.get("k"), "k", 10, minimum=1) or 10
    store = s.load_object(_artifact(doc))
    if not store["records"]:
        return {"results": []}
    sims = store["vectors"] @ _embed(s, sid, [query])[0]
    keep = _where(body.get("where"), store["records"])
    order = [int(i) for i in sims.argsort()[::-1] if keep is None or int(i) in keep][:k]
    return {"results": [_result(store["records"][i], float(sims[i]), i, query, body) for i in order]}


def _result(record: Doc, sim: float, index: int, query: Doc, body: Doc) -> Doc:
    out = {
        "id": index,
        "similarity": round(sim, 6),
        "distance": round(1.0 - sim, 6),
        "record": record,
        "original_data": record,
    }
    if body.get("include_field_similarity", True):
        out["field_similarity"] = {c: (1.0 if record.get(c) == v else 0.0) for c, v in query.items() if c in record}
    return out


def _where(expr: Any, records: list[Doc]) -> set[int] | None:
    """A small SQL-like filter: `col op value` joined by AND."""
    if not expr:
        return None
    keep = set(range(len(records)))
    for part in re.split(r"\s+(?i:and)\s+", str(expr)):
        m = WHERE.match(part)
        if not m:
            raise bad(f"where: cannot parse {part!r}; use `column = value` joined by AND")
        col, op, raw = m.groups()
        value: Any = raw[1:-1] if raw[:1] in "'\"" else _num(raw)
        keep &= {i for i, r in enumerate(records) if _cmp(r.get(col), op, value)}
    return keep


def _num(raw: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        return raw


OPS: dict[str, Any] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _cmp(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return False
    try:
        if isinstance(right, float):
            left = float(left)
        return bool(OPS[op](left, right))
    except (TypeError, ValueError):
        return False
