"""The exclusive lock per environment: an OS file lock plus a JSON file that names its holder.

`.featrix/locks/<env>.lock` is held with filelock (flock), which the OS releases when the holder dies;
`.featrix/locks/<env>.json` records who holds it (id, pid, host, user, operation, created). A refusal
names the holder and the lock id; an info file left by a dead holder is reported as stale and taken over.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from featrix_iac.diagnostics import DiagnosticsError, fail
from featrix_iac.state.atomic import atomic_write, pid_alive

log = logging.getLogger("featrix_iac.state")


@dataclass
class LockInfo:
    """Who holds (or held) an environment's lock. `stale` is the dead holder this lock took over from."""

    id: str
    pid: int
    host: str
    user: str
    operation: str
    created: str
    environment: str = ""
    stale: LockInfo | None = field(default=None, compare=False)

    @classmethod
    def new(cls, operation: str, environment: str) -> LockInfo:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name is not worth failing a lock for
            user = str(os.getuid())
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        return cls(str(uuid.uuid4()), os.getpid(), socket.gethostname(), user, operation, now, environment)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("stale")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockInfo:
        return cls(
            id=str(data.get("id", "")),
            pid=int(data.get("pid", 0) or 0),
            host=str(data.get("host", "")),
            user=str(data.get("user", "")),
            operation=str(data.get("operation", "")),
            created=str(data.get("created", "")),
            environment=str(data.get("environment", "")),
        )

    def describe(self) -> str:
        return (
            f"{self.operation or 'an operation'} (pid {self.pid} on {self.host}, user {self.user}) since {self.created}"
        )

    @property
    def dead(self) -> bool:
        """True when the holder is known to be gone: a pid that no longer runs on this host."""
        return self.host == socket.gethostname() and not pid_alive(self.pid)


class EnvLock:
    """The lock of one environment under `<private_dir>/locks/`."""

    def __init__(self, private_dir: Path, environment: str) -> None:
        self.folder = private_dir / "locks"
        self.environment = environment
        self.lock_path = self.folder / f"{environment}.lock"
        self.info_path = self.folder / f"{environment}.json"

    def read_info(self) -> LockInfo | None:
        try:
            return LockInfo.from_json(json.loads(self.info_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    @contextlib.contextmanager
    def hold(self, operation: str) -> Iterator[LockInfo]:
        from filelock import FileLock, Timeout

        from featrix_iac.state.secrets import ensure_private_folder

        ensure_private_folder(self.folder.parent)
        self.folder.mkdir(exist_ok=True)
        flock = FileLock(str(self.lock_path), timeout=0)
        try:
            flock.acquire()
        except Timeout:
            raise self._refusal() from None
        try:
            info = LockInfo.new(operation, self.environment)
            info.stale = self._take_over()
            atomic_write(self.info_path, (json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n").encode())
            try:
                yield info
            finally:
                with contextlib.suppress(OSError):
                    if (self.read_info() or info).id == info.id:
                        self.info_path.unlink()
        finally:
            flock.release()

    def _take_over(self) -> LockInfo | None:
        old = self.read_info()
        if old is None:
            return None
        state = "stale: its process is gone" if old.dead else "left behind (the OS lock was free)"
        log.warning(
            "taking over the lock of environment %r held by %s, id %s (%s)",
            self.environment,
            old.describe(),
            old.id,
            state,
        )
        return old

    def _refusal(self) -> DiagnosticsError:
        holder = self.read_info()
        if holder is None or holder.dead:  # the new holder has not written its info yet
            return fail(
                f"state is locked: another featrix process is using environment {self.environment!r}",
                "it is starting or stopping; try again in a moment",
            )
        return fail(
            f"state is locked: environment {self.environment!r} is held by {holder.describe()}",
            f"lock id: {holder.id}\nwait for it to finish; if that process is stuck or gone, "
            f"`featrix unlock {holder.id}` releases the lock",
        )

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock whose id is `lock_id` (a stuck holder keeps nothing: the next one takes a fresh file)."""
        holder = self.read_info()
        if holder is None:
            raise fail(f"environment {self.environment!r} is not locked", "there is nothing to unlock")
        if lock_id != holder.id:
            raise fail(
                "lock id does not match: not unlocking",
                f"environment {self.environment!r} is held by {holder.describe()} with lock id {holder.id}",
            )
        for path in (self.info_path, self.lock_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return holder
