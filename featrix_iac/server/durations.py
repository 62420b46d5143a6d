"""How slow the local server is: publish / shadow job durations, queueing and 404 windows (default short, --realism minutes)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Durations:
    """Timings of the asynchronous parts of the service. Defaults are short but never zero (tests run with them)."""

    # a publish copies the session to the backplane and cloud storage: the official client's docstring measures
    # 432-1546 s (featrixsphere/api/foundational_model.py, FoundationalModel.publish)
    publish_seconds: float = 1.0
    # an endpoint's shadow publishes the predictor through the same machinery (api_endpoint.py, APIEndpoint.shadow)
    shadow_seconds: float = 0.6
    # train_predictor answers {queued: true} without an id when every worker is busy
    # (foundational_model.py, FoundationalModel._create_predictor / _wait_for_queued_predictor)
    queue_when_busy: bool = True
    # while queued "GET .../session/<id> legitimately 404s" (foundational_model.py, _wait_for_queued_predictor):
    # until a worker picks the training up, at most this long
    queued_404_seconds: float = 0.4
    # the organisation's job-queue cap: past this many unfinished trainings, 429 quota_exceeded (0: no cap;
    # server/jobs/quota.py), with Retry-After in seconds
    training_quota: int = 0
    quota_retry_after: int = 2


DEFAULT = Durations()
REALISTIC = Durations(publish_seconds=300.0, shadow_seconds=180.0, queued_404_seconds=20.0)

ENV_REALISM = "FEATRIX_LOCAL_REALISM"
ENV_PUBLISH = "FEATRIX_LOCAL_PUBLISH_SECONDS"
ENV_SHADOW = "FEATRIX_LOCAL_SHADOW_SECONDS"
ENV_QUOTA = "FEATRIX_LOCAL_TRAINING_QUOTA"
ENV_QUEUED_404 = "FEATRIX_LOCAL_QUEUED_404_SECONDS"


def _seconds(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return max(0.05, min(86400.0, float(raw)))
    except ValueError:
        return None


def durations_from_env(realism: bool | None = None) -> Durations:
    """The profile (`realism`, else FEATRIX_LOCAL_REALISM) with FEATRIX_LOCAL_{PUBLISH,SHADOW,QUEUED_404}_SECONDS
    and FEATRIX_LOCAL_TRAINING_QUOTA on top."""
    if realism is None:
        realism = os.environ.get(ENV_REALISM, "") not in ("", "0", "false", "no")
    base = REALISTIC if realism else DEFAULT
    publish, shadow, hidden = _seconds(ENV_PUBLISH), _seconds(ENV_SHADOW), _seconds(ENV_QUEUED_404)
    if publish is not None:
        base = replace(base, publish_seconds=publish)
    if shadow is not None:
        base = replace(base, shadow_seconds=shadow)
    if hidden is not None:
        base = replace(base, queued_404_seconds=hidden)
    quota = os.environ.get(ENV_QUOTA, "").strip()
    if quota.isdigit():
        base = replace(base, training_quota=int(quota))
    return base
