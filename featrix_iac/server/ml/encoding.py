"""Column typing and the numeric encoding of table rows (numbers, categories, free text, missing values)."""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_CATEGORIES = 32
TEXT_DIMS = 16
TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class ColumnSpec:
    """How one column is encoded: its Featrix type and the statistics learned at fit time."""

    name: str
    ftype: str  # "scalar" | "set" | "free_string"
    start: int = 0
    width: int = 0
    mean: float = 0.0
    std: float = 1.0
    categories: list[str] = field(default_factory=list)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def detect_type(series: pd.Series) -> str:
    import pandas as pd

    values = series.dropna()
    if values.empty:
        return "set"
    if pd.api.types.is_bool_dtype(values):
        return "set"
    if pd.api.types.is_numeric_dtype(values):
        return "scalar" if values.nunique() > 2 or len(values) < 3 else "set"
    as_num = pd.to_numeric(values, errors="coerce")
    if as_num.notna().mean() >= 0.95 and as_num.nunique() > 2:
        return "scalar"
    text = values.astype(str)
    unique = text.nunique()
    if unique <= MAX_CATEGORIES or unique <= 0.2 * len(text):
        return "set"
    return "free_string" if text.str.len().mean() > 12 or text.str.contains(" ").mean() > 0.3 else "set"


class TableEncoder:
    """Fits per-column encodings on a table and turns rows (dicts or DataFrames) into float vectors."""

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.specs = specs
        self.by_name = {s.name: s for s in specs}
        self.width = sum(s.width for s in specs)

    @classmethod
    def fit(cls, df: pd.DataFrame, overrides: dict[str, str] | None = None) -> TableEncoder:
        import pandas as pd

        specs: list[ColumnSpec] = []
        start = 0
        for name in df.columns:
            ftype = _override_type((overrides or {}).get(name)) or detect_type(df[name])
            spec = ColumnSpec(name=name, ftype=ftype, start=start)
            col = df[name]
            if ftype == "scalar":
                nums = pd.to_numeric(col, errors="coerce").dropna()
                spec.mean = float(nums.mean()) if len(nums) else 0.0
                spec.std = float(nums.std()) if len(nums) > 1 and float(nums.std()) > 0 else 1.0
                spec.width = 2
            elif ftype == "set":
                counts = col.dropna().map(_as_label).value_counts()
                spec.categories = sorted(counts.index[:MAX_CATEGORIES].tolist())
                spec.width = max(1, len(spec.categories))
            else:
                spec.width = TEXT_DIMS
            start += spec.width
            specs.append(spec)
        return cls(specs)

    def column_types(self) -> dict[str, str]:
        return {s.name: s.ftype for s in self.specs}

    def encode_frame(self, df: pd.DataFrame, masked: set[str] | None = None) -> np.ndarray:
        records = df.to_dict(orient="records")
        return self.encode_records(records, masked)

    def encode_records(self, records: list[dict[str, Any]], masked: set[str] | None = None) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(records), self.width), dtype=np.float64)
        for i, rec in enumerate(records):
            for spec in self.specs:
                if masked and spec.name in masked:
                    if spec.ftype == "scalar":
                        out[i, spec.start + 1] = 1.0
                    continue
                _encode_value(out[i], spec, rec.get(spec.name))
        return out

    def block(self, name: str) -> tuple[int, int]:
        spec = self.by_name[name]
        return spec.start, spec.start + spec.width

    def mask_matrix(self, x: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
        """A copy of `x` with each (row, column) masked with probability `rate`, as if missing."""
        out: np.ndarray = x.copy()
        hits = rng.random((x.shape[0], len(self.specs))) < rate
        for j, spec in enumerate(self.specs):
            rows = hits[:, j]
            out[rows, spec.start : spec.start + spec.width] = 0.0
            if spec.ftype == "scalar":
                out[rows, spec.start + 1] = 1.0
        return out


def _override_type(value: str | None) -> str | None:
    if not value:
        return None
    v = value.lower()
    if v in ("scalar", "numeric", "float", "int"):
        return "scalar"
    if v in ("free_string", "text", "string"):
        return "free_string"
    return "set"


def _encode_value(row: np.ndarray, spec: ColumnSpec, value: Any) -> None:
    if _is_missing(value):
        if spec.ftype == "scalar":
            row[spec.start + 1] = 1.0
        return
    if spec.ftype == "scalar":
        try:
            num = float(value)
        except (TypeError, ValueError):
            row[spec.start + 1] = 1.0
            return
        if math.isnan(num) or math.isinf(num):
            row[spec.start + 1] = 1.0
            return
        row[spec.start] = max(-6.0, min(6.0, (num - spec.mean) / spec.std))
    elif spec.ftype == "set":
        text = _as_label(value)
        if text in spec.categories:
            row[spec.start + spec.categories.index(text)] = 1.0
    else:
        tokens = TOKEN.findall(str(value).lower())
        if not tokens:
            return
        for tok in tokens:
            row[spec.start + zlib.crc32(tok.encode()) % TEXT_DIMS] += 1.0
        block = row[spec.start : spec.start + spec.width]
        norm = float((block**2).sum()) ** 0.5
        if norm:
            block /= norm


def _as_label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
