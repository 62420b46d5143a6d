"""A training process's main loop: run the server's training tasks one at a time, reporting each epoch back.

The server (jobs/procs.py) sends `(kind, spec)`; this process answers with any number of
`("epoch", epoch, loss, val_loss)` then one of `("done", summary)`, `("failed", "TypeName: message", traceback)`
or `("stopped",)`. It reads the session's data and models from the artifacts folder and writes the model
it trains there; it never opens the store. Between slices and epochs it reads the shared `flag` (nonzero:
the job was cancelled or the server is stopping). When the server process is gone (killed, even with
SIGKILL) it exits at once: a thread waits on the parent's sentinel.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any

# data frames and foundational models kept between tasks (a predictor reads its model's and its data): at
# most this many files' bytes, so a worker cycling through many foundational models does not read them again
CACHE_BYTES = 64 * 1024 * 1024


class _Stop(Exception):
    """The server asked the running task to stop (flag set)."""


def serve(conn: Any, flag: Any, root: str) -> None:
    """Run tasks from `conn` until it closes or sends None; exit when the server process dies."""
    import multiprocessing

    from featrix_iac.server.ml.training import TASKS

    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="featrix-lifeline", daemon=True).start()
    read = _Reader(Path(root))

    def check() -> None:
        if flag.value:
            raise _Stop()

    def on_epoch(epoch: int, loss: float, val_loss: float) -> None:
        conn.send(("epoch", epoch, loss, val_loss))
        check()

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        kind, spec = task
        try:
            conn.send(("done", TASKS[kind](Path(root), spec, read, on_epoch, check)))
        except _Stop:
            conn.send(("stopped",))
        except Exception as exc:  # noqa: BLE001 - a failed training records its error text
            conn.send(("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def _exit_with(parent: Any) -> None:
    parent.join()  # returns when the server process is gone: its end of the sentinel pipe closed
    os._exit(0)


class _Reader:
    """Artifacts by relative path, the last used kept (up to CACHE_BYTES of files) while unchanged (mtime, size)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: OrderedDict[str, tuple[tuple[int, int], Any]] = OrderedDict()
        self._bytes = 0

    def __call__(self, rel: str) -> Any:
        from featrix_iac.server.service import artifact_path, read_pickle

        st = artifact_path(self.root, rel).stat()
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(rel)
        if hit is not None and hit[0] == stamp:
            self._cache.move_to_end(rel)
            return hit[1]
        obj = read_pickle(self.root, rel)
        if hit is not None:
            self._bytes -= self._cache.pop(rel)[0][1]
        self._cache[rel] = (stamp, obj)
        self._bytes += st.st_size
        while self._bytes > CACHE_BYTES and len(self._cache) > 1:
            self._bytes -= self._cache.popitem(last=False)[1][0][1]
        return obj
