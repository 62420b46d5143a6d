"""Background webhook delivery: §4.4 payloads, compact JSON, HMAC-SHA256 signatures, retries with backoff.

Compatible with the observed Featrix server module: POST of
`{"event", "timestamp", "foundational_model_id", "predictor_id", "data"}` as compact JSON, headers
`Content-Type: application/json`, `User-Agent: FeatrixSphere-Webhook/1.0` and, when a secret is set,
`X-Featrix-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`. Delivery never blocks training.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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
    not_before: float = 0.0


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
    """One daemon thread draining a queue; failed deliveries are re-queued with exponential backoff."""

    def __init__(self, max_attempts: int = 5, base_delay: float = 0.5, timeout: float = 30.0) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="featrix-webhooks", daemon=True)
        self._thread.start()

    def send(
        self, config: dict[str, Any] | None, event: str, session_id: str, pid: str | None, data: dict[str, Any]
    ) -> None:
        url = (config or {}).get(event)
        if not url:
            return
        body = build_body(event, session_id, pid, data)
        self._queue.put(Delivery(url=str(url), body=body, secret=(config or {}).get(SECRET_KEY) or None))

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            wait = item.not_before - time.monotonic()
            if wait > 0:
                if self._queue.empty():
                    time.sleep(min(wait, 0.2))
                self._queue.put(item)
                continue
            if not self._deliver(item):
                item.attempt += 1
                if item.attempt < self.max_attempts:
                    item.not_before = time.monotonic() + self.base_delay * 2 ** (item.attempt - 1)
                    self._queue.put(item)
                else:
                    log.warning("webhook to %s dropped after %d attempts", item.url, item.attempt)

    def _deliver(self, item: Delivery) -> bool:
        headers = {"Content-Type": "application/json", "User-Agent": "FeatrixSphere-Webhook/1.0"}
        if item.secret:
            headers["X-Featrix-Signature"] = sign(item.secret, item.body)
        req = urllib.request.Request(item.url, data=item.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bool(200 <= resp.status < 300)
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            log.info("webhook to %s failed: %s", item.url, exc)
            return False
