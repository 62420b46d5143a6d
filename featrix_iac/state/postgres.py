"""Team state on PostgreSQL: one lockfile document per (project, environment), compare-and-swap writes on its
serial, the last N serials as history, and a session-level advisory lock that dies with its holder's connection.

Tables (in the configured schema, created when missing):
  states  (project, environment) -> lineage, serial, document (the lockfile JSON; secrets stay encrypted)
  history (project, environment, lineage, serial) -> document, written_at, written_by
  locks   (project, environment) -> who holds the advisory lock: lock id, user, host, pid, backend pid, since
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featrix_iac.diagnostics import DiagnosticsError, fail
from featrix_iac.state.lockfile import Lockfile, dumps
from featrix_iac.state.locking import LockInfo
from featrix_iac.state.store import StateStore

CONNECT_TIMEOUT = 10  # seconds to reach the database before the command fails
DDL_LOCK = 0x46455458  # "FETX": serialises the CREATE ... IF NOT EXISTS of concurrent first uses


@dataclass(frozen=True)
class HistoryItem:
    serial: int
    lineage: str
    written_at: str
    written_by: str


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    ci = os.environ.get("GITHUB_RUN_ID") and f" (CI run {os.environ.get('GITHUB_RUN_ID')})"
    return f"{user}@{socket.gethostname()}{ci or ''}"


class PgState:
    """The SQL of one (project, environment) in one schema. Every method opens its own short connection."""

    def __init__(self, url: str, schema: str, project: str, environment: str, history: int = 20) -> None:
        self.url, self.schema, self.project, self.environment, self.keep = url, schema, project, environment, history
        digest = hashlib.sha256(f"featrix-iac/{project}/{environment}".encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)  # the advisory lock's bigint key
        self._ready = False

    @property
    def label(self) -> str:
        return f"PostgreSQL {self.schema}.states (project {self.project}, environment {self.environment})"

    def connect(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise fail(
                "the postgres state backend needs psycopg", "install it with `pip install 'featrix-iac[postgres]'`"
            ) from None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise self.unreachable(exc) from None
        if not self._ready:
            self._create(conn)
        return conn

    def unreachable(self, exc: Exception) -> DiagnosticsError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(f"cannot reach the state database ({self.label})", f"{first}. Nothing was written.")

    def _create(self, conn: Any) -> None:
        s = self.schema
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.states (project text, environment text, lineage text NOT NULL, "
                "serial bigint NOT NULL, document jsonb NOT NULL, written_at timestamptz NOT NULL DEFAULT now(), "
                "written_by text NOT NULL, PRIMARY KEY (project, environment))"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.history (project text, environment text, lineage text, serial bigint, "
                "document jsonb NOT NULL, written_at timestamptz NOT NULL DEFAULT now(), written_by text NOT NULL, "
                "PRIMARY KEY (project, environment, lineage, serial))"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.locks (project text, environment text, lock_id text NOT NULL, "
                "info jsonb NOT NULL, backend_pid int NOT NULL, PRIMARY KEY (project, environment))"
            )
        self._ready = True

    def _call(self, fn: Any) -> Any:
        """Run fn(conn) on a fresh connection; a lost database is a clear error, never a traceback."""
        import psycopg

        try:
            with self.connect() as conn:
                return fn(conn)
        except psycopg.OperationalError as exc:
            raise self.unreachable(exc) from None

    # -- the document ------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        def fn(conn: Any) -> Any:
            row = conn.execute(
                f"SELECT document FROM {self.schema}.states WHERE project = %s AND environment = %s",
                (self.project, self.environment),
            ).fetchone()
            return None if row is None else row[0]

        document: dict[str, Any] | None = self._call(fn)
        return document

    def write(self, lock: Lockfile, expected: tuple[str, int] | None) -> None:
        """Store `lock` if the stored document is still `expected` (lineage, serial), else refuse: no lost update."""
        from psycopg.types.json import Jsonb

        document = json.loads(dumps(lock))
        key, who = (self.project, self.environment), _who()

        def fn(conn: Any) -> None:
            with conn.transaction():
                if expected is None:
                    cur = conn.execute(
                        f"INSERT INTO {self.schema}.states (project, environment, lineage, serial, document, "
                        "written_by) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (*key, lock.lineage, lock.serial, Jsonb(document), who),
                    )
                else:
                    cur = conn.execute(
                        f"UPDATE {self.schema}.states SET lineage = %s, serial = %s, document = %s, written_at = now(), "
                        "written_by = %s WHERE project = %s AND environment = %s AND lineage = %s AND serial = %s",
                        (lock.lineage, lock.serial, Jsonb(document), who, *key, *expected),
                    )
                if cur.rowcount != 1:
                    raise self._conflict(conn, expected)
                conn.execute(
                    f"INSERT INTO {self.schema}.history (project, environment, lineage, serial, document, written_by) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (*key, lock.lineage, lock.serial, Jsonb(document), who),
                )
                conn.execute(
                    f"DELETE FROM {self.schema}.history WHERE project = %s AND environment = %s AND (lineage, serial) "
                    f"NOT IN (SELECT lineage, serial FROM {self.schema}.history WHERE project = %s AND environment = %s "
                    "ORDER BY written_at DESC, serial DESC LIMIT %s)",
                    (*key, *key, self.keep),
                )

        self._call(fn)

    def _conflict(self, conn: Any, expected: tuple[str, int] | None) -> DiagnosticsError:
        row = conn.execute(
            f"SELECT lineage, serial, written_by FROM {self.schema}.states WHERE project = %s AND environment = %s",
            (self.project, self.environment),
        ).fetchone()
        now = "none" if row is None else f"lineage {row[0]}, serial {row[1]}, written by {row[2]}"
        read = "none" if expected is None else f"lineage {expected[0]}, serial {expected[1]}"
        return fail(
            f"the state in {self.label} changed since it was read",
            f"read: {read}; stored now: {now}. Another run wrote it; nothing was overwritten. Run the command again.",
        )

    def history(self, limit: int) -> list[HistoryItem]:
        def fn(conn: Any) -> Any:
            return conn.execute(
                f"SELECT serial, lineage, written_at, written_by FROM {self.schema}.history WHERE project = %s AND "
                "environment = %s ORDER BY written_at DESC, serial DESC LIMIT %s",
                (self.project, self.environment, limit),
            ).fetchall()

        return [HistoryItem(int(r[0]), r[1], r[2].isoformat(timespec="seconds"), r[3]) for r in self._call(fn)]

    # -- the lock ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def hold(self, operation: str) -> Iterator[LockInfo]:
        """The advisory lock on a connection kept open for the whole command: if the process dies, so does
        the connection, and PostgreSQL releases the lock at once."""
        from psycopg.types.json import Jsonb

        conn = self.connect()
        try:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()[0]:
                raise self._refusal()
            info = LockInfo.new(operation, self.environment)
            conn.execute(
                f"INSERT INTO {self.schema}.locks (project, environment, lock_id, info, backend_pid) "
                "VALUES (%s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (project, environment) DO UPDATE SET "
                "lock_id = excluded.lock_id, info = excluded.info, backend_pid = excluded.backend_pid",
                (self.project, self.environment, info.id, Jsonb(info.to_json())),
            )
            yield info
            with contextlib.suppress(Exception):
                conn.execute(
                    f"DELETE FROM {self.schema}.locks WHERE project = %s AND environment = %s AND lock_id = %s",
                    (self.project, self.environment, info.id),
                )
        finally:
            with contextlib.suppress(Exception):
                conn.close()  # ends the session: the advisory lock goes with it

    def holder(self) -> tuple[LockInfo, int] | None:
        """Who holds the lock now (and their database backend pid); None when nobody does."""

        def fn(conn: Any) -> Any:
            row = conn.execute(
                f"SELECT info, backend_pid FROM {self.schema}.locks l WHERE project = %s AND environment = %s "
                "AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = l.backend_pid "
                "AND classid = %s AND objid = %s)",
                (self.project, self.environment, *_split(self.lock_key)),
            ).fetchone()
            return row

        row = self._call(fn)
        return None if row is None else (LockInfo.from_json(row[0]), int(row[1]))

    def _refusal(self) -> DiagnosticsError:
        held = self.holder()
        who = held[0].describe() if held else "another run (it is just starting or finishing)"
        lock_id = f" If that run is gone, `featrix unlock {held[0].id}` releases it." if held else ""
        return fail(
            f"the state of environment {self.environment!r} is locked by another run",
            f"held by {who}, in {self.label}.{lock_id}",
        )

    def force_unlock(self, lock_id: str) -> LockInfo:
        """End the session that holds the lock with this id (a hung run); refused for any other id."""
        held = self.holder()
        if held is None or held[0].id != lock_id:
            current = f"it is held by lock {held[0].id}" if held else "nobody holds it"
            raise fail(f"no lock {lock_id} on environment {self.environment!r}", f"{current} ({self.label}).")

        def fn(conn: Any) -> None:
            conn.execute("SELECT pg_terminate_backend(%s)", (held[1],))
            conn.execute(
                f"DELETE FROM {self.schema}.locks WHERE project = %s AND environment = %s AND lock_id = %s",
                (self.project, self.environment, lock_id),
            )

        self._call(fn)
        return held[0]


def _split(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits), both unsigned."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


class PgStateStore(StateStore):
    """A StateStore whose document and lock live in PostgreSQL; encryption stays on the client."""

    def __init__(self, root: Path, environment: str, pg: PgState, **kwargs: Any) -> None:
        super().__init__(root, environment, **kwargs)
        self.pg = pg
        self.path = Path(f"{pg.schema}.states[{pg.project}-{environment}]")  # how messages name the state
        self._read: tuple[str, int] | None = None  # (lineage, serial) of the stored document as last read

    def _read_lockfile(self) -> Lockfile | None:
        data = self.pg.read()
        self._read = (str(data.get("lineage")), int(data.get("serial", 0))) if isinstance(data, dict) else None
        return None if data is None else self._validate(data)

    def _persist(self, lock: Lockfile, read_serial: int) -> None:
        """Compare-and-swap: written only over the document this run read (or wrote) last."""
        if self._read is not None and self._read[0] != lock.lineage:
            raise fail(
                f"refusing to replace the state of lineage {self._read[0]} in {self.pg.label}",
                f"this run holds lineage {lock.lineage}; nothing was overwritten.",
            )
        self.pg.write(lock, None if self._read is None else (lock.lineage, read_serial))
        self._read = (lock.lineage, lock.serial)

    def lock(self, operation: str) -> AbstractContextManager[LockInfo]:
        return self.pg.hold(operation)

    def lock_holder(self) -> LockInfo | None:
        held = self.pg.holder()
        return None if held is None else held[0]

    def force_unlock(self, lock_id: str) -> LockInfo:
        return self.pg.force_unlock(lock_id)

    def history(self, limit: int = 20) -> list[HistoryItem]:
        return self.pg.history(limit)
