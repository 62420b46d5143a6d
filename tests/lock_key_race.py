"""Simultaneous first uses of a project's lock key (used by tests/unit/state and bench/bench_lock_key.py)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

SECRET = "fx_lock_key_race"


def _first_use(root: Path, barrier: Any, results: Any) -> None:
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


def first_uses(root: Path, n: int) -> tuple[list[str], list[str]]:
    """n processes encrypt at once in `root` (no key yet): (errors, blobs). The caller clears FEATRIX_LOCK_KEY."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(root, barrier, results)) for _ in range(n)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in range(n)]
    for proc in procs:
        proc.join(timeout=60)
    return [t for s, t in outcomes if s == "error"], [t for s, t in outcomes if s == "ok"]
