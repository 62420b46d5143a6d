"""No-op plan of a generated project (default 300 resources) against the local server: wall time and HTTP requests.

Run: python bench/bench_plan.py [--resources 300 60] [--runs 5]
For each size it generates a project (foundational models, predictors on them, endpoints on the
predictors), applies it once (the set-up, timed but not the figure), then measures a no-op plan:
  - in-process `operations.plan` wall time and the HTTP requests refresh made (client.request_count);
  - a cold `featrix plan --detailed-exitcode` process (what CI pays, interpreter start included).
Targets (issue 5): < 2 s, and requests that grow with the number of kinds, not of resources: compare the
request counts of the sizes. Prints figures; asserts nothing but that the plan is a no-op.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "quickstart" / "data" / "penguins.csv"
TARGETS = [("species", "multi_classifier"), ("sex", "binary_classifier"), ("island", "multi_classifier")]


def shape(total: int) -> tuple[int, int, int]:
    """(foundational models, predictors per model, endpoints) adding up to `total`: 1/30, 2/3, 3/10."""
    fms = max(1, total // 30)
    endpoints = max(1, total * 3 // 10)
    per_fm = max(1, (total - fms - endpoints) // fms)
    return fms, per_fm, total - fms - fms * per_fm


def manifest(url: str, total: int) -> str:
    fms, per_fm, endpoints = shape(total)
    lines = ["version: 1", f"project: bench-plan-{total}", f"server: {{url: '{url}'}}", "foundational_models:"]
    lines += [f"  fm{i}: {{data: data.csv, ignore_columns: [year], epochs: 2, name: fm{i}}}" for i in range(fms)]
    lines.append("predictors:")
    predictors = []
    for i in range(fms):
        for j in range(per_fm):
            target, kind = TARGETS[j % len(TARGETS)]
            predictors.append(f"p{i}_{j}")
            lines.append(f"  p{i}_{j}: {{foundational_model: fm{i}, type: {kind}, target_column: {target}, epochs: 2}}")
    lines.append("endpoints:")
    lines += [f"  e{k}: {{predictor: {predictors[k % len(predictors)]}}}" for k in range(endpoints)]
    return "\n".join(lines) + "\n"


def featrix(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(root), *args], capture_output=True, text=True, env=env
    )


def bench_size(url: str, api_key: str, total: int, runs: int, workdir: Path) -> None:
    from featrix_iac import operations

    root = workdir / f"p{total}"
    root.mkdir()
    shutil.copy(DATA, root / "data.csv")
    (root / "featrix.yaml").write_text(manifest(url, total))
    env = {**os.environ, "FEATRIX_API_KEY": api_key, "NO_COLOR": "1"}
    os.environ["FEATRIX_API_KEY"] = api_key
    start = time.perf_counter()
    r = featrix(root, env, "apply", "--auto-approve", "--parallelism", "16")
    if r.returncode != 0:
        raise SystemExit(f"set-up apply failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    setup = time.perf_counter() - start
    walls, requests = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = operations.plan(root)
        walls.append(time.perf_counter() - start)
        requests.append(result.requests)
        if result.plan.has_changes():
            raise SystemExit(f"the plan after apply is not a no-op: {result.plan.summary_line()}")
    cold = []
    for _ in range(max(1, runs // 2)):
        start = time.perf_counter()
        r = featrix(root, env, "plan", "--detailed-exitcode")
        cold.append(time.perf_counter() - start)
        if r.returncode != 0:
            raise SystemExit(f"featrix plan --detailed-exitcode -> {r.returncode}:\n{r.stdout[-2000:]}{r.stderr}")
    fms, per_fm, endpoints = shape(total)
    print(f"{total} resources ({fms} foundational models, {fms * per_fm} predictors, {endpoints} endpoints)")
    print(f"  set-up apply:                  {setup:7.2f} s")
    print(f"  no-op plan, in process:        best {min(walls):.3f} s, median {statistics.median(walls):.3f} s")
    print(f"  no-op plan, cold CLI process:  best {min(cold):.3f} s, median {statistics.median(cold):.3f} s")
    print(f"  HTTP requests of the refresh:  {requests[0]} ({requests[0] / total:.2f} per resource)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[60, 300])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from featrix_iac.server.embedded import start_local_server

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with start_local_server(work / "server") as srv:
            for total in args.resources:
                bench_size(srv.url, srv.api_key, total, args.runs, work)


if __name__ == "__main__":
    main()
