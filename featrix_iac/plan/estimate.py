"""Training estimates: minutes from rows x columns x epochs, calibrated on past trainings in the lockfile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from featrix_iac.plan.model import TRAINING, ActionBase, ActionDraft
from featrix_iac.state import Lockfile

DEFAULT_EPOCHS = 20  # what "automatic" epochs are counted as
MIN_SECONDS = 1.0  # no training is estimated under this (set-up)


def training_inputs(action: ActionBase, desired: Mapping[str, dict[str, Any]]) -> dict[str, int] | None:
    """{rows, columns, epochs, work} of the data a training action trains on, or None when it trains nothing.

    The data is the action's own (a foundational model) or that of the dependency that has one (a predictor
    trains on its foundational model's table)."""
    summary = action.desired.get("data_summary")
    for dep in action.depends_on:
        summary = summary or desired.get(dep, {}).get("data_summary")
    if not isinstance(summary, dict) or summary.get("rows") is None:
        return None
    ignored = set(action.desired.get("ignore_columns") or ())
    rows, columns = int(summary["rows"]), max(1, len(set(summary.get("columns") or {}) - ignored))
    epochs = int(action.desired.get("epochs") or DEFAULT_EPOCHS)
    return {"rows": rows, "columns": columns, "epochs": epochs, "work": rows * columns * epochs}


def seconds_per_unit(lockfile: Lockfile) -> dict[str, tuple[float, int]]:
    """{kind: (seconds per unit, trainings it is based on)} from the trainings the lockfile records."""
    totals: dict[str, list[float]] = {}
    for entry in lockfile.resources.values():
        t = entry.training
        if t.get("seconds") and t.get("work"):
            seconds, work, n = totals.setdefault(entry.kind, [0.0, 0.0, 0])
            totals[entry.kind] = [seconds + float(t["seconds"]), work + float(t["work"]), n + 1]
    return {kind: (s / w, int(n)) for kind, (s, w, n) in totals.items() if w > 0}


def default_seconds_per_unit(kind: str) -> float:
    """The kind's guess (its spec) until a training of the kind is recorded; the recorded ones replace it."""
    from featrix_iac.resources.registry import SPECS

    spec = SPECS.get(kind)
    return spec.seconds_per_unit if spec is not None else 1e-5


def estimate(
    actions: Sequence[ActionDraft], desired: Mapping[str, dict[str, Any]], lockfile: Lockfile, trains: set[str]
) -> None:
    """Set `estimate` on each training action; the plan's totals come from `totals`."""
    rates = seconds_per_unit(lockfile)
    for action in actions:
        if action.action not in TRAINING or action.kind not in trains:
            continue
        inputs = training_inputs(action, desired)
        if inputs is None:
            continue
        rate, based_on = rates.get(action.kind, (default_seconds_per_unit(action.kind), 0))
        seconds = max(MIN_SECONDS, inputs["work"] * rate)
        action.estimate = {"training_seconds": round(seconds, 1), **inputs, "calibrated_on": based_on}


def totals(actions: Sequence[ActionBase]) -> dict[str, float] | None:
    """{training_seconds, critical_path_seconds}: the sum, and the longest chain of dependent trainings."""
    by_address: dict[str, ActionBase] = {a.address: a for a in actions}
    if not any(a.estimate for a in actions):
        return None
    longest: dict[str, float] = {}

    def path(address: str) -> float:
        if address not in longest:
            action = by_address.get(address)
            own = float((action.estimate or {}).get("training_seconds", 0)) if action else 0.0
            deps = action.depends_on if action else []
            longest[address] = own + max((path(d) for d in deps if d in by_address), default=0.0)
        return longest[address]

    total = sum(float(a.estimate["training_seconds"]) for a in actions if a.estimate)
    critical = max(path(a.address) for a in actions)
    return {"training_seconds": round(total, 1), "critical_path_seconds": round(critical, 1)}


def biggest(actions: Sequence[ActionBase], n: int = 3) -> list[ActionBase]:
    """The training actions with the largest estimates, largest first."""
    trained = [a for a in actions if a.estimate]
    return sorted(trained, key=lambda a: -float(a.estimate["training_seconds"]) if a.estimate else 0)[:n]
