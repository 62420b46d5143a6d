"""The manifest's JSON Schema, generated from the pydantic models (`python -m featrix_iac.config.schema`)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "featrix.schema.json"
INCLUDE_SCHEMA_PATH = SCHEMA_PATH.with_name("featrix.include.schema.json")  # for the files `include:` reads
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


def _overlaid() -> dict[str, str]:
    """Environment field -> the model it overrides: the server block and each kind's section (kinds.py)."""
    from featrix_iac.kinds import FACTS

    return {"server": "ServerConfig", **{f.section: f.model.__name__ for f in FACTS.values()}}


def _typed_overlays(defs: dict[str, Any]) -> None:
    """Environment overlays get the resource's own fields (none required), so editors complete them."""
    env_props = defs["Environment"]["properties"]
    for field, model in _overlaid().items():
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
    from featrix_iac.model.project import project_model

    schema = project_model().model_json_schema()  # with every registered kind's section
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


def build_include_schema() -> dict[str, Any]:
    """The schema of an included file: resource sections only, none required (the loader says the same)."""
    schema = build_schema()
    from featrix_iac.kinds import SECTIONS

    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in SECTIONS}
    schema.pop("required", None)
    schema["additionalProperties"] = False
    schema["title"] = "featrix include file"
    schema["description"] = "A file listed in featrix.yaml's `include:`: it declares resources only."
    return schema


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_text() -> str:
    return _text(build_schema())


def include_schema_text() -> str:
    return _text(build_include_schema())


def main(argv: list[str] | None = None) -> int:
    """Write schemas/featrix.schema.json and featrix.include.schema.json (or check them with --check)."""
    args = sys.argv[1:] if argv is None else argv
    files = {SCHEMA_PATH: schema_text(), INCLUDE_SCHEMA_PATH: include_schema_text()}
    if "--check" in args:
        stale = [p for p, text in files.items() if (p.read_text(encoding="utf-8") if p.exists() else "") != text]
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
