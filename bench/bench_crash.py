"""The big crash run: SIGKILL featrix at random moments of create / replace / rotate / destroy, then re-run it.

Run: python bench/bench_crash.py [--runs 100] [--max-delay 8] [--seed 1] [--fm-epochs 30]
                                 [--scenarios create,replace,rotate,destroy]
Each run: a fresh project on one local server; a scenario picked at random:
  create   `apply` of the quickstart, killed 0 .. max-delay s after its first step (upload, training, lockfile writes);
  replace  the quickstart applied, its foundational model's epochs changed, the replacement cascade killed likewise;
  rotate   the quickstart applied, the endpoint's key rotation (slowed by 300 ms) killed while in flight;
  destroy  the quickstart applied, `destroy` killed in its first half second.
Then the same command runs again, and the run is measured:
  converged        the re-run succeeded and ended where it should: an empty next plan and exactly the
                   quickstart on the server (destroy: an empty lockfile);
  leaks            objects of the project on the server that the lockfile does not record (after destroy: any);
  duplicates       two live objects for one address;
  unreadable keys  lockfile secrets the lock key does not open, or endpoint keys the endpoint refuses.
Prints one line per run and the totals per scenario; exits 1 unless every run converged with nothing else found.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "robustness"), str(REPO / "tests")]  # robust_helpers needs repo_files

from crash import SCENARIOS, ScenarioOutcome, kill_point, run_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--max-delay", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fm-epochs", type=int, default=30)
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of " + ", ".join(SCENARIOS)
    )
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    from featrix_iac.server.embedded import start_local_server

    rng = random.Random(args.seed)
    outcomes: list[ScenarioOutcome] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, start_local_server(Path(tmp) / "server", test_hooks=True) as srv:
        for i in range(args.runs):
            scenario = rng.choice(scenarios)
            point = kill_point(scenario, rng, args.max_delay)
            point.name = f"run {i} {point.name} {point.delay}"
            out = run_scenario(srv, Path(tmp), scenario, point, fm_epochs=args.fm_epochs)
            outcomes.append(out)
            last = out.output_before_kill.strip().splitlines()[-1:] or ["(nothing printed)"]
            found = out.leaks + out.duplicates + out.unreadable_keys
            verdict = "ok" if out.converged and not found else "BROKEN"
            print(
                f"run {i:3d} {scenario:8s} kill +{point.delay:4.2f}s {'killed' if out.killed else 'finished first'}; "
                f"last line {last[0][:60]!r} -> {verdict}",
                flush=True,
            )
            for line in [
                *out.problems,
                *(f"leak: {x}" for x in out.leaks),
                *(f"duplicate: {x}" for x in out.duplicates),
            ]:
                print("      " + line.replace("\n", "\n      "))
            for line in out.unreadable_keys:
                print("      unreadable key: " + line)
    print(f"\n{len(outcomes)} runs in {time.perf_counter() - start:.0f} s (seed {args.seed}):")
    print(
        f"{'scenario':10s} {'runs':>5s} {'killed':>7s} {'converged':>10s} {'leaks':>6s} {'duplicates':>11s} {'unreadable keys':>16s}"
    )
    rows = sorted(Counter(o.scenario for o in outcomes))
    for name in [*rows, "total"]:
        group = [o for o in outcomes if name in ("total", o.scenario)]
        print(
            f"{name:10s} {len(group):5d} {sum(o.killed for o in group):7d} {sum(o.converged for o in group):10d} "
            f"{sum(len(o.leaks) for o in group):6d} {sum(len(o.duplicates) for o in group):11d} "
            f"{sum(len(o.unreadable_keys) for o in group):16d}"
        )
    broken = [o for o in outcomes if not o.converged or o.leaks or o.duplicates or o.unreadable_keys]
    raise SystemExit(1 if broken else 0)


if __name__ == "__main__":
    main()
