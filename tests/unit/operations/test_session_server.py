"""The server a session connects to is the manifest's server.url, whatever the environment says."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.operations.session import connect


@pytest.mark.parametrize("url", ["https://sphere-api.featrix.com", "https://featrix.internal.example/"])
def test_featrix_base_url_and_featrix_config_never_override_server_url(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official client lets FEATRIX_BASE_URL (or ~/.featrix's base_url) replace its default URL; a
    manifest that names the default must still reach it, not a URL a shell happened to export."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".featrix").write_text("api_key=fx_from_file_0123456789\nbase_url=https://from-file.example\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    monkeypatch.setenv("FEATRIX_BASE_URL", "https://from-env.example")
    monkeypatch.delenv("FEATRIX_API_KEY", raising=False)
    (tmp_path / "featrix.yaml").write_text(f"version: 1\nproject: p\nserver:\n  url: {url}\n")
    with connect(load_project(tmp_path)) as (client, recorded):
        assert client.base_url == recorded == url.rstrip("/")
        assert client.url_source == "server.url in featrix.yaml:4:8"
