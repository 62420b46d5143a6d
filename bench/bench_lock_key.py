"""Simultaneous first uses of a project's lock key: N processes encrypt at once in a folder with no key yet.

Run: python bench/bench_lock_key.py [--processes 300] [--rounds 3]
Prints, per round, how many processes failed (e.g. "invalid lock key file": a key file read while it was
being written) and how many distinct keys they ended up with (must be 1). Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

SECRET = "fx_bench_lock_key"


def first_use(root: Path, barrier: Any, results: Any) -> None:
    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.state import StateStore

    store = StateStore(root, "default")
    barrier.wait()
    try:
        results.put(("ok", store.encrypt("endpoint.api", SECRET)))
    except DiagnosticsError as exc:
        results.put(("error", str(exc).splitlines()[0]))
    except Exception as exc:  # noqa: BLE001 - reported, never a hang of the parent
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def one_round(n: int) -> tuple[int, int]:
    """(failures, distinct keys that opened the blobs) for n simultaneous first uses."""
    import os

    from featrix_iac.state import StateStore
    from featrix_iac.state.secrets import blob_key_id

    os.environ.pop("FEATRIX_LOCK_KEY", None)
    os.environ.pop("CI", None)
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=first_use, args=(root, barrier, results)) for _ in range(n)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=300) for _ in range(n)]
        for proc in procs:
            proc.join(timeout=60)
        blobs = [blob for status, blob in outcomes if status == "ok"]
        reader = StateStore(root, "default")
        opened = sum(reader.decrypt("endpoint.api", blob) == SECRET for blob in blobs)
        failures = n - opened
        return failures, len({blob_key_id(blob) for blob in blobs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    total = 0
    for i in range(args.rounds):
        failures, keys = one_round(args.processes)
        total += failures + (keys != 1)
        print(f"round {i}: {args.processes} simultaneous first uses: {failures} failed, {keys} distinct key(s)")
    raise SystemExit(1 if total else 0)


if __name__ == "__main__":
    main()
