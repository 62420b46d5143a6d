"""The manifest's JSON Schema, generated from the pydantic models (`python -m featrix_iac.config.schema`)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "featrix.schema.json"
REGENERATE = "python -m featrix_iac.config.schema"
TEMPLATE_DEF = {
    "type": "string",
    "pattern": r"\{\{.*\}\}",
    "description": "A Jinja2 template rendered at load time, e.g. \"{{ var('epochs') }}\".",
}


def _allow_templates(prop: dict[str, Any]) -> dict[str, Any]:
    """Any non-string field may also be written as a template string (rendered before validation)."""
    if prop.get("type") == "string" or "$ref" in prop and len(prop) == 1:
        return prop
    description = prop.pop("description", None)
    out: dict[str, Any] = {"anyOf": [prop, {"$ref": "#/$defs/Template"}]}
    if description:
        out["description"] = description
    for key in ("default", "title"):
        if key in prop:
            out[key] = prop.pop(key)
    return out


OVERLAID = {
    "server": "ServerConfig",
    "foundational_models": "FoundationalModel",
    "predictors": "Predictor",
    "endpoints": "Endpoint",
    "vector_databases": "VectorDatabase",
}


def _typed_overlays(defs: dict[str, Any]) -> None:
    """Environment overlays get the resource's own fields (none required), so editors complete them."""
    env_props = defs["Environment"]["properties"]
    for field, model in OVERLAID.items():
        overlay = copy.deepcopy(defs[model])
        overlay.pop("required", None)
        overlay["title"] = f"{model} overlay"
        overlay["description"] = (
            f"Fields of {model} to override in this environment (mappings merge, the rest replaces)."
        )
        defs[f"{model}Overlay"] = overlay
        ref = {"$ref": f"#/$defs/{model}Overlay"}
        description = env_props[field].get("description", "")
        if field == "server":
            env_props[field] = {**ref, "description": description}
        else:
            env_props[field] = {"type": "object", "additionalProperties": ref, "description": description}


def build_schema() -> dict[str, Any]:
    from featrix_iac.model import Project

    schema = Project.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for definition in [schema, *(d for name, d in defs.items() if name != "Environment")]:
        props = definition.get("properties", {})
        for name, prop in props.items():
            if name not in ("variables", "environments", "include"):
                props[name] = _allow_templates(prop)
    _typed_overlays(defs)
    defs["Template"] = TEMPLATE_DEF
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "featrix.yaml"
    return schema


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write schemas/featrix.schema.json (or check it with --check)."""
    args = sys.argv[1:] if argv is None else argv
    text = schema_text()
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        return 0 if current == text else 1
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
