"""The plan / lockfile JSON forms and their schemas in schemas/ (current, and matching the models)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from repo_files import copy_project

from featrix_iac.diagnostics import Diagnostics, Source
from featrix_iac.plan.jsonformat import (
    REGENERATE,
    SCHEMA_DIR,
    plan_json,
    plan_schema,
    schema_texts,
    state_json,
    validate_json,
)
from featrix_iac.plan.model import Action, ActionType, FieldChange, Plan
from featrix_iac.state.lockfile import LockEntry, Lockfile


@pytest.mark.parametrize(
    "name",
    [
        "plan.schema.json",
        "lockfile.schema.json",
        "validate.schema.json",
        "apply.schema.json",
        "state.schema.json",
        "why.schema.json",
    ],
)
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


def _valid(text: str, schema: str) -> dict:
    data = json.loads(text)
    jsonschema.validate(data, json.loads((SCHEMA_DIR / schema).read_text()))
    assert data["format_version"] == 1
    return data


def _plan_with_secret() -> Plan:
    return Plan(
        tool_version="0.1.0",
        project="p",
        environment="prod",
        server_url="local",
        lineage="l",
        serial=3,
        actions=[
            Action(
                address="predictor.x",
                kind="predictor",
                action=ActionType.UPDATE,
                changes=[FieldChange(field="webhooks.webhook_secret", old="s3cr3t-old", new="s3cr3t", sensitive=True)],
            )
        ],
    )


def test_validate_document() -> None:
    diags = Diagnostics()
    assert _valid(validate_json(diags), "validate.schema.json") == {
        "format_version": 1,
        "valid": True,
        "diagnostics": [],
    }
    diags.warning("deprecated field", address="predictor.x")
    diags.error("Unknown field", "did you mean ...", "predictor.x", Source("featrix.yaml", 3, 5))
    data = _valid(validate_json(diags), "validate.schema.json")
    assert data["valid"] is False
    assert data["diagnostics"][1]["range"] == {"file": "featrix.yaml", "line": 3, "col": 5}


@pytest.mark.parametrize("applied", [True, False])
def test_the_cli_apply_document_matches_its_schema_and_has_no_secret(applied: bool) -> None:
    from featrix_iac.cli.views import apply_json

    result = SimpleNamespace(
        done=["predictor.x"],
        failed={"endpoint.e": "HTTP 400: bad"},
        skipped={},
        outputs={},
        ok=False,
        interrupted=False,
        gates={
            "predictor.x": {
                "status": "gated_out",
                "results": [{"gate": "min_f1", "metric": "f1", "value": 0.5, "threshold": 0.8, "passed": False}],
                "at": "2026-01-01T00:00:00+00:00",
                "ids": {"session_id": "s", "predictor_id": "p"},
            },
            "endpoint.e": {
                "status": "passed",
                "require_verdict": "not_worse",
                "min_paired": 20,
                "max_wait": "1h",
                "verdict": "undecided",
                "paired": 24,
                "why": "verdict undecided on 24 paired (require_verdict not_worse)",
                "step": "shadow_gate",
                "at": "2026-01-01T00:00:00+00:00",
                "ids": {"session_id": "s", "predictor_id": "p2"},
            },
        },
    )
    from featrix_iac.operations import CheckResult

    checks = [CheckResult("endpoint.e", "check 1", False, "Gentoo (confidence 0.97)", "Adelie", "rolled back: ...")]
    text = apply_json(_plan_with_secret(), result if applied else None, checks=checks)
    assert "s3cr3t" not in text
    data = _valid(text, "apply.schema.json")
    assert data["applied"] is applied and data["operation"] == "apply"
    assert data["checks"][0]["passed"] is False and data["ok"] is False  # a failed check fails the apply


def test_state_document_names_secrets_without_values() -> None:
    blob = "enc:v1:AAAAbm90LWEtcmVhbC1ibG9iLWJ1dC1sb25nLWVub3VnaA=="
    lock = Lockfile(
        project="p",
        environment="prod",
        serial=7,
        resources={
            "endpoint.e": LockEntry(
                kind="endpoint", status="ready", ids={"endpoint_id": "ep_1"}, secrets={"api_key": blob}
            )
        },
    )
    text = state_json(lock)
    assert blob not in text and "enc:v1" not in text
    data = _valid(text, "state.schema.json")
    assert data["serial"] == 7 and data["resources"][0]["secrets"] == ["api_key"]


@pytest.mark.parametrize("broken", [False, True])
def test_the_cli_validate_document_matches_its_schema(tmp_path: Path, broken: bool) -> None:
    import subprocess
    import sys

    copy_project(Path(__file__).resolve().parents[3] / "examples" / "quickstart", tmp_path / "p")
    manifest = tmp_path / "p" / "featrix.yaml"
    if broken:
        manifest.write_text(manifest.read_text().replace("target_column: species", "target_colum: species"))
    r = subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(tmp_path / "p"), "validate", "--json"],
        capture_output=True,
        text=True,
    )
    data = json.loads(r.stdout)
    jsonschema.validate(data, json.loads((SCHEMA_DIR / "validate.schema.json").read_text()))
    assert data["valid"] is not broken and r.returncode == int(broken)
