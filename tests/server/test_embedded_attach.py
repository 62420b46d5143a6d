"""Two featrix commands on one project share its local server: the second attaches instead of failing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.server.embedded import start_local_server


def _whoami(url: str, key: str) -> int:
    req = urllib.request.Request(url + "/auth/whoami", headers={"X-Api-Key": key})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(resp.status)


def test_second_start_attaches_and_does_not_stop_the_owner(tmp_path: Path) -> None:
    data = tmp_path / "local"
    owner = start_local_server(data)
    try:
        info = json.loads((data / "server.json").read_text())
        assert info["pid"] == owner.pid and info["url"] == owner.url
        guest = start_local_server(data)
        assert (guest.url, guest.pid, guest.api_key) == (owner.url, owner.pid, owner.api_key)
        guest.stop()  # not the guest's to stop
        assert owner.running() and _whoami(owner.url, owner.api_key) == 200
    finally:
        owner.stop()
    assert not (data / "server.json").exists()
    again = start_local_server(data)  # a fresh start after the owner is gone
    try:
        assert again.pid != owner.pid and _whoami(again.url, again.api_key) == 200
    finally:
        again.stop()


def test_a_stale_server_file_is_ignored(tmp_path: Path) -> None:
    data = tmp_path / "local"
    data.mkdir()
    (data / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "port": 9, "pid": 999999}))
    srv = start_local_server(data)
    try:
        assert srv.url != "http://127.0.0.1:9" and srv.running()
    finally:
        srv.stop()


def _gone(pid: int, timeout: float = 10.0) -> bool:
    from featrix_iac.server.leases import pid_alive

    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_the_server_outlives_its_first_user_and_stops_after_the_last(tmp_path: Path) -> None:
    data = tmp_path / "local"
    owner = start_local_server(data)
    guest = start_local_server(data)
    owner.stop()  # the owner leaves first: the guest still uses the server
    time.sleep(1.0)
    assert guest.running() and _whoami(guest.url, guest.api_key) == 200
    guest.stop()
    assert _gone(owner.pid), "the server kept running after its last user left"
    assert not (data / "server.json").exists()


def test_a_killed_owner_does_not_take_the_server_with_it(tmp_path: Path) -> None:
    data = tmp_path / "local"
    code = (
        "import sys, time\n"
        "from featrix_iac.server.embedded import start_local_server\n"
        "srv = start_local_server(sys.argv[1])\n"
        "print(srv.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", code, str(data)], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(owner.stdout.readline()) if owner.stdout else 0
        guest = start_local_server(data)
        assert guest.pid == server_pid
    finally:
        owner.kill()
        owner.wait()
    time.sleep(1.5)
    try:
        assert guest.running() and _whoami(guest.url, guest.api_key) == 200
    finally:
        guest.stop()
    assert _gone(server_pid)


def test_a_failed_start_is_reported_at_once_when_the_folder_is_not_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from featrix_iac.server import embedded

    spawned: list[Any] = []
    popen = subprocess.Popen

    def counting(*args: Any, **kwargs: Any) -> Any:
        spawned.append(popen(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(embedded.subprocess, "Popen", counting)
    data = tmp_path / "local"
    data.mkdir()
    (data / "featrix.sqlite3").mkdir()  # the server cannot open its database: waiting cannot help
    with pytest.raises(RuntimeError, match="exited with code"):
        start_local_server(data, timeout=300)
    assert len(spawned) == 1  # one start, its error at once: no waiting for a folder nobody holds
    assert not list((data / "leases").iterdir())


def test_starts_racing_on_one_folder_end_on_one_server(tmp_path: Path) -> None:
    """The loser's server finds the folder busy: only then does its command wait, and it attaches to the winner's."""
    from concurrent.futures import ThreadPoolExecutor

    data = tmp_path / "local"
    with ThreadPoolExecutor(3) as pool:
        servers = list(pool.map(lambda _: start_local_server(data), range(3)))
    try:
        assert len({srv.pid for srv in servers}) == 1
        assert all(_whoami(srv.url, srv.api_key) == 200 for srv in servers)
    finally:
        for srv in servers:
            srv.stop()
    assert _gone(servers[0].pid)


def test_a_lost_server_fails_the_request_at_once(tmp_path: Path) -> None:
    import os
    import signal

    from featrix_iac.client import FeatrixClient, ServerGone

    srv = start_local_server(tmp_path / "local")
    try:
        with FeatrixClient(srv.url, srv.api_key, alive=srv.running) as client:
            client.get("/auth/whoami")
            os.kill(srv.pid, signal.SIGKILL)
            start = time.monotonic()
            with pytest.raises(ServerGone):
                client.get("/auth/whoami")
            assert time.monotonic() - start < 5
    finally:
        srv.stop()
