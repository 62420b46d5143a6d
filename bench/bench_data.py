"""Data-aware plans: cold validate of the quickstart, the cost of a data file's first and cached schema check,
and how far the training estimate falls from the real durations on the local server.

Run: python bench/bench_data.py [--runs N] [--gib 1.0] [--skip-estimate]. Prints figures; targets (2-core
machine): cold validate of the quickstart < 0.4 s; a 1 GiB CSV's first schema check reads < 1 MiB, its
cached check 0 bytes. Not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
sys.path.insert(0, str(ROOT))

from bench_validate import featrix_cmd, wall  # noqa: E402

from featrix_iac.config.data_profile import profile_file  # noqa: E402


def cold_validate(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "quickstart"
        shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".featrix", "featrix*.lock"))
        first = wall([*featrix_cmd(), "validate"], project, 1)[0]  # reads the data's sample, writes the cache
        best, median = wall([*featrix_cmd(), "validate"], project, runs)
        print(f"validate quickstart, first (profile cache empty): {first:.3f} s")
        print(f"validate quickstart, cold process, cached profile:  best {best:.3f} s, median {median:.3f} s")


def big_csv(gib: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        row = "12345,some text value here,3.14159,Gentoo,2024-01-01\n"
        block = row * 20_000
        target = int(gib * (1 << 30))
        with path.open("w") as fh:
            fh.write("id,text,value,label,day\n")
            written = 0
            while written < target:
                fh.write(block)
                written += len(block)
        size = path.stat().st_size
        cache = Path(tmp) / ".featrix"
        start = time.perf_counter()
        first = profile_file(path, cache)
        t_first = time.perf_counter() - start
        start = time.perf_counter()
        again = profile_file(path, cache)
        t_again = time.perf_counter() - start
        print(
            f"{size / (1 << 30):.2f} GiB CSV, first schema check: read {first.bytes_read / (1 << 20):.2f} MiB in {t_first:.3f} s"
        )
        print(
            f"{size / (1 << 30):.2f} GiB CSV, cached schema check: read {again.bytes_read} bytes in {t_again * 1000:.1f} ms"
        )


def estimate_error() -> None:
    """Apply the quickstart (which calibrates), double the epochs, compare the plan's estimates with what apply took."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "quickstart"
        shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".featrix", "featrix*.lock"))
        env = {**os.environ, "NO_COLOR": "1"}
        run = [*featrix_cmd(), "-C", str(project)]

        def featrix(*args: str) -> str:
            r = subprocess.run([*run, *args], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise SystemExit(f"featrix {' '.join(args)} failed:\n{r.stderr}")
            return r.stdout

        print("applying the quickstart (calibrates the estimates) ...")
        featrix("apply", "--auto-approve")
        manifest = project / "featrix.yaml"
        manifest.write_text(manifest.read_text().replace("fm_epochs: 8", "fm_epochs: 16"))
        plan = json.loads(featrix("plan", "--json"))
        estimates = {a["address"]: a["estimate"]["training_seconds"] for a in plan["actions"] if a.get("estimate")}
        featrix("apply", "--auto-approve")
        lock = json.loads((project / "featrix.lock").read_text())["resources"]
        print(f"{'resource':34} {'estimate s':>10} {'actual s':>9} {'error':>7}")
        errors = []
        for address, est in sorted(estimates.items()):
            actual = lock[address]["training"]["seconds"]
            errors.append(abs(est - actual) / max(actual, 1e-9))
            print(f"{address:34} {est:10.1f} {actual:9.1f} {100 * (est - actual) / max(actual, 1e-9):+6.0f}%")
        print(f"mean absolute error of the calibrated estimate: {100 * sum(errors) / len(errors):.0f}%")
        critical = plan["estimate"]["critical_path_seconds"]
        print(f"plan: training ≈ {plan['estimate']['training_seconds']:.0f} s, critical path ≈ {critical:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--skip-estimate", action="store_true")
    args = parser.parse_args()
    cold_validate(args.runs)
    big_csv(args.gib)
    if not args.skip_estimate:
        estimate_error()


if __name__ == "__main__":
    main()
