"""Nested diffs of container fields (deepdiff): each changed key or item by its path, for plans people read."""

from __future__ import annotations

import re
from typing import Any

from featrix_iac.plan.model import PathChange

_STEP = re.compile(r"\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]|\[(\d+)\]")


def nested_changes(old: Any, new: Any) -> list[PathChange]:
    """The keys and items that differ between two dicts or two lists; [] for anything else.

    Lists are compared as sets of items (their order is not what the manifest means), so an item shows as
    added or removed without an index."""
    if not (isinstance(old, dict) and isinstance(new, dict)) and not (isinstance(old, list) and isinstance(new, list)):
        return []
    if not old or not new:  # deepdiff reports {} → {...} as one change of the whole: list each key or item
        return _all(new, "add") if new else _all(old, "remove")
    from deepdiff import DeepDiff  # only when a container field differs: a no-op plan never pays for it

    diff = DeepDiff(old, new, ignore_order=True, verbose_level=2, view="tree")
    out: list[PathChange] = []
    for report, items in diff.items():
        for item in items:
            path = _path(item.path(), drop_index=isinstance(old, list))
            if report.endswith("_added"):
                out.append(PathChange(path=path, op="add", new=item.t2))
            elif report.endswith("_removed"):
                out.append(PathChange(path=path, op="remove", old=item.t1))
            else:
                out.append(PathChange(path=path, op="change", old=item.t1, new=item.t2))
    return sorted(out, key=lambda c: (c.path, c.op, repr(c.old), repr(c.new)))


def _all(container: Any, op: str) -> list[PathChange]:
    """Every key (a dict) or item (a list) of `container`, as added or removed."""
    if isinstance(container, dict):
        pairs = [(f".{k}", v) for k, v in sorted(container.items())]
    else:
        pairs = [("", v) for v in container]
    return [PathChange(path=p, op=op, **({"new": v} if op == "add" else {"old": v})) for p, v in pairs]


def _path(root_path: str, *, drop_index: bool) -> str:
    """root['team'][0] -> .team[0]; a top-level list index is dropped (lists are compared as sets)."""
    out = ""
    for i, m in enumerate(_STEP.finditer(root_path.removeprefix("root"))):
        key = m.group(1) if m.group(1) is not None else m.group(2)
        if key is not None:
            out += f".{key}"
        elif not (i == 0 and drop_index):
            out += f"[{m.group(3)}]"
    return out
