"""The retire lifecycle (lifecycle.retire): the policy the lockfile keeps, the deprecation it starts, when it is due.

A foundational model or endpoint declared with `lifecycle.retire: {deprecate_for: 30d}` and then removed from the
manifest is not deleted at once: the first apply deprecates it (a foundational model gets the API's deprecation,
`POST /compute/session/{id}/deprecate` with a warning and an expiration date, foundational_model.py:
FoundationalModel.deprecate; endpoints have no deprecation route, so only the lockfile records it) and a later
apply deletes it once the expiration has passed and it has gone unused for `deprecate_for` (the endpoint
object's `last_used_at`, api_endpoint.py:APIEndpoint.from_response). Pure functions of data and a given time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from featrix_iac.clock import iso, parse_time
from featrix_iac.resources.base import Change, FieldRule

FIELD = "lifecycle.retire"  # the desired field (and lockfile `applied` key) that records the policy
# recorded by every apply of the resource, compared by the planner (a change only rewrites the lockfile)
RULE = FieldRule(FIELD, Change.IGNORED, live=False)
DAY = 86400.0


def desired(resource: Any) -> dict[str, Any]:
    """`{FIELD: policy}` for a resource with lifecycle.retire ({deprecate_for, seconds[, warning_message]}), else
    nothing (so that resources without it record nothing more)."""
    retire = getattr(getattr(resource, "lifecycle", None), "retire", None)
    return {} if retire is None else {FIELD: dict(retire.recorded())}


def begin(address: str, recorded: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The retirement an apply starts now: {deprecated_at, expires_at, deprecate_for, seconds, warning_message}."""
    expires = now + timedelta(seconds=float(recorded["seconds"]))
    message = recorded.get("warning_message") or (
        f"{address} is retiring: removed from its manifest, it is deleted after {iso(expires)} once unused "
        f"for {recorded['deprecate_for']}"
    )
    return {
        "deprecated_at": iso(now),
        "expires_at": iso(expires),
        "deprecate_for": recorded["deprecate_for"],
        "seconds": int(recorded["seconds"]),
        "warning_message": message,
    }


def deprecation(retiring: dict[str, Any]) -> dict[str, str]:
    """The body of the API's deprecate call for a retirement begun (foundational_model.py:deprecate)."""
    return {"warning_message": str(retiring["warning_message"]), "expiration_date": str(retiring["expires_at"])}


@dataclass(frozen=True)
class Standing:
    """Where a retirement stands at a given time: due (delete it now) or not, and why, in words."""

    due: bool
    text: str


def standing(retiring: dict[str, Any], now: datetime, last_used: str | None, *, reported: bool = True) -> Standing:
    """Due once the expiration has passed and the last use (None: never used) is older than the window.
    `reported`: whether the kind's use is reported at all (a foundational model's is not: due at expiration)."""
    expires = parse_time(str(retiring["expires_at"]))
    window = float(retiring["seconds"])
    used = parse_time(last_used) if last_used else None
    if not reported:
        used_text = "its use is not reported"
    else:
        used_text = f"last used {_ago(now, used)}" if used is not None else "never used"
    if now < expires:
        left = (expires - now).total_seconds() / DAY
        return Standing(False, f"retiring ({_days(left, up=True)} left, {used_text}; expires {iso(expires)})")
    if used is not None and (now - used).total_seconds() < window:
        free = used + timedelta(seconds=window)
        return Standing(
            False,
            f"retiring (expired {iso(expires)}, but {used_text}: deleted once unused for "
            f"{retiring['deprecate_for']}, from {iso(free)})",
        )
    unused = f"last used {iso(used)}" if used is not None else used_text
    return Standing(True, f"its retirement is due: expired {iso(expires)}, {unused}")


def _ago(now: datetime, when: datetime) -> str:
    days = (now - when).total_seconds() / DAY
    return f"{iso(when)}, {_days(days)} ago" if days >= 0 else iso(when)


def _days(days: float, *, up: bool = False) -> str:
    n = math.ceil(days) if up else int(days)
    if n <= 0:
        return "less than 1 day"
    return f"{n} day{'' if n == 1 else 's'}"
