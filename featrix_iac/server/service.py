"""The server's shared state: store, artifact folder, model cache, job queue, webhooks and test hooks.

It starts nothing: the app's lifespan starts the background work (jobs/runtime.py) and hands the
service its job queue, so this module imports nothing that imports it.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from featrix_iac.server.store import Doc, Store
from featrix_iac.server.webhook_policy import TargetPolicy
from featrix_iac.server.webhooks import WebhookSender

if TYPE_CHECKING:
    import pandas as pd

    from featrix_iac.server.durations import Durations
    from featrix_iac.server.testhooks import TestHooks

VERSION = "featrix-iac-local/0.1"
DEFAULT_CLUSTER = "local"


class NotFound(LookupError):
    """An unknown session, predictor, endpoint or vector database (HTTP 404)."""


class DataDirBusy(RuntimeError):
    """Another local server process already serves this data folder."""


def lock_data_dir(data_dir: Path) -> Any:
    """Hold an exclusive lock on DIR/server.lock for the life of the process (two servers would train twice)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return None
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fh = os.fdopen(os.open(data_dir / "server.lock", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise DataDirBusy(
            f"the data folder {data_dir} is in use by another local Featrix server (pid {holder})"
        ) from exc
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def data_dir_busy(data_dir: Path) -> bool:
    """Whether a server process holds the data folder's lock right now (without taking it)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return False
    try:
        fd = os.open(data_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


class JobQueue(Protocol):
    """What routes ask of the training workers (jobs/worker.py `Worker`): submit, cancel, and quota places."""

    n_threads: int

    def submit(self, job_id: str, unnamed: bool = False) -> None: ...
    def busy(self) -> bool: ...
    def cancel(self, job_id: str) -> None: ...
    def cancelling(self) -> set[str]: ...
    def reserve(self, limit: int) -> tuple[bool, int]: ...
    def unreserve(self) -> None: ...


def artifact_path(root: Path, rel: str) -> Path:
    """An artifact's path; `rel` is built from server ids only, and may never leave the artifacts folder."""
    if ".." in Path(rel).parts or Path(rel).is_absolute():
        raise NotFound(f"no artifact {rel!r}")
    return root / rel


def write_pickle(root: Path, rel: str, obj: Any) -> None:
    """Write an artifact atomically (a temporary file renamed), readable by the server's user only."""
    path = artifact_path(root, rel)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def read_pickle(root: Path, rel: str) -> Any:
    with artifact_path(root, rel).open("rb") as fh:
        return pickle.load(fh)  # noqa: S301 - our own artifacts, at paths made of server ids


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex


class Service:
    """Everything a route handler needs; one per app."""

    def __init__(
        self,
        data_dir: Path,
        api_key: str,
        hooks: TestHooks | None = None,
        durations: Durations | None = None,
        *,
        allow_loopback_webhooks: bool = False,
    ) -> None:
        from featrix_iac.server.durations import DEFAULT

        self.durations = durations or DEFAULT
        self.data_dir = data_dir
        self.api_key = api_key
        self.hooks = hooks
        self._dir_lock = lock_data_dir(data_dir)
        self.store = Store(data_dir / "featrix.sqlite3")
        self.artifacts = data_dir / "artifacts"
        self.artifacts.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (data_dir, self.artifacts):  # also when an older version made them world-readable
            folder.chmod(0o700)
        self.webhooks = WebhookSender(TargetPolicy(allow_loopback=allow_loopback_webhooks))
        self._cache: dict[str, Any] = {}
        self._cache_lock = threading.Lock()
        self.worker: JobQueue | None = None  # set while the app runs (runtime.background)

    # -- sessions ---------------------------------------------------------------------------

    def session(self, sid: str) -> Doc:
        doc = self.store.get("session", sid)
        if doc is None or doc.get("marked_for_deletion"):
            raise NotFound(f"session {sid} not found")
        return doc

    def predictors(self, sid: str) -> list[Doc]:
        return self.store.list("predictor", parent=sid)

    def predictor(self, sid: str, pid: str | None) -> Doc:
        if pid:  # one document read: decoding every predictor of the session made each call O(predictors)
            doc = self.store.get("predictor", pid)
            if doc is None or doc.get("session_id") != sid:
                raise NotFound(f"predictor {pid} not found in session {sid}")
            return doc
        preds = self.predictors(sid)
        if len(preds) == 1:
            return preds[0]
        if not preds:
            raise NotFound(f"session {sid} has no predictor")
        raise NotFound(f"session {sid} has {len(preds)} predictors: predictor_id is required")

    def jobs(self, sid: str) -> list[Doc]:
        return self.store.list("job", parent=sid)

    # -- artifacts ----------------------------------------------------------------------------

    def path(self, rel: str) -> Path:
        return artifact_path(self.artifacts, rel)

    def session_dir(self, sid: str) -> Path:
        path = self.path(sid)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def save_frame(self, sid: str, df: pd.DataFrame) -> None:
        self.write_pickle(f"{sid}/data.pkl", df)

    def load_frame(self, sid: str) -> pd.DataFrame:
        frame: pd.DataFrame = self.read_pickle(f"{sid}/data.pkl")
        return frame

    def save_object(self, rel: str, obj: Any) -> None:
        self.write_pickle(rel, obj)
        with self._cache_lock:
            self._cache[rel] = obj

    def write_pickle(self, rel: str, obj: Any) -> None:
        """Write an artifact without caching it (checkpoints)."""
        write_pickle(self.artifacts, rel, obj)

    def read_pickle(self, rel: str) -> Any:
        return read_pickle(self.artifacts, rel)

    def load_object(self, rel: str) -> Any:
        with self._cache_lock:
            if rel in self._cache:
                return self._cache[rel]
        obj = self.read_pickle(rel)
        with self._cache_lock:
            self._cache[rel] = obj
        return obj

    def forget_objects(self, prefix: str) -> None:
        with self._cache_lock:
            for rel in [k for k in self._cache if k.startswith(prefix)]:
                del self._cache[rel]
