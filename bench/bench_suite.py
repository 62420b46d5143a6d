"""Where the default test suite's time goes: each tests/ directory run alone, one after the other.

Run: python bench/bench_suite.py [--dirs acceptance robustness ...] [--slowest 30]
For each directory it runs `pytest -q -p no:cacheprovider --durations=0 tests/<dir>` (the default selection,
`-m slow` stays deselected) and prints its wall time, the CPU time of pytest and every process it waited
for (servers, CLI runs), the load average before and after (the machine is shared: compare CPU time
across runs, wall time only at equal load), and the outcome; then the slowest tests over all directories.
It asserts nothing. It never runs two directories at once.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (call|setup|teardown)\s+(\S.*)$")
SUMMARY = re.compile(r"^=* ?(\d+ (?:passed|failed|error).*) in [\d.]+s")


def directories() -> list[str]:
    return sorted(p.name for p in (REPO / "tests").iterdir() if p.is_dir() and any(p.rglob("test_*.py")))


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def run(directory: str) -> tuple[float, float, str, str, str, list[tuple[float, str, str]]]:
    """(wall, cpu, load before, load after, pytest's summary, [(seconds, phase, test)])."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before, start = load(), time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", f"tests/{directory}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    durations, summary = [], f"exit {proc.returncode}"
    for line in proc.stdout.splitlines():
        if m := DURATION.match(line):
            durations.append((float(m.group(1)), m.group(2), m.group(3).strip()))
        elif m := SUMMARY.match(line.strip("= ")):
            summary = m.group(1)
    return wall, cpu, load_before, load(), summary, durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", nargs="*", default=None, help="directories under tests/ (default: all)")
    parser.add_argument("--slowest", type=int, default=30, help="how many of the slowest tests to list")
    args = parser.parse_args()
    every: list[tuple[float, str, str]] = []
    total_wall = total_cpu = 0.0
    print(f"{'directory':<14} {'wall s':>8} {'cpu s':>8}  load before/after  outcome", flush=True)
    for directory in args.dirs or directories():
        wall, cpu, load_before, load_after, summary, durations = run(directory)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        every += durations
        print(f"{directory:<14} {wall:8.1f} {cpu:8.1f}  {load_before:>6} / {load_after:<6}    {summary}", flush=True)
    print(f"{'total':<14} {total_wall:8.1f} {total_cpu:8.1f}")
    print(f"\nslowest {args.slowest} (seconds, phase, test):")
    for seconds, phase, test in sorted(every, reverse=True)[: args.slowest]:
        print(f"{seconds:8.2f}  {phase:<8}  {test}")


if __name__ == "__main__":
    main()
