"""Best-effort caches of derived plain data in a project's private folder (marshal: data only, never code).

Each cache file holds (key, value). A reader gets the value only when the key it expects is the one stored;
anything else (no file, another key, a truncated or foreign file) reads as no cache. A writer writes only into
a folder that already exists (a plan never creates `.featrix/` for a cache) and a failed write changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

PRIVATE_DIR = ".featrix"


def digest(raw: bytes) -> str:
    """SHA-256 of the bytes a cached value was derived from (part of its key)."""
    return hashlib.sha256(raw).hexdigest()


@functools.cache
def code_stamp(*files: str) -> tuple[Any, ...]:
    """The featrix version and (size, mtime) of the modules a cached value's derivation depends on: a checkout
    whose code changed under the same version (development) never reads what older code derived."""
    from featrix_iac import __version__

    stamps: list[Any] = [__version__]
    for name in files:
        try:
            st = os.stat(name)
            stamps.append((st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def read(path: Path, key: tuple[Any, ...]) -> Any | None:
    """The value stored under `key` at `path`, or None."""
    try:
        stored, value = marshal.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - missing, unreadable, truncated or not ours: no cache
        return None
    return value if stored == key else None


def write(path: Path, key: tuple[Any, ...], value: Any, *, folder: Path | None = None) -> None:
    """Store `value` under `key` at `path` (atomically replaced). Only when `folder` (default: the file's own
    folder) exists; subfolders between it and the file are created."""
    if not (folder or path.parent).is_dir():
        return
    tmp = ""
    try:
        data = marshal.dumps((key, value))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
        os.replace(tmp, path)
    except (OSError, ValueError):  # read-only folder, disk full, a value marshal cannot write: no cache
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
