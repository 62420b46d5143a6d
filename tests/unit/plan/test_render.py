"""Text rendering: symbols, redaction, summaries, colour only when asked."""

from __future__ import annotations

import json

from featrix_iac.plan.model import Action, ActionType, Drift, FieldChange, Plan
from featrix_iac.plan.render import render_json, render_text


def _plan(**kw: object) -> Plan:
    base: dict[str, object] = dict(
        tool_version="0.1.0", project="p", environment="default", server_url="local", lineage="l", serial=1
    )
    base.update(kw)
    return Plan(**base)  # type: ignore[arg-type]


def _action(address: str, kind: ActionType, *changes: FieldChange, reasons: tuple[str, ...] = ("why",)) -> Action:
    return Action(
        address=address, kind=address.split(".")[0], action=kind, reasons=list(reasons), changes=list(changes)
    )


def test_every_symbol_and_the_summary_line() -> None:
    plan = _plan(
        actions=[
            _action("foundational_model.a", ActionType.CREATE, FieldChange(field="epochs", new=3)),
            _action("predictor.b", ActionType.UPDATE, FieldChange(field="deletion_protection", old=False, new=True)),
            _action(
                "predictor.c",
                ActionType.REPLACE,
                FieldChange(field="target_column", old="x", new="y", forces_replacement=True),
            ),
            _action("endpoint.d", ActionType.DELETE),
            _action("predictor.e", ActionType.RETIRE),
            _action("predictor.f", ActionType.ADOPT),
            _action("predictor.g", ActionType.NOOP),
        ]
    )
    text = render_text(plan)
    for line in (
        "  + foundational_model.a",
        "  ~ predictor.b",
        "-/+ predictor.c",
        "  - endpoint.d",
        "  x predictor.e",
        " <= predictor.f",
        '      ~ target_column: "x" → "y"  # forces replacement',
        "      + epochs = 3",
        "  # predictor.c must be replaced",
        "  #   why",
        "Plan: 2 to add, 1 to change, 1 to replace, 1 to destroy, 1 to retire.",
    ):
        assert line in text
    assert "predictor.g" not in text
    assert "\x1b[" not in text
    assert "\x1b[" in render_text(plan, color=True)


def test_sensitive_values_and_fingerprints() -> None:
    digest = "sha256:" + "ab" * 32
    plan = _plan(
        actions=[
            _action(
                "predictor.p",
                ActionType.UPDATE,
                FieldChange(field="webhook_secret", old="s1", new="s2", sensitive=True),
                FieldChange(field="data", old=digest, new=None),
            )
        ]
    )
    text = render_text(plan)
    assert "webhook_secret: (sensitive value) → (sensitive value)" in text
    assert "s1" not in text and "s2" not in text
    assert '"sha256:abababababababab…" → null' in text.replace("data          :", "data:")
    data = json.loads(render_json(plan))
    assert "s1" not in json.dumps(data)


def test_no_changes_and_drift_sections() -> None:
    quiet = _plan(actions=[_action("predictor.g", ActionType.NOOP)])
    assert render_text(quiet) == "No changes. The server matches the manifests (1 resource up to date).\n"
    drift = [
        Drift(address="endpoint.e", deleted=True),
        Drift(address="predictor.p", changes=[FieldChange(field="name", old="a", new="b")]),
    ]
    text = render_text(_plan(drift=drift, refresh_only=True))
    assert text.startswith("Objects changed outside featrix (drift):\n")
    assert "  - endpoint.e: deleted outside featrix" in text
    assert '      ~ name: "a" → "b"' in text
    assert text.endswith("Drift: 2 objects changed outside featrix.\n")
    assert "apply converges them (see the actions below)" in render_text(_plan(drift=drift))
