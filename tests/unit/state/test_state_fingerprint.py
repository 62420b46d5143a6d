"""Data fingerprints: streamed SHA-256, and a stat cache that never re-reads an unchanged file."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import StateStore, fingerprint_file, fingerprint_file_info, fingerprint_url


def data_file(tmp_path: Path, content: bytes = b"a,b\n1,2\n" * 200_000) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    return path


def test_digest_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    expected = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    info = fingerprint_file_info(path, tmp_path / ".featrix" / "fingerprints.json")
    assert info.digest == expected and not info.cached and info.bytes_read == path.stat().st_size
    assert (tmp_path / ".featrix" / ".gitignore").exists()


def test_a_cached_fingerprint_reads_zero_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = data_file(tmp_path), tmp_path / "cache.json"
    first = fingerprint_file(path, cache)

    def no_open(self: Path, *a: object, **k: object) -> None:
        if self == path:
            raise AssertionError("the data file was opened although it is cached")
        return real_open(self, *a, **k)  # type: ignore[arg-type]

    real_open = Path.open
    monkeypatch.setattr(Path, "open", no_open)
    info = fingerprint_file_info(path, cache)
    assert info.digest == first and info.cached and info.bytes_read == 0


def test_the_cache_survives_the_process_memo(tmp_path: Path) -> None:
    from featrix_iac.state import fingerprint as fp

    path, cache = data_file(tmp_path), tmp_path / "cache.json"
    fingerprint_file(path, cache)
    fp._memo.clear()
    assert fingerprint_file_info(path, cache).cached


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path, cache = data_file(tmp_path), tmp_path / "cache.json"
    first = fingerprint_file(path, cache)
    path.write_bytes(b"a,b\n1,3\n" * 200_000)  # same size, new content and mtime
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    info = fingerprint_file_info(path, cache)
    assert not info.cached and info.digest != first
    assert fingerprint_file_info(path, cache).cached


def test_a_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    path, cache = data_file(tmp_path), tmp_path / "cache.json"
    cache.write_text("{nonsense")
    assert fingerprint_file_info(path, cache).cached is False
    assert fingerprint_file_info(path, cache).cached is True


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    paths = []
    for i in range(12):
        p = tmp_path / f"d{i}.csv"
        p.write_bytes(f"x,y\n{i},{i}\n".encode() * 1000)
        paths.append(p)
    results: dict[Path, str] = {}
    threads = [threading.Thread(target=lambda p=p: results.__setitem__(p, fingerprint_file(p, cache))) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(fingerprint_file_info(p, cache).cached for p in paths)
    assert all(results[p] == "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)


def test_missing_file_and_url(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError, match="data file not found"):
        fingerprint_file(tmp_path / "nope.csv", tmp_path / "cache.json")
    assert fingerprint_url("https://x.example/d.csv") == "url:https://x.example/d.csv"


def test_store_uses_the_project_cache(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    s = StateStore(tmp_path, "default")
    assert s.fingerprint(path) == fingerprint_file(path, tmp_path / ".featrix" / "fingerprints.json")
    assert (tmp_path / ".featrix" / "fingerprints.json").exists()
