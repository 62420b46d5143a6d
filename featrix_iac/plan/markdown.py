"""A Plan as a pull-request comment (GitHub Markdown), always under the comment size limit, never a secret."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from featrix_iac.model.secrets import REDACTED
from featrix_iac.plan.model import SYMBOLS, Action, ActionType, Drift, FieldChange, Plan
from featrix_iac.resources.gates import step as gate_step
from featrix_iac.state import RETIRED_NOTE, Lockfile

GITHUB_COMMENT_LIMIT = 65535
MARKER = "<!-- featrix-plan: {project}/{environment} -->"  # the first line: CI finds (and updates) its comment
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")  # what may appear in the marker comment
VALUE_CHARS = 300  # one value in a details table
REASON_CHARS = 200  # the reasons cell of the changes table
CALLOUT_ITEMS = 10  # addresses listed per ⚠️ call-out
WARNING_ITEMS = 20

# how risky each action is: the changes table lists the risky ones first
_ORDER = {
    ActionType.DELETE: 0,
    ActionType.REPLACE: 1,
    ActionType.RETIRE: 2,
    ActionType.UPDATE: 3,
    ActionType.CREATE: 4,
    ActionType.ADOPT: 5,
    ActionType.PROMOTE: 5,
    ActionType.NOOP: 6,
}


@dataclass
class _Doc:
    """The comment in parts: required ones always shown, optional blocks while they fit."""

    head: list[str]
    rows: list[str]
    optional: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def render_markdown(plan: Plan, *, json_artifact_hint: str = "plan.json", limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The plan as one Markdown comment of at most `limit` characters.

    Over the limit, the per-resource details are dropped first (the ones that fit are kept), then
    the changes table is cut with a pointer to the JSON artifact that holds the whole plan.
    """
    doc = _build(plan)
    text = _join(doc, doc.rows, doc.optional, "")
    if len(text) <= limit:
        return text
    return _fit(doc, json_artifact_hint, limit)


# -- fitting under the limit ----------------------------------------------------------------------


def _join(doc: _Doc, rows: list[str], optional: list[str], note: str) -> str:
    parts = ["\n".join(doc.head)]
    if rows:
        parts.append("\n".join([_TABLE_HEAD, *rows]))
    parts.extend(optional)
    parts.extend(doc.tail)
    if note:
        parts.append(note)
    return "\n\n".join(parts) + "\n"


def _omitted_note(hint: str, details: int, rows: int) -> str:
    what = []
    if rows:
        what.append(f"{rows} more change{'s' if rows != 1 else ''}")
    if details:
        what.append(f"{details} detail section{'s' if details != 1 else ''}")
    return (
        f"> ✂️ **Shortened to fit GitHub's comment limit**: {' and '.join(what)} not shown. "
        f"The whole plan is in the JSON artifact `{_inline(hint)}`."
    )


def _fit(doc: _Doc, hint: str, limit: int) -> str:
    worst_note = _omitted_note(hint, len(doc.optional) + 1, len(doc.rows) + 1)
    base = len(_join(doc, doc.rows, [], worst_note))
    if base <= limit:
        kept: list[str] = []
        used = base
        for block in doc.optional:
            if used + len(block) + 2 > limit:
                break
            kept.append(block)
            used += len(block) + 2
        note = _omitted_note(hint, len(doc.optional) - len(kept), 0)
        return _join(doc, doc.rows, kept, note)
    # even without details the table is too long: keep the first rows that fit
    used = len(_join(doc, [], [], worst_note)) + len(_TABLE_HEAD) + 2
    rows: list[str] = []
    for row in doc.rows:
        if used + len(row) + 1 > limit:
            break
        rows.append(row)
        used += len(row) + 1
    text = _join(doc, rows, [], _omitted_note(hint, len(doc.optional), len(doc.rows) - len(rows)))
    if len(text) > limit:  # a pathological head (limit far below any sensible size): hard cut
        text = text[: max(0, limit - 2)] + "…\n"
    return text


def marker(plan: Plan) -> str:
    """The comment's first line, one per project and environment (so each has one comment, updated)."""
    return MARKER.format(project=_SAFE.sub("_", plan.project), environment=_SAFE.sub("_", plan.environment))


# -- building the parts ---------------------------------------------------------------------------

_TABLE_HEAD = "| Address | Action | Reason |\n|---|---|---|"


def _build(plan: Plan) -> _Doc:
    changes = sorted(plan.changes(), key=lambda a: (_ORDER[a.action], a.address))
    summary = f"**{_inline(plan.summary_line())}**"
    unchanged = plan.summary.unchanged
    if unchanged:
        summary += f" {unchanged} resource{'s' if unchanged != 1 else ''} unchanged."
    head = [marker(plan), _title(plan), ""]
    if plan.refresh_only:  # a drift check changes nothing: the drift is the summary
        head.append(_drift_summary(plan))
    else:
        head.append(summary)
        if plan.drift:
            head.extend(["", _drift_summary(plan)])
    head.extend(_callouts(changes))
    if not changes and not plan.drift:
        head.append("")
        head.append("✅ No changes. The server matches the manifests.")
    doc = _Doc(head=head, rows=[_row(a) for a in changes])
    shown = set(plan.warnings[:WARNING_ITEMS])
    doc.optional = [d for d in (_details(a, shown) for a in changes) if d]
    if plan.drift:
        doc.optional.insert(0, _drift_section(plan.drift, expanded=plan.refresh_only))
    if plan.warnings:
        doc.tail.append(_warnings(plan.warnings))
    from featrix_iac.plan.jsonformat import plan_id

    shown_id = f" · plan {plan_id(plan)}" if plan.applicable() else ""
    doc.tail.append(
        f"<sub>featrix-iac {_inline(plan.tool_version)} · lineage {_inline(plan.lineage)} · serial {plan.serial}"
        f"{shown_id}</sub>"
    )
    return doc


def _title(plan: Plan) -> str:
    what = "drift check" if plan.refresh_only else "plan"
    return f"### featrix {what}: `{_inline(plan.project)}` · environment `{_inline(plan.environment)}`"


def _drift_summary(plan: Plan) -> str:
    n = len(plan.drift)
    if not n:
        return "No drift: nothing changed on the server outside featrix."
    return f"⚠️ **{n} object{'s' if n != 1 else ''} changed outside featrix** (see Drift below)."


def _callouts(changes: list[Action]) -> list[str]:
    out: list[str] = []
    titles = {
        ActionType.REPLACE: "replaced (new id; dependents follow)",
        ActionType.DELETE: "deleted",
        ActionType.RETIRE: f"retired ({RETIRED_NOTE})",
    }
    for kind, title in titles.items():
        hits = [a for a in changes if a.action is kind]
        if not hits:
            continue
        listed = ", ".join(f"`{_inline(a.address)}`" for a in hits[:CALLOUT_ITEMS])
        more = f" and {len(hits) - CALLOUT_ITEMS} more" if len(hits) > CALLOUT_ITEMS else ""
        out.append("")
        out.append(f"> ⚠️ **{len(hits)} to be {title}**: {listed}{more}")
    return out


def _row(a: Action) -> str:
    reason = "; ".join(r.text for r in a.reasons) or "—"
    return f"| `{_inline(a.address)}` | {_action_label(a.action)} | {_cell(reason, REASON_CHARS)} |"


def _action_label(action: ActionType) -> str:
    sym = SYMBOLS[action].strip()
    warn = "⚠️ " if action in (ActionType.REPLACE, ActionType.DELETE, ActionType.RETIRE) else ""
    return f"{warn}`{sym}` {action.value}" if sym else action.value


def _details(a: Action, shown: set[str]) -> str:
    """A resource's reasons, own warnings (unless the Warnings section, always kept, lists them) and fields."""
    warnings = [w for w in a.warnings if w not in shown]
    if not (a.changes or warnings or a.gates or len(a.reasons) > 1):
        return ""
    lines = [f"<details><summary><code>{_html(a.address)}</code>: {_html(a.action.value)}</summary>", ""]
    for reason in a.reasons:
        lines.append(f"- {_cell(reason.text, VALUE_CHARS)}")
    for warning in warnings:
        lines.append(f"- ⚠️ {_cell(warning, VALUE_CHARS)}")
    for gate, threshold in sorted(a.gates.items()):
        lines.append(f"- 🚦 {_cell(gate_step(gate, threshold), VALUE_CHARS)}")
    if a.changes:
        lines.extend(["", *_changes_table(a.changes)])
    lines.extend(["", "</details>"])
    return "\n".join(lines)


def _changes_table(changes: Sequence[FieldChange]) -> list[str]:
    out = ["| Field | Old | New | |", "|---|---|---|---|"]
    for c in changes:
        note = "forces replacement" if c.forces_replacement else ""
        for name, old, new in _rows(c):
            out.append(f"| `{_inline(name)}` | {old} | {new} | {note} |")
    return out


def _rows(c: FieldChange) -> list[tuple[str, str, str]]:
    """(field path, old, new) per changed key or item of a container field, else the field itself."""
    if not c.items:
        return [(c.field, _value(c.old, c.sensitive), _value(c.new, c.sensitive))]
    none = "—"
    return [
        (
            c.field + item.path,
            none if item.op == "add" else _value(item.old, False),
            none if item.op == "remove" else _value(item.new, False),
        )
        for item in c.items
    ]


def _drift_section(drift: Sequence[Drift], *, expanded: bool = False) -> str:
    n = len(drift)
    tag = "<details open>" if expanded else "<details>"
    lines = [f"{tag}<summary>Drift: {n} object{'s' if n != 1 else ''} changed outside featrix</summary>", ""]
    for d in sorted(drift, key=lambda d: d.address):
        if d.deleted:
            lines.append(f"- `{_inline(d.address)}`: deleted outside featrix")
            continue
        lines.append(f"- `{_inline(d.address)}`:")
        for c in d.changes:
            lines.extend(f"  - `{_inline(name)}`: {old} → {new}" for name, old, new in _rows(c))
    lines.extend(["", "</details>"])
    return "\n".join(lines)


def _warnings(warnings: Sequence[str]) -> str:
    lines = ["**Warnings**", ""]
    lines.extend(f"- {_cell(w, VALUE_CHARS)}" for w in warnings[:WARNING_ITEMS])
    if len(warnings) > WARNING_ITEMS:
        lines.append(f"- … and {len(warnings) - WARNING_ITEMS} more (see the JSON plan)")
    return "\n".join(lines)


# -- escaping -------------------------------------------------------------------------------------


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _html(text: str) -> str:
    return html.escape(text, quote=True).replace("|", "&#124;")


def _cell(text: str, n: int) -> str:
    """Free text for a table cell or list item: one line, HTML-escaped, no pipes, bounded."""
    return _html(_truncate(" ".join(str(text).split()), n))


def _inline(text: str) -> str:
    """Text inside `code` or bold: no backticks, newlines or pipes that could break out of it."""
    return " ".join(str(text).split()).replace("`", "'").replace("|", "/")


def _value(value: Any, sensitive: bool) -> str:
    if sensitive:
        return f"<i>{REDACTED}</i>"
    if value is None:
        return "<i>(none)</i>"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return f"<code>{_cell(text, VALUE_CHARS)}</code>"


def checks_markdown(lockfile: Lockfile) -> str:
    """The endpoints' last smoke checks, as the lockfile records them (`featrix check` and every apply), as a
    section appended to the plan's comment; empty when none ran."""
    rows: list[str] = []
    for address, entry in sorted(lockfile.resources.items()):
        record = entry.checks
        for result in record.get("results") or []:
            mark = "✅ ok" if result.get("passed") else "❌ **FAIL**"
            expected = "" if result.get("passed") else f" (expected {result.get('expected', '')})"
            rows.append(
                f"| `{_inline(address)}` | {_cell(result.get('name', ''), 80)} | {mark} "
                f"| {_cell(str(result.get('got', '')) + expected, 160)} | {_cell(str(record.get('at', '')), 40)} |"
            )
        back = record.get("rolled_back")
        if back and not record.get("passed"):
            ids = ", ".join(f"{k} {v}" for k, v in sorted((back.get("to") or {}).items()))
            rows.append(f"| `{_inline(address)}` | rollback | ↩️ rolled back | serves {_cell(ids, 160)} again | |")
    if not rows:
        return ""
    head = ["", "### Smoke checks (last run)", "", "| endpoint | check | result | got | at |", "|---|---|---|---|---|"]
    return "\n".join([*head, *rows, ""])
