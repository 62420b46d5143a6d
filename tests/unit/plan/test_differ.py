"""The differ's compare: JSON equality (cheap `==` first), rule lookup by name, three-way field diffs."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from featrix_iac.plan import differ
from featrix_iac.plan.differ import diff_fields, rule_for, rule_index, same
from featrix_iac.resources.base import Change, FieldRule


class Kind(str, enum.Enum):
    REGRESSOR = "regressor"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("x", "x"),
        (3, 3),
        (None, None),
        ([1, 2], (1, 2)),
        ({"a": (1, 2)}, {"a": [1, 2]}),
        (Kind.REGRESSOR, "regressor"),
        ({"k": Kind.REGRESSOR}, {"k": "regressor"}),
        ({1: "a"}, {"1": "a"}),
    ],
)
def test_json_equal_values_are_the_same(a: Any, b: Any) -> None:
    assert same(a, b) and same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [("x", "y"), (3, 4), (None, 0), ([1, 2], [2, 1]), ({"a": [1]}, {"a": (2,)}), ("1", 1), (Kind.REGRESSOR, "x")],
)
def test_different_values_differ(a: Any, b: Any) -> None:
    assert not same(a, b) and not same(b, a)


def test_equal_values_are_not_canonicalised(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: a no-op plan compares thousands of equal values; none of them goes through canon()."""
    calls: list[Any] = []
    real = differ.canon
    monkeypatch.setattr(differ, "canon", lambda v: calls.append(v) or real(v))
    rules = [FieldRule("epochs", Change.REPLACE), FieldRule("tags", Change.IN_PLACE)]
    desired = {"epochs": 5, "tags": {"team": "a", "ids": [1, 2]}, "name": "m"}
    out = diff_fields(rules, desired, dict(desired), dict(desired))
    assert not out.changes and not out.drift
    assert calls == []
    assert not same("a", "b") and calls == []  # scalars of one type that differ: no canonical form needed


def test_rules_are_found_by_name_first_declaration_wins() -> None:
    first, second = FieldRule("epochs", Change.REPLACE), FieldRule("epochs", Change.IN_PLACE)
    index = rule_index([first, second, FieldRule("name", Change.IN_PLACE)])
    assert index["epochs"] is first
    assert rule_for(index, "epochs") is first
    assert rule_for([first, second], "epochs") is first
    undeclared = rule_for(index, "unknown")
    assert undeclared.change is Change.REPLACE and not undeclared.live


def test_a_changed_container_is_a_change_and_drift_is_seen() -> None:
    rules = {"tags": FieldRule("tags", Change.IN_PLACE)}
    out = diff_fields(rules, {"tags": {"a": [1, 2]}}, {"tags": {"a": (1,)}}, {"tags": {"a": [1, 3]}})
    assert [c.field for c in out.changes] == ["tags"] and [c.field for c in out.drift] == ["tags"]
    assert out.changes[0].old == {"a": [1, 3]} and out.changes[0].new == {"a": [1, 2]}


def test_a_field_the_server_reports_differently_is_drift_even_when_the_manifest_did_not_move() -> None:
    rules = {"name": FieldRule("name", Change.IN_PLACE), "secret": FieldRule("secret", Change.IN_PLACE, live=False)}
    desired = {"name": "a", "secret": "h1"}
    out = diff_fields(rules, desired, dict(desired), {"name": "b", "secret": "other"})
    assert [c.field for c in out.drift] == ["name"] and out.drift_fields == ["name"]
    assert diff_fields(rules, desired, dict(desired), {"name": "a", "secret": "other"}).changes == []
