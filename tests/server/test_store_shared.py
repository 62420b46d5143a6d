"""The server store's shared reads: decoded once while unchanged, never stale after a write or a delete."""

from __future__ import annotations

from pathlib import Path

from featrix_iac.server.store import Store


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "featrix.sqlite3")
    for i in range(3):
        store.put("job", f"j{i}", {"job_id": f"j{i}", "status": "ready", "n": i}, parent="s1")
    store.put("job", "other", {"job_id": "other", "status": "ready"}, parent="s2")
    return store


def test_shared_reads_match_list_and_are_not_decoded_again(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = store.list_shared("job", "s1")
    assert first == store.list("job", parent="s1")
    again = store.list_shared("job", "s1")
    assert [id(d) for d in again] == [id(d) for d in first]  # unchanged: the same decoded documents


def test_a_write_is_seen_at_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.list_shared("job", "s1")
    store.update("job", "j1", lambda d: d.update(status="done"))
    store.put("job", "j2", {"job_id": "j2", "status": "failed"}, parent="s1")
    store.put("job", "j3", {"job_id": "j3", "status": "ready"}, parent="s1")
    assert [(d["job_id"], d["status"]) for d in store.list_shared("job", "s1")] == [
        ("j0", "ready"),
        ("j1", "done"),
        ("j2", "failed"),
        ("j3", "ready"),
    ]


def test_a_write_by_another_connection_is_seen(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.list_shared("job", "s1")
    other = Store(tmp_path / "featrix.sqlite3")
    other.update("job", "j0", lambda d: d.update(status="cancelled"))
    assert store.list_shared("job", "s1")[0]["status"] == "cancelled"


def test_deletes_are_seen(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.list_shared("job", "s1")
    store.delete("job", "j0")
    assert [d["job_id"] for d in store.list_shared("job", "s1")] == ["j1", "j2"]
    store.delete_children("job", "s1")
    assert store.list_shared("job", "s1") == []
    assert [d["job_id"] for d in store.list_shared("job", "s2")] == ["other"]


def test_a_filtered_shared_read_keeps_only_the_matching_documents(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put("job", "es", {"job_id": "es", "job_type": "train_es", "status": "done"}, parent="s1")
    store.put("job", "sp", {"job_id": "sp", "job_type": "train_single_predictor", "status": "ready"}, parent="s1")
    every = store.list_shared("job", "s1")
    es = store.list_shared("job", "s1", having=("job_type", "train_es"))
    assert es == [d for d in store.list("job", parent="s1") if d.get("job_type") == "train_es"]
    assert es[0] is every[3]  # the same shared documents
    store.update("job", "sp", lambda d: d.update(job_type="train_es"))
    assert [d["job_id"] for d in store.list_shared("job", "s1", having=("job_type", "train_es"))] == ["es", "sp"]
