"""A long training ends within seconds when its session is deleted or the server gets SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fxserver_helpers import Api, start_long_training

from featrix_iac.server.embedded import start_local_server
from featrix_iac.server.leases import pid_alive


@pytest.fixture()
def one_worker(tmp_path: Path) -> Any:
    with start_local_server(tmp_path / "data", env={"FEATRIX_LOCAL_WORKERS": "1"}) as srv:
        yield srv


def test_deleting_a_session_frees_its_worker_at_once(one_worker: Any) -> None:
    api = Api(one_worker.url, one_worker.api_key)
    sid = start_long_training(api)
    api.ok("post", f"/compute/session/{sid}/mark_for_deletion")
    small = api.upload(_small(), "after-delete", epochs=2)  # the only worker must be free for it
    assert api.wait(small, timeout=20)["session"]["status"] == "done"


def test_sigterm_stops_a_training_server_within_seconds(tmp_path: Path) -> None:
    from featrix_iac.server.store import Store

    srv = start_local_server(tmp_path / "data")
    try:
        sid = start_long_training(Api(srv.url, srv.api_key))
        os.kill(srv.pid, signal.SIGTERM)
        start = time.monotonic()
        while pid_alive(srv.pid):
            assert time.monotonic() - start < 10, "the server was still running 10 s after SIGTERM"
            time.sleep(0.05)
    finally:
        srv.stop()
    store = Store(tmp_path / "data" / "featrix.sqlite3")
    jobs = store.list("job", parent=sid)
    store.close()
    # stopped inside its epoch and re-queued: not left "running" for the next start to count as a crash
    assert [(j["status"], j.get("restarts")) for j in jobs] == [("ready", None)], jobs


def _small() -> Any:
    import pandas as pd

    return pd.DataFrame({"a": list(range(30)), "b": [i % 3 for i in range(30)]})


def test_a_job_that_cannot_stop_in_time_is_requeued_not_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from featrix_iac.server.jobs.records import ES_JOB, new_job
    from featrix_iac.server.jobs.runtime import background
    from featrix_iac.server.jobs.worker import Interrupted
    from featrix_iac.server.ml import training
    from featrix_iac.server.service import Service

    release = threading.Event()

    def stuck(svc: Any, job: Any, on_epoch: Any, check: Any = None) -> Any:
        release.wait(30)  # a step that never checks (encoding a large table)
        raise Interrupted()

    monkeypatch.setattr(training, "run_fm_job", stuck)
    svc = Service(tmp_path / "data", "fx_" + "k" * 40)
    job = new_job("sess-1", ES_JOB, 5)
    svc.store.put("job", job["job_id"], job, parent="sess-1")
    try:
        with background(svc, 1) as worker:
            worker.submit(job["job_id"])
            deadline = time.monotonic() + 10
            while (svc.store.get("job", job["job_id"]) or {}).get("status") != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            start = time.monotonic()
        assert time.monotonic() - start < 4
        doc = svc.store.get("job", job["job_id"]) or {}
        assert doc["status"] == "ready" and not doc.get("restarts"), doc
    finally:
        release.set()
