"""Which fields are secrets, and redaction of them in any dumped model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from featrix_iac.model.base import SENSITIVE_KEY

REDACTED = "(sensitive value)"


def is_sensitive(model: type[BaseModel], field_name: str) -> bool:
    info = model.model_fields.get(field_name)
    extra = info.json_schema_extra if info else None
    return isinstance(extra, dict) and bool(extra.get(SENSITIVE_KEY))


def redact(obj: Any) -> Any:
    """Dump a model (or structure of models) to plain data with every sensitive value replaced."""
    if isinstance(obj, BaseModel):
        out: dict[str, Any] = {}
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            if value is not None and is_sensitive(type(obj), name):
                out[name] = REDACTED
            else:
                out[name] = redact(value)
        return out
    if isinstance(obj, dict):
        return {k: redact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if hasattr(obj, "value") and obj.__class__.__module__.startswith("featrix_iac"):
        return obj.value
    return obj
