"""The compact text plan for large plans: cascades that change nothing of their own, grouped by what they follow.

A replaced foundational model drags its predictors along, and those their endpoints. When nothing else
changed in them, printing each one repeats the same reason thousands of times. The compact form prints
the action that started the cascade in full, followed by one block that counts and names what follows
it, by kind. Everything else (actions with reasons of their own) is printed as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from featrix_iac.plan.model import CASCADES, Action, ActionType

COMPACT_ABOVE = 100  # changes above which the text plan is compact unless asked otherwise
NAMES_SHOWN = 12  # addresses named per kind in a cascade block
PAST: dict[ActionType, str] = {
    ActionType.CREATE: "created again",
    ActionType.REPLACE: "replaced",
    ActionType.UPDATE: "updated in place",
}


def followed(action: Action) -> str | None:
    """The address an action only follows (every reason is a cascade reason), else None."""
    if not action.reasons or not all(r.code in CASCADES for r in action.reasons):
        return None
    return action.reasons[0].follows


def cascades(changes: list[Action]) -> dict[str, list[Action]]:
    """{root address: the actions that only follow it}: a chain (endpoint → predictor → model) goes to its top."""
    by_address: dict[str, Action] = {a.address: a for a in changes}
    groups: dict[str, list[Action]] = {}
    for action in changes:
        target = followed(action)
        if target is None:
            continue
        seen: set[str] = {action.address}
        while target in by_address and target not in seen:
            above = followed(by_address[target])
            if above is None:
                break
            seen.add(target)
            target = above
        groups.setdefault(target, []).append(action)
    return groups


def cascade_block(root: str, members: list[Action], style: Callable[[str, str], str]) -> str:
    """`  #   and with it, changing nothing of their own: 20 predictors replaced, ...` and their names."""
    by_kind: dict[tuple[str, ActionType], list[str]] = {}
    for m in members:
        by_kind.setdefault((m.kind, m.action), []).append(m.address.key)
    counts = ", ".join(
        f"{len(keys)} {kind.replace('_', ' ')}{'s' if len(keys) != 1 else ''} {PAST.get(act, act.value)}"
        for (kind, act), keys in sorted(by_kind.items())
    )
    lines = [style(f"  # with {root}, changing nothing of their own: {counts}", "1")]
    for (kind, _), keys in sorted(by_kind.items()):
        shown = ", ".join(sorted(keys, key=_natural)[:NAMES_SHOWN])
        more = f" and {len(keys) - NAMES_SHOWN} more" if len(keys) > NAMES_SHOWN else ""
        lines.append(f"  #   {kind}: {shown}{more}")
    warned = sum(1 for m in members if m.warnings)
    if warned:
        lines.append(style(f"  #   ! {warned} of them with warnings: `featrix plan --no-compact` shows each", "33"))
    return "\n".join(lines)


def _natural(key: str) -> list[tuple[int, int | str]]:
    """p2 before p10: digit runs compare as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key) if part]


def compact_parts(
    changes: list[Action], render: Callable[[Action], str], style: Callable[[str, str], str]
) -> list[str]:
    """The actions as text blocks, each cascade folded into one block after the action it follows."""
    groups = cascades(changes)
    members = {m.address for ms in groups.values() for m in ms}
    parts: list[str] = []
    for action in changes:
        if action.address in members:
            continue
        parts.append(render(action))
        if action.address in groups:
            parts.append(cascade_block(action.address, groups.pop(action.address), style))
    for root, ms in sorted(groups.items()):  # cascades whose root is not changed in this plan
        parts.append(cascade_block(root, ms, style))
    return parts
