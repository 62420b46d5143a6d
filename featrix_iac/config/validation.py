"""Pydantic validation of the merged, rendered manifest, with errors mapped back to file positions."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from featrix_iac.config.overlay import did_you_mean
from featrix_iac.config.templating import address_of
from featrix_iac.config.yaml_source import Path_, SourceMap
from featrix_iac.diagnostics import Diagnostics
from featrix_iac.model import Project, is_sensitive
from featrix_iac.model.project import project_model

RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
    "string_too_long",
}
_UNIONS = (typing.Union, types.UnionType)


class _Where:
    """Where a pydantic error location points: the manifest path, the owning model and union branch."""

    def __init__(self, loc: tuple[Any, ...]):
        self.path: list[str | int] = []
        self.owner: type[BaseModel] | None = None
        self.field: str | None = None
        self.union_at: Path_ | None = None
        self.model_branch = False
        ann: Any = project_model()
        for elem in loc:
            ann = self._step(_optional(ann), elem)

    def _step(self, ann: Any, elem: Any) -> Any:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            self.owner, self.field = ann, elem if isinstance(elem, str) else None
            self.path.append(elem)
            info = ann.model_fields.get(elem) if isinstance(elem, str) else None
            return info.annotation if info else None
        origin = typing.get_origin(ann)
        if origin in _UNIONS:  # pydantic tags each union member it tried
            models = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
            if self.union_at is None:
                self.union_at = tuple(self.path)
                self.model_branch = any(m.__name__ == elem for m in models)
            return next((m for m in models if m.__name__ == elem), None)
        self.path.append(elem)
        self.field = None
        if origin is dict:
            return typing.get_args(ann)[1]
        if origin is list:
            return typing.get_args(ann)[0]
        return None

    @property
    def label(self) -> str:
        inner = self.path[2:] if address_of(tuple(self.path)) else self.path
        text = ""
        for p in inner:
            text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else p)
        return text


def _optional(ann: Any) -> Any:
    if typing.get_origin(ann) in _UNIONS:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _lookup(data: Any, path: Path_) -> Any:
    for p in path:
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _message(err: dict[str, Any]) -> str:
    if err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return "Expected a mapping"
    msg = str(err.get("msg", ""))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _describe(where: _Where, err: dict[str, Any]) -> tuple[str, str]:
    kind, field, label = err["type"], where.field, where.label
    if kind == "missing":
        return f'Missing required field "{field or label}"', _field_help(where.owner, field)
    if kind == "extra_forbidden":
        owner = where.owner
        known = set(owner.model_fields) if owner else set()
        name = owner.__name__ if owner else "This block"
        return f'Unknown field "{field}"', f'{name} has no field "{field}".{did_you_mean(str(field), known)}'
    if kind in RANGE_ERRORS:
        return f'Value out of range for "{label}"', _message(err)
    if (kind in ("value_error", "assertion_error") and field is None) or not label:
        addr = address_of(tuple(where.path))
        what = addr.split(".")[0].replace("_", " ") if addr and len(where.path) == 2 else "value"
        return f"Invalid {what}", _message(err)
    detail = _message(err)
    secret = where.owner is not None and field is not None and is_sensitive(where.owner, field)
    value = err.get("input")
    if not secret and isinstance(value, (str, int, float, bool)) and kind != "value_error":
        detail += f" (got {value!r})"
    if kind == "string_type" and isinstance(value, (bool, int, float)):  # yes, no, on, off, 1, 0.5 unquoted
        what = "a boolean (yes/no, on/off, true/false)" if isinstance(value, bool) else "a number"
        detail += f'. YAML read it as {what}: quote it to keep it text, e.g. {field or label}: "yes".'
    return f'Invalid value for "{label}"', detail


def _field_help(owner: type[BaseModel] | None, field: str | None) -> str:
    info = owner.model_fields.get(field) if owner and field else None
    return f"{field}: {info.description}" if info and info.description else ""


def validate_project(data: dict[str, Any], sources: SourceMap, skip: set[Path_], diags: Diagnostics) -> Project | None:
    """Validate `data` as a Project; every error becomes a positioned diagnostic."""
    try:
        return project_model().model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    for err in errors:
        where = _Where(tuple(err["loc"]))
        path = tuple(where.path)
        if any(path[: len(s)] == s for s in skip):
            continue
        if where.union_at is not None and isinstance(_lookup(data, where.union_at), dict) != where.model_branch:
            continue
        summary, detail = _describe(where, dict(err))
        if err["type"] == "missing":
            source = sources.key(path[:-1])
        elif err["type"] == "extra_forbidden" or where.field is None:
            source = sources.key(path)
        else:
            source = sources.value(path)
        diags.error(summary, detail, address=address_of(path), source=source)
    return None
