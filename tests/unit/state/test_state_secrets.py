"""Secrets in the lockfile: AES-256-GCM round trip, key sources, and clear errors for wrong keys or tampering."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import LockEntry, StateStore
from featrix_iac.state.secrets import PREFIX

SECRET = "fx_ep_canary_5f2b9c"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATRIX_LOCK_KEY", raising=False)


def flip(blob: str, index: int) -> str:
    raw = bytearray(base64.b64decode(blob[len(PREFIX) :]))
    raw[index] ^= 0x01
    return PREFIX + base64.b64encode(bytes(raw)).decode()


def test_round_trip_and_fresh_nonces(tmp_path: Path) -> None:
    s = StateStore(tmp_path, "default")
    a, b = s.encrypt("endpoint.api", SECRET), s.encrypt("endpoint.api", SECRET)
    assert a.startswith(PREFIX) and a != b and SECRET not in a
    assert s.decrypt("endpoint.api", a) == s.decrypt("endpoint.api", b) == SECRET


def test_generated_key_file_is_private_and_git_ignored(tmp_path: Path) -> None:
    s = StateStore(tmp_path, "default")
    blob = s.encrypt("endpoint.api", SECRET)
    key_file = tmp_path / ".featrix" / "lock.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text().strip())) == 32
    assert (tmp_path / ".featrix" / ".gitignore").read_text() == "*\n"
    assert StateStore(tmp_path, "prod").decrypt("endpoint.api", blob) == SECRET  # one key per project folder


def test_lockfile_never_holds_the_plaintext(tmp_path: Path) -> None:
    s = StateStore(tmp_path, "default")
    lock = s.load()
    s.update(
        lock,
        "endpoint.api",
        LockEntry(kind="endpoint", status="ready", secrets={"api_key": s.encrypt("endpoint.api", SECRET)}),
    )
    assert SECRET.encode() not in s.path.read_bytes()
    entry = StateStore(tmp_path, "default").load().resources["endpoint.api"]
    assert s.decrypt("endpoint.api", entry.secrets["api_key"]) == SECRET


def test_env_key_base64_and_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = os.urandom(32)
    monkeypatch.setenv("FEATRIX_LOCK_KEY", base64.b64encode(raw).decode())
    blob = StateStore(tmp_path, "default").encrypt("a.b", SECRET)
    assert StateStore(tmp_path / "x", "default", lock_key=raw).decrypt("a.b", blob) == SECRET
    monkeypatch.setenv("FEATRIX_LOCK_KEY", base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert StateStore(tmp_path, "default").decrypt("a.b", blob) == SECRET
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "correct horse battery staple")
    pblob = StateStore(tmp_path, "default").encrypt("a.b", SECRET)
    assert StateStore(tmp_path / "elsewhere", "default").decrypt("a.b", pblob) == SECRET
    assert not (tmp_path / ".featrix" / "lock.key").exists()  # an env key never writes a key file


def test_wrong_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = StateStore(tmp_path, "default", lock_key=b"k" * 32).encrypt("endpoint.api", SECRET)
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "not the right passphrase")
    with pytest.raises(DiagnosticsError) as info:
        StateStore(tmp_path, "default").decrypt("endpoint.api", blob)
    d = info.value.diagnostics.items[0]
    assert d.summary == "cannot decrypt a lockfile secret: wrong lock key"
    assert d.address == "endpoint.api" and "$FEATRIX_LOCK_KEY" in d.detail


@pytest.mark.parametrize("index", [4, 10, 20, -1])  # nonce, nonce, ciphertext, tag
def test_a_flipped_byte_fails_authentication(tmp_path: Path, index: int) -> None:
    s = StateStore(tmp_path, "default", lock_key=b"k" * 32)
    blob = s.encrypt("endpoint.api", SECRET)
    with pytest.raises(DiagnosticsError) as info:
        s.decrypt("endpoint.api", flip(blob, index))
    assert "authentication failed" in str(info.value)


def test_a_blob_moved_to_another_address_fails(tmp_path: Path) -> None:
    s = StateStore(tmp_path, "default", lock_key=b"k" * 32)
    with pytest.raises(DiagnosticsError) as info:
        s.decrypt("endpoint.other", s.encrypt("endpoint.api", SECRET))
    assert "authentication failed" in str(info.value)


@pytest.mark.parametrize("blob", ["fx_plaintext", PREFIX + "!!notbase64", PREFIX + base64.b64encode(b"short").decode()])
def test_malformed_blobs(tmp_path: Path, blob: str) -> None:
    with pytest.raises(DiagnosticsError):
        StateStore(tmp_path, "default", lock_key=b"k" * 32).decrypt("endpoint.api", blob)


def test_decrypt_without_any_key_does_not_invent_one(tmp_path: Path) -> None:
    blob = StateStore(tmp_path / "a", "default").encrypt("endpoint.api", SECRET)
    with pytest.raises(DiagnosticsError) as info:
        StateStore(tmp_path / "b", "default").decrypt("endpoint.api", blob)
    assert "no lock key" in str(info.value)
    assert not (tmp_path / "b" / ".featrix" / "lock.key").exists()


def test_bad_key_file_and_bad_explicit_key(tmp_path: Path) -> None:
    (tmp_path / ".featrix").mkdir()
    (tmp_path / ".featrix" / "lock.key").write_text("short\n")
    with pytest.raises(DiagnosticsError):
        StateStore(tmp_path, "default").encrypt("a.b", SECRET)
    with pytest.raises(ValueError):
        StateStore(tmp_path, "default", lock_key=b"123")


def test_write_only_hashes_are_stable_salted_and_hide_the_value() -> None:
    from featrix_iac.state import hash_write_only

    h = hash_write_only("predictor.species", "webhook_secret", "s3cret-value")
    assert h == hash_write_only("predictor.species", "webhook_secret", "s3cret-value")
    assert h.startswith("sha256:") and "s3cret" not in h
    assert h != hash_write_only("predictor.other", "webhook_secret", "s3cret-value")
    assert h != hash_write_only("predictor.species", "webhook_secret", "s3cret-valuf")


def test_key_rotation_with_a_fallback_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "old passphrase")
    s = StateStore(tmp_path, "default")
    lock = s.load()
    s.update(
        lock,
        "endpoint.api",
        LockEntry(kind="endpoint", status="ready", secrets={"api_key": s.encrypt("endpoint.api", SECRET)}),
    )
    old_blob = lock.resources["endpoint.api"].secrets["api_key"]

    monkeypatch.setenv("FEATRIX_LOCK_KEY", "new passphrase")
    with pytest.raises(DiagnosticsError, match="wrong lock key"):
        StateStore(tmp_path, "default").decrypt("endpoint.api", old_blob)
    monkeypatch.setenv("FEATRIX_LOCK_KEY_FALLBACK", "old passphrase")
    s = StateStore(tmp_path, "default")
    assert s.decrypt("endpoint.api", old_blob) == SECRET
    lock = s.load()
    s.save(lock)  # re-encrypts with the new key
    new_blob = StateStore(tmp_path, "default").load().resources["endpoint.api"].secrets["api_key"]
    assert new_blob != old_blob

    monkeypatch.delenv("FEATRIX_LOCK_KEY_FALLBACK")
    assert StateStore(tmp_path, "default").decrypt("endpoint.api", new_blob) == SECRET
