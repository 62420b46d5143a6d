"""Which endpoints serve (or shadow) a predictor living in a given session, read from the server.

An endpoint names its predictors only (`serving_predictor_id`, `plan.shadows[].neural_function_id`:
api_endpoint.py:APIEndpoint.from_response); which session a predictor lives in comes from the session
document's training records (foundational_model.py:FoundationalModel.list_predictors).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from featrix_iac.client import FeatrixClient
from featrix_iac.resources.base import get_confirmed, get_list, malformed
from featrix_iac.resources.common import cannot_confirm_absence, session_check
from featrix_iac.resources.predictor import training_records


@dataclass(frozen=True)
class Served:
    """An endpoint that answers with (role "serves") or mirrors traffic to (role "shadows") a predictor."""

    endpoint_id: str
    name: str
    predictor_id: str
    role: str


def served_in(client: FeatrixClient, session_ids: Iterable[str]) -> dict[str, list[Served]]:
    """{session id: endpoints serving or shadowing a predictor of that session}; a session gone from the server
    (404, confirmed) serves nothing. One GET per session and one GET /endpoints, only when sessions are asked."""
    predictors: dict[str, str] = {}  # predictor id -> its session
    for sid in sorted(set(session_ids)):
        doc = get_confirmed(client, f"/compute/session/{sid}", check=session_check(sid))
        if doc is None:
            continue
        reason = cannot_confirm_absence(doc)
        if reason:  # which predictors it holds is unknown: never guess that nothing is served
            raise malformed(f"/compute/session/{sid}", f"{reason} does not list the session's predictors")
        predictors.update({r["predictor_id"]: sid for r in training_records(doc) if r["predictor_id"]})
    out: dict[str, list[Served]] = {}
    if not predictors:
        return out
    for doc in get_list(client, "/endpoints", "endpoints"):
        if not isinstance(doc, dict) or not doc.get("id"):
            continue
        for pid, role in _uses(doc):
            if pid in predictors:
                served = Served(str(doc["id"]), str(doc.get("name") or ""), pid, role)
                out.setdefault(predictors[pid], []).append(served)
    return out


def _uses(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(predictor id, role) of an endpoint object: its serving predictor and its shadows."""
    out = [(str(doc["serving_predictor_id"]), "serves")] if doc.get("serving_predictor_id") else []
    plan = doc.get("plan")
    plan = plan if isinstance(plan, dict) else {}
    for shadow in plan.get("shadows") or []:
        if isinstance(shadow, dict) and shadow.get("neural_function_id"):
            out.append((str(shadow["neural_function_id"]), "shadows"))
    return out
