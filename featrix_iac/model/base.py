"""The shared pydantic base: frozen, strict about unknown fields, and the `sensitive()` field marker."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SENSITIVE_KEY = "x-featrix-sensitive"
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(value: str) -> bool:
    """A data location the server fetches itself (scheme://...), not a path relative to the manifest."""
    return bool(URL.match(value))


def is_http_url(value: object) -> bool:
    """An http(s) URL (a webhook target, a server's base URL)."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))


class Strict(BaseModel):
    """Frozen model that rejects unknown fields (they are typos more often than not)."""

    # numbers written where text is expected (labels such as `rare_label_value: 1`) are read as text
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


def sensitive(default: Any = None, *, description: str) -> Any:
    """A field whose value is a secret: redacted wherever it is shown, compared by hash."""
    return Field(default=default, description=description, json_schema_extra={SENSITIVE_KEY: True})
