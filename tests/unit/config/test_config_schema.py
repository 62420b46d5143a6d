"""The manifest JSON Schema: current with the models, every field described, templates allowed."""

from __future__ import annotations

import json
from typing import Any

from featrix_iac.config.schema import REGENERATE, SCHEMA_PATH, build_schema, schema_text


def test_schema_file_is_current() -> None:
    current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert current == schema_text(), f"schemas/featrix.schema.json is stale: regenerate it with `{REGENERATE}`"


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = [("Project", name, prop) for name, prop in schema.get("properties", {}).items()]
    for def_name, definition in schema.get("$defs", {}).items():
        out.extend((def_name, name, prop) for name, prop in definition.get("properties", {}).items())
    return out


def test_every_field_has_a_description() -> None:
    props = _properties(build_schema())
    assert len(props) > 60
    missing = [f"{owner}.{name}" for owner, name, prop in props if not prop.get("description")]
    assert not missing, missing


def test_non_string_fields_also_accept_templates() -> None:
    schema = build_schema()
    epochs = schema["$defs"]["FoundationalModel"]["properties"]["epochs"]
    assert {"$ref": "#/$defs/Template"} in epochs["anyOf"]
    assert schema["$defs"]["Template"]["type"] == "string"


def test_secret_fields_are_marked_in_the_schema() -> None:
    secret = build_schema()["$defs"]["Webhooks"]["properties"]["webhook_secret"]
    assert secret.get("x-featrix-sensitive") is True or any(
        isinstance(s, dict) and s.get("x-featrix-sensitive") for s in secret.get("anyOf", [])
    )


def test_schema_is_valid_json_with_a_dialect() -> None:
    data = json.loads(schema_text())
    assert data["$schema"].startswith("https://json-schema.org/")
    assert data["additionalProperties"] is False


def test_environment_overlays_complete_resource_fields_without_requiring_any() -> None:
    defs = build_schema()["$defs"]
    fm_overlay = defs["Environment"]["properties"]["foundational_models"]["additionalProperties"]
    assert fm_overlay == {"$ref": "#/$defs/FoundationalModelOverlay"}
    overlay = defs["FoundationalModelOverlay"]
    assert "required" not in overlay and "epochs" in overlay["properties"]
    assert overlay["additionalProperties"] is False
    assert defs["Environment"]["properties"]["server"]["$ref"] == "#/$defs/ServerConfigOverlay"


def test_example_manifests_match_the_schema_and_typos_do_not() -> None:
    import jsonschema
    import pytest
    import yaml

    root = SCHEMA_PATH.parents[1] / "examples"
    schema = build_schema()
    for name in ("quickstart/featrix.yaml", "multi-env/featrix.yaml"):
        jsonschema.validate(yaml.safe_load((root / name).read_text(encoding="utf-8")), schema)
    typo = {"project": "x", "foundational_models": {"a": {"data": "d.csv", "epoch": 3}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)
    overlay_typo = {"project": "x", "environments": {"dev": {"predictors": {"p": {"epoch": 3}}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(overlay_typo, schema)
