"""StateStore: one environment's lockfile on disk — load with refusals, atomic save, secrets, lock."""

from __future__ import annotations

import json
import re
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from featrix_iac import __version__
from featrix_iac.config import private_cache
from featrix_iac.config.private_cache import PRIVATE_DIR
from featrix_iac.diagnostics import DiagnosticsError, Source, fail
from featrix_iac.state import secrets as sec
from featrix_iac.state import validated
from featrix_iac.state.atomic import atomic_write
from featrix_iac.state.fingerprint import fingerprint_file
from featrix_iac.state.lockfile import FORMAT_VERSION, LockEntry, Lockfile, dumps, problems, version_tuple
from featrix_iac.state.locking import EnvLock, LockInfo

ENV_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
RESTORE_HINT = "it was left untouched; restore it from git, or move it away to start from an empty lockfile"


def lockfile_path(root: Path, environment: str) -> Path:
    return root / ("featrix.lock" if environment == "default" else f"featrix.{environment}.lock")


class StateStore:
    """The lockfile of one environment of the project at `root`, and that environment's lock.

    `save` and `update` are thread-safe: apply's worker threads share one Lockfile and change it
    only through `update`, which mutates and writes under one mutex.
    """

    def __init__(
        self,
        root: Path,
        environment: str,
        *,
        lock_key: bytes | None = None,
        project: str = "",
        local_only: bool = False,
    ) -> None:
        if not ENV_RE.match(environment):
            raise fail(f"invalid environment name {environment!r}", "use letters, digits, '-' and '_'")
        self.root = Path(root)
        self.environment = environment
        self.project = project
        self.private_dir = self.root / PRIVATE_DIR
        self.path = lockfile_path(self.root, environment)
        self.fingerprint_cache = self.private_dir / "fingerprints.json"
        self._keys = sec.KeyRing(self.private_dir, lock_key, local_only=local_only)
        self._env_lock = EnvLock(self.private_dir, environment)
        self._mutex = threading.RLock()
        self._writer = threading.Lock()  # one write at a time; changes made meanwhile go with the next (update)
        self._changes = self._saved = 0  # updates made / updates known to be on disk
        self._disk: tuple[int, int, int] | None = None  # (size, mtime_ns, inode) as last read or written

    def __repr__(self) -> str:
        return f"StateStore(path={str(self.path)!r}, environment={self.environment!r})"

    # -- load / save ---------------------------------------------------------------------------

    def load(self) -> Lockfile:
        """The lockfile, or a new empty one (fresh lineage) when there is none; refusals are diagnostics."""
        with self._mutex:
            lock = self._read_lockfile()
            if lock is None:
                self._keys.recorded_secrets = 0
                return Lockfile(project=self.project, environment=self.environment)
            self._keys.recorded_secrets = sum(len(e.secrets) for e in lock.resources.values())
            self._keys.lockfile_name = self.path.name
            if lock.environment != self.environment:
                raise fail(
                    f"lockfile {self.path.name} belongs to environment {lock.environment!r}, not {self.environment!r}",
                    f"{self.path}: {RESTORE_HINT}",
                    source=Source(str(self.path)),
                )
            return lock

    def _read_lockfile(self) -> Lockfile | None:
        """The stored lockfile, validated (None when there is none yet); the file backend remembers what it read.

        Bytes validated before load from the private cache of state/validated.py (no parsing, no validation);
        other bytes are decoded and validated in full, then remembered there.
        """
        if not self.path.exists():
            self._disk = None
            return None
        raw, disk = self._read_bytes()
        cache, digest = validated.cache_path(self.private_dir, self.path.name), private_cache.digest(raw)
        lock = validated.load(cache, digest)
        if lock is not None:
            self._disk = disk
            return lock
        data = self._decode(raw)
        self._disk = disk  # known only once it decodes: a corrupt file is never written over
        lock = self._validate(data)
        validated.remember(cache, digest, lock)
        return lock

    def save(self, lock: Lockfile) -> None:
        """serial += 1 and write atomically (temp file, fsync, os.replace, fsync folder), mode 0600."""
        with self._mutex:
            self._write(lock)

    def _write(self, lock: Lockfile) -> None:
        """save's work; the caller makes it the only write running (the mutex, or update's writer lock)."""
        self._check_before_write(lock)
        self._rekey(lock)
        previous = (lock.serial, lock.tool_version)
        lock.serial += 1
        lock.tool_version = __version__
        try:
            self._persist(lock, previous[0])
        except BaseException:
            lock.serial, lock.tool_version = previous
            raise

    def _persist(self, lock: Lockfile, read_serial: int) -> None:
        """Write the document (the file backend: atomically, mode 0600, over what it read and nothing newer)."""
        self._check_unchanged(lock, read_serial)
        atomic_write(self.path, dumps(lock).encode("utf-8"), mode=0o600)
        st = self.path.stat()
        self._disk = (st.st_size, st.st_mtime_ns, st.st_ino)

    def update(self, lock: Lockfile, address: str, entry: LockEntry | None) -> None:
        """Set (or, with None, remove) one address and save; returns once a write holding the change is on disk.

        Thread-safe, with group commit: updates made while another thread writes are saved together by
        the next write, so apply's threads do not each rewrite the whole file in turn (at 1,000
        resources a write costs tens of ms, and every step makes one). A failed write undoes the change.
        """
        with self._mutex:
            old = lock.resources.get(address)
            if entry is None:
                lock.resources.pop(address, None)
            else:
                lock.resources[address] = entry
            self._changes += 1
            mine = self._changes
        with self._writer:
            if self._saved >= mine:  # a write after this change already has it
                return
            with self._mutex:  # a snapshot: other threads go on recording changes while it is written
                upto = self._changes
                # entries are replaced by update, never changed in place while stored: sharing them is enough
                # (a deep copy cost 70 ms of CPU at 1,000 resources, on every write)
                snapshot = lock.model_copy(update={"resources": dict(lock.resources)})
            try:
                self._write(snapshot)
            except BaseException:
                with self._mutex:
                    if old is None:
                        lock.resources.pop(address, None)
                    else:
                        lock.resources[address] = old
                raise
            with self._mutex:
                lock.serial, lock.tool_version = snapshot.serial, snapshot.tool_version
                self._saved = upto

    def rename(self, lock: Lockfile, old: str, new: str) -> None:
        """Move an entry to a new address (`featrix state mv`) and save.

        Secrets are bound to their address (it is the AES-GCM associated data), so they are decrypted
        and encrypted again under the new one; `depends_on` references to the old address follow.
        """
        with self._mutex:
            entry = lock.resources.get(old)
            if entry is None:
                raise fail(f"no {old} in the lockfile", address=old)
            if new in lock.resources:
                raise fail(f"{new} is already in the lockfile", address=new)
            moved = entry.model_copy(
                deep=True,
                update={"secrets": {k: self.encrypt(new, self.decrypt(old, v)) for k, v in entry.secrets.items()}},
            )
            resources = {a: e for a, e in lock.resources.items() if a != old}
            resources[new] = moved
            for e in resources.values():
                e.depends_on = [new if d == old else d for d in e.depends_on]
            lock.resources = resources
            self.save(lock)

    def _read_raw(self) -> tuple[dict[str, Any], tuple[int, int, int]]:
        raw, disk = self._read_bytes()
        return self._decode(raw), disk

    def _read_bytes(self) -> tuple[bytes, tuple[int, int, int]]:
        try:
            st = self.path.stat()
            return self.path.read_bytes(), (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError as exc:
            raise fail(f"cannot read lockfile {self.path.name}", f"{self.path}: {exc}") from None

    def _decode(self, raw: bytes) -> dict[str, Any]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"cannot read lockfile {self.path.name}", f"{self.path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(
                f"lockfile {self.path.name} is corrupt: {exc.msg} at line {exc.lineno} column {exc.colno}",
                f"{self.path}: {RESTORE_HINT}",
                source=Source(str(self.path), exc.lineno, exc.colno),
            ) from None
        if not isinstance(data, dict):
            raise self._corrupt("the top level is not a JSON object")
        return data

    def _validate(self, data: dict[str, Any]) -> Lockfile:
        fmt = data.get("format_version")
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
            raise self._corrupt("format_version is missing or not a positive integer")
        tool = str(data.get("tool_version", ""))
        if fmt > FORMAT_VERSION or version_tuple(tool) > version_tuple(__version__):
            raise fail(
                f"lockfile {self.path.name} was written by a newer featrix-iac ({tool or '?'}, format {fmt})",
                f"this is featrix-iac {__version__} (format {FORMAT_VERSION}); upgrade featrix-iac to use it. "
                f"{self.path} was left untouched.",
                source=Source(str(self.path)),
            )
        try:
            lock = Lockfile.model_validate(data)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors(include_input=False)
            )
            raise self._corrupt(reasons) from None
        found = problems(lock)
        if found:
            raise self._corrupt("; ".join(found))
        return lock

    def _corrupt(self, reason: str) -> DiagnosticsError:
        return fail(
            f"lockfile {self.path.name} is corrupt: {reason}",
            f"{self.path}: {RESTORE_HINT}",
            source=Source(str(self.path)),
        )

    def _check_before_write(self, lock: Lockfile) -> None:
        """Refuse to write plaintext secrets, another environment, or over a file we did not read."""
        if lock.environment != self.environment:
            raise fail(f"refusing to write a lockfile of environment {lock.environment!r} to {self.path.name}")
        found = problems(lock)
        if found:
            raise fail(
                f"refusing to write an invalid lockfile to {self.path.name}: {'; '.join(found)}",
                f"{self.path} was left as it was.",
                source=Source(str(self.path)),
            )
        for address, entry in lock.resources.items():
            plain = sorted(k for k, v in entry.secrets.items() if not sec.is_encrypted(v))
            if plain:
                raise fail(
                    "refusing to write a plaintext secret to the lockfile", f"fields: {', '.join(plain)}", address
                )

    def _check_unchanged(self, lock: Lockfile, read_serial: int) -> None:
        """Refuse to overwrite a lockfile file that changed on disk since it was read."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if self._disk == (st.st_size, st.st_mtime_ns, st.st_ino):
            return
        data, _ = self._read_raw()  # raises (and so never overwrites) when the file cannot be read
        if (
            data.get("lineage") != lock.lineage
            or not isinstance(data.get("serial"), int)
            or data["serial"] > read_serial
        ):
            raise fail(
                f"lockfile {self.path.name} changed on disk since it was read",
                f"on disk: lineage {data.get('lineage')}, serial {data.get('serial')}; in memory: lineage "
                f"{lock.lineage}, serial {read_serial}. Not overwriting it; run the command again.",
            )

    def _rekey(self, lock: Lockfile) -> None:
        """During a key rotation (a fallback key is set), re-encrypt old-key secrets with the current key."""
        fallback = self._keys.fallback()
        if fallback is None or not any(e.secrets for e in lock.resources.values()):
            return
        old, current = sec.key_id(fallback), self._keys.key(create=True)
        if old == sec.key_id(current):
            return
        for address, entry in lock.resources.items():
            for name, blob in list(entry.secrets.items()):
                if sec.blob_key_id(blob) == old:
                    entry.secrets[name] = self.encrypt(address, self.decrypt(address, blob))

    # -- secrets, lock, fingerprints -----------------------------------------------------------

    def encrypt(self, address: str, plaintext: str) -> str:
        """ "enc:v1:<base64>" of AES-256-GCM with `address` as associated data (see state/secrets.py)."""
        return sec.encrypt(self._keys.key(create=True), address, plaintext)

    def require_key(self) -> None:
        """Make sure a lock key is at hand (loaded, or generated where that is allowed); DiagnosticsError if not.

        Called before an apply that will receive secrets, so a refusal comes before anything is created.
        """
        self._keys.key(create=True)

    def decrypt(self, address: str, blob: str) -> str:
        """The plaintext of a blob; DiagnosticsError for a wrong key, a modified blob or another address."""
        return sec.decrypt(self._keys.decryption_keys(), address, blob, self._keys.source())

    def lock(self, operation: str) -> AbstractContextManager[LockInfo]:
        """Hold this environment's exclusive lock; a refusal is a DiagnosticsError naming the holder."""
        return self._env_lock.hold(operation)

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now, as recorded in its info file (None when unlocked)."""
        return self._env_lock.read_info()

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Release the lock with this id (refused for any other id); returns the holder it removed."""
        return self._env_lock.force_unlock(lock_id)

    def fingerprint(self, path: Path) -> str:
        """fingerprint_file with this project's cache (.featrix/fingerprints.json)."""
        return fingerprint_file(path, self.fingerprint_cache)
