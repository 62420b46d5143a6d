"""A Plan as text, like Terraform's (symbols, per-field old → new, reasons, drift, summary), or JSON.

Pure functions from Plan to str: no terminal, no I/O; the CLI decides about colour and where to print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from featrix_iac.model.secrets import REDACTED
from featrix_iac.plan.model import SYMBOLS, Action, ActionType, Drift, FieldChange, Plan
from featrix_iac.resources.gates import step as gate_step

VALUE_CHARS = 240
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
A = ActionType
VERBS: dict[ActionType, str] = {
    A.CREATE: "will be created",
    A.UPDATE: "will be updated in place",
    A.REPLACE: "must be replaced",
    A.DELETE: "will be deleted",
    A.RETIRE: "will be retired",
    A.ADOPT: "will be adopted",
    A.PROMOTE: "will be promoted (no training)",
    A.NOOP: "is unchanged",
}
COLORS: dict[ActionType, str] = {
    A.CREATE: "32",  # green
    A.ADOPT: "36",  # cyan
    A.PROMOTE: "36",
    A.UPDATE: "33",  # yellow
    A.REPLACE: "35",  # magenta
    A.DELETE: "31",  # red
    A.RETIRE: "31",
    A.NOOP: "0",
}
Style = Callable[[str, str], str]


def _plain(text: str, code: str) -> str:
    return text


def _ansi(text: str, code: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if code and code != "0" else text


def render_text(plan: Plan, *, color: bool = False, compact: bool | None = None) -> str:
    """The plan for people: drift first, then each change with its reasons and fields, then the summary.

    `compact` (None: when there are more than COMPACT_ABOVE changes) starts with the summary and folds
    each cascade of actions that change nothing of their own into one block (plan/compact.py).
    """
    from featrix_iac.plan.compact import COMPACT_ABOVE, compact_parts

    style = _ansi if color else _plain
    parts: list[str] = []
    changes = plan.changes()
    if compact is None:
        compact = len(changes) > COMPACT_ABOVE
    if compact and changes and not plan.refresh_only:
        parts.append(style(plan.summary_line(), "1"))
    if plan.drift:
        parts.append(render_drift(plan.drift, style, converge=not plan.refresh_only))
    if plan.refresh_only:
        parts.append(_refresh_only_summary(plan))
        return "\n\n".join(parts) + "\n"
    notes = [w for a in plan.actions if a.action is A.NOOP for w in a.warnings]
    if notes:  # e.g. data that changed under lifecycle.retrain_on: the model is kept, the plan says so
        parts.append("\n".join(["Unchanged, with notes:", *(style(f"  ! {w}", "33") for w in notes)]))
    if not changes:
        parts.append(_no_changes(plan))
        return "\n\n".join(parts) + "\n"
    from featrix_iac.plan.jsonformat import plan_id  # only a plan with changes has an id to show

    parts.append("featrix will perform the following actions:")
    if compact:
        parts.extend(compact_parts(changes, lambda a: render_action(a, style), style))
    else:
        parts.extend(render_action(a, style) for a in changes)
    parts.append(style(plan.summary_line(), "1") + f"\nPlan id: {plan_id(plan)}")
    if plan.estimate:
        parts.append(estimate_line(plan.estimate))
    return "\n\n".join(parts) + "\n"


def estimate_line(estimate: dict[str, float]) -> str:
    """`Estimated training: ≈ 12 min (critical path 7 min)`."""
    total, critical = estimate["training_seconds"], estimate["critical_path_seconds"]
    return f"Estimated training: ≈ {_minutes(total)} (critical path {_minutes(critical)})"


def _minutes(seconds: float) -> str:
    """`12 min` from 90 s on, else `40 s` (a tenth of a minute would round small trainings to 0.0)."""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _no_changes(plan: Plan) -> str:
    n = plan.summary.unchanged
    tail = f" ({n} resource{'s' if n != 1 else ''} up to date)" if n else ""
    if plan.drift:
        return f"No changes to the manifests' resources{tail}; only the drift above."
    return f"No changes. The server matches the manifests{tail}."


def _refresh_only_summary(plan: Plan) -> str:
    n = len(plan.drift)
    if not n:
        return "No drift: nothing changed on the server outside featrix."
    return f"Drift: {n} object{'s' if n != 1 else ''} changed outside featrix."


def render_drift(drift: Sequence[Drift], style: Style = _plain, *, converge: bool = True) -> str:
    tail = "; apply converges them (see the actions below):" if converge else ":"
    lines = ["Objects changed outside featrix (drift)" + tail]
    for d in sorted(drift, key=lambda d: d.address):
        lines.append("")
        if d.deleted:
            lines.append(f"  {style('-', COLORS[A.DELETE])} {d.address}: deleted outside featrix")
            continue
        lines.append(f"  {style('~', COLORS[A.UPDATE])} {d.address}")
        rows = [row for c in d.changes for row in change_rows(c)]
        width = max((len(label) for label, _ in rows), default=0)
        lines.extend(f"      ~ {label.ljust(width)}: {text}" for label, text in rows)
    return "\n".join(lines)


def render_action(action: Action, style: Style = _plain) -> str:
    """One action: `# address verb`, its reasons, its warnings, the symbol line and its field changes."""
    code = COLORS[action.action]
    lines = [style(f"  # {action.address} {VERBS[action.action]}", "1")]
    lines.extend(f"  #   {reason.text}" for reason in action.reasons)
    lines.extend(style(f"  #   ! {warning}", "33") for warning in action.warnings)
    lines.extend(f"  #   {gate_step(g, t)}" for g, t in sorted(action.gates.items()))
    symbol = SYMBOLS[action.action].strip().rjust(3)
    lines.append(f"{style(symbol, code)} {action.address}")
    lines.extend(_field_lines(action, style))
    return "\n".join(lines)


def _field_lines(action: Action, style: Style) -> list[str]:
    changes = action.changes
    if not changes:
        return []
    width = max(len(c.field) for c in changes)
    if action.action in (A.CREATE, A.ADOPT):
        plus = style("+", COLORS[A.CREATE])
        return [f"      {plus} {c.field.ljust(width)} = {_value(c.new, c.sensitive)}" for c in changes]
    out = []
    rows = [(c, label, text) for c in changes for label, text in change_rows(c)]
    width = max(len(label) for _, label, _ in rows)
    for i, (c, label, text) in enumerate(rows):
        first = i == 0 or rows[i - 1][0] is not c
        tail = style("  # forces replacement", COLORS[A.REPLACE]) if c.forces_replacement and first else ""
        out.append(f"      {style('~', COLORS[A.UPDATE])} {label.ljust(width)}: {text}{tail}")
    return out


def change_rows(c: FieldChange) -> list[tuple[str, str]]:
    """(label, "old → new") per changed key or item of a container field, else one row for the field."""
    if not c.items:
        return [(c.field, f"{_value(c.old, c.sensitive)} → {_value(c.new, c.sensitive)}")]
    rows = []
    for item in c.items:
        if item.op == "add":
            text = f"+ {_value(item.new, False)}"
        elif item.op == "remove":
            text = f"- {_value(item.old, False)}"
        else:
            text = f"{_value(item.old, False)} → {_value(item.new, False)}"
        rows.append((c.field + item.path, text))
    return rows


def _value(value: Any, sensitive: bool) -> str:
    if sensitive and value is not None:
        return REDACTED
    if isinstance(value, str) and value.startswith("(") and value.endswith(")"):
        return value  # markers such as "(known after apply)"
    if isinstance(value, str) and DIGEST.match(value):
        return json.dumps(
            value[:23] + "…", ensure_ascii=False
        )  # a data fingerprint: its first 16 hex digits tell them apart
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def render_json(plan: Plan) -> str:
    """The plan as versioned JSON (sensitive values redacted), the format of schemas/plan.schema.json."""
    from featrix_iac.plan.jsonformat import plan_json

    return plan_json(plan)
