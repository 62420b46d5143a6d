"""No-op plan of a generated project (300, 1,000 and 10,000 resources) against the local server: time, RSS, requests.

Run: python bench/bench_plan.py [--resources 300 1000 10000] [--runs 5] [--profile 25] [--workdir DIR]
Each size is a project of units of 30 resources: a foundational model `fm<i>`, 20 predictors on it
`p<i>_<j>` and 9 endpoints `e<i>_<k>`. Set-up (timed, not a figure): unit 0 is applied for real through
the `featrix` CLI against the local server; the server is stopped, the other units are seeded as copies
of unit 0 through the server's own store and the engine's lockfile store (see bench/seeding.py: fresh
ids, names and tokens, trained artifacts hard-linked), and the server is started again on its port.
Then it measures a no-op plan, an apply of one in-place change (a predictor's deletion protection set,
then lifted: two cold `featrix apply --auto-approve`, wall, CPU and peak RSS), and a plan with the lockfile
moved away (every object found again by its identity, planned as adopt; requests still one list per kind
and one session read per foundational model):
  - in-process `operations.plan` wall time (best and median of --runs, after one untimed plan: a warm
    process), per resource, and the HTTP requests refresh made (client.request_count);
  - a cold `featrix plan --detailed-exitcode` process (what CI pays, interpreter start included): wall
    time and peak RSS; the package's bytecode is compiled first, as an install compiles it.
--profile N prints the N most expensive functions (own time) of one in-process plan (cProfile).
--workdir DIR keeps the projects and servers there and re-uses them on the next run (no set-up).
Targets (issue 16): 1,000 resources <= 0.6 s cold; 10,000 <= 3 s cold with peak RSS <= 300 MB; in process
<= 0.15 ms per resource; requests at the API's floor (they grow with the foundational models, one
session read each, not with predictors or endpoints). Prints figures; asserts only that the plan is a no-op.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seeding import ServerProcess, replicate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "quickstart" / "data" / "penguins.csv"
TARGETS = [("species", "multi_classifier"), ("sex", "binary_classifier"), ("island", "multi_classifier")]
PREDICTORS, ENDPOINTS = 20, 9  # per foundational model: a unit is 30 resources
UNIT = 1 + PREDICTORS + ENDPOINTS


def manifest(url: str, total: int, units: int) -> str:
    lines = ["version: 1", f"project: bench-plan-{total}", f"server: {{url: '{url}'}}", "foundational_models:"]
    lines += [f"  fm{i}: {{data: data.csv, ignore_columns: [year], epochs: 2, name: fm{i}}}" for i in range(units)]
    lines.append("predictors:")
    for i in range(units):
        for j in range(PREDICTORS):
            target, kind = TARGETS[j % len(TARGETS)]
            lines.append(f"  p{i}_{j}: {{foundational_model: fm{i}, type: {kind}, target_column: {target}, epochs: 2}}")
    lines.append("endpoints:")
    lines += [f"  e{i}_{k}: {{predictor: p{i}_{k}}}" for i in range(units) for k in range(ENDPOINTS)]
    return "\n".join(lines) + "\n"


def featrix(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(root), *args], capture_output=True, text=True, env=env
    )


LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
figures = [time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024]
open(sys.argv[1], "w").write(json.dumps([os.waitstatus_to_exitcode(status), *figures]))
"""


def cold_plan(root: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, output) of one `featrix plan --detailed-exitcode` process."""
    return cold_run(root, env, "plan", "--detailed-exitcode")


def cold_run(root: Path, env: dict[str, str], *args: str) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, output) of one `featrix ARGS` process, which must exit 0.

    Started by a small launcher process: a child spawned straight from this process (fork, or vfork as
    posix_spawn does) counts this process's memory in its peak RSS until it execs.
    """
    argv = [sys.executable, "-m", "featrix_iac", "-C", str(root), *args]
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.json"
        r = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(figures), *argv], capture_output=True, text=True, env=env
        )
        code, wall, cpu, rss = json.loads(figures.read_text())
    if code != 0:
        raise SystemExit(f"featrix {' '.join(args)} -> {code}:\n{(r.stdout + r.stderr)[-3000:]}")
    return wall, cpu, rss, r.stdout


def set_up(total: int, units: int, root: Path, server_dir: Path, env: dict[str, str]) -> float:
    """Apply unit 0 for real, then seed units 1..units-1 as copies with the server stopped."""
    start = time.perf_counter()
    root.mkdir(parents=True)
    shutil.copy(DATA, root / "data.csv")
    with ServerProcess(server_dir, env["FEATRIX_API_KEY"]) as srv:
        (root / "featrix.yaml").write_text(manifest(srv.url, total, 1))
        r = featrix(root, env, "apply", "--auto-approve", "--parallelism", "8")
        if r.returncode != 0:
            raise SystemExit(f"set-up apply failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        url = srv.url
    replicate(server_dir, root, units - 1)
    (root / "featrix.yaml").write_text(manifest(url, total, units))
    return time.perf_counter() - start


def port_of(root: Path) -> int:
    for line in (root / "featrix.yaml").read_text().splitlines():
        if line.startswith("server:"):
            return urlsplit(line.split("'")[1]).port or 0
    raise SystemExit(f"{root}/featrix.yaml names no server")


def in_process(root: Path, runs: int, total: int) -> tuple[list[float], int, list[float]]:
    from featrix_iac import operations

    walls, requests, cpus = [], 0, []
    operations.plan(root)  # untimed: a process's first plan imports and builds what later ones reuse (cold CLI: below)
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        result = operations.plan(root)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        requests = result.requests
        if result.plan.has_changes():
            raise SystemExit(f"the plan after set-up is not a no-op: {result.plan.summary_line()}")
    return walls, requests, cpus


def apply_one(root: Path, env: dict[str, str]) -> list[tuple[float, float, float, str]]:
    """Two cold `featrix apply --auto-approve` of one in-place change in the large project: deletion protection
    of predictor p0_0 set, then lifted again (the manifest is put back even when an apply fails)."""
    path = root / "featrix.yaml"
    text = path.read_text()
    line = "  p0_0: {foundational_model: fm0,"
    if line not in text:
        raise SystemExit(f"{path} has no line starting {line!r}")
    runs = []
    try:
        path.write_text(text.replace(line, "  p0_0: {deletion_protection: true, foundational_model: fm0,", 1))
        runs.append(cold_run(root, env, "apply", "--auto-approve"))
    finally:
        path.write_text(text)
    runs.append(cold_run(root, env, "apply", "--auto-approve"))
    for *_, out in runs:
        if "1 changed" not in out:
            raise SystemExit(f"the apply of one change did not change one resource:\n{out[-2000:]}")
    return runs


def lost_lockfile(root: Path) -> tuple[float, int, dict[str, int]]:
    """(wall s, requests, actions by type) of one plan with the lockfile moved away: every object is looked
    up by its identity (one list per kind, one session document per foundational model), then restored."""
    from collections import Counter

    from featrix_iac import operations

    lock, aside = root / "featrix.lock", root / "featrix.lock.aside"
    lock.rename(aside)
    try:
        start = time.perf_counter()
        result = operations.plan(root)
        wall = time.perf_counter() - start
    finally:
        aside.rename(lock)
    return wall, result.requests, dict(Counter(a.action.value for a in result.plan.actions))


def profile(root: Path, top: int) -> None:
    from featrix_iac import operations

    prof = cProfile.Profile(time.process_time)
    prof.runcall(operations.plan, root)
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
    print("\n".join("    " + line for line in text.getvalue().splitlines() if line.strip()))


def bench_size(total: int, args: argparse.Namespace, work: Path, api_key: str) -> None:
    units = max(1, round(total / UNIT))
    root, server_dir = work / f"p{total}", work / f"server{total}"
    env = {**os.environ, "FEATRIX_API_KEY": api_key, "NO_COLOR": "1"}
    os.environ["FEATRIX_API_KEY"] = api_key
    setup = None if (root / "featrix.lock").exists() else set_up(total, units, root, server_dir, env)
    with ServerProcess(server_dir, api_key, port_of(root)):
        walls, requests, cpus = in_process(root, args.runs, total)
        cold = [cold_plan(root, env) for _ in range(max(1, args.runs // 2))]
        n = units * UNIT
        kinds = f"{units} foundational models, {units * PREDICTORS} predictors, {units * ENDPOINTS} endpoints"
        print(f"{n} resources ({kinds})")
        if setup is not None:
            print(f"  set-up (apply of one unit + seeding): {setup:7.2f} s")
        best = min(walls)
        print(f"  no-op plan, in process:        best {best:.3f} s, median {statistics.median(walls):.3f} s")
        print(f"                                 {best * 1000 / n:.3f} ms per resource")
        print(f"    its CPU time (this process):  best {min(cpus):.3f} s, {min(cpus) * 1000 / n:.3f} ms per resource")
        wall, cpu = [c[0] for c in cold], [c[1] for c in cold]
        print(f"  no-op plan, cold CLI process:  best {min(wall):.3f} s, median {statistics.median(wall):.3f} s")
        print(f"    its CPU time (user + system): best {min(cpu):.3f} s (the wall time less waiting: server, load)")
        print(f"  peak RSS of the cold plan:     {max(c[2] for c in cold):.0f} MB")
        print(f"  HTTP requests of the refresh:  {requests} ({requests / n:.3f} per resource)")
        one = apply_one(root, env)
        shown = ", ".join(f"{w:.2f} s ({c:.2f} s CPU, {r:.0f} MB)" for w, c, r, _ in one)
        print(f"  apply of one in-place change:  {shown} (cold CLI, wall: set, then lifted)")
        lost_wall, lost_requests, actions = lost_lockfile(root)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))
        print(f"  plan with the lockfile lost:   {lost_wall:.3f} s, {lost_requests} requests; actions: {shown}")
        if args.profile:
            profile(root, args.profile)


def compile_package() -> None:
    """Compile the package's bytecode, as installing it does (pip compiles every module). A checkout run with
    PYTHONDONTWRITEBYTECODE set (this machine sets it) never caches it, so each cold process would compile about
    90 modules from source again (about 0.1 s), which no installed featrix pays."""
    import compileall

    compileall.compile_dir(REPO / "featrix_iac", quiet=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[300, 1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from featrix_iac.server.keys import generate_account_key

    compile_package()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        key_file = work / "account.key"
        if not key_file.exists():
            key_file.write_text(generate_account_key())
        for total in args.resources:
            bench_size(total, args, work, key_file.read_text().strip())


if __name__ == "__main__":
    main()
