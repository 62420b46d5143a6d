"""API endpoints: named, keyed prediction endpoints with shadows, key rotation, and keyed predict."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from featrix_iac.server.http.comparisons import comparisons, record_prediction
from featrix_iac.server.http.predicting import check_servable, clean_record, customer_metadata, predict_records
from featrix_iac.server.http.request import bad, json_body, svc
from featrix_iac.server.jobs import publishing
from featrix_iac.server.keys import generate_endpoint_key, hash_key, key_matches
from featrix_iac.server.limits import MIN_ENDPOINT_KEY_LENGTH
from featrix_iac.server.service import NotFound, Service, new_id, now_iso
from featrix_iac.server.store import Doc

router = APIRouter()
HIDDEN = {"key_hash", "revoked_at"}
ORG = "local"


def endpoint_view(doc: Doc, request: Request, api_key: str | None = None) -> Doc:
    out = {k: v for k, v in doc.items() if k not in HIDDEN}
    serving = svc(request).store.get("predictor", doc["serving_predictor_id"]) or {}
    out["comparisons"] = comparisons(svc(request), doc, serving.get("target_column_type", "set"))
    out["has_api_key"] = bool(doc.get("key_hash"))
    out["predict_url"] = str(request.base_url).rstrip("/") + f"/endpoint/{doc['id']}/predict"
    if api_key:
        out["api_key"] = api_key
    return out


def _endpoint(s: Service, eid: str) -> Doc:
    doc = s.store.get("endpoint", eid)
    if doc is None:
        raise NotFound(f"endpoint {eid} not found")
    return doc


def _find_predictor(s: Service, pid: str, sid: str | None) -> Doc:
    pred = s.store.get("predictor", pid)
    if pred is None or (sid and pred["session_id"] != sid):
        raise NotFound(f"predictor {pid} not found" + (f" in session {sid}" if sid else ""))
    s.session(pred["session_id"])
    return pred


def _new_endpoint(pred: Doc, body: dict[str, Any], key: str) -> Doc:
    now = now_iso()
    doc: Doc = {
        "id": new_id("ep_"),
        "name": str(body["name"]),
        "description": body.get("description"),
        "target_column": pred["target_column"],
        "session_id": pred["session_id"],
        "serving_predictor_id": pred["predictor_id"],
        "plan": {"shadows": []},
        "comparisons": [],
        "models": [
            {
                "neural_function_id": pred["predictor_id"],
                "session_id": pred["session_id"],
                "role": "serving",
                "attached_at": now,
            }
        ],
        "plan_error": None,
        "key_hash": hash_key(key),
        "api_key_created_at": now,
        "created_at": now,
        "last_used_at": None,
        "usage_count": 0,
        "publishing": None,
        "bound_org_slug": None,
        "bound_model_name": None,
    }
    # Only the fields of the endpoint object (api_endpoint.py:APIEndpoint.from_response) are kept and echoed:
    # the official client sends a fixed body (predictor.py:Predictor.create_api_endpoint, no user_metadata)
    # and reads nothing else back, so nothing the caller adds is stored or returned.
    return doc


@router.post("/endpoints")
async def create_endpoint(request: Request) -> dict[str, Any]:
    s = svc(request)
    body = await json_body(request)
    if not body.get("name") or not body.get("predictor_id"):
        raise bad("name and predictor_id are required")
    pred = _find_predictor(s, str(body["predictor_id"]), body.get("session_id"))
    key = str(body.get("api_key") or generate_endpoint_key())
    if not key.startswith("fx_"):
        raise bad("api_key must start with 'fx_'")
    if len(key) < MIN_ENDPOINT_KEY_LENGTH:
        raise bad(f"api_key must be at least {MIN_ENDPOINT_KEY_LENGTH} characters long")
    doc = _new_endpoint(pred, body, key)
    s.store.put("endpoint", doc["id"], doc)
    if s.hooks:
        s.hooks.note_created(doc["id"])
    return endpoint_view(doc, request, api_key=key)


@router.get("/endpoints")
async def list_endpoints(request: Request) -> dict[str, Any]:
    s = svc(request)
    docs = [d for d in s.store.list("endpoint") if not (s.hooks and s.hooks.hidden_from_lists(d["id"]))]
    return {"endpoints": [endpoint_view(d, request) for d in docs]}


@router.get("/endpoints/{eid}")
async def get_endpoint(eid: str, request: Request) -> dict[str, Any]:
    return endpoint_view(_endpoint(svc(request), eid), request)


@router.delete("/endpoints/{eid}")
async def delete_endpoint(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    _endpoint(s, eid)
    s.store.delete("endpoint", eid)
    return {"deleted": True, "id": eid}


@router.get("/endpoints/{eid}/stats")
async def endpoint_stats(eid: str, request: Request) -> dict[str, Any]:
    doc = _endpoint(svc(request), eid)
    return {
        "endpoint_id": eid,
        "usage_count": doc.get("usage_count") or 0,
        "last_used_at": doc.get("last_used_at"),
        "created_at": doc.get("created_at"),
        "serving_predictor_id": doc.get("serving_predictor_id"),
        "shadow_count": len(doc["plan"]["shadows"]),
        "has_api_key": bool(doc.get("key_hash")),
    }


@router.post("/endpoints/{eid}/regenerate_key")
async def regenerate_key(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    _endpoint(s, eid)
    key = generate_endpoint_key()
    s.store.update(
        "endpoint", eid, lambda d: d.update(key_hash=hash_key(key), api_key_created_at=now_iso(), revoked_at=None)
    )
    return {"api_key": key, "id": eid, "has_api_key": True}


@router.post("/endpoints/{eid}/revoke_key")
async def revoke_key(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    _endpoint(s, eid)
    s.store.update("endpoint", eid, lambda d: d.update(key_hash=None, revoked_at=now_iso()))
    return {"id": eid, "revoked": True, "has_api_key": False}


@router.post("/endpoints/{eid}/shadow")
async def shadow(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    _endpoint(s, eid)
    body = await json_body(request)
    if not body.get("predictor_id"):
        raise bad("predictor_id is required")
    pred = _find_predictor(s, str(body["predictor_id"]), body.get("session_id"))
    publish_name = f"{pred['target_column']}-{pred['predictor_id'][-8:]}"
    # the shadow publishes the predictor (api_endpoint.py `APIEndpoint.shadow`); `name` appears when that lands
    entry = {"neural_function_id": pred["predictor_id"], "org": ORG, "activated_at": None}
    entry["session_id"] = pred["session_id"]

    def apply(d: Doc) -> None:
        d["plan"]["shadows"] = [entry]  # shadow replaces the current shadow
        d["models"].append(
            {
                "neural_function_id": pred["predictor_id"],
                "session_id": pred["session_id"],
                "role": "shadow",
                "attached_at": now_iso(),
            }
        )

    s.store.update("endpoint", eid, apply)
    job = publishing.start(
        s,
        pred["session_id"],
        publish_name,
        seconds=s.durations.shadow_seconds,
        shadow={"endpoint_id": eid, "predictor_id": pred["predictor_id"]},
    )
    return {
        "publish_name": publish_name,
        "job_id": job["job_id"],
        "status": job["status"],
        "neural_function_id": pred["predictor_id"],
    }


@router.post("/endpoints/{eid}/promote")
async def promote(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    doc = _endpoint(s, eid)
    body = await json_body(request)
    nf = body.get("neural_function_id")
    shadows = {sh["neural_function_id"]: sh for sh in doc["plan"]["shadows"]}
    if nf not in shadows:
        raise HTTPException(status_code=409, detail=f"{nf!r} is not a shadow of endpoint {eid}; shadow it first")
    if not shadows[nf].get("name"):
        raise HTTPException(status_code=409, detail=f"the shadow {nf!r} is still publishing; promote it once it lands")
    pred = _find_predictor(s, str(nf), shadows[nf].get("session_id"))

    def apply(d: Doc) -> None:
        old = d["serving_predictor_id"]
        old_session = d["session_id"]
        d.update(serving_predictor_id=nf, session_id=pred["session_id"], target_column=pred["target_column"])
        d["plan"]["shadows"] = [
            {
                "neural_function_id": old,
                "org": ORG,
                "name": f"rollback-{old[-8:]}",
                "activated_at": now_iso(),
                "session_id": old_session,
            }
        ]
        for m in d["models"]:
            m["role"] = (
                "serving"
                if m["neural_function_id"] == nf
                else ("shadow" if m["neural_function_id"] == old else "retired")
            )

    return endpoint_view(s.store.update("endpoint", eid, apply) or doc, request)


@router.post("/endpoints/{eid}/stop_shadowing")
async def stop_shadowing(eid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    doc = _endpoint(s, eid)
    body = await json_body(request)
    nf = body.get("neural_function_id")
    if nf not in {sh["neural_function_id"] for sh in doc["plan"]["shadows"]}:
        raise NotFound(f"{nf!r} is not a shadow of endpoint {eid}")

    def apply(d: Doc) -> None:
        d["plan"]["shadows"] = [sh for sh in d["plan"]["shadows"] if sh["neural_function_id"] != nf]
        for m in d["models"]:
            if m["neural_function_id"] == nf and m["role"] == "shadow":
                m["role"] = "retired"

    return endpoint_view(s.store.update("endpoint", eid, apply) or doc, request)


def _shadow_values(s: Service, doc: Doc, record: dict[str, Any]) -> dict[str, Any]:
    """Shadows see the same record after the serving answer is computed; they never answer."""
    out: dict[str, Any] = {}
    for shadow in doc["plan"]["shadows"]:
        pred = s.store.get("predictor", shadow["neural_function_id"])
        if pred is None or pred.get("status") != "done":
            continue
        try:
            value = predict_records(s, s.session(pred["session_id"]), pred, [record])[0]["prediction"]
        except (NotFound, OSError):
            continue
        out[pred["predictor_id"]] = value
    return out


@router.post("/endpoint/{eid}/predict", response_model=None)
async def endpoint_predict(eid: str, request: Request) -> dict[str, Any] | JSONResponse:
    s = svc(request)
    doc = s.store.get("endpoint", eid)
    if doc is None:
        raise NotFound(f"endpoint {eid} not found")
    if not doc.get("key_hash"):
        return JSONResponse(
            status_code=403,
            content={
                "error": "this endpoint's API key was revoked; regenerate a key",
                "detail": "endpoint key revoked",
            },
        )
    if not key_matches(request.headers.get("x-api-key"), doc["key_hash"]):
        return JSONResponse(status_code=401, content={"error": "invalid endpoint API key"})
    body = await json_body(request)
    record = clean_record(body.get("query_record"))
    customer_metadata(request.headers)
    pred = _find_predictor(s, doc["serving_predictor_id"], doc["session_id"])
    not_ready = check_servable(s, pred)
    if not_ready is not None:
        return not_ready
    result = predict_records(s, s.session(pred["session_id"]), pred, [record])[0]
    result.update(endpoint_id=eid, neural_function_id=pred["predictor_id"])
    record_prediction(s, eid, result, _shadow_values(s, doc, record))
    s.store.update(
        "endpoint", eid, lambda d: d.update(usage_count=int(d.get("usage_count") or 0) + 1, last_used_at=now_iso())
    )
    return result
