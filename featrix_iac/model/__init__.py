"""Pydantic models of the desired state (what the manifests say, after templating and overlays); no I/O."""

from featrix_iac.model.project import Environment, Project, ServerConfig, StateConfig
from featrix_iac.model.resources import (
    ApiKey,
    Deprecation,
    Endpoint,
    FoundationalModel,
    Lifecycle,
    Predictor,
    PredictorType,
    VectorDatabase,
    Webhooks,
)
from featrix_iac.model.secrets import REDACTED, is_sensitive, redact

__all__ = [
    "REDACTED",
    "ApiKey",
    "Deprecation",
    "Endpoint",
    "Environment",
    "FoundationalModel",
    "Lifecycle",
    "Predictor",
    "PredictorType",
    "Project",
    "ServerConfig",
    "StateConfig",
    "VectorDatabase",
    "Webhooks",
    "is_sensitive",
    "redact",
]
