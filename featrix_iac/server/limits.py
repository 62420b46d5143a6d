"""The local server's limits on hostile input, in one place (documented in the README's server section)."""

from __future__ import annotations

import re

MAX_EPOCHS = 1000  # foundational models and predictors alike: more is refused with a 400
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024  # a table after gunzip, counted while inflating
MAX_JSON_TABLE_BYTES = 32 * 1024 * 1024  # a JSON table is parsed whole: a tighter bound than CSV / Parquet
MAX_CELLS = 2_000_000  # rows x columns of one table, counted while parsing
MIN_ENDPOINT_KEY_LENGTH = 32  # a caller-chosen endpoint API key (generated ones are longer)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,127}$")  # user-chosen names (vector databases)


def check_name(name: str, what: str = "name") -> str:
    """A user-chosen name that can never be read as a path: letters, digits, space, `_.-`, no leading dot."""
    if not NAME.match(name) or ".." in name:
        raise ValueError(f"{what} {name!r} is not allowed: use letters, digits, spaces and _.- (at most 128)")
    return name
