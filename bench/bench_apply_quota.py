"""Apply at scale under a training quota: N predictors on a server that answers 429 quota_exceeded past Q trainings.

Run: python bench/bench_apply_quota.py [--predictors 1000] [--fms 10] [--quota 4] [--parallelism 16] [--epochs 200]
     [--fm-epochs N]   (default: --epochs)
The default 200 epochs make each training about 1.7 to 2.3 s on a 2-core machine (the real service's take
minutes); the 1,000-predictor run then takes about 10 minutes. Short trainings (`--epochs 2`: about 45 ms each)
measure the apply's fixed cost per training instead (a poll to notice the end, a create to start the next one:
tens of milliseconds, which no scheduling removes), not how it fills the quota.
A project of --fms foundational models and --predictors predictors spread over them is applied with the
real `featrix apply` against the local server started with FEATRIX_LOCAL_TRAINING_QUOTA=Q (and Q training
workers, so Q trainings can really run at once). Afterwards it reads every training job's started_at and
finished_at from the server and prints:
  - the apply's wall time;
  - the ideal: the sum of the server's job times divided by the quota (the quota kept full all along);
  - wall / ideal (goal <= 1.1: the applier treats 429 as backpressure and keeps the quota busy);
  - the apply's requests, and how many creates the server refused (429 quota_exceeded), from the server's counts.
Asserts nothing but that the apply succeeded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seeding import ServerProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "quickstart" / "data" / "penguins.csv"
TARGETS = [("species", "multi_classifier"), ("sex", "binary_classifier"), ("island", "multi_classifier")]


def manifest(url: str, fms: int, predictors: int, epochs: int, fm_epochs: int | None = None) -> str:
    lines = ["version: 1", "project: bench-quota", f"server: {{url: '{url}'}}", "foundational_models:"]
    fm_epochs = epochs if fm_epochs is None else fm_epochs
    lines += [f"  fm{i}: {{data: data.csv, ignore_columns: [year], epochs: {fm_epochs}}}" for i in range(fms)]
    lines.append("predictors:")
    for j in range(predictors):
        target, kind = TARGETS[j % len(TARGETS)]
        fm = f"fm{j % fms}"
        lines.append(f"  p{j}: {{foundational_model: {fm}, type: {kind}, target_column: {target}, epochs: {epochs}}}")
    return "\n".join(lines) + "\n"


def ts(text: Any) -> float:
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def job_spans(url: str, key: str, root: Path) -> list[tuple[float, float]]:
    import json

    lock = json.loads((root / "featrix.lock").read_text())
    sids = {e["ids"]["session_id"] for e in lock["resources"].values() if e.get("ids", {}).get("session_id")}
    spans = []
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=60) as client:
        for sid in sorted(sids):
            jobs = client.get(f"/compute/session/{sid}").json()["jobs"].values()
            spans += [(ts(j["started_at"]), ts(j["finished_at"])) for j in jobs if j.get("finished_at")]
    return sorted(spans)


def where_the_time_went(spans: list[tuple[float, float]], began: float, ended: float, quota: int) -> list[str]:
    """Lines saying where the wall time beyond the ideal went: before the first training, after the last one,
    and in between the quota's unused slot time (a training's end to the next start on the server)."""
    first, last = spans[0][0], max(f for _, f in spans)
    busy = sum(f - s for s, f in spans)
    starts, ends = sorted(s for s, _ in spans), sorted(f for _, f in spans)
    # once the quota is full, the (quota + i)-th start takes the place the i-th end left: the refill gap
    gaps = sorted(max(0.0, s - f) for s, f in zip(starts[quota:], ends, strict=False))
    mid = gaps[len(gaps) // 2] if gaps else 0.0
    return [
        f"  before the first training:     {first - began:8.1f} s (interpreter, load, plan, first creates)",
        f"  after the last training:       {ended - last:8.1f} s (last poll, lockfile, exit)",
        f"  slots used while training:     {busy / ((last - first) * quota):8.2f}   (sum of job times / (quota * span))",
        f"  a training's end to the start taking its place: median {mid:.2f} s, mean {sum(gaps) / max(1, len(gaps)):.2f} s",
    ]


def request_counts(url: str, key: str) -> dict[str, int]:
    """Every request the server saw by "METHOD status" (test hooks' counts, not only the log's last 2000)."""
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=60) as client:
        counts: dict[str, int] = client.get("/__test__/requests").json()["counts"]
    return counts


def requests_line(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    gets = sum(n for k, n in counts.items() if k.startswith("GET "))
    return f"  requests of the apply:         {total} ({gets} GET, {total - gets} other)"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--predictors", type=int, default=1000)
    ap.add_argument("--fms", type=int, default=10)
    ap.add_argument("--quota", type=int, default=4)
    ap.add_argument("--parallelism", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=200, help="each predictor's epochs (200: trainings of about 2 s)")
    ap.add_argument("--fm-epochs", type=int, default=None, help="the foundational models' epochs (default: --epochs)")
    args = ap.parse_args()
    from featrix_iac.server.keys import generate_account_key

    key = generate_account_key()
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        shutil.copy(DATA, root / "data.csv")
        os.environ.update(FEATRIX_LOCAL_TRAINING_QUOTA=str(args.quota), FEATRIX_LOCAL_WORKERS=str(args.quota))
        with ServerProcess(Path(tmp) / "server", key, 0, "--enable-test-hooks") as srv:
            (root / "featrix.yaml").write_text(
                manifest(srv.url, args.fms, args.predictors, args.epochs, args.fm_epochs)
            )
            env = {**os.environ, "FEATRIX_API_KEY": key, "NO_COLOR": "1"}
            httpx.delete(srv.url + "/__test__/requests", headers={"X-Api-Key": key}, timeout=60)
            cmd = [sys.executable, "-m", "featrix_iac", "-C", str(root), "apply", "--auto-approve"]
            start, began = time.perf_counter(), time.time()
            r = subprocess.run([*cmd, "--parallelism", str(args.parallelism)], capture_output=True, text=True, env=env)
            wall, ended = time.perf_counter() - start, time.time()
            if r.returncode != 0:
                print(r.stdout[-3000:], r.stderr[-3000:])
                raise SystemExit(f"featrix apply -> {r.returncode}")
            counts = request_counts(srv.url, key)  # before the bench's own reads below
            jobs = job_spans(srv.url, key, root)
            spans = [f - s for s, f in jobs]
    ideal = sum(spans) / args.quota
    print(
        f"{args.fms} foundational models + {args.predictors} predictors, quota {args.quota}, parallelism {args.parallelism}"
    )
    print(f"  trainings on the server:       {len(spans)} (sum of job times {sum(spans):.1f} s)")
    print(f"  apply wall time:               {wall:8.1f} s")
    print(f"  ideal (sum / quota):           {ideal:8.1f} s")
    print(f"  wall / ideal:                  {wall / ideal:8.2f}   (goal <= 1.1)")
    print("\n".join(where_the_time_went(jobs, began, ended, args.quota)))
    print(requests_line(counts))
    print(f"  429 quota_exceeded answers:    {sum(n for k, n in counts.items() if k.endswith(' 429'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
