"""Nested diffs of container fields: each changed key or item by path; deepdiff only when one differs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from featrix_iac.plan.nested import nested_changes

REPO = Path(__file__).resolve().parents[3]


def _rows(old: object, new: object) -> list[tuple[str, str, object, object]]:
    return [(c.path, c.op, c.old, c.new) for c in nested_changes(old, new)]


def test_dict_keys_by_path() -> None:
    old = {"team": "a", "owner": "ana", "deep": {"x": 1, "y": [1, 2]}}
    new = {"team": "b", "deep": {"x": 2, "y": [1, 2]}, "new": True}
    assert _rows(old, new) == [
        (".deep.x", "change", 1, 2),
        (".new", "add", None, True),
        (".owner", "remove", "ana", None),
        (".team", "change", "a", "b"),
    ]


def test_list_items_are_compared_as_a_set() -> None:
    assert _rows(["id", "year"], ["year", "island", "id"]) == [("", "add", None, "island")]
    assert _rows(["a", "b"], ["a"]) == [("", "remove", "b", None)]


def test_from_or_to_empty_every_key_or_item_is_listed() -> None:
    assert _rows({}, {"yes": "Leaves", "no": "Stays"}) == [
        (".no", "add", None, "Stays"),
        (".yes", "add", None, "Leaves"),
    ]
    assert _rows(["a", "b"], []) == [("", "remove", "a", None), ("", "remove", "b", None)]


def test_scalars_and_mixed_types_have_no_items() -> None:
    assert nested_changes("a", "b") == [] and nested_changes({"a": 1}, ["a"]) == [] and nested_changes(None, {}) == []


def test_a_no_op_plan_does_not_import_deepdiff() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(REPO / "tests" / "unit" / "plan")!r})
        from test_planner import _applied, _desired, _live
        from featrix_iac.graph import build_graph
        from featrix_iac.plan.planner import make_plan
        loaded, desired = _desired(__import__("pathlib").Path({str(REPO / "examples" / "quickstart")!r}))
        graph = build_graph(loaded.project)
        lock = _applied(desired, graph)
        assert not make_plan(desired, lock, _live(lock), graph).has_changes()
        print("deepdiff" in sys.modules)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
