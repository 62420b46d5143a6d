"""Reading uploaded or referenced tables (CSV, CSV.gz, Parquet, JSON) into DataFrames, streamed and bounded.

Everything is read from a file object (the spooled upload, a local file, a downloaded temporary file), never
from one big bytes object: decompressed bytes are counted while inflating and rows x columns while parsing,
so a gzip bomb or a huge CSV is refused with a 400 before it can take the server's memory (limits.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from featrix_iac.server.limits import MAX_CELLS, MAX_DECOMPRESSED_BYTES, MAX_JSON_TABLE_BYTES
from featrix_iac.server.webhook_policy import TargetPolicy

if TYPE_CHECKING:
    import pandas as pd

GZIP_MAGIC = b"\x1f\x8b"
CSV_CHUNK_ROWS = 50_000
BUFFER = 1024 * 1024


class BadTable(ValueError):
    """The data is not a readable table; the message is the 400 detail."""


class _Limited(io.RawIOBase):
    """A raw reader over `inner` that refuses to pass more than `limit` bytes (and names a broken gzip)."""

    def __init__(self, inner: IO[bytes], limit: int, filename: str, gzipped: bool) -> None:
        self.inner, self.limit, self.filename, self.gzipped, self.count = inner, limit, filename, gzipped, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            chunk = self.inner.read(len(view))
        except (OSError, EOFError, zlib.error) as exc:
            if self.gzipped:
                raise BadTable(f"{self.filename}: not a valid gzip file ({exc})") from None
            raise
        self.count += len(chunk)
        if self.count > self.limit:
            what = "decompressed size" if self.gzipped else "size"
            raise BadTable(
                f"{self.filename}: the table's {what} exceeds the local server's limit of {self.limit} bytes"
            )
        view[: len(chunk)] = chunk
        return len(chunk)


def read_table(filename: str, source: bytes | IO[bytes]) -> pd.DataFrame:
    """Parse `source` by its name (and magic bytes); at least 2 columns and 1 row, within the limits."""
    stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    name = (filename or "data.csv").lower()
    gzipped = stream.read(2) == GZIP_MAGIC
    stream.seek(0)
    inner: Any = gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else stream
    name = name.removesuffix(".gz")
    data = io.BufferedReader(_Limited(inner, MAX_DECOMPRESSED_BYTES, filename, gzipped), buffer_size=BUFFER)
    head = data.peek(BUFFER)
    if not head.strip():
        raise BadTable(f"{filename}: the file is empty")
    try:
        if head[:4] == b"PAR1" or name.endswith(".parquet"):
            df = _read_parquet(filename, data)
        elif name.endswith((".json", ".jsonl", ".ndjson")) or head.lstrip()[:1] in (b"[", b"{"):
            df = _read_json(filename, data)
        else:
            df = _read_csv(filename, data, head)
    except BadTable:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is the client's bad upload
        raise BadTable(f"{filename}: not a readable table ({type(exc).__name__}: {exc})") from exc
    return _check(filename, df)


def _too_many(filename: str, rows: int, cols: int) -> BadTable:
    return BadTable(
        f"{filename}: more than {MAX_CELLS} cells (rows x columns, {rows} x {cols} so far): "
        "over the local server's limit"
    )


def _read_csv(filename: str, data: IO[bytes], head: bytes) -> pd.DataFrame:
    import pandas as pd

    _refuse_duplicate_header(filename, head)
    chunks, rows = [], 0
    with pd.read_csv(data, chunksize=CSV_CHUNK_ROWS) as reader:
        for chunk in reader:
            rows += len(chunk)
            if rows * chunk.shape[1] > MAX_CELLS:
                raise _too_many(filename, rows, chunk.shape[1])
            chunks.append(chunk)
    if not chunks:
        raise BadTable(f"{filename}: the table has no rows")
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _refuse_duplicate_header(filename: str, head: bytes) -> None:
    """pandas renames a repeated column to `name.1`: refuse it instead, naming the repeats."""
    line = head.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    names = next(csv.reader([line]), [])
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise BadTable(f"{filename}: duplicate column names: {', '.join(repr(n) for n in repeated)}")


def _read_parquet(filename: str, data: IO[bytes]) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    buffer = io.BytesIO(data.read())
    meta = pq.ParquetFile(buffer).metadata
    if meta.num_rows * meta.num_columns > MAX_CELLS:
        raise _too_many(filename, meta.num_rows, meta.num_columns)
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if inflated > MAX_DECOMPRESSED_BYTES:  # pages inflate when read: refuse before reading them
        raise BadTable(
            f"{filename}: the table's decompressed size exceeds the local server's limit of {MAX_DECOMPRESSED_BYTES} bytes"
        )
    buffer.seek(0)
    return pd.read_parquet(buffer)


def _read_json(filename: str, data: IO[bytes]) -> pd.DataFrame:
    import pandas as pd

    raw = data.read(MAX_JSON_TABLE_BYTES + 1)
    if len(raw) > MAX_JSON_TABLE_BYTES:
        raise BadTable(f"{filename}: JSON tables are limited to {MAX_JSON_TABLE_BYTES} bytes; use CSV or Parquet")
    text = raw.decode("utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return pd.read_json(io.StringIO(text), lines=True)
    if isinstance(obj, dict):
        for key in ("records", "data", "rows"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
        else:
            obj = [obj]
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise BadTable("JSON data must be a list of objects (records)")
    cols = len({k for r in obj for k in r})
    if len(obj) * cols > MAX_CELLS:
        raise _too_many(filename, len(obj), cols)
    return pd.DataFrame(obj)


def _check(filename: str, df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c) for c in df.columns]
    if df.shape[1] < 2:
        raise BadTable(f"{filename}: a table needs at least 2 columns, found {df.shape[1]}")
    if df.shape[0] < 1:
        raise BadTable(f"{filename}: the table has no rows")
    if len(set(df.columns)) != len(df.columns):
        raise BadTable(f"{filename}: duplicate column names")
    if df.shape[0] * df.shape[1] > MAX_CELLS:
        raise _too_many(filename, df.shape[0], df.shape[1])
    return df


MAX_FETCH_BYTES = 512 * 1024 * 1024


def read_location(location: str, base_dir: Path | None = None) -> pd.DataFrame:
    """Read a table from an https:// or file:// URL or a local path (http:// and s3:// are refused)."""
    parsed = urlparse(location)
    if parsed.scheme == "https":
        refused = TargetPolicy(allow_loopback=True).refusal(location, resolve=True)
        if refused:  # the server fetches it: never from link-local or cloud metadata addresses
            raise BadTable(f"{location}: refused: {refused}")
        with _fetch(location) as fh:
            return read_table(Path(unquote(parsed.path)).name or "data.csv", fh)
    if parsed.scheme == "http":
        raise BadTable(f"{location}: plain http:// is refused; use https://")
    if parsed.scheme == "s3":
        raise BadTable(f"{location}: the local server has no S3 credentials; use a presigned https:// link")
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise BadTable(f"{location}: no such file")
    with path.open("rb") as fh:
        return read_table(path.name, fh)


def _fetch(url: str) -> IO[bytes]:
    """The download in a temporary file (spooled: small ones stay in memory), at most MAX_FETCH_BYTES."""
    import shutil
    import tempfile
    import urllib.error
    import urllib.request

    out = tempfile.SpooledTemporaryFile(max_size=BUFFER)  # noqa: SIM115 - returned to the caller's `with`
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - https only (checked above)
            shutil.copyfileobj(_Limited(resp, MAX_FETCH_BYTES, url, gzipped=False), out, BUFFER)
    except BadTable:
        out.close()
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        out.close()
        raise BadTable(f"{url}: cannot download the data ({exc})") from exc
    out.seek(0)
    return out
