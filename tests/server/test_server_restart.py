"""Persistence across restarts, a training interrupted by a crash, and the embedded child outliving nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from fxserver_helpers import Api

from featrix_iac.server.embedded import start_local_server

RECORD = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0, "flipper_length_mm": 218.0, "sex": "male"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_everything_survives_a_restart(data_dir: Path, penguins) -> None:
    with start_local_server(data_dir) as srv:
        api = Api(srv.url, srv.api_key)
        sid = api.upload(penguins, "persist", epochs=4, user_metadata={"keep": True})
        pid = api.ok(
            "post",
            f"/compute/session/{sid}/train_predictor",
            json={"target_column": "body_mass_g", "target_column_type": "scalar", "epochs": 5},
        )["predictor_id"]
        api.wait(sid)
        before = api.ok("post", f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pid})[
            "prediction"
        ]
        ep = api.ok("post", "/endpoints", json={"name": "persist", "predictor_id": pid, "session_id": sid})
        api.ok("post", f"/compute/session/{sid}/vector_databases", json={"name": "default"})
        doc_before = api.ok("get", f"/compute/session/{sid}")
    with start_local_server(data_dir) as srv2:
        api2 = Api(srv2.url, srv2.api_key)
        assert srv2.api_key == srv.api_key
        doc_after = api2.ok("get", f"/compute/session/{sid}")
        assert doc_after == doc_before
        after = api2.ok("post", f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pid})[
            "prediction"
        ]
        assert after == before
        resp = requests.post(
            f"{srv2.url}/endpoint/{ep['id']}/predict",
            json={"query_record": RECORD},
            headers={"X-API-Key": ep["api_key"]},
            timeout=10,
        )
        assert resp.status_code == 200 and resp.json()["prediction"] == before
        assert api2.ok("get", f"/compute/session/{sid}/vector_databases/default/size")["size"] == 344
        assert api2.ok("get", "/compute/sessions-for-org")["sessions"][0]["user_metadata"] == {"keep": True}


def test_a_training_interrupted_by_a_crash_is_requeued_and_finishes(data_dir: Path, penguins) -> None:
    srv = start_local_server(data_dir)
    api = Api(srv.url, srv.api_key)
    sid = api.upload(penguins, "crash", epochs=80)
    deadline = time.monotonic() + 30
    while api.ok("get", f"/compute/session/{sid}")["session"]["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(srv.pid, signal.SIGKILL)
    srv.stop()
    with start_local_server(data_dir) as again:
        api2 = Api(again.url, again.api_key)
        doc = api2.wait(sid)
        job = next(iter(doc["jobs"].values()))
        assert job["status"] == "done" and job["restarts"] == 1 and "restarted" in job["message"]
        assert job["current_epoch"] == 80


def test_embedded_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from featrix_iac.server.embedded import start_local_server\n"
        f"srv = start_local_server(Path({str(tmp_path)!r}))\n"
        "print(srv.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the embedded server outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_start_failure_reports_the_childs_stderr(tmp_path: Path) -> None:
    import pytest

    (tmp_path / "featrix.sqlite3").mkdir()  # the database path is taken by a folder: the child cannot start
    with pytest.raises(RuntimeError, match=r"exited with code 1 while starting:\n.*(database|sqlite)"):
        start_local_server(tmp_path, api_key="fx_test_key")


def test_a_second_server_on_the_same_data_dir_is_refused(data_dir: Path) -> None:
    import subprocess
    import sys

    with start_local_server(data_dir) as first:
        r = subprocess.run(
            [sys.executable, "-m", "featrix_iac", "server", "--port", "0", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 1
        assert f"in use by another local Featrix server (pid {first.pid})" in r.stderr
        assert requests.get(first.url + "/health", timeout=10).status_code == 200


def test_a_training_stopped_gracefully_is_requeued_without_counting_a_crash(data_dir: Path, penguins) -> None:
    srv = start_local_server(data_dir)
    api = Api(srv.url, srv.api_key)
    sid = api.upload(penguins, "graceful", epochs=80)
    deadline = time.monotonic() + 30
    while api.ok("get", f"/compute/session/{sid}")["session"]["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.stop()  # SIGTERM: graceful
    with start_local_server(data_dir) as again:
        api2 = Api(again.url, again.api_key)
        job = next(iter(api2.ok("get", f"/compute/session/{sid}")["jobs"].values()))
        assert "stopped during training" in job["message"] and not job.get("restarts")
        done = next(iter(api2.wait(sid)["jobs"].values()))
        assert done["status"] == "done" and done["current_epoch"] == 80
