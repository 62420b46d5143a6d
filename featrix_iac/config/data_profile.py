"""Profiles of data files: columns, types and value counts from a bounded sample, cached by the file's stat."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

SAMPLE_BYTES = 1 << 20  # at most this much of a file is read for its profile (decompressed, for gzip)
MAX_TRACKED_VALUES = 200  # value counts are kept for columns with at most this many distinct values in the sample
PROFILE_VERSION = 1
CACHE_FILE = "data-profiles.json"

_guard = threading.Lock()
_memo: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}  # cache file -> (its size and mtime, its entries)


class UnreadableData(Exception):
    """The file cannot be profiled (unknown format, unparsable sample); the message says why."""


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str  # "int" | "float" | "bool" | "string" | "datetime" | "empty"
    nulls: int = 0  # null values in the sample
    values: dict[str, int] | None = None  # value -> count in the sample; None when there are too many distinct values

    @property
    def numeric(self) -> bool:
        return self.dtype in ("int", "float")

    @property
    def distinct(self) -> set[str] | None:
        return None if self.values is None else set(self.values)


@dataclass(frozen=True)
class DataProfile:
    """What a bounded sample of a data file shows; `complete` when the sample is the whole file."""

    format: str
    columns: tuple[ColumnProfile, ...]
    sample_rows: int
    complete: bool
    rows: int | None = None  # exact row count when known without a full read (a complete sample, Parquet metadata)
    duplicates: tuple[str, ...] = ()  # column names that appear more than once in the header
    bytes_read: int = field(default=0, compare=False)  # bytes of the file read for this profile (0: from cache)

    def column(self, name: str) -> ColumnProfile | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, ColumnProfile]:
        by_name: dict[str, ColumnProfile] = {}
        for c in self.columns:
            by_name.setdefault(c.name, c)  # a duplicated name: its first column, as a scan finds it
        return by_name

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("bytes_read")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataProfile:
        cols = tuple(ColumnProfile(**c) for c in data["columns"])
        return cls(
            format=data["format"],
            columns=cols,
            sample_rows=int(data["sample_rows"]),
            complete=bool(data["complete"]),
            rows=data.get("rows"),
            duplicates=tuple(data.get("duplicates") or ()),
        )


def data_format(path: Path | str) -> str | None:
    """csv | csv.gz | parquet | jsonl, from the file name (as the server decides), or None."""
    name = str(path).lower()
    if name.endswith((".csv.gz", ".tsv.gz")):
        return "csv.gz"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def profile_file(path: Path, cache_dir: Path | None, *, count_rows: bool = False) -> DataProfile:
    """The profile of `path`, from the cache in `cache_dir` when the file's size, mtime and inode are unchanged.

    With `count_rows`, a profile whose sample was not the whole file gets its exact row count (one streamed pass
    over the file, as its fingerprint takes; then cached)."""
    path = Path(os.path.abspath(path))
    stat_key = _stat_key(path)
    cache = cache_dir / CACHE_FILE if cache_dir else None
    hit = (_load(cache) if cache else {}).get(str(path))
    profile: DataProfile | None = None
    if isinstance(hit, dict) and hit.get("stat") == stat_key:
        try:
            profile = DataProfile.from_json(hit["profile"])
        except (KeyError, TypeError, ValueError):
            profile = None
    fresh = profile is None or (count_rows and profile.rows is None)
    if profile is None:
        profile = _read(path)
    if count_rows and profile.rows is None:
        profile = replace(profile, rows=_count_rows(path, profile.format))
    if fresh and cache is not None and _stat_key(path) == stat_key:
        with _guard:
            entries = dict(_load(cache))
            entries[str(path)] = {"stat": stat_key, "profile": profile.to_json()}
            _save(cache, entries)
    return profile


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _count_rows(path: Path, fmt: str) -> int:
    """Records in a CSV or JSON-lines file: its lines, less the header and blank lines at the end."""
    import gzip

    lines, last = 0, b"\n"
    with gzip.open(path, "rb") if fmt == "csv.gz" else path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(0, lines - (0 if fmt == "jsonl" else 1))


def _read(path: Path) -> DataProfile:
    fmt = data_format(path)
    if fmt is None:
        raise UnreadableData("unknown format: the server reads .csv, .csv.gz, .parquet and .jsonl files")
    try:
        if fmt == "parquet":
            return _read_parquet(path)
        raw, complete, nbytes = _sample_bytes(path, gz=fmt == "csv.gz")
        return _profile_text(raw, complete, nbytes, fmt)
    except UnreadableData:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        raise UnreadableData(f"{type(exc).__name__}: {exc}") from None


def _sample_bytes(path: Path, gz: bool) -> tuple[bytes, bool, int]:
    """Up to SAMPLE_BYTES of the (decompressed) file, cut at the last whole line; and whether that is all of it."""
    import gzip

    with gzip.open(path, "rb") if gz else path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES + 1)
    complete = len(raw) <= SAMPLE_BYTES
    if not complete:
        raw = raw[: raw.rfind(b"\n", 0, SAMPLE_BYTES) + 1]
    nbytes = min(len(raw), SAMPLE_BYTES) if not gz else min(path.stat().st_size, SAMPLE_BYTES)
    return raw, complete, nbytes


def _profile_text(raw: bytes, complete: bool, nbytes: int, fmt: str) -> DataProfile:
    import pandas as pd

    if fmt == "jsonl":
        frame = pd.read_json(io.BytesIO(raw), lines=True)
        duplicates: tuple[str, ...] = ()
    else:
        header_line = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        header = next(csv.reader([header_line]), [])
        duplicates = tuple(sorted({h for h in header if header.count(h) > 1}))
        frame = pd.read_csv(io.BytesIO(raw))
    return _profile_frame(frame, fmt, complete, nbytes, duplicates)


def _read_parquet(path: Path) -> DataProfile:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    batch = next(pf.iter_batches(batch_size=20_000), None)
    frame = batch.to_pandas() if batch is not None else pf.schema_arrow.empty_table().to_pandas()
    nbytes = min(path.stat().st_size, SAMPLE_BYTES)
    return replace(_profile_frame(frame, "parquet", len(frame) >= rows, nbytes, ()), rows=rows)


def _profile_frame(frame: Any, fmt: str, complete: bool, nbytes: int, duplicates: tuple[str, ...]) -> DataProfile:
    cols = tuple(_column(str(name), frame[name]) for name in frame.columns)
    n = len(frame)
    return DataProfile(fmt, cols, n, complete, n if complete else None, duplicates, nbytes)


def _column(name: str, series: Any) -> ColumnProfile:
    import pandas as pd

    if isinstance(series, pd.DataFrame):  # a duplicated name: take the first
        series = series.iloc[:, 0]
    nonnull = series.dropna()
    counts = nonnull.astype(str).value_counts()
    values = {str(k): int(v) for k, v in counts.items()} if len(counts) <= MAX_TRACKED_VALUES else None
    return ColumnProfile(name, _dtype(series), int(series.isna().sum()), values)


def _dtype(series: Any) -> str:
    from pandas.api import types as t

    if series.dropna().empty:
        return "empty"
    if t.is_bool_dtype(series):
        return "bool"
    if t.is_integer_dtype(series):
        return "int"
    if t.is_float_dtype(series):
        return "int" if series.dropna().mod(1).eq(0).all() and series.isna().any() else "float"
    if t.is_datetime64_any_dtype(series):
        return "datetime"
    return "string"


def _load(cache: Path) -> dict[str, Any]:
    """The cache's entries, memoised while the cache file is unchanged; a bad cache reads as empty."""
    try:
        st = cache.stat()
    except OSError:
        return {}
    memo = _memo.get(str(cache))
    if memo is not None and memo[0] == (st.st_size, st.st_mtime_ns):
        return memo[1]
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    ok = isinstance(data, dict) and data.get("version") == PROFILE_VERSION and isinstance(data.get("files"), dict)
    entries: dict[str, Any] = data["files"] if ok and isinstance(data, dict) else {}
    _memo[str(cache)] = ((st.st_size, st.st_mtime_ns), entries)
    return entries


def _save(cache: Path, entries: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written is only slower next time."""
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".profiles-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": PROFILE_VERSION, "files": entries}, fh, sort_keys=True)
        os.replace(tmp, cache)
    except OSError:
        pass


def data_summary(path: Path, root: Path) -> dict[str, Any] | None:
    """{file, rows, columns: {name: type}} of a data file for the lockfile and the plan's reasons; None if unreadable."""
    try:
        profile = profile_file(path, root / ".featrix", count_rows=True)
    except (OSError, UnreadableData):
        return None
    try:
        shown = Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive
        shown = str(path)
    return {"file": shown, "rows": profile.rows, "columns": {c.name: c.dtype for c in profile.columns}}
