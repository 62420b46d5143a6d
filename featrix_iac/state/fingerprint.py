"""Fingerprints of data: a streamed SHA-256 of a file, cached by (path, size, mtime_ns, inode); URLs as is."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featrix_iac.diagnostics import fail
from featrix_iac.state.atomic import atomic_write

CHUNK = 1 << 20  # 1 MiB
CACHE_VERSION = 1

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_memo: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}  # cache path -> (its stat, its entries)


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # "sha256:<hex>"
    cached: bool  # True: taken from the cache, the file was not opened
    bytes_read: int  # bytes of the data file read to compute it (0 when cached)


def fingerprint_url(url: str) -> str:
    """A URL's fingerprint is the URL itself: the server fetches the data, we never read it."""
    return f"url:{url}"


def fingerprint_file(path: Path, cache_path: Path) -> str:
    """ "sha256:<hex>" of a file's bytes; an unchanged file (same size, mtime_ns, inode) is never re-read."""
    return fingerprint_file_info(path, cache_path).digest


def fingerprint_file_info(path: Path, cache_path: Path) -> Fingerprint:
    """fingerprint_file with how it was obtained (cache hit, bytes read), for tests and benchmarks."""
    path = Path(os.path.abspath(path))
    stat_key = _stat_key(path)
    key = str(path)
    with _lock_for(cache_path):
        hit = _load(cache_path).get(key)
    if isinstance(hit, dict) and hit.get("stat") == list(stat_key) and isinstance(hit.get("digest"), str):
        return Fingerprint(hit["digest"], True, 0)
    digest, nbytes = _hash(path)
    if _stat_key(path) == stat_key:  # unchanged while we read it: safe to remember
        with _lock_for(cache_path):
            entries = dict(_load(cache_path))
            entries[key] = {"stat": list(stat_key), "digest": digest}
            _store(cache_path, entries)
    return Fingerprint(digest, False, nbytes)


def _stat_key(path: Path) -> tuple[int, int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise fail(f"data file not found: {path}") from None
    except OSError as exc:
        raise fail(f"cannot read data file {path}", str(exc)) from None
    if not path.is_file():
        raise fail(f"data path is not a file: {path}")
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _hash(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        with path.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
                total += n
    except OSError as exc:
        raise fail(f"cannot read data file {path}", str(exc)) from None
    return "sha256:" + h.hexdigest(), total


def _lock_for(cache_path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(cache_path), threading.Lock())


def _load(cache_path: Path) -> dict[str, Any]:
    """The cache's entries (memoised while the cache file is unchanged); a bad cache reads as empty."""
    try:
        st = cache_path.stat()
    except OSError:
        return {}
    sig = (st.st_size, st.st_mtime_ns)
    memo = _memo.get(str(cache_path))
    if memo and memo[0] == sig:
        return memo[1]
    try:
        data = json.loads(cache_path.read_text(encoding="utf-8"))
        entries = data["files"] if data.get("version") == CACHE_VERSION and isinstance(data.get("files"), dict) else {}
    except (OSError, ValueError, AttributeError, KeyError):
        entries = {}
    _memo[str(cache_path)] = (sig, entries)
    return entries


def _store(cache_path: Path, entries: dict[str, Any]) -> None:
    from featrix_iac.state.secrets import ensure_private_folder

    if cache_path.parent.name == ".featrix":
        ensure_private_folder(cache_path.parent)
    text = json.dumps({"version": CACHE_VERSION, "files": entries}, sort_keys=True, indent=1) + "\n"
    atomic_write(cache_path, text.encode("utf-8"), mode=0o600)
    st = cache_path.stat()
    _memo[str(cache_path)] = ((st.st_size, st.st_mtime_ns), entries)
