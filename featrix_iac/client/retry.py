"""The retry policy of contract §8 as data: an ordered rule table, and one `decide` over it.

Each HTTP outcome (a status with its body, or a transport failure) is matched against RULES, first
match wins; the rule's action says what to do: hand the body back, retry with backoff, wait a long
condition out, raise, or raise AmbiguousResult (sent, outcome unknown). Budgets and delays are here
too, so the client's request loop holds no policy of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

MAX_ATTEMPTS = 5  # attempts for ordinary requests (uploads are limited by time only)
BACKOFF_BASE, BACKOFF_MAX = 2.0, 60.0  # min(2 * 2^(n-1), 60)
RETRY_AFTER_CAP = 120.0
DEFAULT_BUDGET = 120.0  # seconds of retrying for an ordinary request
UPLOAD_TIMEOUT, UPLOAD_BUDGET = 600.0, 1800.0
NODE_UPGRADE_MAX_WAIT, NODE_UPGRADE_DELAY = 20 * 60.0, 15.0
QUOTA_MAX_WAIT, QUOTA_DELAY = 60 * 60.0, 15.0
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
PREDICT_SUFFIXES = ("/predict", "/predict_table", "/light_predict", "/es_predict")
UPLOAD_PATH_MARK = "/upload_with_new_session"
TRAINING_IN_PROGRESS_STATUSES = frozenset(
    {"training_in_progress_no_checkpoint", "training_in_progress", "training_not_started", "no_training_started"}
)


class Action(str, Enum):
    RETURN = "return"  # not an error: give the body to the caller (soft 503)
    RETRY = "retry"  # backoff; counts an attempt; within the request's budget
    WAIT = "wait"  # a long, announced condition (upgrade, full queue): own max wait, attempts not counted
    RAISE = "raise"
    AMBIGUOUS = "ambiguous"  # the request reached the server and must not be re-sent


class Transport(str, Enum):
    CONNECT = "connect"  # never reached the server (connect error / connect or pool timeout)
    WRONG_URL = "wrong_url"  # never reached a server, and retrying cannot help: the host name does not exist,
    #                          or TLS cannot be negotiated (https:// to a plain-http port, a bad certificate)
    READ_TIMEOUT = "read_timeout"  # sent; no answer in time
    DROPPED = "dropped"  # sent (maybe partly); connection broke before an answer


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced, as the rules see it."""

    method: str
    path: str
    once: bool = False
    status: int | None = None
    body: Any = None
    transport: Transport | None = None
    upgrading: bool = False  # a node-upgrade wait is already under way for this request

    @property
    def detail(self) -> str:
        body = self.body
        if not isinstance(body, dict):
            return ""
        value = body.get("detail") or body.get("error") or ""
        if isinstance(value, dict):
            value = value.get("message") or value.get("detail") or ""
        return value if isinstance(value, str) else ""

    @property
    def is_predict(self) -> bool:
        return self.path.rstrip("/").endswith(PREDICT_SUFFIXES)


@dataclass(frozen=True)
class Rule:
    name: str
    when: Callable[[Outcome], bool]
    action: Action
    max_wait: float = 0.0  # WAIT rules: give up after this long
    delay: float = 0.0  # WAIT rules: sleep when the server sends no Retry-After
    refused: bool = False  # the server refused before doing anything: retried even for `once` calls


def _upgrading(o: Outcome) -> bool:
    d = o.detail
    return o.status in (500, 503) and ("NodeUpgradingException" in d or "is currently upgrading" in d)


def _quota(o: Outcome) -> bool:
    return o.status == 429 and isinstance(o.body, dict) and bool(o.body.get("quota_exceeded"))


def training_status(body: Any) -> dict[str, Any] | None:
    """The status dict of a soft-503 "training in progress" body (top level, or legacy under detail)."""
    if not isinstance(body, dict):
        return None
    if body.get("status") in TRAINING_IN_PROGRESS_STATUSES:
        return body
    inner = body.get("detail")
    if isinstance(inner, dict) and inner.get("status") in TRAINING_IN_PROGRESS_STATUSES:
        return inner
    return None


RULES: tuple[Rule, ...] = (
    Rule("auth", lambda o: o.status in (401, 403), Action.RAISE),
    Rule("node_upgrading", _upgrading, Action.WAIT, NODE_UPGRADE_MAX_WAIT, NODE_UPGRADE_DELAY),
    Rule("quota_exceeded", _quota, Action.WAIT, QUOTA_MAX_WAIT, QUOTA_DELAY),
    Rule("training_in_progress", lambda o: o.status == 503 and training_status(o.body) is not None, Action.RETURN),
    Rule(
        "stalled_node_busy", lambda o: o.status == 409 and o.detail == "stalled-node-busy", Action.RETRY, refused=True
    ),
    Rule("transient_status", lambda o: o.status in TRANSIENT_STATUSES, Action.RETRY),
    Rule("wrong_url", lambda o: o.transport is Transport.WRONG_URL, Action.RAISE),  # nothing was sent: fail fast
    Rule(
        "predict_sent_lost", lambda o: o.is_predict and o.transport not in (None, Transport.CONNECT), Action.AMBIGUOUS
    ),
    Rule("sent_once_lost", lambda o: o.once and o.transport not in (None, Transport.CONNECT), Action.AMBIGUOUS),
    Rule(
        "transport_during_upgrade",
        lambda o: o.transport is not None and o.upgrading,
        Action.WAIT,
        NODE_UPGRADE_MAX_WAIT,
        NODE_UPGRADE_DELAY,
    ),
    Rule("connect_error", lambda o: o.transport is Transport.CONNECT, Action.RETRY),
    Rule("transport_error", lambda o: o.transport is not None, Action.RETRY),
    Rule("other", lambda o: True, Action.RAISE),
)


def classify(outcome: Outcome) -> Rule:
    """The first rule that matches an outcome."""
    return next(r for r in RULES if r.when(outcome))


@dataclass(frozen=True)
class Budget:
    """How long one logical request may keep trying."""

    timeout: float  # per attempt
    max_retry_time: float  # total retrying window for RETRY rules
    max_attempts: int | None  # None: limited by time only (uploads)

    @classmethod
    def for_request(cls, path: str, *, upload: bool, timeout: float, max_retry_time: float, once: bool) -> Budget:
        if upload or UPLOAD_PATH_MARK in path:
            return cls(max(timeout, UPLOAD_TIMEOUT), max(max_retry_time, UPLOAD_BUDGET), 1 if once else None)
        return cls(timeout, max_retry_time, 1 if once else MAX_ATTEMPTS)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After as delta seconds, capped; None for absent, non-positive or unparseable values."""
    raw = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if not raw:
        return None
    try:
        secs = float(str(raw).strip())
    except ValueError:
        return None
    return min(secs, RETRY_AFTER_CAP) if secs > 0 else None


def backoff(attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based)."""
    return float(min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_MAX))


@dataclass(frozen=True)
class Decision:
    action: Action  # RETURN, RAISE, AMBIGUOUS, or RETRY/WAIT (then sleep `delay` and go again)
    rule: Rule
    delay: float = 0.0


def decide(
    outcome: Outcome, *, attempt: int, elapsed: float, budget: Budget, retry_after: float | None = None
) -> Decision:
    """What to do after attempt number `attempt` produced `outcome`, `elapsed` seconds into the request."""
    rule = classify(outcome)
    if rule.action is Action.WAIT:
        if elapsed < rule.max_wait:
            return Decision(Action.WAIT, rule, retry_after or rule.delay)
        return Decision(Action.RAISE, rule)
    if rule.action is Action.RETRY:
        limit = MAX_ATTEMPTS if rule.refused else budget.max_attempts  # nothing happened: even a `once` call
        attempts_left = limit is None or attempt < limit
        if attempts_left and elapsed < budget.max_retry_time:
            return Decision(Action.RETRY, rule, retry_after if retry_after is not None else backoff(attempt))
        return Decision(Action.RAISE, rule)
    return Decision(rule.action, rule)
