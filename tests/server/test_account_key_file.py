"""The account key file of a data folder: one key, whoever starts first, never half written."""

from __future__ import annotations

import threading
from pathlib import Path

from featrix_iac.server.keys import KEY_FILE, resolve_account_key


def test_commands_starting_at_once_on_a_fresh_folder_get_one_key(tmp_path: Path, monkeypatch) -> None:
    """Each first use generated its own key and the last writer won the file, so the others' servers refused
    the key their commands held (three racing starts waited 60 s for a folder they could never attach to)."""
    monkeypatch.delenv("FEATRIX_API_KEY", raising=False)
    for attempt in range(20):
        data = tmp_path / str(attempt)
        barrier = threading.Barrier(8)
        keys: list[str] = []

        def first_use(data: Path = data, barrier: threading.Barrier = barrier, keys: list[str] = keys) -> None:
            barrier.wait()
            keys.append(resolve_account_key(data)[0])

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(keys)) == 1, attempt
        assert (data / KEY_FILE).read_text(encoding="utf-8").strip() == keys[0]
        assert sorted(p.name for p in data.iterdir()) == [KEY_FILE]  # no temporary file left behind


def test_an_unusable_key_file_is_replaced(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FEATRIX_API_KEY", raising=False)
    (tmp_path / KEY_FILE).write_text("not a key\n", encoding="utf-8")
    key, generated = resolve_account_key(tmp_path)
    assert generated and key.startswith("fx_")
    assert resolve_account_key(tmp_path) == (key, False)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
