"""The validated-lockfile cache: the same bytes load as validated before; any other bytes take the full way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featrix_iac.config import private_cache
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import LockEntry, Lockfile, StateStore, dumps
from featrix_iac.state import validated as cache_mod

KEY = bytes(range(32))


def store(root: Path) -> StateStore:
    return StateStore(root, "default", lock_key=KEY, project="penguins")


def saved(root: Path) -> StateStore:
    """A store whose lockfile holds two entries (one with a secret, one with only some fields given)."""
    (root / ".featrix").mkdir(exist_ok=True)
    s = store(root)
    lock = s.load()
    lock.resources["foundational_model.penguins"] = LockEntry(
        kind="foundational_model",
        status="ready",
        ids={"session_id": "s-1"},
        applied={"epochs": 5, "ignore_columns": ["year"], "data_summary": {"rows": 3, "columns": 2}},
        hashes={"data": "sha256:abc"},
        protected=True,
    )
    lock.resources["endpoint.api"] = LockEntry(
        kind="endpoint",
        status="ready",
        ids={"endpoint_id": "e-1"},
        secrets={"api_key": s.encrypt("endpoint.api", "fx_ep_secret")},
        depends_on=["foundational_model.penguins"],
    )
    s.save(lock)
    return s


def cache_of(s: StateStore) -> Path:
    return cache_mod.cache_path(s.private_dir, s.path.name)


def test_a_second_load_of_the_same_bytes_comes_from_the_cache_and_equals_a_validated_one(tmp_path: Path) -> None:
    s = saved(tmp_path)
    first = store(tmp_path).load()  # validates in full, then remembers
    assert cache_of(s).is_file()
    digest = private_cache.digest(s.path.read_bytes())
    cached = cache_mod.load(cache_of(s), digest)
    assert cached is not None  # the next load takes it
    again = store(tmp_path).load()
    assert again == first == Lockfile.model_validate(json.loads(s.path.read_text()))
    assert again.model_fields_set == first.model_fields_set
    for address, entry in first.resources.items():
        assert again.resources[address].model_fields_set == entry.model_fields_set
        assert type(again.resources[address]) is LockEntry
    assert dumps(again) == s.path.read_text()
    assert store(tmp_path).decrypt("endpoint.api", again.resources["endpoint.api"].secrets["api_key"]) == "fx_ep_secret"


def test_each_load_gets_its_own_objects(tmp_path: Path) -> None:
    saved(tmp_path)
    store(tmp_path).load()
    a = store(tmp_path).load()
    a.resources["foundational_model.penguins"].applied["epochs"] = 99
    a.resources.pop("endpoint.api")
    b = store(tmp_path).load()
    assert b.resources["foundational_model.penguins"].applied["epochs"] == 5 and "endpoint.api" in b.resources


def test_changed_bytes_are_validated_again_with_the_same_errors(tmp_path: Path) -> None:
    s = saved(tmp_path)
    store(tmp_path).load()
    data = json.loads(s.path.read_text())
    data["resources"]["endpoint.api"]["kind"] = "predictor"  # a hand edit the schema allows, the checks do not
    s.path.write_text(json.dumps(data, indent=2))
    with pytest.raises(DiagnosticsError) as info:
        store(tmp_path).load()
    assert "does not match the address" in next(iter(info.value.diagnostics)).summary
    data["resources"]["endpoint.api"]["status"] = "unknown"
    s.path.write_text(json.dumps(data))
    with pytest.raises(DiagnosticsError) as info:
        store(tmp_path).load()
    assert "featrix.lock is corrupt" in next(iter(info.value.diagnostics)).summary


def test_a_bad_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    s = saved(tmp_path)
    expected = store(tmp_path).load()
    cache_of(s).write_bytes(b"not marshal data")
    assert store(tmp_path).load() == expected  # validated again, and remembered again
    assert cache_mod.load(cache_of(s), private_cache.digest(s.path.read_bytes())) is not None
    assert cache_mod.load(cache_of(s), private_cache.digest(b"other bytes")) is None


def test_no_cache_is_written_without_a_private_folder(tmp_path: Path) -> None:
    s = saved(tmp_path)
    for child in (tmp_path / ".featrix").iterdir():
        child.unlink()
    (tmp_path / ".featrix").rmdir()
    store(tmp_path).load()
    assert not (tmp_path / ".featrix").exists() and not cache_of(s).exists()
