"""Reading uploaded or referenced tables (CSV, CSV.gz, Parquet, JSON) into DataFrames, with clear 400s."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    import pandas as pd


class BadTable(ValueError):
    """The data is not a readable table; the message is the 400 detail."""


def read_table(filename: str, raw: bytes) -> pd.DataFrame:
    """Parse `raw` by its name (and magic bytes); at least 2 columns and 1 row."""
    import pandas as pd

    name = (filename or "data.csv").lower()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BadTable(f"{filename}: not a valid gzip file ({exc})") from exc
        name = name.removesuffix(".gz")
    elif name.endswith(".gz"):
        name = name.removesuffix(".gz")
    if not raw.strip():
        raise BadTable(f"{filename}: the file is empty")
    try:
        if raw[:4] == b"PAR1" or name.endswith(".parquet"):
            df = pd.read_parquet(io.BytesIO(raw))
        elif name.endswith((".json", ".jsonl", ".ndjson")) or raw.lstrip()[:1] in (b"[", b"{"):
            df = _read_json(raw)
        else:
            df = pd.read_csv(io.BytesIO(raw))
    except BadTable:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is the client's bad upload
        raise BadTable(f"{filename}: not a readable table ({type(exc).__name__}: {exc})") from exc
    return _check(filename, df)


def _read_json(raw: bytes) -> pd.DataFrame:
    import pandas as pd

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
    return pd.DataFrame(obj)


def _check(filename: str, df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c) for c in df.columns]
    if df.shape[1] < 2:
        raise BadTable(f"{filename}: a table needs at least 2 columns, found {df.shape[1]}")
    if df.shape[0] < 1:
        raise BadTable(f"{filename}: the table has no rows")
    if len(set(df.columns)) != len(df.columns):
        raise BadTable(f"{filename}: duplicate column names")
    return df


MAX_FETCH_BYTES = 512 * 1024 * 1024


def read_location(location: str, base_dir: Path | None = None) -> pd.DataFrame:
    """Read a table from an https:// or file:// URL or a local path (http:// and s3:// are refused)."""
    parsed = urlparse(location)
    if parsed.scheme == "https":
        return read_table(Path(unquote(parsed.path)).name or "data.csv", _fetch(location))
    if parsed.scheme == "http":
        raise BadTable(f"{location}: plain http:// is refused; use https://")
    if parsed.scheme == "s3":
        raise BadTable(f"{location}: the local server has no S3 credentials; use a presigned https:// link")
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise BadTable(f"{location}: no such file")
    return read_table(path.name, path.read_bytes())


def _fetch(url: str) -> bytes:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - https only (checked above)
            raw: bytes = resp.read(MAX_FETCH_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BadTable(f"{url}: cannot download the data ({exc})") from exc
    if len(raw) > MAX_FETCH_BYTES:
        raise BadTable(f"{url}: larger than {MAX_FETCH_BYTES} bytes")
    return raw
