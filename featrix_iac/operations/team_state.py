"""Moving state between backends and people: history, pull, push (guarded by lineage and serial), migrate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from featrix_iac.diagnostics import fail
from featrix_iac.operations.session import open_session, open_store


def state_history(root: Path | str, env: str | None, limit: int = 20) -> list[Any]:
    """The last serials written (postgres backend): serial, lineage, when, by whom."""
    store = open_session(root, env).store
    history = getattr(store, "history", None)
    if history is None:
        raise fail(
            "state history needs the postgres backend",
            "with the file backend the history is git's: `git log -p featrix.lock` (or featrix.ENV.lock).",
            source=open_session(root, env).loaded.source("state"),
        )
    items: list[Any] = history(limit)
    return items


def state_pull(root: Path | str, env: str | None) -> str:
    """The stored lockfile as its deterministic JSON (secrets stay encrypted), e.g. for review in a PR."""
    from featrix_iac.state.lockfile import dumps

    return dumps(open_session(root, env).store.load())


def state_push(root: Path | str, env: str | None, source: Path) -> tuple[int, int]:
    """Store a lockfile document, refused unless it continues the stored lineage at a serial not behind it.

    Returns (serial before, serial after)."""
    from pydantic import ValidationError

    from featrix_iac.state.lockfile import Lockfile, problems

    try:
        pushed = Lockfile.model_validate(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise fail(f"cannot read {source} as a lockfile", str(exc).splitlines()[0]) from None
    found = problems(pushed)
    if found:
        raise fail(f"{source} is not a valid lockfile", "; ".join(found))
    store = open_session(root, env).store
    with store.lock("state push"):
        current = store.load()
        if current.resources or current.serial:
            if pushed.lineage != current.lineage:
                raise fail(
                    f"refusing to push {source}: it belongs to another lineage",
                    f"stored: lineage {current.lineage}; {source}: lineage {pushed.lineage}. Nothing was written.",
                )
            if pushed.serial < current.serial:
                raise fail(
                    f"refusing to push {source}: it is older than the stored state",
                    f"stored: serial {current.serial}; {source}: serial {pushed.serial}. Pull, merge, push again.",
                )
        before = current.serial
        if current.resources or current.serial:
            pushed.serial = before  # written as the next serial of the stored lineage (compare-and-swap)
        store.save(pushed)
        return before, pushed.serial


def state_migrate(root: Path | str, env: str | None, to: str) -> tuple[str, int]:
    """Copy the state from the other backend into `to` (file or postgres): (what it was written to, serial)."""
    session = open_session(root, env)
    loaded = session.loaded
    source = open_store(loaded, "file" if to == "postgres" else "postgres")
    target = open_store(loaded, to)
    with source.lock("state migrate"), target.lock("state migrate"):
        lock = source.load()
        existing = target.load()
        if (existing.resources or existing.serial) and existing.lineage != lock.lineage:
            raise fail(
                f"refusing to migrate: {target.path.name} already holds another lineage",
                f"there: lineage {existing.lineage}, serial {existing.serial}; to migrate: lineage {lock.lineage}. "
                "Nothing was written.",
            )
        if existing.serial > lock.serial:
            raise fail(
                f"refusing to migrate: {target.path.name} is newer than the state to migrate",
                f"there: serial {existing.serial}; to migrate: serial {lock.serial}. Nothing was written.",
            )
        if existing.resources or existing.serial:
            lock.serial = existing.serial  # the next serial there (compare-and-swap); else the serial goes on
        target.save(lock)
        return target.path.name, lock.serial
