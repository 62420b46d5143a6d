"""client: the httpx client of the Featrix REST API — key resolution, retry policy, typed errors."""

from __future__ import annotations

from featrix_iac.client.config import check_base_url
from featrix_iac.client.errors import (
    AmbiguousResult,
    AuthError,
    ConfigError,
    ConflictError,
    ConnectionFailed,
    FeatrixError,
    NotFoundError,
    QuotaExceeded,
    RequestError,
    ServerError,
    ServerGone,
)
from featrix_iac.client.http import FeatrixClient, RetryEvent
from featrix_iac.client.retry import TRAINING_IN_PROGRESS_STATUSES

__all__ = [
    "TRAINING_IN_PROGRESS_STATUSES",
    "check_base_url",
    "AmbiguousResult",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "ConnectionFailed",
    "FeatrixClient",
    "FeatrixError",
    "NotFoundError",
    "QuotaExceeded",
    "RequestError",
    "RetryEvent",
    "ServerError",
    "ServerGone",
]
