"""Training processes: each worker thread runs its trainings' compute in a long-lived child process of its own.

Why: trainings running in threads of the HTTP process hold its GIL, so every answer (a session document,
a create, the notice of an end) waits behind them. The real service's API is separate from its compute
nodes (the official client's foundational_model.py `_wait_for_queued_predictor`: "the server only mints
one when a compute node actually picks the job up"), so its answers do not slow down with the trainings.

The worker thread stays the orchestrator (claim, store updates, webhooks, finish); the child (jobs/child.py)
only reads the session's data and models from the artifacts folder and writes the model it trains. The
child starts on the thread's first training (a server that never trains starts no process), from a
forkserver that has the ML modules imported once (a plain fork of this threaded process is unsafe).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featrix_iac.server.ml.fm_model import EpochCallback

log = logging.getLogger("featrix.server.worker")

RUN, CANCEL, INTERRUPT = 0, 1, 2  # the shared flag's values: the child stops its task when it is nonzero
PRELOAD = [
    "featrix_iac.server.jobs.child",
    "featrix_iac.server.ml.training",
    "numpy",
    "pandas",
    "sklearn.neural_network",
]
_preload_lock = threading.Lock()


class Cancelled(Exception):
    """Raised inside a training loop when its job was cancelled."""


class Interrupted(Exception):
    """Raised inside a training loop when the server is stopping: the job goes back to the queue."""


class TrainingFailed(Exception):
    """The training raised in its process; the message is the job's error text (`TypeName: message`)."""


class TrainingProcess:
    """One worker thread's child process, started on first use and restarted if it dies."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self._proc: Any = None
        self._conn: Any = None
        self._flag: Any = None
        self._why = RUN  # the current task's stop request, also when it comes before the child is up
        self._shut = False  # the server is stopping: no child starts, one starting now is ended at once
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def arm(self) -> None:
        """A new task is about to run: forget the previous one's stop request (the caller then registers it)."""
        with self._lock:
            self._why = RUN

    def stop_task(self, why: int) -> None:
        """Ask the current task to stop at its next check (CANCEL or INTERRUPT); the first request wins."""
        with self._lock:
            if self._why == RUN:
                self._why = why
            if self._flag is not None:
                self._flag.value = self._why

    def _stopped(self) -> Exception:
        return Cancelled() if self._why == CANCEL else Interrupted()

    def run(self, kind: str, spec: dict[str, Any], on_epoch: EpochCallback) -> dict[str, Any]:
        """Run one task in the child (after `arm`); `on_epoch` (here, in the server) may raise Cancelled /
        Interrupted to stop it.

        Returns the task's summary; raises Cancelled, Interrupted or TrainingFailed.
        """
        self._ensure()
        with self._lock:
            self._flag.value = self._why
        if self._why != RUN:
            raise self._stopped()
        self._conn.send((kind, spec))
        stopping: Exception | None = None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                raise self._died() from None
            tag = msg[0]
            if tag == "epoch":
                if stopping is None:
                    try:
                        on_epoch(msg[1], msg[2], msg[3])
                    except (Cancelled, Interrupted) as exc:
                        stopping = exc
                        self.stop_task(CANCEL if isinstance(exc, Cancelled) else INTERRUPT)
                continue
            if stopping is not None:  # asked to stop: whatever the child answers, the job stops
                raise stopping
            if tag == "done":
                summary: dict[str, Any] = msg[1]
                return summary
            if tag == "stopped":
                raise self._stopped()
            log.info("training failed in process %s: %s", self.pid, msg[2])
            raise TrainingFailed(msg[1])

    def shutdown(self) -> None:
        """The server is stopping: end the child, and one that another thread is starting as soon as it is up
        (starting one, the first time from a forkserver importing the ML modules, can take seconds)."""
        with self._lock:
            self._shut = True
        self.close()

    def close(self, timeout: float = 1.0) -> None:
        """End the child: ask, then terminate, then kill."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is None:
            return
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout)
        conn.close()

    def _ensure(self) -> None:
        if self._shut:
            raise Interrupted()
        if self._proc is not None and self._proc.is_alive():
            return
        if self._proc is not None:
            self.close()
        import multiprocessing

        from featrix_iac.server.jobs import child

        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx: Any = multiprocessing.get_context("forkserver")
            with _preload_lock:
                ctx.set_forkserver_preload(PRELOAD)
        else:  # pragma: no cover - Windows: each child imports the ML modules itself
            ctx = multiprocessing.get_context("spawn")
        flag = ctx.RawValue("i", RUN)
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=child.serve, args=(theirs, flag, str(self.artifacts)), name="featrix-training", daemon=True
        )
        proc.start()
        theirs.close()  # only the child holds its end: its death is an EOF here
        with self._lock:
            self._proc, self._conn, self._flag = proc, ours, flag
            shut = self._shut
        if shut:  # the server stopped while this child started: it never runs a task
            self.close()
            raise Interrupted()

    def _died(self) -> Exception:
        """The child went away mid-task: stopped by the server, or crashed (killed, out of memory)."""
        proc = self._proc
        code = None
        if proc is not None:
            proc.join(1.0)
            code = proc.exitcode
        self.close()
        if self._why != RUN:
            return self._stopped()
        return TrainingFailed(f"ChildProcessError: the training process exited with code {code}")
