"""Profiles of data files: every format the server reads, a bounded sample, and a cache that reads nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from featrix_iac.config.data_profile import SAMPLE_BYTES, UnreadableData, profile_file

FRAME = pd.DataFrame(
    {
        "id": [f"r{i}" for i in range(40)],
        "size": [float(i) / 3 for i in range(40)],
        "count": list(range(40)),
        "label": ["a", "b"] * 20,
    }
)


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    if name.endswith(".csv"):
        FRAME.to_csv(path, index=False)
    elif name.endswith(".csv.gz"):
        with gzip.open(path, "wt") as fh:
            FRAME.to_csv(fh, index=False)
    elif name.endswith(".parquet"):
        FRAME.to_parquet(path)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.parquet", "t.jsonl"])
def test_every_format_gives_columns_types_and_labels(tmp_path: Path, name: str) -> None:
    profile = profile_file(_write(tmp_path, name), None)
    assert profile.names == ["id", "size", "count", "label"]
    assert [c.dtype for c in profile.columns] == ["string", "float", "int", "string"]
    label = profile.column("label")
    assert label is not None and label.values == {"a": 20, "b": 20}
    assert profile.complete and profile.rows == 40


def test_a_large_file_is_sampled_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = "x" * 90
    with path.open("w") as fh:
        fh.write("id,text,label\n")
        for i in range(40_000):  # ~4 MiB
            fh.write(f"{i},{line},{'ab'[i % 2]}\n")
    profile = profile_file(path, None)
    assert 0 < profile.bytes_read <= SAMPLE_BYTES
    assert not profile.complete and profile.rows is None
    assert 0 < profile.sample_rows < 40_000
    assert profile.column("label") is not None


def test_the_cache_reads_nothing_until_the_file_changes(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv")
    cache = tmp_path / ".featrix"
    first = profile_file(path, cache)
    again = profile_file(path, cache)
    assert first.bytes_read > 0 and again.bytes_read == 0
    assert again == first
    path.write_text("id,other\n1,2\n")
    changed = profile_file(path, cache)
    assert changed.bytes_read > 0 and changed.names == ["id", "other"]


def test_duplicate_header_names_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a\n1,2,3\n")
    assert profile_file(path, None).duplicates == ("a",)


def test_an_unknown_format_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnreadableData):
        profile_file(path, None)
