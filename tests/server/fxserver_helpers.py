"""HTTP helpers for the server tests: an account-keyed client and a webhook receiver."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class Api:
    """requests bound to one server and account key; every call returns the Response."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url, self.key = url, key
        self.http = requests.Session()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        out = {"X-Api-Key": self.key} if self.key else {}
        out.update(extra or {})
        return out

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, headers=self.headers(kw.pop("headers", None)), timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, headers=self.headers(kw.pop("headers", None)), timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.url + path, headers=self.headers(kw.pop("headers", None)), timeout=30, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        body = kw.get("json")
        resp = getattr(self, method)(path, **kw)
        for _ in range(100):  # a queued session 404s for a moment (as the official client tolerates)
            if not (resp.status_code == 404 and method == "get" and re.fullmatch(r"/compute/session/[^/]+", path)):
                break
            time.sleep(0.05)
            resp = self.get(path, **kw)
        assert resp.status_code == 200, f"{method.upper()} {path} -> {resp.status_code}: {resp.text}"
        out: dict[str, Any] = resp.json()
        if path.endswith("/train_predictor") and out.get("queued") and not out.get("predictor_id"):
            sid = path.split("/")[-2]
            out["predictor_id"] = self.dequeued(sid, str((body or {}).get("target_column")))
        return out

    def dequeued(self, sid: str, target: str, timeout: float = 60.0) -> str:
        """The id of a queued training once a worker picked it up (the official client's
        `_wait_for_queued_predictor`: the newest train_single_predictor job of that target with an id)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = sorted(self.ok("get", f"/compute/session/{sid}")["jobs"].values(), key=lambda j: j["created_at"])
            mine = [j for j in jobs if j["job_type"] == "train_single_predictor" and j.get("target_column") == target]
            if mine and mine[-1].get("predictor_id"):
                return str(mine[-1]["predictor_id"])
            time.sleep(0.1)
        raise AssertionError(f"the queued training of {target} in {sid} got no predictor id in {timeout}s")

    def upload(self, df: Any, name: str, **fields: Any) -> str:
        data = {"name": name, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}}
        files = {"file": ("data.csv", df.to_csv(index=False).encode())}
        return self.ok("post", "/compute/upload_with_new_session/", files=files, data=data)["session_id"]

    def wait(
        self, sid: str, timeout: float = 60.0, until: tuple[str, ...] = ("done", "failed", "cancelled")
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.ok("get", f"/compute/session/{sid}")
            busy = any(j["status"] in ("ready", "running") for j in doc["jobs"].values())
            if doc["session"]["status"] in until and not busy:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"session {sid} still {doc['session']['status']} after {timeout}s")
            time.sleep(0.1)


class Receiver:
    """A tiny HTTP server that records webhook deliveries (headers and raw body)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1
                    receiver.calls.append(
                        {"path": self.path, "headers": dict(self.headers), "raw": raw, "failed": failing}
                    )
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def delivered(self, path: str, event: str | None = None, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                hits = [c for c in self.calls if c["path"] == path and not c["failed"]]
            hits = [c for c in hits if event is None or json.loads(c["raw"])["event"] == event]
            if hits or time.monotonic() > deadline:
                return hits
            time.sleep(0.05)


def big_table() -> bytes:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{i}": rng.normal(size=60_000) for i in range(8)})
    df["cat"] = rng.choice(list("abcdefg"), size=len(df))
    return df.to_csv(index=False).encode()


def start_long_training(api: Api) -> str:
    """Start a foundational model whose every epoch takes seconds (a 60,000-row table, d_model 128); its session id."""
    files = {"file": ("big.csv", big_table())}
    resp = api.post("/compute/upload_with_new_session/", files=files, data={"epochs": "200", "d_model": "128"})
    assert resp.status_code == 200, resp.text
    sid: str = resp.json()["session_id"]
    deadline = time.monotonic() + 60
    while not any(j["status"] == "running" for j in api.ok("get", f"/compute/session/{sid}")["jobs"].values()):
        assert time.monotonic() < deadline, "the training never started"
        time.sleep(0.1)
    time.sleep(1.0)
    return sid
