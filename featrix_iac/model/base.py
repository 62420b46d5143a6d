"""The shared pydantic base: frozen, strict about unknown fields, and the `sensitive()` field marker."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SENSITIVE_KEY = "x-featrix-sensitive"
M = TypeVar("M", bound=BaseModel)
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(value: str) -> bool:
    """A data location the server fetches itself (scheme://...), not a path relative to the manifest."""
    return bool(URL.match(value))


def is_http_url(value: object) -> bool:
    """An http(s) URL (a webhook target, a server's base URL)."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def built(cls: type[M], fields: dict[str, Any], fields_set: set[str]) -> M:
    """The model validation made from these fields (every one given, no extra, no private), without validating
    again: for values validated before (a frozen plan action, a lockfile read back from its cache). Cheaper than
    `model_construct`, which looks up each field's alias and default."""
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class Strict(BaseModel):
    """Frozen model that rejects unknown fields (they are typos more often than not)."""

    # numbers written where text is expected (labels such as `rare_label_value: 1`) are read as text
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


def sensitive(default: Any = None, *, description: str) -> Any:
    """A field whose value is a secret: redacted wherever it is shown, compared by hash."""
    return Field(default=default, description=description, json_schema_extra={SENSITIVE_KEY: True})
