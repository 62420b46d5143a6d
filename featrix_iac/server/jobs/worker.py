"""Background training: worker threads run queued jobs through the status vocabulary, computing in their processes."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from featrix_iac.server.jobs.procs import CANCEL, INTERRUPT, Cancelled, Interrupted, TrainingFailed, TrainingProcess
from featrix_iac.server.jobs.records import (
    DETAIL,
    ES_JOB,
    SP_JOB,
    TERMINAL,
    after_job,
    latest_fm,
    split_detail,
    started_data,
    webhook_config,
)
from featrix_iac.server.service import Service, now_iso
from featrix_iac.server.store import Doc

if TYPE_CHECKING:
    from featrix_iac.server.ml.training import Compute

log = logging.getLogger("featrix.server.worker")

DEFAULT_SP_EPOCHS = 40
MAX_RESTARTS = 3
# seconds between two progress writes of one job: a training of 200 short epochs wrote its job document 200
# times (read, decode, encode, commit each), the bulk of the server's CPU under a quota of short trainings
PROGRESS_INTERVAL = 0.1


def auto_fm_epochs(n_rows: int) -> int:
    return max(10, min(50, 20000 // max(1, n_rows)))


class Worker:
    """A pool of daemon threads claiming runnable jobs; a predictor job waits for its foundational model."""

    def __init__(self, svc: Service, n_threads: int = 2) -> None:
        self.svc = svc
        self.n_threads = n_threads
        self._cond = threading.Condition()
        self._pending: list[str] = []  # job ids in submission order
        self._unnamed: set[str] = set()  # pending predictor trainings queued without a predictor id
        self._active: set[str] = set()  # jobs claimed and not finished yet
        self._reserved = 0  # trainings a route is creating (jobs/quota.py)
        self._cancelled: set[str] = set()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._procs: list[TrainingProcess] = []  # one per thread: where its trainings' compute runs (jobs/procs.py)
        self._running: dict[str, TrainingProcess] = {}  # job id -> the process training it

    def recover(self) -> None:
        """After a restart: jobs left running are re-queued from scratch (and say so); queued ones stay queued."""
        for job in self.svc.store.list("job"):
            if job["status"] == "running" and int(job.get("restarts") or 0) + 1 >= MAX_RESTARTS:
                self._finish(
                    job, "failed", error=f"the server stopped during this training {MAX_RESTARTS} times; giving up"
                )
                continue
            if job["status"] == "running":
                self.svc.store.update("job", job["job_id"], _requeue_after_restart)
            if job["status"] in ("ready", "running"):
                self._pending.append(job["job_id"])
                if job.get("pending_predictor"):
                    self._unnamed.add(job["job_id"])

    def start(self) -> None:
        for i in range(self.n_threads):
            proc = TrainingProcess(self.svc.artifacts)
            self._procs.append(proc)
            t = threading.Thread(target=self._loop, args=(proc,), name=f"featrix-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop claiming jobs; running ones stop at their next check and are re-queued (not counted as crashes).

        A job still inside a step that cannot be interrupted (encoding a large table) after `timeout` is
        re-queued here, so the server can exit within seconds and resume it after a restart.
        """
        with self._cond:
            self._stopping = True
            for proc in self._running.values():
                proc.stop_task(INTERRUPT)
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            left = list(self._active)
        for job_id in left:
            self.svc.store.update("job", job_id, _requeue_after_stop)
        # a task that did not stop in time ends with its process: all at once (each may wait for its child)
        closing = [threading.Thread(target=proc.shutdown, name="featrix-worker-stop") for proc in self._procs]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()

    def submit(self, job_id: str, unnamed: bool = False) -> None:
        """Queue a job; `unnamed`: a predictor training that gets its id when a worker picks it up."""
        with self._cond:
            self._pending.append(job_id)
            if unnamed:
                self._unnamed.add(job_id)
            self._cond.notify_all()

    def busy(self) -> bool:
        """Every worker has a job: running, or queued with its id (then a new predictor training queues without one)."""
        with self._cond:
            held = len(self._active) + sum(1 for job_id in self._pending if job_id not in self._unnamed)
            return held >= self.n_threads

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def reserve(self, limit: int) -> tuple[bool, int]:
        """(held, unfinished): a place for one more training when fewer than `limit` are queued, running or
        being created; release it with `unreserve` once the job is submitted (or was not created)."""
        with self._cond:
            unfinished = len(self._pending) + len(self._active) + self._reserved
            if unfinished >= limit:
                return False, unfinished
            self._reserved += 1
            return True, unfinished + 1

    def unreserve(self) -> None:
        with self._cond:
            self._reserved = max(0, self._reserved - 1)

    def cancel(self, job_id: str) -> None:
        with self._cond:
            self._cancelled.add(job_id)
            if job_id in self._pending:
                self._unqueue(job_id)
            if job_id in self._running:
                self._running[job_id].stop_task(CANCEL)

    def cancelling(self) -> set[str]:
        with self._cond:
            return set(self._cancelled)

    def _loop(self, proc: TrainingProcess) -> None:
        while True:
            with self._cond:
                job = self._claim()
                while job is None and not self._stopping:
                    self._cond.wait(timeout=1.0)
                    job = self._claim()
                if self._stopping or job is None:
                    return
            try:
                self._run(job, proc)
            finally:
                with self._cond:
                    self._active.discard(job["job_id"])
                    self._running.pop(job["job_id"], None)
            self.wake()

    def _claim(self) -> Doc | None:
        for job_id in list(self._pending):
            job = self.svc.store.get("job", job_id)
            if job is None or job["status"] not in ("ready",):
                self._unqueue(job_id)
                continue
            if job["job_type"] == SP_JOB:
                blocker = self._fm_blocker(job)
                if blocker == "wait":
                    continue
                if blocker:
                    self._unqueue(job_id)
                    self._finish(job, "failed", error=blocker)
                    continue
            self._unqueue(job_id)
            if job.get("pending_predictor"):
                self._dispatch(job)
            self._active.add(job_id)
            return self.svc.store.update("job", job_id, _mark_running)
        return None

    def _unqueue(self, job_id: str) -> None:
        self._pending.remove(job_id)
        self._unnamed.discard(job_id)

    def _dispatch(self, job: Doc) -> None:
        """A queued predictor training gets its predictor id when a worker picks it up (foundational_model.py
        `_wait_for_queued_predictor`: "the server only mints one when a compute node actually picks the job up")."""
        from featrix_iac.server.service import new_id

        pred = dict(job["pending_predictor"], predictor_id=new_id("pred_"), job_id=job["job_id"])
        self.svc.store.put("predictor", pred["predictor_id"], pred, parent=job["session_id"])

        def stamp(doc: Doc) -> None:
            doc.pop("pending_predictor", None)
            doc["predictor_id"] = pred["predictor_id"]

        self.svc.store.update("job", job["job_id"], stamp)

    def _fm_blocker(self, job: Doc) -> str | None:
        es = latest_fm(self.svc, job["session_id"])
        if es is None:
            return None
        status = es["status"]
        if status == "done":
            return None
        if status in TERMINAL:
            return f"the foundational model's training {status}; the predictor cannot be trained"
        return "wait"

    def _run(self, job: Doc, proc: TrainingProcess) -> None:
        from featrix_iac.server.ml import training

        sid, pid = job["session_id"], job.get("predictor_id")
        config = webhook_config(self.svc, sid, pid)
        self.svc.webhooks.send(config, "training_started", sid, pid, started_data(job))
        try:
            compute = self._compute(job, proc)
            if job["job_type"] == ES_JOB:
                result = training.run_fm_job(self.svc, job, compute)
            else:
                result = training.run_predictor_job(self.svc, job, compute)
        except Cancelled:
            self._finish(job, "cancelled")
            return
        except Interrupted:
            self.svc.store.update("job", job["job_id"], _requeue_after_stop)
            return
        except TrainingFailed as exc:  # its text is already `TypeName: message` (from the training process)
            self._finish(job, "failed", error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a failed job records its error text
            log.info("job %s failed: %s", job["job_id"], traceback.format_exc())
            self._finish(job, "failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._finish(job, "done", result=result)

    def _compute(self, job: Doc, proc: TrainingProcess) -> Compute:
        """Run the job's training task in `proc`; a cancel or stop arriving meanwhile reaches it through its flag."""
        job_id = job["job_id"]
        on_epoch = self._epoch_callback(job)

        def compute(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
            with self._cond:
                if job_id in self._cancelled:
                    raise Cancelled()
                if self._stopping:
                    raise Interrupted()
                proc.arm()
                self._running[job_id] = proc
            return proc.run(kind, spec, on_epoch)

        return compute

    def _epoch_callback(self, job: Doc) -> Any:
        job_id, total = job["job_id"], int(job.get("total_epochs") or 1)
        written = [0.0]  # when the job document last got an epoch

        def on_epoch(epoch: int, loss: float, val_loss: float) -> None:
            if job_id in self._cancelled:
                raise Cancelled()
            if self._stopping:
                raise Interrupted()
            now = time.monotonic()
            if epoch < total and now - written[0] < PROGRESS_INTERVAL:
                return  # a short epoch's progress waits for the next write (the last epoch is always written)
            written[0] = now

            def apply(doc: Doc) -> None:
                doc.update(current_epoch=epoch, epoch=epoch, progress=round(epoch / max(1, total), 4))
                doc.update(loss=loss, validation_loss=val_loss)

            if self.svc.store.update("job", job_id, apply) is None:
                raise Cancelled()  # the job's session was deleted

        return on_epoch

    def _finish(self, job: Doc, status: str, error: str | None = None, result: dict[str, Any] | None = None) -> None:

        with self._cond:  # finished before anyone can read it so: the quota counts it no more
            self._active.discard(job["job_id"])
        result, detail = split_detail(result or {})

        def apply(doc: Doc) -> None:
            doc.update(status=status, finished_at=now_iso())
            if status == "done":
                doc["progress"] = 1.0
            if error:
                doc["error"] = error
            doc.update(result)

        session = self.svc.store.get("session", job["session_id"]) or {}
        if session.get("marked_for_deletion"):  # deleted while training: drop whatever the job wrote
            self.svc.forget_objects(f"{job['session_id']}/")
            shutil.rmtree(self.svc.artifacts / job["session_id"], ignore_errors=True)
            return
        if detail:  # before the job shows done: a done job's records are there to read
            self.svc.store.put(DETAIL, job["job_id"], detail, parent=job["session_id"])
        done = dict(self.svc.store.get("job", job["job_id"]) or job)
        apply(done)
        after_job(self.svc, done)  # predictor/session first: the job's status is what clients poll
        self.svc.store.update("job", job["job_id"], apply)
        sid, pid = job["session_id"], job.get("predictor_id")
        data: dict[str, Any] = {"status": "succeeded" if status == "done" else status}
        if result and result.get("metrics"):
            data["metrics"] = result["metrics"]
            data.update({k: result["metrics"].get(k) for k in ("accuracy", "auc") if k in result["metrics"]})
        data["epochs_trained"] = done.get("current_epoch") or 0
        if error:
            data["error"] = error
        self.svc.webhooks.send(webhook_config(self.svc, sid, pid), "training_finished", sid, pid, data)


def _mark_running(doc: Doc) -> None:
    doc.update(status="running", started_at=now_iso(), current_epoch=0, epoch=0, progress=0.0)


def _requeue_after_stop(doc: Doc) -> None:
    doc.update(status="ready", started_at=None, current_epoch=0, epoch=0, progress=0.0)
    doc["message"] = "the server was stopped during training; the job was re-queued from the start"


def _requeue_after_restart(doc: Doc) -> None:
    doc.update(status="ready", started_at=None, current_epoch=0, epoch=0, progress=0.0)
    doc["restarts"] = int(doc.get("restarts") or 0) + 1
    doc["message"] = "the server restarted during training; the job was re-queued from the start"
