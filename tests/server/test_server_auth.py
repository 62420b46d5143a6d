"""Auth, health, identity, size limits, and hooks being off by default — against a running server."""

from __future__ import annotations

import http.client
import stat
from pathlib import Path
from urllib.parse import urlparse

import requests

from featrix_iac.server.embedded import start_local_server


def test_health_is_open_and_reports_nodes(server) -> None:
    body = requests.get(server.url + "/health", timeout=10).json()
    assert body["status"] == "healthy" and "local" in body["nodes"]


def test_every_other_route_needs_the_account_key(server, trained) -> None:
    sid = trained["sid"]
    for path in ("/auth/whoami", f"/compute/session/{sid}", "/compute/sessions-for-org", "/endpoints"):
        resp = requests.get(server.url + path, timeout=10)
        assert resp.status_code == 401
        assert "error" in resp.json()
        wrong = requests.get(server.url + path, headers={"X-Api-Key": "fx_wrong"}, timeout=10)
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid API key"
    resp = requests.post(server.url + f"/compute/session/{sid}/predict", json={"query_record": {}}, timeout=10)
    assert resp.status_code == 401


def test_key_header_name_is_case_insensitive(server) -> None:
    for name in ("X-Api-Key", "X-API-Key", "x-api-key"):
        resp = requests.get(server.url + "/auth/whoami", headers={name: server.api_key}, timeout=10)
        assert resp.status_code == 200
    who = resp.json()
    assert who["org_slug"] == "local" and who["user_id"] and who["api_key_id"]
    assert server.api_key not in resp.text
    project = requests.get(server.url + "/projects/penguins", headers={"X-Api-Key": server.api_key}, timeout=10)
    assert project.json() == {"id": "penguins", "name": "penguins"}


def test_body_size_limit_answers_413_before_reading(server) -> None:
    url = urlparse(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/compute/create-embedding-space")
    conn.putheader("X-Api-Key", server.api_key)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(64 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"too large" in resp.read()
    conn.close()


def test_generated_key_is_stored_0600_and_hooks_are_off_by_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FEATRIX_API_KEY", raising=False)
    monkeypatch.setenv("FEATRIX_LOCAL_TEST_HOOKS", "1")  # the embedded start decides: test_hooks=False wins
    with start_local_server(tmp_path) as srv:
        key_file = tmp_path / "account.key"
        assert key_file.read_text().strip() == srv.api_key and srv.api_key.startswith("fx_")
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        resp = requests.post(srv.url + "/__test__/faults", headers={"X-Api-Key": srv.api_key}, json={}, timeout=10)
        assert resp.status_code == 404
    with start_local_server(tmp_path) as again:
        assert again.api_key == srv.api_key


def test_a_new_data_folder_is_private(tmp_path: Path) -> None:
    with start_local_server(tmp_path / "fresh" / "data", api_key="fx_private") as srv:
        assert srv.data_dir is not None and stat.S_IMODE(srv.data_dir.stat().st_mode) & 0o077 == 0


def test_explicit_key_must_start_with_fx(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="fx_"):
        start_local_server(tmp_path, api_key="not-a-featrix-key")
