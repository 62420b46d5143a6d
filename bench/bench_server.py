"""Benchmark of the local server: quickstart training time, predict latency p50/p99, throughput, server memory.

Run: python bench/bench_server.py [--requests 500] [--epochs 0]
Prints figures; it asserts nothing (targets: quickstart < 30 s on 2 cores, predict p50 < 20 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from featrix_iac.server.embedded import start_local_server

RECORD = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 15.0,
    "flipper_length_mm": 218.0,
    "body_mass_g": 5200.0,
    "sex": "male",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_quickstart(url: str, key: str, epochs: int) -> tuple[str, str, float]:
    import palmerpenguins

    http = requests.Session()
    http.headers["X-Api-Key"] = key
    csv = palmerpenguins.load_penguins().to_csv(index=False).encode()
    data = {"name": "bench-penguins"} | ({"epochs": str(epochs)} if epochs else {})
    start = time.perf_counter()
    sid = http.post(f"{url}/compute/upload_with_new_session/", files={"file": ("penguins.csv", csv)}, data=data).json()[
        "session_id"
    ]
    pid = ""
    for target, ttype in (("species", "set"), ("sex", "set"), ("body_mass_g", "scalar")):
        body = {"target_column": target, "target_column_type": ttype, "epochs": 0}
        got = http.post(f"{url}/compute/session/{sid}/train_predictor", json=body).json().get("predictor_id")
        pid = pid or got or ""  # a queued training answers without an id (every worker busy)
    while True:
        resp = http.get(f"{url}/compute/session/{sid}")
        if resp.status_code == 404:  # a session with a queued training 404s for a moment
            time.sleep(0.05)
            continue
        doc = resp.json()
        if doc["session"]["status"] in ("done", "failed") and all(
            j["status"] not in ("ready", "running") for j in doc["jobs"].values()
        ):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    print(
        f"quickstart (FM + 3 predictors, {sum(1 for _ in doc['jobs'])} jobs) trained in {elapsed:.2f} s; status {doc['session']['status']}"
    )
    for job in doc["jobs"].values():
        metrics = job.get("metrics") or {}
        extra = {
            k: round(metrics[k], 3)
            for k in ("accuracy", "auc", "f1", "rmse", "mae", "r2")
            if metrics.get(k) is not None
        }
        print(f"  {job['job_type']:<24} {job.get('target_column') or '':<12} epochs {job['total_epochs']:>3}  {extra}")
    return sid, pid, elapsed


def latency(url: str, key: str, sid: str, pid: str, n: int) -> list[float]:
    """Sequential predicts on one keep-alive connection (httpx, as featrix-iac's own client uses)."""
    import httpx

    body = json.dumps({"query_record": RECORD, "predictor_id": pid}).encode()
    headers = {"Content-Type": "application/json", "X-Api-Key": key}
    out = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for _ in range(20):  # warm-up (model load, connection)
            http.post(f"/compute/session/{sid}/predict", content=body)
        for _ in range(n):
            t = time.perf_counter()
            resp = http.post(f"/compute/session/{sid}/predict", content=body)
            out.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, resp.text
    return out


def throughput(url: str, key: str, sid: str, pid: str, n: int, workers: int) -> float:
    """Predictions per second with `workers` concurrent clients sharing a keep-alive pool."""
    import httpx

    body = {"query_record": RECORD, "predictor_id": pid}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30, limits=limits) as http:

        def one(_: int) -> None:
            assert http.post(f"/compute/session/{sid}/predict", json=body).status_code == 200

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(n)))
        return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=0, help="foundational model epochs (0 = server default)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with start_local_server(Path(tmp)) as srv:
            print(f"server started in {time.perf_counter() - t:.2f} s, idle RSS {rss_mb(srv.pid):.0f} MB")
            sid, pid, _ = train_quickstart(srv.url, srv.api_key, args.epochs)
            print(f"RSS after training: {rss_mb(srv.pid):.0f} MB")
            lat = sorted(latency(srv.url, srv.api_key, sid, pid, args.requests))
            p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
            print(
                f"single-record predict over HTTP: p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {statistics.fmean(lat):.2f} ms ({len(lat)} calls)"
            )
            print(f"sequential throughput: {1000 / statistics.fmean(lat):.0f} predictions/s")
            print(
                f"concurrent throughput (8 clients): {throughput(srv.url, srv.api_key, sid, pid, args.requests, 8):.0f} predictions/s"
            )
            print(f"RSS after predictions: {rss_mb(srv.pid):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
