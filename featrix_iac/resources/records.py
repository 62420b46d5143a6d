"""Records read from a data file through a pandas DataFrame, typed and cleaned as the official client sends them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def read_records(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV (or .csv.gz), Parquet, JSON (a list of objects) or JSON-lines file, as typed records.

    The official client sends a DataFrame's `to_dict('records')` through `clean_record`
    (vector_database.py:VectorDatabase.add_records, record_utils.py:clean_value): numbers stay numbers,
    missing values (NaN, NaT, NA) become null. Reading the file with pandas gives the same types.
    """
    import pandas as pd

    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        df = pd.read_parquet(path)
    elif name.endswith((".jsonl", ".ndjson")):
        df = pd.read_json(path, lines=True, dtype=False)
    elif name.endswith(".json"):
        df = pd.read_json(path, orient="records", dtype=False)
    else:
        df = pd.read_csv(path)
    return [{str(k): clean_value(v) for k, v in row.items()} for row in df.to_dict("records")]


def clean_value(value: Any) -> Any:
    """A JSON-safe value: numpy scalars unwrapped, NaN / inf / pandas missing values as None, timestamps as ISO."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and hasattr(value, "ndim"):
        if value.ndim != 0:
            return [clean_value(v) for v in value.tolist()]
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
