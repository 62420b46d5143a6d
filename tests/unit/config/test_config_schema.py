"""The manifest JSON Schema: current with the models, every field described, templates allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.config.schema import (
    INCLUDE_SCHEMA_PATH,
    REGENERATE,
    SCHEMA_PATH,
    build_include_schema,
    build_schema,
    include_schema_text,
    schema_text,
)


def test_schema_file_is_current() -> None:
    current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert current == schema_text(), f"schemas/featrix.schema.json is stale: regenerate it with `{REGENERATE}`"
    current = INCLUDE_SCHEMA_PATH.read_text(encoding="utf-8") if INCLUDE_SCHEMA_PATH.exists() else ""
    assert current == include_schema_text(), f"{INCLUDE_SCHEMA_PATH.name} is stale: regenerate it with `{REGENERATE}`"


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


def _manifests_with_schema() -> list[tuple[Path, Path]]:
    """Every example manifest and the schema file its yaml-language-server comment points at."""
    root = SCHEMA_PATH.parents[1] / "examples"
    found = []
    for path in sorted(root.rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        if "$schema=" in first:
            found.append((path, (path.parent / first.split("$schema=", 1)[1].strip()).resolve()))
    return found


@pytest.mark.parametrize("manifest, schema_path", _manifests_with_schema(), ids=lambda p: p.name)
def test_every_example_file_is_valid_against_the_schema_it_names(manifest: Path, schema_path: Path) -> None:
    """Editors flag nothing in a valid project: an included file has no `project`, and is not asked for one."""
    import jsonschema
    import yaml

    assert schema_path.is_file(), schema_path
    jsonschema.validate(yaml.safe_load(manifest.read_text(encoding="utf-8")), json.loads(schema_path.read_text()))


def test_the_include_schema_refuses_root_only_keys_and_typos() -> None:
    import jsonschema

    schema = build_include_schema()
    jsonschema.validate(
        {"predictors": {"p": {"foundational_model": "f", "type": "regressor", "target_column": "y"}}}, schema
    )
    for bad in ({"variables": {"a": 1}}, {"project": "x"}, {"predictors": {"p": {"target_colum": "y"}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_closed_sets_are_enums_in_the_schema() -> None:
    """Editors complete `intent` (and the other closed sets) instead of accepting any string."""
    defs = build_schema()["$defs"]
    intent = defs["Predictor"]["properties"]["intent"]["anyOf"][0]
    assert "balanced" in intent["enum"] and "top_k_hit" in intent["enum"] and "minimize_cost" in intent["enum"]
