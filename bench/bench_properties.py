"""The long property run: the hypothesis tests of tests/robustness/test_properties_*.py with many more examples.

Run: python bench/bench_properties.py [--scale 1.0] [--seed N] [--only manifests|engine|all] [--no-shrink]
Profile "long" (randomized unless --seed; the CI profile is derandomized and small): about 2,000 mutated
manifests per validate test, 1,000 per plan test, 100 through subprocesses, and 60 random engine histories
(edits x fault schedules x operations, each checked after every step and converged at the end); --scale
multiplies those counts. Prints pytest's report with hypothesis' statistics (examples run, time per
example) and a summary; exits 1 if any property failed. A failure prints the shrunk example: turn it into
an explicit regression test (tests/robustness/test_properties_regressions.py or an @example).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = {
    "manifests": ["tests/robustness/test_properties_manifests.py"],
    "engine": ["tests/robustness/test_properties_engine.py"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the long profile's example counts")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--only", choices=["manifests", "engine", "all"], default="all")
    parser.add_argument(
        "--no-shrink", action="store_true", help="report failures as found (shrinking a history is slow)"
    )
    args = parser.parse_args()
    files = [f for name, fs in FILES.items() if args.only in (name, "all") for f in fs]
    env = os.environ | {"HYPOTHESIS_PROFILE": "long", "FEATRIX_PROPERTY_SCALE": str(args.scale)}
    env["FEATRIX_PROPERTY_NO_SHRINK"] = "1" if args.no_shrink else ""
    cmd = [sys.executable, "-m", "pytest", *files, "-p", "no:cacheprovider", "-q", "--hypothesis-show-statistics"]
    cmd += ["-o", "timeout=0"]  # the long run may take far longer than CI's per-test limit
    if args.seed is not None:
        cmd += ["--hypothesis-seed", str(args.seed)]
    start = time.perf_counter()
    code = subprocess.run(cmd, cwd=REPO, env=env).returncode
    took = time.perf_counter() - start
    verdict = "every property held" if code == 0 else f"FAILED (pytest exit {code}): see the shrunk examples above"
    print(f"\nlong property run ({args.only}, scale {args.scale}) in {took:.0f} s: {verdict}")
    raise SystemExit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
