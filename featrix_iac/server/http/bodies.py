"""Request-body contracts as data: the keys and JSON types the official client sends per route; the rest is a 422.

Each entry cites the function of the official featrixsphere 2.0.13460 client that builds the body. A `fixed`
body is built from a closed set of keys there (no **kwargs pass-through), so any other key can only come from
a client that drifted from the real service: it is refused with 422. Routes whose client function forwards
**kwargs are not fixed, but the keys it does name keep their types (e.g. `epochs` is an int in the JSON
create, never a string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

JSON = object  # any JSON value
Types = dict[str, tuple[type, ...]]
S, N, B, D, L = (str,), (int,), (bool,), (dict,), (list,)


@dataclass(frozen=True)
class Body:
    """The keys a route takes, with their JSON types; `fixed`: no other key is accepted."""

    keys: Types
    cite: str
    fixed: bool = True
    never: frozenset[str] = frozenset()  # keys the client function takes itself and never forwards here


SESSION = "/compute/session/{sid}"
VDB = SESSION + "/vector_databases/{name}"
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/endpoints"): Body(
        {"name": S, "predictor_id": S, "session_id": S, "api_key": S, "description": S},
        "api/predictor.py:Predictor.create_api_endpoint",
    ),
    ("POST", "/endpoints/{eid}/shadow"): Body(
        {"predictor_id": S, "session_id": S, "target_column": S}, "api/api_endpoint.py:APIEndpoint.shadow"
    ),
    ("POST", "/endpoints/{eid}/promote"): Body({"neural_function_id": S}, "api/api_endpoint.py:APIEndpoint.promote"),
    ("POST", "/endpoints/{eid}/stop_shadowing"): Body(
        {"neural_function_id": S}, "api/api_endpoint.py:APIEndpoint.stop_shadowing"
    ),
    ("POST", "/endpoints/{eid}/regenerate_key"): Body({}, "api/api_endpoint.py:APIEndpoint.regenerate_api_key"),
    ("POST", "/endpoints/{eid}/revoke_key"): Body({}, "api/api_endpoint.py:APIEndpoint.revoke_api_key"),
    ("POST", "/endpoint/{eid}/predict"): Body({"query_record": D}, "api/api_endpoint.py:APIEndpoint.predict"),
    ("POST", SESSION + "/publish"): Body({"name": S}, "api/foundational_model.py:FoundationalModel.publish"),
    ("POST", SESSION + "/unpublish"): Body({}, "api/foundational_model.py:FoundationalModel.unpublish"),
    ("POST", SESSION + "/deprecate"): Body(
        {"warning_message": S, "expiration_date": S}, "api/foundational_model.py:FoundationalModel.deprecate"
    ),
    ("POST", SESSION + "/deletion_protection"): Body(
        {"protected": B}, "api/foundational_model.py:FoundationalModel.set_deletion_protection"
    ),
    ("POST", SESSION + "/mark_for_deletion"): Body({}, "api/foundational_model.py:FoundationalModel.delete"),
    ("POST", SESSION + "/cancel"): Body({"reason": S}, "api/foundational_model.py:FoundationalModel.cancel"),
    ("POST", SESSION + "/clone_embedding_space"): Body(
        {"to_compute": S + (type(None),), "new_session_name": S + (type(None),)},
        "api/foundational_model.py:FoundationalModel.clone",
    ),
    ("POST", SESSION + "/publish_partial_foundation"): Body(
        {"name": S, "publish": B, "checkpoint_epoch": N, "session_name_prefix": S, "org_id": S},
        "api/foundational_model.py:FoundationalModel.publish_checkpoint",
    ),
    ("POST", SESSION + "/encode_records"): Body(
        {"records": L, "intent": S, "representation": S, "expected_missing": L},
        "api/foundational_model.py:FoundationalModel.encode",
    ),
    ("POST", SESSION + "/predictor/{pid}/deletion_protection"): Body(
        {"protected": B}, "api/predictor.py:Predictor.set_deletion_protection"
    ),
    ("POST", SESSION + "/configure_webhooks"): Body(
        {"webhooks": D, "predictor_id": S}, "api/predictor.py:Predictor.configure_webhooks"
    ),
    ("POST", SESSION + "/disable_webhook"): Body(
        {"event_type": S, "predictor_id": S}, "api/predictor.py:Predictor.disable_webhook"
    ),
    ("POST", SESSION + "/predict"): Body(
        {"query_record": D, "predictor_id": S, "best_metric_preference": S, "generate": B},
        "api/predictor.py:Predictor.predict",
    ),
    ("POST", "/session/{sid}/predict"): Body(
        {"query_record": D, "predictor_id": S, "best_metric_preference": S, "generate": B},
        "api/predictor.py:Predictor.predict",
    ),
    ("POST", SESSION + "/predict_table"): Body(
        {"records": L, "predictor_id": S, "best_metric_preference": S, "generate": B},
        "api/predictor.py:Predictor.batch_predict",
    ),
    ("POST", SESSION + "/predict/{uuid}/feedback"): Body(
        {"ground_truth": S, "meta": (JSON,)}, "api/prediction_result.py:PredictionFeedback.send"
    ),
    ("POST", "/compute/prediction/{uuid}/update_label"): Body(
        {"prediction_id": S, "user_label": S}, "api/prediction_result.py:PredictionFeedback.send"
    ),
    ("POST", SESSION + "/vector_databases"): Body(
        {"name": S, "auto_populate": B}, "api/foundational_model.py:FoundationalModel.create_vector_database"
    ),
    ("POST", VDB + "/records"): Body({"records": L}, "api/vector_database.py:VectorDatabase.add_records"),
    ("POST", VDB + "/search"): Body(
        {"query_record": D, "k": N, "include_field_similarity": B, "where": S},
        "api/vector_database.py:VectorDatabase.similarity_search",
    ),
    # **kwargs are forwarded on these two: unknown keys pass, the named ones keep their types
    ("POST", "/compute/create-embedding-space"): Body(
        {
            "name": S,
            "s3_file_data_set_training": S,
            "session_name_prefix": S,
            "ignore_columns": L,
            "column_overrides": D,
            "epochs": N,
            "webhooks": D,
            "user_metadata": S,  # json.dumps(user_metadata) in the JSON create too
            "foundation_mode": B,
            "priority": S,
            "project_id": S,
        },
        "api/client.py:FeatrixSphere._create_foundational_model_s3",
        fixed=False,
        # create_foundational_model sends these only with an upload, never to the URL create
        never=frozenset(
            {
                "time_column",
                "sequential_timestamp_col",
                "sequential_entity_id_col",
                "sequential_window_units",
                "sequential_window_interval",
                "sequential_rolling_windows",
            }
        ),
    ),
    ("POST", SESSION + "/train_predictor"): Body(
        {
            "target_column": S,
            "target_column_type": S,
            "epochs": N,
            "name": S,
            "class_imbalance": D,
            "webhooks": D,
            "allow_null": B,
            "priority": S,
            "keep_duplicates": B,
            "project_id": S,
            "cost_false_positive": (int, float),  # FoundationalModel.create_binary_classifier
            "cost_false_negative": (int, float),
        },
        "api/foundational_model.py:FoundationalModel._create_predictor",
        fixed=False,
    ),
}


# multipart fields of the upload, as FeatrixSphere.create_foundational_model writes them: str(int),
# str(bool).lower(), json.dumps of lists and objects (api/client.py)
FORM_INT = re.compile(r"^-?[0-9]+$")
UPLOAD_FORM: dict[str, tuple[str, Any]] = {
    "epochs": ("an integer such as 8", FORM_INT.match),
    "n_rows": ("an integer", FORM_INT.match),
    "n_cols": ("an integer", FORM_INT.match),
    "sequential_window_interval": ("an integer", FORM_INT.match),
    "foundation_mode": ('"true" or "false"', lambda v: v in ("true", "false")),
    "ignore_columns": ("a JSON array", lambda v: isinstance(_loads(v), list)),
    "sequential_rolling_windows": ("a JSON array", lambda v: isinstance(_loads(v), list)),
    "column_overrides": ("a JSON object", lambda v: isinstance(_loads(v), dict)),
    "webhooks": ("a JSON object", lambda v: isinstance(_loads(v), dict)),
    "user_metadata": ("a JSON object", lambda v: isinstance(_loads(v), dict)),
}


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def check_upload_form(fields: dict[str, str]) -> None:
    """422 for a multipart field written otherwise than the official client writes it ("True", "8.0", ...)."""
    found = [
        f"{k} must be {what}, got {fields[k]!r}"
        for k, (what, ok) in UPLOAD_FORM.items()
        if k in fields and not ok(fields[k])
    ]
    if found:
        raise HTTPException(
            status_code=422,
            detail=f"{'; '.join(found)} (per the official client's api/client.py:create_foundational_model)",
        )


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}
    names[type(None)] = "null"
    return " or ".join(names.get(t, "any") for t in types)


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    if JSON in types:
        return True
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not an integer
    return isinstance(value, types)


def problems(body: dict[str, Any], spec: Body) -> list[str]:
    """What is wrong with `body` under `spec`: unknown keys (fixed bodies) and wrongly typed values."""
    out = []
    sent_never = sorted(set(body) & spec.never)
    if sent_never:
        out.append(f"field(s) {', '.join(sent_never)} are not taken by this route")
    if spec.fixed:
        unknown = sorted(set(body) - set(spec.keys))
        if unknown:
            takes = ", ".join(sorted(spec.keys)) or "an empty object"
            out.append(f"unknown field(s) {', '.join(unknown)}: this route takes {takes}")
    for key, types in spec.keys.items():
        if key in body and not _fits(body[key], types):
            out.append(f"{key} must be a JSON {_type_name(types)}, got {type(body[key]).__name__}")
    return out


async def check_body(request: Request) -> None:
    """A dependency of every route: 422 when a listed route's JSON body breaks its contract."""
    route = request.scope.get("route")
    spec = BODIES.get((request.method, getattr(route, "path", "")))
    if spec is None or "json" not in request.headers.get("content-type", "json"):
        return
    from featrix_iac.server.http.request import json_body

    found = problems(await json_body(request), spec)
    if found:
        raise HTTPException(status_code=422, detail=f"{'; '.join(found)} (per the official client's {spec.cite})")
