"""The tool's one clock: the current UTC time, which FEATRIX_NOW overrides (for testing only)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

NOW_ENV = "FEATRIX_NOW"  # an ISO datetime (or date) that stands for "now": only for tests of time-based behaviour


def now() -> datetime:
    """The current time in UTC, or the time FEATRIX_NOW names (testing only: e.g. a retirement's expiration)."""
    text = os.environ.get(NOW_ENV, "").strip()
    if not text:
        return datetime.now(timezone.utc)
    try:
        return parse_time(text)
    except ValueError:
        from featrix_iac.diagnostics import fail

        raise fail(
            f"{NOW_ENV} is not an ISO date or datetime: {text!r}",
            f"{NOW_ENV} stands for the current time in tests, e.g. 2030-01-31T00:00:00Z; unset it otherwise",
        ) from None


def parse_time(text: str) -> datetime:
    """An ISO datetime or date (a trailing Z allowed) as an aware UTC datetime; naive times count as UTC."""
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def iso(when: datetime) -> str:
    """`2026-06-01T00:00:00Z`: the form the official client sends a deprecation's expiration in."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
