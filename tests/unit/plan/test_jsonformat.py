"""The plan / lockfile JSON forms and their schemas in schemas/ (current, and matching the models)."""

from __future__ import annotations

import json

import pytest

from featrix_iac.plan.jsonformat import REGENERATE, SCHEMA_DIR, plan_json, plan_schema, schema_texts
from featrix_iac.plan.model import Action, ActionType, FieldChange, Plan


@pytest.mark.parametrize("name", ["plan.schema.json", "lockfile.schema.json"])
def test_schema_files_are_current(name: str) -> None:
    current = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert current == schema_texts()[name], f"schemas/{name} is stale: regenerate it with `{REGENERATE}`"


def test_plan_schema_names_every_action() -> None:
    schema = plan_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["$defs"]["ActionType"]["enum"]) == {t.value for t in ActionType}
    assert {"format_version", "lineage", "serial", "actions", "drift"} <= set(schema["properties"])


def test_plan_json_redacts_sensitive_changes_and_round_trips() -> None:
    plan = Plan(
        tool_version="0.1.0",
        project="p",
        environment="default",
        server_url="local",
        lineage="l",
        serial=1,
        actions=[
            Action(
                address="predictor.x",
                kind="predictor",
                action=ActionType.UPDATE,
                changes=[FieldChange(field="webhooks.webhook_secret", old="s3cr3t-old", new="s3cr3t", sensitive=True)],
            )
        ],
    )
    text = plan_json(plan)
    assert "s3cr3t" not in text
    again = Plan.model_validate(json.loads(text))
    assert again.actions[0].changes[0].new == "(sensitive value)"
    assert text == plan_json(again)  # deterministic
