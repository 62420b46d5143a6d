"""StateStore load/save: round trip, determinism, atomic writes, refusals, thread-safe updates."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from featrix_iac import __version__
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import LockEntry, Lockfile, StateStore, dumps, lockfile_path
from featrix_iac.state import atomic as atomic_mod

KEY = bytes(range(32))


def store(root: Path, env: str = "default") -> StateStore:
    return StateStore(root, env, lock_key=KEY, project="penguins")


def sample(s: StateStore) -> Lockfile:
    lock = s.load()
    lock.server_url = "http://127.0.0.1:8765"
    lock.resources["foundational_model.penguins"] = LockEntry(
        kind="foundational_model",
        status="ready",
        ids={"session_id": "s-1"},
        creation_token="tok-1",
        applied={"epochs": 5, "ignore_columns": ["year"]},
        hashes={"data": "sha256:abc"},
        outputs={"d_model": 64},
        protected=True,
    )
    lock.resources["endpoint.api"] = LockEntry(
        kind="endpoint",
        status="ready",
        ids={"endpoint_id": "e-1"},
        secrets={"api_key": s.encrypt("endpoint.api", "fx_ep_secret")},
        depends_on=["predictor.species"],
    )
    return lock


def test_paths_per_environment(tmp_path: Path) -> None:
    assert store(tmp_path).path == tmp_path / "featrix.lock"
    assert store(tmp_path, "prod").path == tmp_path / "featrix.prod.lock" == lockfile_path(tmp_path, "prod")
    with pytest.raises(DiagnosticsError):
        StateStore(tmp_path, "../etc")


def test_missing_lockfile_loads_empty_with_a_fresh_lineage(tmp_path: Path) -> None:
    a, b = store(tmp_path).load(), store(tmp_path).load()
    assert a.resources == {} and a.serial == 0 and a.project == "penguins" and a.environment == "default"
    assert a.lineage != b.lineage and len(a.lineage) == 36
    assert not (tmp_path / "featrix.lock").exists()


def test_round_trip_serial_and_mode(tmp_path: Path) -> None:
    s = store(tmp_path)
    lock = sample(s)
    s.save(lock)
    assert lock.serial == 1
    again = store(tmp_path).load()
    assert again == lock
    assert stat.S_IMODE(os.stat(s.path).st_mode) == 0o600
    s.save(again)
    assert store(tmp_path).load().serial == 2


def test_a_lockfile_written_before_provenance_existed_still_loads(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(sample(s))
    data = json.loads(s.path.read_text(encoding="utf-8"))
    for entry in data["resources"].values():
        entry.pop("provenance")  # as an older featrix-iac wrote it
    s.path.write_text(json.dumps(data), encoding="utf-8")
    old = store(tmp_path).load()
    assert old.resources and all(e.provenance == {} for e in old.resources.values())


def test_deterministic_bytes(tmp_path: Path) -> None:
    s = store(tmp_path)
    lock = sample(s)
    s.save(lock)
    first = s.path.read_bytes()
    # same content built in another order: same bytes
    shuffled = Lockfile.model_validate(json.loads(first))
    shuffled.resources = dict(reversed(list(shuffled.resources.items())))
    assert dumps(shuffled).encode() == first
    assert first.endswith(b"}\n") and b'\n  "environment": "default",\n' in first
    assert first == dumps(store(tmp_path).load()).encode()


def test_crash_before_replace_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = store(tmp_path)
    lock = sample(s)
    s.save(lock)
    before = s.path.read_bytes()

    def crash(src: str, dst: Path) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(atomic_mod, "replace", crash)
    lock.resources.pop("endpoint.api")
    with pytest.raises(OSError):
        s.save(lock)
    assert s.path.read_bytes() == before
    assert lock.serial == 1  # not advanced by the failed write
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_killed_writer_leaves_a_temp_that_is_ignored_then_cleaned(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(sample(s))
    before = s.path.read_bytes()
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from featrix_iac.state import StateStore, atomic\n"
        "atomic.replace = lambda src, dst: os._exit(9)  # die between temp write and rename\n"
        f"s = StateStore(Path(sys.argv[1]), 'default', lock_key={KEY!r})\n"
        "lock = s.load(); lock.resources.clear(); s.save(lock)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1 and temps[0].stat().st_size > 0
    assert s.path.read_bytes() == before
    lock = store(tmp_path).load()
    assert len(lock.resources) == 2
    store(tmp_path).save(lock)
    assert not temps[0].exists()


def test_corrupt_json_is_refused_with_position_and_never_overwritten(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.path.write_text('{"format_version": 1,\n  "serial": oops}\n')
    with pytest.raises(DiagnosticsError) as info:
        s.load()
    d = next(iter(info.value.diagnostics))
    assert "featrix.lock is corrupt" in d.summary and "line 2" in d.summary
    assert d.source is not None and d.source.line == 2
    with pytest.raises(DiagnosticsError):
        s.save(Lockfile(environment="default"))
    assert "oops" in s.path.read_text()


def _rekey_entry(data: dict, old: str, new: str) -> None:  # type: ignore[type-arg]
    data["resources"][new] = data["resources"].pop(old)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d.update(format_version="one"), "format_version"),
        (lambda d: d["resources"]["endpoint.api"].update(status="exploded"), "resources.endpoint.api.status"),
        (lambda d: d["resources"]["endpoint.api"].update(colour="red"), "colour"),
        (lambda d: d["resources"]["endpoint.api"]["secrets"].update(api_key="fx_plain"), "plaintext"),
        (lambda d: d.pop("lineage") and d.update(lineage=None), "lineage"),
        # full validation beyond the schema: every key is KIND.KEY and its entry of that kind
        (lambda d: _rekey_entry(d, "endpoint.api", "api"), "'api' is not an address"),
        (lambda d: _rekey_entry(d, "endpoint.api", "widget.api"), "'widget.api' is not an address"),
        (lambda d: _rekey_entry(d, "endpoint.api", "endpoint.a b"), "'endpoint.a b' is not an address"),
        (lambda d: d["resources"]["endpoint.api"].update(kind="predictor"), "does not match the address"),
        (lambda d: d["resources"]["endpoint.api"]["ids"].update(endpoint_id=" "), "ids.endpoint_id: empty"),
        (lambda d: d["resources"]["endpoint.api"].update(depends_on=["predictor"]), "depends_on"),
        (lambda d: d["resources"]["endpoint.api"].update(depends_on=["endpoint.api"]), "depends_on"),
        (lambda d: d.update(serial=-1), "serial"),
    ],
)
def test_invalid_content_is_refused(tmp_path: Path, mutate, words: str) -> None:  # type: ignore[no-untyped-def]
    """Refused at load with what is wrong, and the file is left untouched."""
    s = store(tmp_path)
    s.save(sample(s))
    data = json.loads(s.path.read_text())
    mutate(data)
    s.path.write_text(json.dumps(data))
    before = s.path.read_bytes()
    with pytest.raises(DiagnosticsError) as info:
        store(tmp_path).load()
    assert "corrupt" in str(info.value) and words in str(info.value.diagnostics.items[0])
    assert "fx_plain" not in str(info.value.diagnostics.items[0])
    assert s.path.read_bytes() == before


@pytest.mark.parametrize("address, kind", [("api", "endpoint"), ("endpoint.api", "predictor")])
def test_an_invalid_lockfile_is_never_written(tmp_path: Path, address: str, kind: str) -> None:
    s = store(tmp_path)
    lock = sample(s)
    s.save(lock)
    before = s.path.read_bytes()
    with pytest.raises(DiagnosticsError) as info:
        s.update(lock, address, LockEntry(kind=kind, status="ready", ids={"endpoint_id": "ep-9"}))
    assert "refusing to write an invalid lockfile" in str(info.value)
    assert s.path.read_bytes() == before
    assert store(tmp_path).load().serial == lock.serial


@pytest.mark.parametrize("field, value", [("format_version", 2), ("tool_version", "99.0.0")])
def test_newer_lockfiles_are_refused(tmp_path: Path, field: str, value: object) -> None:
    s = store(tmp_path)
    s.save(sample(s))
    data = json.loads(s.path.read_text())
    data[field] = value
    s.path.write_text(json.dumps(data))
    with pytest.raises(DiagnosticsError) as info:
        store(tmp_path).load()
    assert "newer featrix-iac" in str(info.value) and __version__ in info.value.diagnostics.items[0].detail


def test_another_environments_lockfile_is_refused(tmp_path: Path) -> None:
    prod = store(tmp_path, "prod")
    prod.save(prod.load())
    os.replace(prod.path, tmp_path / "featrix.dev.lock")
    with pytest.raises(DiagnosticsError) as info:
        store(tmp_path, "dev").load()
    assert "belongs to environment 'prod', not 'dev'" in str(info.value)
    with pytest.raises(DiagnosticsError):
        store(tmp_path, "dev").save(Lockfile(environment="prod"))


def test_a_lockfile_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    a, b = store(tmp_path), store(tmp_path)
    lock_a = sample(a)
    a.save(lock_a)
    lock_b = b.load()
    b.save(lock_b)  # someone else wrote serial 2
    with pytest.raises(DiagnosticsError) as info:
        a.save(lock_a)
    assert "changed on disk" in str(info.value)
    with pytest.raises(DiagnosticsError):
        store(tmp_path).save(Lockfile(environment="default"))  # a new lineage over an existing file


def test_plaintext_secrets_are_never_written(tmp_path: Path) -> None:
    s = store(tmp_path)
    lock = sample(s)
    lock.resources["endpoint.api"].secrets["api_key"] = "fx_ep_plain_text"
    with pytest.raises(DiagnosticsError) as info:
        s.save(lock)
    assert "plaintext" in str(info.value) and not s.path.exists()
    with pytest.raises(ValueError):
        LockEntry(kind="endpoint", status="ready", secrets={"api_key": "fx_ep_plain"})


def test_update_sets_and_removes_under_concurrency(tmp_path: Path) -> None:
    s = store(tmp_path)
    lock = s.load()
    s.save(lock)

    seen: list[bool] = []

    def disk(address: str) -> LockEntry | None:
        return store(tmp_path).load().resources.get(address)

    def work(i: int) -> None:
        a = f"predictor.p{i}"
        s.update(lock, a, LockEntry(kind="predictor", status="creating", creation_token=f"t{i}"))
        seen.append(disk(a) is not None)  # on disk when update returns (alone, or in a write shared with others)
        s.update(lock, a, LockEntry(kind="predictor", status="ready", ids={"predictor_id": f"id{i}"}))
        seen.append(getattr(disk(a), "status", None) == "ready")
        if i % 2:
            s.update(lock, a, None)
            seen.append(disk(a) is None)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = store(tmp_path).load()
    assert len(seen) == 16 * 2 + 8 and all(seen)
    assert 1 < on_disk.serial <= 1 + 16 * 2 + 8 and on_disk.serial == lock.serial  # group commit: maybe fewer writes
    assert sorted(on_disk.resources) == sorted(f"predictor.p{i}" for i in range(0, 16, 2))
    assert all(e.status == "ready" for e in on_disk.resources.values())


def test_rename_re_encrypts_secrets_and_follows_references(tmp_path: Path) -> None:
    s = store(tmp_path)
    lock = sample(s)
    lock.resources["vector_database.v"] = LockEntry(kind="vector_database", status="ready", depends_on=["endpoint.api"])
    s.save(lock)
    s.rename(lock, "endpoint.api", "endpoint.public")
    again = store(tmp_path).load()
    assert "endpoint.api" not in again.resources
    blob = again.resources["endpoint.public"].secrets["api_key"]
    assert s.decrypt("endpoint.public", blob) == "fx_ep_secret"
    assert again.resources["vector_database.v"].depends_on == ["endpoint.public"]
    with pytest.raises(DiagnosticsError):
        s.rename(again, "endpoint.api", "endpoint.x")
    with pytest.raises(DiagnosticsError):
        s.rename(again, "endpoint.public", "vector_database.v")


def test_concurrent_updates_share_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: at 1,000 resources a write costs tens of ms; apply's threads must not each rewrite the file."""
    import time

    from featrix_iac.state import store as store_module

    s = store(tmp_path)
    lock = s.load()
    s.save(lock)
    writes: list[int] = []
    real = store_module.atomic_write

    def slow_write(*args: object, **kwargs: object) -> None:
        writes.append(1)
        time.sleep(0.3)  # a large lockfile on a slow disk: every other thread arrives during the first write
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "atomic_write", slow_write)
    barrier = threading.Barrier(16)

    def work(i: int) -> None:
        barrier.wait()
        s.update(lock, f"predictor.p{i}", LockEntry(kind="predictor", status="ready", ids={"predictor_id": f"id{i}"}))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store(tmp_path).load().resources) == 16
    # one write per update would be 16: the first write runs alone, the 15 changes made meanwhile share the next
    assert len(writes) <= 3


def reference_dumps(lock: Lockfile) -> str:
    """The lockfile's bytes as defined: json.dumps of the whole document, sorted keys, indent 2."""
    return json.dumps(lock.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_dumps_keeps_the_defined_bytes_and_follows_every_change(tmp_path: Path) -> None:
    """Issue 16: dumps reuses each entry's text while its data is unchanged (json's indented output is slow
    at 1,000 resources); the bytes stay those of the definition, whatever changed and however."""
    s = store(tmp_path)
    lock = sample(s)
    empty = Lockfile(project="p", environment="default")
    assert dumps(empty) == reference_dumps(empty)
    lock.resources["predictor.übung"] = LockEntry(
        kind="predictor", status="creating", ids={"session_id": "s-1"}, outputs={"note": 'tab\t"q" é', "n": 1.5}
    )
    assert dumps(lock) == reference_dumps(lock)
    lock.resources["foundational_model.penguins"].outputs["d_model"] = 128  # changed in place (state surgery does)
    lock.resources["endpoint.api"] = lock.resources["endpoint.api"].model_copy(update={"status": "tainted"})
    del lock.resources["predictor.übung"]
    lock.serial += 1
    assert dumps(lock) == reference_dumps(lock)
    assert '"d_model": 128' in dumps(lock) and '"tainted"' in dumps(lock)


def test_an_update_writes_without_copying_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The group commit's snapshot shares the entries (replaced by update, never changed in place): a deep copy
    of the whole lockfile on every write cost 70 ms of CPU at 1,000 resources (issue 16)."""
    s = store(tmp_path)
    lock = sample(s)
    s.save(lock)
    copies: list[bool] = []
    real = Lockfile.model_copy

    def counted(self: Lockfile, *, update: object = None, deep: bool = False) -> Lockfile:
        copies.append(deep)
        return real(self, update=update, deep=deep)  # type: ignore[arg-type]

    monkeypatch.setattr(Lockfile, "model_copy", counted)
    s.update(lock, "predictor.p", LockEntry(kind="predictor", status="ready", ids={"predictor_id": "p-1"}))
    assert True not in copies
    assert store(tmp_path).load().resources["predictor.p"].ids == {"predictor_id": "p-1"}
    assert s.path.read_text() == reference_dumps(store(tmp_path).load())


def test_dumps_dumps_only_the_entries_that_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: `model_dump` of every entry on every write cost as much as the JSON text (0.1 s together at
    1,000 resources); an unchanged entry is neither dumped nor encoded again."""
    lock = sample(store(tmp_path))
    dumps(lock)
    dumped: list[str] = []
    real_entry, real_lock = LockEntry.model_dump, Lockfile.model_dump

    def entry_dump(self: LockEntry, **kw: Any) -> dict[str, Any]:
        dumped.append(self.kind)
        return real_entry(self, **kw)

    def lock_dump(self: Lockfile, **kw: Any) -> dict[str, Any]:
        if "resources" not in (kw.get("exclude") or ()):
            dumped.extend(e.kind for e in self.resources.values())  # every entry, serialised again
        return real_lock(self, **kw)

    lock.resources["endpoint.api"] = lock.resources["endpoint.api"].model_copy(update={"status": "tainted"})
    expected = reference_dumps(lock)
    monkeypatch.setattr(LockEntry, "model_dump", entry_dump)
    monkeypatch.setattr(Lockfile, "model_dump", lock_dump)
    assert dumps(lock) == expected
    assert dumped == ["endpoint"]
