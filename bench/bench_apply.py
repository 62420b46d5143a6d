"""Benchmark of the applier: N independent predictors on one foundational model, against the local server.

Run: python bench/bench_apply.py [--predictors 20] [--parallelism 8] [--epochs 5]
Prints the wall time of the apply, the longest single training (server job started_at → finished_at), and
their ratio (target <= 1.2: the applier adds little beyond the longest training). The server trains with a
fixed number of workers, so it also prints the bound that sets (sum of trainings / workers) and the ratio
to it: what the applier itself costs. It asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from featrix_iac.apply import RecordingObserver, apply_plan
from featrix_iac.client import FeatrixClient
from featrix_iac.config import LoadedProject, load_project
from featrix_iac.plan.model import Action, ActionType, Plan
from featrix_iac.plan.steps import decided
from featrix_iac.resources.base import DesiredContext
from featrix_iac.resources.registry import HANDLERS
from featrix_iac.server.embedded import start_local_server
from featrix_iac.state import StateStore

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "quickstart" / "data" / "penguins.csv"
TARGETS = [("species", "multi_classifier"), ("sex", "binary_classifier"), ("island", "multi_classifier")]


def manifest(n: int, epochs: int) -> str:
    lines = [
        "version: 1",
        "project: bench",
        "foundational_models:",
        "  fm: {data: data.csv, ignore_columns: [year], epochs: 3}",
    ]
    lines.append("predictors:")
    for i in range(n):
        target, kind = TARGETS[i % len(TARGETS)]
        lines.append(f"  p{i}: {{foundational_model: fm, type: {kind}, target_column: {target}, epochs: {epochs}}}")
    return "\n".join(lines) + "\n"


def actions(loaded: LoadedProject, store: StateStore, kinds: set[str]) -> list[Action]:
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, store.fingerprint)
    out = []
    for addr, res in loaded.project.resources():
        if addr.kind not in kinds:
            continue
        d = HANDLERS[addr.kind].desired(addr.key, res, ctx)
        deps = [f"foundational_model.{d['foundational_model']}"] if "foundational_model" in d else []
        out.append(Action(address=str(addr), kind=addr.kind, action=ActionType.CREATE, desired=d, depends_on=deps))
    return out


def plan(loaded: LoadedProject, acts: list[Action]) -> Plan:
    return Plan(
        tool_version="bench",
        project="bench",
        environment="default",
        server_url="local",
        lineage="b",
        serial=0,
        actions=acts,
    )


def ts(text: str | None) -> float:
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictors", type=int, default=20)
    ap.add_argument("--parallelism", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="the local server's training workers (FEATRIX_LOCAL_WORKERS, if it reads it)",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    root = tmp / "project"
    root.mkdir()
    shutil.copy(DATA, root / "data.csv")
    (root / "featrix.yaml").write_text(textwrap.dedent(manifest(args.predictors, args.epochs)))
    srv = start_local_server(tmp / "server", env={"FEATRIX_LOCAL_WORKERS": str(args.workers)})
    try:
        loaded = load_project(root)
        store = StateStore(root, "default", project="bench")
        lock = store.load()
        with FeatrixClient(srv.url, srv.api_key) as client:
            res = apply_plan(
                decided(plan(loaded, actions(loaded, store, {"foundational_model"})), lock),
                loaded=loaded,
                client=client,
                store=store,
                lockfile=lock,
            )
            assert not res.failed, res.failed
            obs = RecordingObserver()
            start = time.monotonic()
            res = apply_plan(
                decided(plan(loaded, actions(loaded, store, {"predictor"})), lock),
                loaded=loaded,
                client=client,
                store=store,
                lockfile=lock,
                observer=obs,
                parallelism=args.parallelism,
            )
            wall = time.monotonic() - start
            requests = client.request_count
            sid = lock.entry("foundational_model.fm").ids["session_id"]
            jobs = client.get(f"/compute/session/{sid}")["jobs"].values()
        spans = [
            ts(j["finished_at"]) - ts(j["started_at"]) for j in jobs if j.get("predictor_id") and j.get("finished_at")
        ]
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    longest, total = max(spans), sum(spans)
    bound = max(longest, total / max(1, args.workers))
    print(
        f"predictors applied:            {len(res.done)} done, {len(res.failed)} failed (parallelism {args.parallelism})"
    )
    print(f"apply wall time:               {wall:8.2f} s")
    print(f"longest single training:       {longest:8.2f} s")
    print(
        f"wall / longest training:       {wall / longest:8.2f}   (target <= 1.2 with a server that trains all at once)"
    )
    print(f"server-bound ({args.workers} workers):      {bound:8.2f} s   (sum of trainings {total:.2f} s / workers)")
    print(f"wall / server bound:           {wall / bound:8.2f}   (the applier's own overhead)")
    print(f"HTTP requests (whole run):     {requests}")
    print(f"lockfile writes (serial):      {lock.serial}")
    return 0 if not res.failed else 1


if __name__ == "__main__":
    sys.exit(main())
