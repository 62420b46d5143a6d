"""The cyclic garbage collector: paused while a project is loaded and planned, then frozen in the CLI (issue 16)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_one_shot = False


def one_shot_process() -> None:
    """Say that this process ends with its command (the CLI): what a paused block leaves alive stays frozen
    (`gc.freeze`), never scanned again. Frozen objects are still freed by reference counting; only the cyclic
    collector skips them, and the few cycles among them go when the process exits. A long-lived process
    (tests, a service calling the operations) does not call this: see `_age`.
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
            _age()
            gc.enable()


def _age() -> None:
    """Move what the paused block kept out of the young generation without scanning it (`gc.freeze` moves
    every tracked object to the permanent generation at no cost): left young, the next collection, however
    small, would scan all of it. In a one-shot process it stays frozen; otherwise `gc.unfreeze` puts it in the
    oldest generation, whose full collections are rarer (and amortised) and still free its cycles. Objects
    the host process froze itself are left as they are (then this does nothing)."""
    if _one_shot:
        gc.freeze()
    elif gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
