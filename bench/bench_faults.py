"""The full fault matrix: every fault scenario of tests/robustness/test_faults_matrix.py, in isolation, N rounds.

Run: python bench/bench_faults.py [--rounds 1] [--only SUBSTRING] [--retry-scale 0.1] [--random N --seed S]
Each scenario: a fresh quickstart project on one local server (test hooks on), one fault rule (or a
consistency switch), `featrix apply`, a re-run when the scenario allows it, then the checks (the fault
fired, no traceback, valid lockfile, empty re-plan, no duplicate on the server). With --random N, N
random schedules instead (1-4 rules drawn from every scenario's faults, with random counts, sometimes
lagging lists; R8), each allowed one re-run. Prints one line per run with its wall time and a summary;
exits 1 if any run broke an invariant.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "robustness"), str(REPO / "tests")]  # robust_helpers needs repo_files

from test_faults_matrix import NEXT_RUN, SCENARIOS, Scenario, run_scenario  # noqa: E402


def random_schedules(n: int, seed: int) -> list[Scenario]:
    """n schedules of 1-4 fault rules drawn from the matrix (random counts), a third with lagging lists."""
    rng = random.Random(seed)
    pool = [rule for _, faults, _, _ in SCENARIOS for rule in faults]
    out: list[Scenario] = []
    for i in range(n):
        rules = [{**rule, "count": rng.randint(1, 2)} for rule in rng.sample(pool, rng.randint(1, 4))]
        consistency = {"stale_list_seconds": 2} if rng.random() < 0.33 else {}
        out.append((f"random #{i + 1} (seed {seed}): {len(rules)} rules", rules, consistency, NEXT_RUN))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="run the scenarios whose title contains this")
    parser.add_argument("--retry-scale", default="0.1", help="FEATRIX_RETRY_SCALE for the CLI (1 = real waits)")
    parser.add_argument("--random", type=int, default=0, help="run N random fault schedules instead")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from featrix_iac.server.embedded import start_local_server

    chosen = random_schedules(args.random, args.seed) if args.random else [s for s in SCENARIOS if args.only in s[0]]
    failures = runs = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, start_local_server(Path(tmp) / "server", test_hooks=True) as srv:
        for r in range(args.rounds):
            for i, scenario in enumerate(chosen):
                t0 = time.perf_counter()
                problems = run_scenario(
                    srv, Path(tmp) / f"r{r}-s{i}", scenario, retry_scale=args.retry_scale, require_fired=not args.random
                )
                runs += 1
                failures += bool(problems)
                status = "ok" if not problems else "BROKEN: " + problems[0].splitlines()[0]
                print(f"round {r + 1} {scenario[0]:<55} {time.perf_counter() - t0:6.1f}s  {status}", flush=True)
                if problems and args.random:
                    print(f"    schedule: {scenario[1]} consistency: {scenario[2]}")
                for problem in problems:
                    print("    " + problem.replace("\n", "\n    "))
    total = time.perf_counter() - start
    print(f"{runs} scenario runs, {failures} broke an invariant, {total:.0f}s in all")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
