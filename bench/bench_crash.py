"""The big crash run: SIGKILL `featrix apply` of the quickstart at many random moments, then re-run it.

Run: python bench/bench_crash.py [--runs 30] [--max-delay 2.5] [--seed 1] [--fm-epochs 30] [--replacement]
Each run: a fresh project on one local server, `apply --auto-approve` killed after a random delay
(0 .. max-delay s, which spans upload, training waits and lockfile writes), then the checks of
tests/robustness/test_crash.py: the lockfile is valid, the re-run succeeds, the next plan is empty,
and the server holds no duplicate foundational model, predictor or endpoint. Prints one line per run
and a summary; exits 1 if any run broke an invariant.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "robustness"))

from crash import KillPoint, crash_and_recover  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--max-delay", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fm-epochs", type=int, default=30)
    parser.add_argument(
        "--replacement", action="store_true", help="kill a replacement cascade (apply, then change fm_epochs)"
    )
    args = parser.parse_args()
    from featrix_iac.server.embedded import start_local_server

    rng = random.Random(args.seed)
    failures = killed = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, start_local_server(Path(tmp) / "server", test_hooks=True) as srv:
        for i in range(args.runs):
            delay = round(rng.uniform(0.0, args.max_delay), 3)
            point = KillPoint(f"run {i} at {delay}s", None, delay)
            outcome = crash_and_recover(srv, Path(tmp), point, fm_epochs=args.fm_epochs, replacement=args.replacement)
            killed += outcome.killed
            last = outcome.output_before_kill.strip().splitlines()[-1:] or ["(nothing printed)"]
            status = "ok" if not outcome.problems else "BROKEN"
            print(
                f"run {i:3d}: kill at {delay:5.2f}s {'killed' if outcome.killed else 'finished first'}; "
                f"last line: {last[0][:70]!r} -> {status}"
            )
            for problem in outcome.problems:
                print("      " + problem.replace("\n", "\n      "))
            failures += bool(outcome.problems)
    print(
        f"\n{args.runs} runs ({killed} killed mid-apply) in {time.perf_counter() - start:.0f} s: "
        f"{failures} broke an invariant"
    )
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
