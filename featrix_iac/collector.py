"""The cyclic garbage collector: paused while a project is loaded and planned, then frozen in the CLI (issue 16)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_one_shot = False


def one_shot_process() -> None:
    """Say that this process ends with its command (the CLI): what a paused block leaves alive is then frozen
    (`gc.freeze`) as the collector is turned back on, instead of being handed back to it as young objects.

    Nothing made while the collector was paused has been scanned yet, so its first collection afterwards scans
    every one of them: after a 10,000-resource plan that was one collection of half a second, for a few
    thousand objects of garbage that the process would free at exit anyway. Frozen objects are still freed
    by reference counting; only the cyclic collector skips them. A long-lived process (tests, a service
    calling the operations) does not call this, so its cycles are collected as usual.
    """
    global _one_shot
    _one_shot = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, then restore it (usable as a decorator).

    Loading and planning allocate a few hundred objects per resource (YAML nodes, positions, models,
    lockfile entries, live documents) and keep nearly all of them until the plan is made. CPython
    scans every live object again at each full collection, so with the collector on a no-op plan of
    10,000 resources spent more than half of its CPU time in collections that freed nothing. Reference
    counting still frees everything acyclic at once; the few cycles wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _one_shot:
                gc.freeze()
            gc.enable()
