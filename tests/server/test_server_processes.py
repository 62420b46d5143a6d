"""Trainings run in worker processes: the HTTP process does not compute them, and none outlives the server."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fxserver_helpers import Api, start_long_training

from featrix_iac.server.embedded import start_local_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state, ppid, pgrp, session, ...), None once gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields  # a zombie has exited (its reaper may be slow)


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _session_members(server_pid: int) -> list[int]:
    """The live processes the server started (the embedded server leads its own session), but not itself."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != server_pid:
            fields = _stat(int(entry))
            if fields is not None and int(fields[3]) == server_pid:
                out.append(int(entry))
    return out


def _training_processes(server_pid: int) -> list[int]:
    """The session's processes that are not the server's own children (those are multiprocessing's helpers)."""
    return [p for p in _session_members(server_pid) if int((_stat(p) or ["", "0"])[1]) != server_pid]


def _training_process(server_pid: int) -> int:
    """The (first) training process, once there (the forkserver may still be importing the ML modules)."""
    deadline = time.monotonic() + 60
    while not (found := _training_processes(server_pid)):
        assert time.monotonic() < deadline, f"no training process among {_session_members(server_pid)}"
        time.sleep(0.1)
    return found[0]


def test_a_training_computes_in_another_process_than_the_http_server(tmp_path: Path) -> None:
    with start_local_server(tmp_path / "data", env={"FEATRIX_LOCAL_WORKERS": "1"}) as srv:
        api = Api(srv.url, srv.api_key)
        sid = start_long_training(api)
        _training_process(srv.pid)
        others = _session_members(srv.pid)
        server_before = _cpu_seconds(srv.pid)
        others_before = sum(_cpu_seconds(p) for p in others)
        deadline = time.monotonic() + 120
        while sum(_cpu_seconds(p) for p in _session_members(srv.pid)) - others_before < 2.0:
            assert time.monotonic() < deadline, "the training processes did not compute"
            time.sleep(0.2)
        # the HTTP process only relayed the epochs meanwhile: a small share of the training's CPU time
        assert _cpu_seconds(srv.pid) - server_before < 1.0
        jobs = api.ok("get", f"/compute/session/{sid}")["jobs"].values()
        assert [j["status"] for j in jobs] == ["running"]


def test_a_killed_server_leaves_no_training_process(tmp_path: Path) -> None:
    srv = start_local_server(tmp_path / "data")
    try:
        start_long_training(Api(srv.url, srv.api_key))
        _training_process(srv.pid)
        children = _session_members(srv.pid)
        os.kill(srv.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while left := [p for p in children if _stat(p) is not None]:
            assert time.monotonic() < deadline, f"processes {left} outlived the killed server"
            time.sleep(0.1)
    finally:
        srv.stop()


def test_a_crashed_training_process_fails_its_job_and_the_next_training_runs(tmp_path: Path) -> None:
    with start_local_server(tmp_path / "data", env={"FEATRIX_LOCAL_WORKERS": "1"}) as srv:
        api = Api(srv.url, srv.api_key)
        sid = start_long_training(api)
        os.kill(_training_process(srv.pid), signal.SIGKILL)
        doc = api.wait(sid, timeout=60)
        (job,) = doc["jobs"].values()
        assert job["status"] == "failed" and job["error"].startswith("ChildProcessError: "), job
        small = api.upload(_small(), "after-crash", epochs=2)
        assert api.wait(small, timeout=60)["session"]["status"] == "done"


def test_a_failed_training_records_type_and_message(tmp_path: Path) -> None:
    with start_local_server(tmp_path / "data", env={"FEATRIX_LOCAL_WORKERS": "1"}) as srv:
        api = Api(srv.url, srv.api_key)
        sid = api.upload(_small(), "one-class", epochs=2)
        api.wait(sid, timeout=60)
        body = {"target_column": "c", "target_column_type": "set", "epochs": 2}
        api.ok("post", f"/compute/session/{sid}/train_predictor", json=body)
        jobs: Any = api.wait(sid, timeout=60)["jobs"].values()
        (failed,) = [j for j in jobs if j["job_type"] == "train_single_predictor"]
        assert failed["status"] == "failed" and failed["error"].startswith("TrainingError: "), failed


def _small() -> Any:
    import pandas as pd

    return pd.DataFrame({"a": list(range(30)), "b": [i % 3 for i in range(30)], "c": ["x"] * 30})


def test_a_training_process_rereads_an_artifact_only_when_it_changed(tmp_path: Path, monkeypatch: Any) -> None:
    """The data and foundational models a worker's trainings read are kept while unchanged, within a byte budget."""
    from featrix_iac.server.jobs import child
    from featrix_iac.server.service import write_pickle

    read = child._Reader(tmp_path)
    write_pickle(tmp_path, "s1/fm.pkl", {"v": 1})
    write_pickle(tmp_path, "s2/fm.pkl", {"v": 2})
    first = read("s1/fm.pkl")
    assert read("s1/fm.pkl") is first
    write_pickle(tmp_path, "s1/fm.pkl", {"v": 1, "retrained": True})
    assert read("s1/fm.pkl") == {"v": 1, "retrained": True}
    monkeypatch.setattr(child, "CACHE_BYTES", (tmp_path / "s1" / "fm.pkl").stat().st_size)
    kept = read("s1/fm.pkl")
    read("s2/fm.pkl")  # over the budget: the least recently used goes
    assert read("s1/fm.pkl") is not kept


def test_a_stopping_server_ends_its_training_processes_together(tmp_path: Path, monkeypatch: Any) -> None:
    """Each may wait for a stuck child before terminating it: one after another, SIGTERM would take that
    many times longer. Every shutdown must be under way at once (a barrier of all of them), not in turn."""
    import threading

    from featrix_iac.server.jobs import procs
    from featrix_iac.server.jobs.worker import Worker
    from featrix_iac.server.service import Service

    workers = 3
    together = threading.Barrier(workers, timeout=20)
    met: list[int] = []
    monkeypatch.setattr(procs.TrainingProcess, "shutdown", lambda self: met.append(together.wait()))
    svc = Service(tmp_path / "data", "fx_" + "k" * 40, None, None)
    worker = Worker(svc, workers)
    worker.start()
    worker.stop()
    assert sorted(met) == list(range(workers))  # all reached the barrier: none waited for another to finish


def test_a_training_of_many_short_epochs_writes_its_progress_a_few_times_and_its_last_epoch(tmp_path: Path) -> None:
    """Each write reads, decodes, encodes and commits the job document: 200 epochs of a few ms made 200 of
    them, the bulk of the server's CPU under a quota of short trainings. The last epoch is always written."""
    from featrix_iac.server.jobs.records import SP_JOB, new_job
    from featrix_iac.server.jobs.worker import Worker
    from featrix_iac.server.service import Service

    svc = Service(tmp_path / "data", "fx_" + "k" * 40, None, None)
    job = new_job("sess-1", SP_JOB, 200)
    svc.store.put("job", job["job_id"], job, parent="sess-1")
    writes: list[int] = []
    real = svc.store.update
    svc.store.update = lambda kind, id_, fn: writes.append(1) or real(kind, id_, fn)  # type: ignore[method-assign]
    on_epoch = Worker(svc, 1)._epoch_callback(job)
    for epoch in range(1, 201):  # far faster than the progress interval
        on_epoch(epoch, 0.5, 0.5)
    assert 2 <= len(writes) <= 10
    done = svc.store.get("job", job["job_id"]) or {}
    assert (done["current_epoch"], done["progress"]) == (200, 1.0)
