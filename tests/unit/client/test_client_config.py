"""Key and base URL resolution, in the official client's order (contract §1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.client import ConfigError, FeatrixClient
from featrix_iac.client.config import DEFAULT_BASE_URL, check_key, resolve

KEY = "fx_file_key_123"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: h))
    for var in ("FEATRIX_API_KEY", "FEATRIX_BASE_URL", "OTHER_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FEATRIX_KEY_FILE", str(tmp_path / "no-such-key-file"))
    return h


def test_env_var_wins_and_files_still_give_the_base_url(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_API_KEY", "fx_env")
    (home / ".featrix").write_text("api_key=fx_file\nbase_url=https://file.example\n")
    r = resolve()
    assert (r.api_key, r.base_url, r.key_source) == ("fx_env", "https://file.example", "$FEATRIX_API_KEY")


def test_featrix_file_key_value_with_quotes_comments_and_case(home: Path) -> None:
    (home / ".featrix").write_text("# my key\nFEATRIX_API_KEY='fx_quoted'\nFeatrix_Base_URL=\"https://q.example/\"\n")
    r = resolve()
    assert (r.api_key, r.base_url) == ("fx_quoted", "https://q.example")


def test_featrix_directory_identity_env_then_config(home: Path) -> None:
    d = home / ".featrix"
    d.mkdir()
    (d / "config").write_text('{"api_key": "fx_config", "base_url": "https://config.example"}')
    assert resolve().api_key == "fx_config"
    (d / "identity.env").write_text("api_key=fx_identity\n")
    r = resolve()
    assert r.api_key == "fx_identity" and r.base_url == DEFAULT_BASE_URL  # the scan stops at the first key


def test_default_key_file_and_featrix_key_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw.key"
    raw.write_text("fx_raw\n")
    monkeypatch.setenv("FEATRIX_KEY_FILE", str(raw))
    assert resolve().api_key == "fx_raw"
    (home / ".featrix_default_key").write_text('{"featrix_api_key": "fx_default"}')
    assert resolve().api_key == "fx_default"


def test_base_url_env_only_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_API_KEY", KEY)
    monkeypatch.setenv("FEATRIX_BASE_URL", "https://env.example")
    assert resolve().base_url == "https://env.example"
    assert resolve(DEFAULT_BASE_URL).base_url == "https://env.example"
    assert resolve("http://127.0.0.1:8765/").base_url == "http://127.0.0.1:8765"


def test_from_environment_builds_a_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_KEY", KEY)
    with FeatrixClient.from_environment("http://127.0.0.1:1", api_key_env="OTHER_KEY", compute_cluster="c") as client:
        assert client.base_url == "http://127.0.0.1:1" and client.compute_cluster == "c"


def test_missing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        FeatrixClient.from_environment()
    assert "no Featrix API key" in str(info.value)
    assert info.value.diagnostics.has_errors


def test_malformed_key_names_its_source_but_not_the_key(home: Path) -> None:
    (home / ".featrix").write_text("api_key=sk_totally_secret_value\n")
    with pytest.raises(ConfigError) as info:
        FeatrixClient.from_environment()
    msg = str(info.value) + repr(info.value) + str(list(info.value.diagnostics))
    assert "sk_totally_secret_value" not in msg
    assert str(home / ".featrix") in msg


def test_unreadable_or_empty_files_are_skipped(home: Path) -> None:
    (home / ".featrix").write_text("   \n")
    (home / ".featrix_default_key").write_text("{not json")
    assert resolve().api_key is None


def test_an_exact_url_is_never_overridden(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest's server.url is used as written: FEATRIX_BASE_URL and ~/.featrix's base_url do not replace it."""
    monkeypatch.setenv("FEATRIX_BASE_URL", "https://env.example")
    (home / ".featrix").write_text("api_key=fx_file\nbase_url=https://file.example\n")
    assert resolve(DEFAULT_BASE_URL, home=home, exact=True).base_url == DEFAULT_BASE_URL
    assert resolve("https://mine.example", home=home, exact=True).base_url == "https://mine.example"


def test_the_missing_key_message_names_the_variable_the_project_uses() -> None:
    with pytest.raises(ConfigError) as info:
        check_key(None, "", "ACME_FEATRIX_KEY")
    assert "ACME_FEATRIX_KEY" in info.value.detail and "FEATRIX_API_KEY" not in info.value.detail
