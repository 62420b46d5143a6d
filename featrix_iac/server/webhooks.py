"""Background webhook delivery: §4.4 payloads, compact JSON, HMAC-SHA256 signatures, retries with backoff.

Compatible with the observed Featrix server module: POST of
`{"event", "timestamp", "foundational_model_id", "predictor_id", "data"}` as compact JSON, headers
`Content-Type: application/json`, `User-Agent: FeatrixSphere-Webhook/1.0` and, when a secret is set,
`X-Featrix-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`. Delivery never blocks training.

Targets follow a policy (webhook_policy.py), checked when a URL is stored and again, on the resolved
addresses, before each delivery. A pool of threads delivers, each attempt with its own timeout, so a
receiver that hangs delays only its own deliveries.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from featrix_iac.server.webhook_policy import TargetPolicy

log = logging.getLogger("featrix.server.webhooks")

EVENTS = (
    "training_started",
    "training_finished",
    "alert_drift",
    "alert_performance_degradation",
    "alert_error_rate",
    "alert_quota_threshold",
    "prediction_error",
    "usage",
    "batch_job_completed",
)
SECRET_KEY = "webhook_secret"


@dataclass
class Delivery:
    url: str
    body: bytes
    secret: str | None
    attempt: int = 0


def build_body(event: str, session_id: str, predictor_id: str | None, data: dict[str, Any]) -> bytes:
    payload = {
        "event": event,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "foundational_model_id": session_id,
        "predictor_id": predictor_id,
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """A pool of daemon threads over a schedule; failed deliveries are re-scheduled with exponential backoff."""

    def __init__(
        self,
        policy: TargetPolicy | None = None,
        *,
        threads: int = 4,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.policy = policy or TargetPolicy()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._due: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        for i in range(threads):
            threading.Thread(target=self._run, name=f"featrix-webhooks-{i}", daemon=True).start()

    def send(
        self, config: dict[str, Any] | None, event: str, session_id: str, pid: str | None, data: dict[str, Any]
    ) -> None:
        url = (config or {}).get(event)
        if not url:
            return
        body = build_body(event, session_id, pid, data)
        self._schedule(Delivery(url=str(url), body=body, secret=(config or {}).get(SECRET_KEY) or None), 0.0)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _schedule(self, item: Delivery, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), item))
            self._cond.notify()

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._due)[2]
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            refused = self.policy.refusal(item.url, resolve=True)
            if refused:
                log.warning("webhook to %s refused: %s", item.url, refused)
                continue
            if self._deliver(item):
                continue
            item.attempt += 1
            if item.attempt < self.max_attempts:
                self._schedule(item, self.base_delay * 2 ** (item.attempt - 1))
            else:
                log.warning("webhook to %s dropped after %d attempts", item.url, item.attempt)

    def _deliver(self, item: Delivery) -> bool:
        headers = {"Content-Type": "application/json", "User-Agent": "FeatrixSphere-Webhook/1.0"}
        if item.secret:
            headers["X-Featrix-Signature"] = sign(item.secret, item.body)
        req = urllib.request.Request(item.url, data=item.body, headers=headers, method="POST")
        try:
            with _OPENER.open(req, timeout=self.timeout) as resp:
                return bool(200 <= resp.status < 300)
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            log.info("webhook to %s failed: %s", item.url, exc)
            return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead a delivery past the target policy: it counts as a failed delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
