"""The machine-readable forms of plans and lockfiles, and their JSON Schemas in schemas/.

`featrix plan --json` prints `plan_json(plan)`: the Plan model's own data (it carries
`format_version`), with sensitive field changes redacted whatever the planner put in them.
Regenerate the schemas with `python -m featrix_iac.plan.jsonformat` (a test checks they are current).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from featrix_iac.plan.model import PLAN_FORMAT_VERSION, Plan

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE = "python -m featrix_iac.plan.jsonformat"
REDACTED = "(sensitive value)"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as JSON data, every sensitive field change redacted (a second line of defence)."""
    data = plan.model_dump(mode="json")
    for group in ("actions", "drift"):
        for item in data.get(group, []):
            for change in item.get("changes", []):
                if change.get("sensitive"):
                    for side in ("old", "new"):
                        if change.get(side) is not None:
                            change[side] = REDACTED
    return data


def plan_json(plan: Plan) -> str:
    """Deterministic JSON text of a plan (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(plan_data(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def plan_schema() -> dict[str, Any]:
    schema = Plan.model_json_schema(mode="serialization")
    schema["$schema"] = DIALECT
    schema["title"] = "featrix plan (featrix plan --json)"
    schema["description"] = (
        f"A featrix-iac plan, format_version {PLAN_FORMAT_VERSION}. Sensitive values are never present: "
        f'changes with "sensitive": true hold "{REDACTED}".'
    )
    return schema


def lockfile_schema() -> dict[str, Any]:
    from featrix_iac.state.lockfile import FORMAT_VERSION, Lockfile

    schema = Lockfile.model_json_schema(mode="serialization")
    schema["$schema"] = DIALECT
    schema["title"] = "featrix lockfile (featrix.lock, featrix.<environment>.lock)"
    schema["description"] = (
        f"What featrix-iac created in one environment, format_version {FORMAT_VERSION}. "
        'Secrets are AES-256-GCM blobs ("enc:v1:..."), never plaintext.'
    )
    return schema


SCHEMAS = {"plan.schema.json": plan_schema, "lockfile.schema.json": lockfile_schema}


def schema_texts() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, build in SCHEMAS.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Write schemas/plan.schema.json and schemas/lockfile.schema.json (or check them with --check)."""
    args = sys.argv[1:] if argv is None else argv
    stale = 0
    for name, text in schema_texts().items():
        path = SCHEMA_DIR / name
        if "--check" in args:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            stale += current != text
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
