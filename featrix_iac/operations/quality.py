"""Model-quality drift: each endpoint's live figures (stats, shadow comparisons) against its training metrics.

What the real service exposes, per the official client 2.0.13460 (api/api_endpoint.py):
- `GET /endpoints/{id}` (`APIEndpoint.refresh`): `comparisons[]`, serving vs each shadow on the same labelled
  requests: `paired_with_ground_truth`, `verdict` (shadow_better / shadow_worse / other: undecided),
  `serving{accuracy_rate, mae, r2}`, `delta_ci95`. It is the only live figure of the serving predictor.
- `GET /endpoints/{id}/stats` (`APIEndpoint.get_usage_stats`): `usage_count`, `last_used_at`.
- `GET /session/{sid}/predictor/{pid}/classification_metrics` (api/predictor.py `get_classification_metrics`):
  the predictor's own held-out training metrics (`classification_metrics.accuracy`, or `regression_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.diagnostics import fail
from featrix_iac.model.resources import ENDPOINT, PREDICTOR
from featrix_iac.operations.session import connect, open_session

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient, RetryEvent
    from featrix_iac.state import Lockfile

DEFAULT_TOLERANCE = 0.10  # live may be this much worse than the baseline, relative, before "degraded"
DEFAULT_MIN_PAIRED = 30  # labelled requests a comparison needs before its figure is trusted

# (metric of the baseline, figure of comparisons[].serving, True when higher is better)
ACCURACY = ("accuracy", "accuracy_rate", True)
ERROR = ("mae", "mae", False)


@dataclass(frozen=True)
class QualityResult:
    """One endpoint's model quality: baseline vs live figure, and a verdict (ok / degraded / unknown)."""

    address: str
    verdict: str  # ok | degraded | unknown
    why: str
    metric: str | None = None
    baseline: float | None = None
    live: float | None = None
    paired: int = 0
    usage_count: int | None = None
    last_used_at: str | None = None
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # shadow id, verdict, paired, delta_ci95


def assess_quality(
    root: Path | str,
    env: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    min_paired: int = DEFAULT_MIN_PAIRED,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> list[QualityResult]:
    """Every recorded endpoint's live quality against the serving predictor's training metrics."""
    session = open_session(root, env)
    lock = session.store.load()
    addresses = [a for a in lock.addresses(ENDPOINT.name) if lock.resources[a].status != "retired"]
    if not addresses:
        return []
    sessions = _sessions_of_predictors(lock)
    results = []
    with connect(session.loaded, on_retry=on_retry) as (client, _url):
        for address in addresses:
            eid = lock.resources[address].ids.get("endpoint_id")
            if not eid:
                results.append(QualityResult(address, "unknown", "no endpoint id in the lockfile"))
                continue
            results.append(_assess(client, address, eid, sessions, tolerance, min_paired))
    return results


def _sessions_of_predictors(lock: Lockfile) -> dict[str, str]:
    """predictor id → session id, from every entry's ids and retired ids (the endpoint object the official
    client reads, APIEndpoint.from_response, has no session id: the lockfile knows it)."""
    out: dict[str, str] = {}
    for entry in lock.resources.values():
        for ids in (entry.ids, *entry.retired):
            if ids.get("predictor_id") and ids.get("session_id"):
                out.setdefault(ids["predictor_id"], ids["session_id"])
    return out


def _assess(
    client: FeatrixClient, address: str, eid: str, sessions: dict[str, str], tolerance: float, min_paired: int
) -> QualityResult:
    """One endpoint's result; a server that cannot answer (5xx, 401, malformed) is an error, not a verdict."""
    from featrix_iac.client import FeatrixError

    try:
        return _read_and_judge(client, address, eid, sessions, tolerance, min_paired)
    except FeatrixError as exc:
        raise fail(exc.message, address=address) from None


def _read_and_judge(
    client: FeatrixClient, address: str, eid: str, sessions: dict[str, str], tolerance: float, min_paired: int
) -> QualityResult:
    from featrix_iac.client import NotFoundError

    try:
        doc = client.get(f"/endpoints/{eid}")
        stats = client.get(f"/endpoints/{eid}/stats")
    except NotFoundError:
        return QualityResult(address, "unknown", f"endpoint {eid} is not on the server (see the drift above)")
    usage: dict[str, Any] = {"usage_count": stats.get("usage_count"), "last_used_at": stats.get("last_used_at")}
    comps = [c for c in doc.get("comparisons") or [] if isinstance(c, dict)]
    shown = [
        {k: c.get(k) for k in ("shadow_neural_function_id", "verdict", "paired_with_ground_truth", "delta_ci95")}
        for c in comps
    ]
    baseline = _baseline(client, doc.get("serving_predictor_id"), sessions)
    if isinstance(baseline, str):
        return QualityResult(address, "unknown", baseline, comparisons=shown, **usage)
    (metric, figure, higher), base = baseline
    return judge(address, metric, figure, higher, base, comps, tolerance, min_paired, shown, usage)


def _baseline(client: FeatrixClient, pid: Any, sessions: dict[str, str]) -> tuple[tuple[str, str, bool], float] | str:
    """The serving predictor's held-out training metric (the metrics its gates read), or why there is none."""
    from featrix_iac.client import NotFoundError
    from featrix_iac.resources.registry import handler_for

    if not pid:
        return "the endpoint reports no serving predictor"
    sid = sessions.get(str(pid))
    if not sid:
        return f"the serving predictor {pid} is not recorded in the lockfile: no training metrics to compare with"
    try:
        metrics = handler_for(PREDICTOR.name).metrics(client, {"predictor_id": str(pid), "session_id": sid})
    except NotFoundError:
        return f"no training metrics for the serving predictor {pid}"
    for kind in (ACCURACY, ERROR):
        if kind[0] in metrics:
            return kind, metrics[kind[0]]
    return f"the training metrics of {pid} have neither accuracy nor mae"


def judge(
    address: str,
    metric: str,
    figure: str,
    higher: bool,
    base: float,
    comps: list[dict[str, Any]],
    tolerance: float,
    min_paired: int,
    shown: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
) -> QualityResult:
    """ok / degraded / unknown from the comparisons' serving figure (weighted by paired requests)."""
    extra: dict[str, Any] = {"metric": metric, "baseline": base, "comparisons": shown or [], **(usage or {})}
    scored = [
        (float(c["serving"][figure]), int(c.get("paired_with_ground_truth") or 0))
        for c in comps
        if isinstance(c.get("serving"), dict) and isinstance(c["serving"].get(figure), (int, float))
    ]
    paired = max((n for _, n in scored), default=0)
    if not comps:
        why = "no shadow comparison: the API scores live predictions only against a shadow"
        return QualityResult(address, "unknown", why, **extra)
    if not scored:
        why = f"the shadow comparisons report no serving {figure}"
        return QualityResult(address, "unknown", why, **extra)
    if paired < min_paired:
        why = f"{paired} labelled requests, fewer than the {min_paired} needed"
        return QualityResult(address, "unknown", why, paired=paired, **extra)
    live = next(v for v, n in scored if n == paired)  # the comparison with the most labelled requests
    limit = base * (1 - tolerance) if higher else base * (1 + tolerance)
    worse = live < limit if higher else live > limit
    better_shadow = [c.get("shadow_neural_function_id") for c in comps if c.get("verdict") == "shadow_better"]
    if worse:
        why = f"live {metric} {live:.3g} is worse than {limit:.3g} (training {base:.3g}, tolerance {tolerance:.0%})"
        return QualityResult(address, "degraded", why, live=live, paired=paired, **extra)
    if better_shadow:
        why = f"the shadow {better_shadow[0]} does significantly better than the serving predictor"
        return QualityResult(address, "degraded", why, live=live, paired=paired, **extra)
    why = f"live {metric} {live:.3g} within {tolerance:.0%} of training {base:.3g}"
    return QualityResult(address, "ok", why, live=live, paired=paired, **extra)
