"""The postgres state backend against the file backend: what a no-op plan pays (one load of a 300-resource
lockfile) and what an apply pays per step (one compare-and-swap write), on a throwaway local PostgreSQL.

Run: python bench/bench_state.py [--resources 300] [--writes 100]. Prints figures; needs the PostgreSQL server
binaries (Debian's postgresql). Not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pg_server import postgres_cluster  # noqa: E402

from featrix_iac.state import LockEntry, StateStore  # noqa: E402
from featrix_iac.state.postgres import PgState, PgStateStore  # noqa: E402

KEY = bytes(range(32))


def _entry(n: int) -> LockEntry:
    return LockEntry(
        kind="predictor",
        status="ready",
        ids={"session_id": f"sess-{n // 3}", "predictor_id": f"pred-{n}"},
        applied={"target_column": "species", "type": "multi_classifier", "epochs": 5, "name": f"p{n}"},
        depends_on=[f"foundational_model.fm{n // 3}"],
    )


def measure(store: StateStore, resources: int, writes: int) -> tuple[float, float]:
    """(median seconds of one load of a `resources`-entry lockfile, median seconds of one update)."""
    lock = store.load()
    lock.resources = {f"predictor.p{n}": _entry(n) for n in range(resources)}
    store.save(lock)
    loads = []
    for _ in range(20):
        start = time.perf_counter()
        store.load()
        loads.append(time.perf_counter() - start)
    lock = store.load()
    saves = []
    for n in range(writes):
        start = time.perf_counter()
        store.update(lock, f"predictor.p{n % resources}", _entry(n))
        saves.append(time.perf_counter() - start)
    return statistics.median(loads), statistics.median(saves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=300)
    parser.add_argument("--writes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_cluster() as pg:
        file_store = StateStore(Path(tmp) / "file", "prod", project="bench", lock_key=KEY)
        (Path(tmp) / "file").mkdir()
        pg_store = PgStateStore(
            Path(tmp) / "pg", "prod", PgState(pg.url, "featrix", "bench", "prod"), project="bench", lock_key=KEY
        )
        f_load, f_save = measure(file_store, args.resources, args.writes)
        p_load, p_save = measure(pg_store, args.resources, args.writes)
    print(f"lockfile of {args.resources} resources     file         postgres     overhead")
    print(
        f"load (a no-op plan's share)    {f_load * 1000:8.1f} ms  {p_load * 1000:8.1f} ms  {(p_load - f_load) * 1000:+8.1f} ms"
    )
    print(
        f"one write (per apply step)     {f_save * 1000:8.1f} ms  {p_save * 1000:8.1f} ms  {(p_save - f_save) * 1000:+8.1f} ms"
    )


if __name__ == "__main__":
    main()
