"""The postgres state backend against a real PostgreSQL: compare-and-swap, history, the advisory lock (and
its release when the holder is SIGKILLed), 20 concurrent writers, a lost database, encrypted secrets only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import Postgres, postgres_cluster

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import LockEntry
from featrix_iac.state.postgres import PgState, PgStateStore

KEY = bytes(range(32))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_cluster() as cluster:
        yield cluster


def _store(pg: Postgres, root: Path, env: str = "prod", project: str = "team", history: int = 20) -> PgStateStore:
    state = PgState(pg.url, "featrix", project, env, history)
    return PgStateStore(root, env, state, project=project, lock_key=KEY)


def _entry(n: int) -> LockEntry:
    return LockEntry(kind="endpoint", status="ready", ids={"endpoint_id": f"ep-{n}"})


def test_writes_are_compare_and_swap_on_the_serial(pg: Postgres, tmp_path: Path) -> None:
    a, b = _store(pg, tmp_path / "a", "cas"), _store(pg, tmp_path / "b", "cas")
    first = a.load()
    a.update(first, "endpoint.one", _entry(1))
    mine, theirs = a.load(), b.load()
    assert mine.serial == theirs.serial == 1
    b.update(theirs, "endpoint.two", _entry(2))
    with pytest.raises(DiagnosticsError) as exc:
        a.update(mine, "endpoint.three", _entry(3))  # a lost update: refused, naming what is stored now
    assert "changed since it was read" in str(exc.value) and "serial 2" in exc.value.diagnostics.items[0].detail
    stored = a.load()
    assert sorted(stored.resources) == ["endpoint.one", "endpoint.two"] and stored.serial == 2


def test_a_second_lineage_never_replaces_the_stored_one(pg: Postgres, tmp_path: Path) -> None:
    a = _store(pg, tmp_path / "a", "lineage")
    a.update(a.load(), "endpoint.one", _entry(1))
    fresh = _store(pg, tmp_path / "b", "lineage")
    lock = fresh.load()
    lock.lineage = "00000000-0000-4000-8000-000000000000"  # another history of this environment
    with pytest.raises(DiagnosticsError):
        fresh.save(lock)
    assert a.load().resources["endpoint.one"].ids == {"endpoint_id": "ep-1"}


def test_history_keeps_the_last_serials(pg: Postgres, tmp_path: Path) -> None:
    store = _store(pg, tmp_path, "history", history=3)
    lock = store.load()
    for n in range(5):
        store.update(lock, f"endpoint.e{n}", _entry(n))
    assert [h.serial for h in store.history(10)] == [5, 4, 3]


def test_secrets_reach_the_database_encrypted_only(pg: Postgres, tmp_path: Path) -> None:
    store = _store(pg, tmp_path, "secrets")
    lock = store.load()
    entry = _entry(1)
    entry.secrets["api_key"] = store.encrypt("endpoint.one", "fx_ep_plaintext_key_never_stored_1234567890")
    store.update(lock, "endpoint.one", entry)
    raw = json.dumps(store.pg.read())
    assert "plaintext_key" not in raw and '"enc:v1:' in raw
    assert store.decrypt("endpoint.one", store.load().resources["endpoint.one"].secrets["api_key"]).startswith("fx_ep_")


def test_a_second_holder_is_refused_by_name_and_a_killed_holder_frees_the_lock_at_once(
    pg: Postgres, tmp_path: Path
) -> None:
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from featrix_iac.state.postgres import PgState\n"
        f"with PgState({pg.url!r}, 'featrix', 'team', 'locked').hold('apply'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(300)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        other = _store(pg, tmp_path, "locked")
        with pytest.raises(DiagnosticsError) as exc, other.lock("apply"):
            pass
        detail = exc.value.diagnostics.items[0].detail
        assert f"pid {holder.pid}" in detail and "featrix unlock" in detail
        info = other.lock_holder()
        assert info is not None and info.pid == holder.pid and info.operation == "apply"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 5
        while other.lock_holder() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        with other.lock("apply") as mine:  # free at once: PostgreSQL ended the dead holder's session
            assert other.lock_holder() == mine
        assert other.lock_holder() is None
    finally:
        if holder.poll() is None:
            holder.kill()


def test_unlock_ends_a_hung_holder_only_by_its_id(pg: Postgres, tmp_path: Path) -> None:
    holder = _store(pg, tmp_path / "a", "hung")
    with holder.lock("apply") as info:
        other = _store(pg, tmp_path / "b", "hung")
        with pytest.raises(DiagnosticsError):
            other.force_unlock("not-the-id")
        assert other.force_unlock(info.id).id == info.id
        assert other.lock_holder() is None
        with other.lock("apply"):
            pass


def test_twenty_concurrent_writers_lose_nothing(pg: Postgres, tmp_path: Path) -> None:
    errors: list[str] = []

    def writer(n: int) -> None:
        store = _store(pg, tmp_path / f"w{n}", "crowd")
        for _ in range(200):
            lock = store.load()
            try:
                store.update(lock, f"endpoint.e{n}", _entry(n))
                return
            except DiagnosticsError as exc:
                if "changed since it was read" not in str(exc):
                    errors.append(str(exc))
                    return
                time.sleep(0.01 * (n % 5))
        errors.append(f"writer {n} never got through")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    final = _store(pg, tmp_path, "crowd").load()
    assert sorted(final.resources) == sorted(f"endpoint.e{n}" for n in range(20)) and final.serial == 20


def test_a_lost_database_is_a_clear_error_and_the_state_stays_valid(pg: Postgres, tmp_path: Path) -> None:
    store = _store(pg, tmp_path, "cut")
    lock = store.load()
    store.update(lock, "endpoint.one", _entry(1))
    pg.stop("immediate")
    try:
        with pytest.raises(DiagnosticsError) as exc:
            store.update(lock, "endpoint.two", _entry(2))
        assert "cannot reach the state database" in str(exc.value)
        assert lock.serial == 1 and "endpoint.two" not in lock.resources  # rolled back in memory too
    finally:
        pg.start()
    again = store.load()
    assert again.serial == 1 and sorted(again.resources) == ["endpoint.one"]
