"""The handler contract every kind implements, and field rules declared as data (DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Change(str, Enum):
    IN_PLACE = "in_place"  # a route changes it, same id
    REPLACE = "replace"  # only by creating a new object (create-only fields too)
    COMPUTED = "computed"  # set by the server; shown, never diffed
    IGNORED = "ignored"  # hints such as priority: never diffed


@dataclass(frozen=True)
class FieldRule:
    """How one desired field of a kind is compared and changed."""

    name: str
    change: Change
    sensitive: bool = False  # never shown: redacted in plans, logs and errors
    write_only: bool = False  # the server never returns it: compared by the hash kept in the lockfile
    live: bool = True  # the server reports it, so drift can be detected
    route: str = ""  # the API route that changes it in place (documentation and plan detail)


@dataclass
class LiveObject:
    """What refresh read from the server for one lockfile entry, normalised like the desired fields."""

    ids: dict[str, str]
    fields: dict[str, Any]
    status: str = "ready"  # server status vocabulary folded to: ready | training | failed | deleted
    tag: dict[str, Any] = field(default_factory=dict)  # the user_metadata tag, when present
