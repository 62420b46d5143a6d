"""Reads of many documents: in parallel when answers wait on the network, one by one when the server answers at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

# Threads pay off when a read spends its time waiting for the answer: a remote API (tens of ms a round trip).
# A server on this machine (the bundled local server, a test server) answers in about the CPU time reading the
# answer costs us, and threads there only add CPU (thread starts, GIL hand-overs): 10 session documents of a
# 300-resource plan cost 5.8 ms of CPU one by one against 6.8 to 10.5 ms with 8 threads, in no less wall time
# (issue 16, bench/notes-plan-profile.md, fifth pass).
WAIT_FOR_THREADS = 0.003  # seconds a read spent waiting (wall time less this thread's CPU time)


def fetch_each(keys: Sequence[K], fetch: Callable[[K], V], parallelism: int) -> dict[K, V]:
    """{key: fetch(key)} in the keys' order: one by one on this thread while the reads wait on the server less
    than WAIT_FOR_THREADS each, the rest on up to `parallelism` threads from the first read that waits longer.
    The first read's wait does not count (it opens the connection, and may queue behind other reads of the
    same refresh). The first failure in the keys' order is raised, as from futures taken in order."""
    out: dict[K, V] = {}
    for i, key in enumerate(keys):
        wall, cpu = time.perf_counter(), time.thread_time()
        out[key] = fetch(key)
        waited = (time.perf_counter() - wall) - (time.thread_time() - cpu)
        if i and waited >= WAIT_FOR_THREADS and parallelism > 1 and i + 1 < len(keys):
            out.update(_parallel(keys[i + 1 :], fetch, parallelism))
            break
    return out


def _parallel(keys: Sequence[K], fetch: Callable[[K], V], parallelism: int) -> dict[K, V]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(parallelism, len(keys))) as pool:
        futures = [(key, pool.submit(fetch, key)) for key in keys]
        return {key: future.result() for key, future in futures}
