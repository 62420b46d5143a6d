"""Foundational-model routes: create (upload / URL), the session document, listings, columns, metrics, model card."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from featrix_iac.server.http import documents, views
from featrix_iac.server.http.bodies import check_upload_form
from featrix_iac.server.http.request import bad, cluster, json_body, svc
from featrix_iac.server.http.sessions import create_session, parse_options
from featrix_iac.server.ml.tables import BadTable, read_location, read_table
from featrix_iac.server.service import NotFound

router = APIRouter()


@router.post("/compute/upload_with_new_session/")
@router.post("/compute/upload_with_new_session")
async def upload_with_new_session(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if "multipart/form-data" not in ctype:
        raise bad("upload_with_new_session expects multipart/form-data with a 'file' part")
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - a malformed multipart body is a bad request
        raise bad(f"malformed multipart body: {exc}") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise bad("the upload has no 'file' part")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    check_upload_form(fields)
    s = svc(request)
    opts = parse_options(fields, s.webhooks.policy)
    try:  # the part is a spooled temporary file: read it streaming, never whole into memory
        df = await run_in_threadpool(read_table, upload.filename or "data.csv", upload.file)
    except BadTable as exc:
        raise bad(str(exc)) from exc
    finally:
        await form.close()
    idem = request.headers.get("x-featrix-idempotency-key")
    return await run_in_threadpool(create_session, s, df, opts, cluster(request), idem, upload.filename or "upload")


@router.post("/compute/create-embedding-space")
async def create_embedding_space(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    location = body.get("s3_file_data_set_training") or body.get("data_file") or body.get("url")
    if not location or not isinstance(location, str):
        raise bad("s3_file_data_set_training (a file:// URL or a local path) is required")
    opts = parse_options(body, svc(request).webhooks.policy)
    try:
        df = await run_in_threadpool(read_location, location)
    except BadTable as exc:
        raise bad(str(exc)) from exc
    idem = request.headers.get("x-featrix-idempotency-key")
    return await run_in_threadpool(create_session, svc(request), df, opts, cluster(request), idem, location)


@router.get("/compute/session/{sid}", response_model=None)
async def get_session(sid: str, request: Request) -> Response:
    s = svc(request)
    session = s.session(sid)
    queued = float(session.get("queued_404_until") or 0) > time.time()
    if queued and any(j.get("pending_predictor") for j in s.jobs(sid)):
        # while a training is queued "GET .../session/<id> legitimately 404s" (foundational_model.py
        # `_wait_for_queued_predictor`): the session is on no node yet
        raise NotFound(f"session {sid} not found")
    return Response(views.session_document(s, session), media_type="application/json")


def _listed(request: Request) -> list[dict[str, Any]]:
    s = svc(request)
    node = request.headers.get("x-featrix-node")
    out = []
    for doc in s.store.list("session"):
        if doc.get("marked_for_deletion") or (node and doc.get("compute_cluster") != node):
            continue
        if s.hooks and s.hooks.hidden_from_lists(doc["session_id"]):
            continue
        out.append(doc)
    return out


@router.get("/compute/sessions-for-org")
async def sessions_for_org(request: Request, name_prefix: str | None = None) -> dict[str, Any]:
    s = svc(request)
    items = []
    for doc in _listed(request):
        if name_prefix and not (
            str(doc.get("name", "")).startswith(name_prefix) or doc["session_id"].startswith(name_prefix)
        ):
            continue
        items.append(documents.list_item(s, doc))
    return {"sessions": items}


@router.get("/compute/foundational-models")
async def foundational_models(request: Request, name_prefix: str | None = None) -> dict[str, Any]:
    s = svc(request)
    items = []
    for doc in _listed(request):
        if doc.get("session_type") != "embedding_space":
            continue
        if name_prefix and name_prefix not in str(doc.get("name", "")) and name_prefix not in doc["session_id"]:
            continue
        item = documents.list_item(s, doc)
        if item["es_status"] == "done":
            items.append(item)
    return {"models": items}


@router.get("/compute/session/{sid}/columns")
async def session_columns(sid: str, request: Request) -> dict[str, Any]:
    session = svc(request).session(sid)
    names = session.get("column_names") or []
    types = session.get("column_types") or {}
    return {"column_names": names, "columns": names, "column_types": types, "num_columns": len(names)}


@router.get("/compute/predictor/{pid}/columns")
async def predictor_columns(pid: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    pred = s.store.get("predictor", pid)
    if pred is None:
        raise NotFound(f"predictor {pid} not found")
    session = s.session(pred["session_id"])
    types = session.get("column_types") or {}
    cols = [c for c in session.get("column_names") or [] if c != pred["target_column"]]
    return {"columns": [{"name": c, "type": types.get(c)} for c in cols], "target_column": pred["target_column"]}


@router.get("/compute/session/{sid}/training_metrics")
async def training_metrics(
    sid: str, request: Request, predictor_id: str | None = None, target_column: str | None = None
) -> dict[str, Any]:
    from featrix_iac.server.http.metrics import training_metrics_document

    s = svc(request)
    return training_metrics_document(s, s.session(sid), predictor_id, target_column)


@router.get("/compute/session/{sid}/model_card")
async def model_card(sid: str, request: Request) -> dict[str, Any]:
    from featrix_iac.server.http.metrics import model_card_document

    s = svc(request)
    return model_card_document(s, s.session(sid))
