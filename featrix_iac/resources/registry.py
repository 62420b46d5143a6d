"""The handler of each kind, by address kind (foundational_model, predictor, endpoint, vector_database)."""

from __future__ import annotations

from featrix_iac.resources.base import Handler
from featrix_iac.resources.endpoint import EndpointHandler
from featrix_iac.resources.foundational_model import FoundationalModelHandler
from featrix_iac.resources.predictor import PredictorHandler
from featrix_iac.resources.vector_database import VectorDatabaseHandler

HANDLERS: dict[str, Handler] = {
    h.kind: h for h in (FoundationalModelHandler(), PredictorHandler(), EndpointHandler(), VectorDatabaseHandler())
}


def handler_for(kind: str) -> Handler:
    try:
        return HANDLERS[kind]
    except KeyError:
        raise KeyError(f"no handler for kind {kind!r}") from None
