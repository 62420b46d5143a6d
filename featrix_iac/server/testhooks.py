"""Test hooks for reliability tests: fault injection, latency and eventual consistency. OFF unless enabled.

Enable with `featrix server --enable-test-hooks`, env `FEATRIX_LOCAL_TEST_HOOKS=1`, or
`create_app(..., test_hooks=True)` / `start_local_server(..., test_hooks=True)`. When disabled, the
`/__test__/...` routes do not exist (404) and nothing below happens. The admin routes need the account key.

    POST   /__test__/faults         add one rule (body = a rule) or several ({"faults": [rule, ...]})
    GET    /__test__/faults         the active rules, with `remaining` and `hits`
    DELETE /__test__/faults         remove every rule and reset the consistency switches
    POST   /__test__/consistency    {"first_get_404": bool, "stale_list_seconds": float}
    GET    /__test__/requests       the last 2000 requests seen: [{method, path, status, fault, wire}], `wire`
                                    the request's shape (route template, auth, headers, query, JSON types,
                                    multipart fields; no values): see http/wirelog.py; and `counts`, every
                                    request seen by "METHOD status" (not only the last 2000)
    DELETE /__test__/requests       clear that log and the counts

A rule (all fields optional except `route`):

    {"route": "POST /endpoints$",     # "<METHOD> <path regex>" (re.search on the path); METHOD may be *
     "status": 503,                   # answer with this status (omit: no status change)
     "body": {"detail": "stalled-node-busy"},   # JSON body of that answer ({} too; default {"detail": "injected fault"})
     "count": 1,                      # how many matching calls are affected; 0 = every call until reset
     "when": "before",                # before: the route does not run; after: it runs (and commits) first
     "hang_seconds": 0,               # sleep this long before answering (a hang / read timeout); with no
                                      # status or drop, the real answer follows (late) after the sleep
     "drop_connection": false,        # close the TCP connection instead of answering (before or after commit)
     "latency_ms": 0,                 # added latency on every matching call (no status change needed)
     "retry_after": null}             # adds a Retry-After header to the injected answer

Eventual consistency: with `first_get_404`, the first GET whose path contains the id of an object created
afterwards (session, endpoint, vector database) answers 404 once. With `stale_list_seconds` = N, objects
created in the last N seconds are missing from list routes (sessions-for-org, foundational-models,
/endpoints, vector_databases).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultRule:
    route: str
    status: int | None = None
    body: dict[str, Any] | None = None
    count: int = 1
    when: str = "before"
    hang_seconds: float = 0.0
    drop_connection: bool = False
    latency_ms: float = 0.0
    retry_after: float | None = None
    id: int = 0
    hits: int = 0
    method: str = field(default="*", repr=False)
    pattern: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        method, _, path = self.route.strip().partition(" ")
        if not path:
            method, path = "*", method
        try:
            self.method, self.pattern = method.upper(), re.compile(path)
        except re.error as exc:
            raise ValueError(f"route: bad path regex {path!r}: {exc}") from exc
        if self.when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")

    def view(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("method", "pattern")}
        out["remaining"] = None if self.count == 0 else max(0, self.count - self.hits)
        return out


class TestHooks:
    """The switches the gate middleware and the routes consult."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        self.faults: list[FaultRule] = []
        self.first_get_404 = False
        self.stale_list_seconds = 0.0
        self._created: dict[str, float] = {}
        self._pending_404: set[str] = set()
        self.requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self.counts: Counter[str] = (
            Counter()
        )  # "METHOD status" -> requests seen since the log was cleared (all of them)

    def add_fault(self, spec: dict[str, Any]) -> FaultRule:
        allowed = {
            "route",
            "status",
            "body",
            "count",
            "when",
            "hang_seconds",
            "drop_connection",
            "latency_ms",
            "retry_after",
        }
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if not spec.get("route"):
            raise ValueError("route is required, e.g. 'POST /compute/session/[^/]+/train_predictor$'")
        rule = FaultRule(**spec)
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self.faults.append(rule)
        return rule

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.first_get_404, self.stale_list_seconds = False, 0.0
            self._pending_404.clear()

    def match(self, method: str, path: str) -> FaultRule | None:
        """The first active rule for this call; consumes one of its `count`."""
        if path.startswith("/__test__"):
            return None
        with self._lock:
            for rule in self.faults:
                if rule.method not in ("*", method) or not rule.pattern.search(path):
                    continue
                if rule.count and rule.hits >= rule.count:
                    continue
                rule.hits += 1
                return rule
        return None

    def note_created(self, obj_id: str) -> None:
        with self._lock:
            self._created[obj_id] = time.monotonic()
            if self.first_get_404:
                self._pending_404.add(obj_id)

    def consume_first_get(self, method: str, path: str) -> bool:
        if method != "GET" or not self._pending_404:
            return False
        parts = set(path.split("/"))
        with self._lock:
            hit = next((i for i in self._pending_404 if i in parts), None)
            if hit is None:
                return False
            self._pending_404.discard(hit)
            return True

    def hidden_from_lists(self, obj_id: str) -> bool:
        if self.stale_list_seconds <= 0:
            return False
        born = self._created.get(obj_id)
        return born is not None and time.monotonic() - born < self.stale_list_seconds

    def log(self, method: str, path: str, status: int, fault: int | None, wire: dict[str, Any] | None = None) -> None:
        entry = {"method": method, "path": path, "status": status, "fault": fault}
        self.counts[f"{method} {status}"] += 1
        self.requests.append({**entry, "wire": wire} if wire is not None else entry)
