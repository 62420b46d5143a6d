"""Two featrix commands on one project share its local server: the second attaches instead of failing."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

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
