"""Lock key rules: never generated over recorded secrets or in CI, empty variable = unset, atomic key file."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import LockEntry, StateStore

SECRET = "fx_ep_canary_91c3"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATRIX_LOCK_KEY", raising=False)
    monkeypatch.delenv("FEATRIX_LOCK_KEY_FALLBACK", raising=False)
    monkeypatch.delenv("CI", raising=False)


def key_file(root: Path) -> Path:
    return root / ".featrix" / "lock.key"


def lockfile_with_a_secret(root: Path, monkeypatch: pytest.MonkeyPatch, env: str = "default") -> None:
    """A committed lockfile holding an endpoint key, in a checkout without `.featrix/` (it is git-ignored)."""
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "the team passphrase")
    s = StateStore(root, env)
    lock = s.load()
    blob = s.encrypt("endpoint.api", SECRET)
    s.update(lock, "endpoint.api", LockEntry(kind="endpoint", status="ready", secrets={"api_key": blob}))
    monkeypatch.delenv("FEATRIX_LOCK_KEY")
    assert not key_file(root).exists()


def message(info: pytest.ExceptionInfo[DiagnosticsError]) -> str:
    d = info.value.diagnostics.items[0]
    return f"{d.summary}\n{d.detail}"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_key_is_generated_while_the_lockfile_holds_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    lockfile_with_a_secret(tmp_path, monkeypatch)
    if value is not None:
        monkeypatch.setenv("FEATRIX_LOCK_KEY", value)
    s = StateStore(tmp_path, "default")
    s.load()
    with pytest.raises(DiagnosticsError) as info:
        s.encrypt("endpoint.other", "fx_new_key")
    text = message(info)
    assert "FEATRIX_LOCK_KEY" in text and "featrix.lock" in text
    assert ("empty" in text) == (value is not None)
    assert not key_file(tmp_path).exists()


def test_an_empty_variable_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "")
    s = StateStore(tmp_path, "default")
    s.load()
    blob = s.encrypt("endpoint.api", SECRET)  # no lockfile secrets, not CI: a key file is generated
    assert key_file(tmp_path).is_file()
    assert StateStore(tmp_path, "default").decrypt("endpoint.api", blob) == SECRET


def test_an_empty_variable_is_named_when_nothing_decrypts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lockfile_with_a_secret(tmp_path, monkeypatch)
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "")
    s = StateStore(tmp_path, "default")
    blob = s.load().resources["endpoint.api"].secrets["api_key"]
    with pytest.raises(DiagnosticsError) as info:
        s.decrypt("endpoint.api", blob)
    assert "FEATRIX_LOCK_KEY" in message(info) and "empty" in message(info)


@pytest.mark.parametrize("value", [None, ""])
def test_ci_requires_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    monkeypatch.setenv("CI", "true")
    if value is not None:
        monkeypatch.setenv("FEATRIX_LOCK_KEY", value)
    s = StateStore(tmp_path, "default")
    s.load()
    with pytest.raises(DiagnosticsError) as info:
        s.encrypt("endpoint.api", SECRET)
    assert "FEATRIX_LOCK_KEY" in message(info) and "CI" in message(info)
    assert not key_file(tmp_path).exists()
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "the team passphrase")
    assert s.decrypt("endpoint.api", StateStore(tmp_path, "default").encrypt("endpoint.api", SECRET)) == SECRET


@pytest.mark.parametrize("value", ["false", "0"])
def test_ci_false_is_not_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    StateStore(tmp_path, "default").encrypt("endpoint.api", SECRET)
    assert key_file(tmp_path).is_file()


def test_simultaneous_first_uses_share_one_complete_key(tmp_path: Path) -> None:
    """Many processes' first use at once: all get one key; none reads an empty or partial key file."""
    from lock_key_race import SECRET as RACE_SECRET
    from lock_key_race import first_uses

    errors, blobs = first_uses(tmp_path, 48)
    assert errors == [] and len(blobs) == 48
    reader = StateStore(tmp_path, "default")
    assert all(reader.decrypt("endpoint.api", blob) == RACE_SECRET for blob in blobs)
    assert [p.name for p in (tmp_path / ".featrix").iterdir() if p.name.endswith(".tmp")] == []


def test_no_key_is_generated_while_another_environments_lockfile_holds_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every environment shares `.featrix/lock.key`: a new one would not open prod's secrets either."""
    lockfile_with_a_secret(tmp_path, monkeypatch, "prod")
    dev = StateStore(tmp_path, "dev")
    dev.load()
    with pytest.raises(DiagnosticsError) as info:
        dev.encrypt("endpoint.api", "fx_dev_key")
    assert "featrix.prod.lock" in message(info) and "FEATRIX_LOCK_KEY" in message(info)
    assert not key_file(tmp_path).exists()


@pytest.mark.parametrize(("url", "generated"), [("local", True), ("https://sphere-api.featrix.com", False)])
def test_in_ci_only_an_embedded_server_project_generates_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, generated: bool
) -> None:
    """`server.url: local` keeps its objects in .featrix/local next to the key: both go with the runner."""
    from repo_files import copy_project

    from featrix_iac.operations.session import open_session

    root = copy_project(Path(__file__).resolve().parents[3] / "examples" / "quickstart", tmp_path / "quickstart")
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("url: local", f"url: {url}"))
    monkeypatch.setenv("CI", "true")
    store = open_session(root).store
    store.load()
    if generated:
        assert store.decrypt("endpoint.api", store.encrypt("endpoint.api", SECRET)) == SECRET
    else:
        with pytest.raises(DiagnosticsError, match="FEATRIX_LOCK_KEY"):
            store.encrypt("endpoint.api", SECRET)
    assert key_file(root).exists() == generated
