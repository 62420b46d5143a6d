"""SQLite (WAL) document store of the local server: sessions, jobs, predictors, endpoints, vector databases."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Doc = dict[str, Any]
Docs = list[Doc]  # for annotations inside Store, where `list` names its method

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs (kind, parent);
"""


class Store:
    """A thread-safe JSON document table; every write is one committed transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():  # it holds webhook secrets: owner only (and SQLite gives -wal / -shm its mode)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if path.is_file():
            path.chmod(0o600)  # also a database an older version made world-readable
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._shared: dict[tuple[str, str], tuple[str, Doc]] = {}  # (kind, id) -> (stored text, its decoding)
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM docs").fetchone()
        self._seq = int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def put(self, kind: str, id_: str, data: Doc, parent: str | None = None) -> Doc:
        with self._lock:
            self._seq += 1
            self._db.execute(
                "INSERT INTO docs (kind, id, parent, seq, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(kind, id) DO UPDATE SET parent=excluded.parent, data=excluded.data",
                (kind, id_, parent, self._seq, json.dumps(data, default=str)),
            )
        return data

    def get(self, kind: str, id_: str) -> Doc | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM docs WHERE kind=? AND id=?", (kind, id_)).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, kind: str, parent: str | None = None) -> list[Doc]:
        with self._lock:
            if parent is None:
                rows = self._db.execute("SELECT data FROM docs WHERE kind=? ORDER BY seq", (kind,)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM docs WHERE kind=? AND parent=? ORDER BY seq", (kind, parent)
                ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def list_shared(self, kind: str, parent: str, having: tuple[str, Any] | None = None) -> Docs:
        """`list(kind, parent)` for readers that never change what they get (the documents the routes answer
        with): a document whose stored text is unchanged since the last call is not decoded again, and every
        caller gets the same dict. Checked against the stored text, so no write can leave a stale copy.
        `having=(field, value)` keeps only the documents whose top-level `field` is `value` (SQLite reads it)."""
        sql, args = "SELECT id, data FROM docs WHERE kind=? AND parent=?", [kind, parent]
        if having is not None:
            sql += " AND json_extract(data, ?) = ?"
            args += [f"$.{having[0]}", having[1]]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
            out: Docs = []
            for id_, text in rows:
                kept = self._shared.get((kind, id_))
                if kept is None or kept[0] != text:
                    kept = self._shared[(kind, id_)] = (text, json.loads(text))
                out.append(kept[1])
        return out

    def delete(self, kind: str, id_: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM docs WHERE kind=? AND id=?", (kind, id_))
            self._shared.pop((kind, id_), None)
        return cur.rowcount > 0

    def delete_children(self, kind: str, parent: str) -> None:
        with self._lock:
            ids = self._db.execute("SELECT id FROM docs WHERE kind=? AND parent=?", (kind, parent)).fetchall()
            self._db.execute("DELETE FROM docs WHERE kind=? AND parent=?", (kind, parent))
            for (id_,) in ids:
                self._shared.pop((kind, id_), None)

    def update(self, kind: str, id_: str, fn: Callable[[Doc], None]) -> Doc | None:
        """Read-modify-write one document atomically; returns the new document, None when missing."""
        with self.transaction():
            row = self._db.execute("SELECT data, parent FROM docs WHERE kind=? AND id=?", (kind, id_)).fetchone()
            if row is None:
                return None
            doc: Doc = json.loads(row[0])
            fn(doc)
            self._db.execute("UPDATE docs SET data=? WHERE kind=? AND id=?", (json.dumps(doc, default=str), kind, id_))
        return doc
