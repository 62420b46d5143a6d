"""Leases on an embedded local server: a file per user (process and handle); the server stops when none is left.

    DATA_DIR/leases/<pid>-<token>   "<pid> <process start time>"  (a dead or reused pid counts as released)
    DATA_DIR/leases.lock            flock: taking a lease and the server's decision to stop never interleave

A command takes its lease before it looks for a running server, and the server removes `server.json`
under the same lock when it decides to stop; so a command either finds a server that will stay for it,
or finds none and starts its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LEASES = "leases"
LOCK = "leases.lock"


@contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold the lease lock (no-op where flock does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(Path(data_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks (Linux), so a reused pid is not mistaken for the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else "zombie"


def pid_alive(pid: int, start: str = "") -> bool:
    """Whether `pid` is a running process (and, when `start` is known, the same one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return now != "zombie" and (not start or not now or now == start)


def take(data_dir: Path) -> Path:
    """A new lease of this process on the server of `data_dir`; the caller releases it with `release`."""
    folder = Path(data_dir) / LEASES
    pid = os.getpid()
    with locked(data_dir):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{pid}-{secrets.token_hex(4)}"
        path.write_text(f"{pid} {_start_time(pid)}", encoding="ascii")
    return path


def release(lease: Path) -> None:
    with locked(lease.parent.parent):
        lease.unlink(missing_ok=True)


def holders(data_dir: Path) -> list[Path]:
    """The live leases (call under `locked`); leases of dead processes are removed."""
    live = []
    for path in sorted((Path(data_dir) / LEASES).glob("*-*")):
        try:
            pid_text, _, start = path.read_text(encoding="ascii").partition(" ")
            alive = pid_alive(int(pid_text), start.strip())
        except (OSError, ValueError):
            alive = False
        if alive:
            live.append(path)
        else:
            path.unlink(missing_ok=True)
    return live
