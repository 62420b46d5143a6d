"""The machine-readable outputs (`--json`) of plan, apply, validate and state, and their JSON Schemas in schemas/.

`featrix plan --json` prints `plan_json(plan)`: the Plan model's own data (it carries
`format_version`, each action's reasons with their codes and its steps, and the plan's summary), with
sensitive field changes redacted whatever the planner put in them. The other
documents (`validate_json`, `state_json`, and cli/views.py `apply_json`) are versioned models below; none
holds a secret (the state document names a resource's secrets, never their values).
Regenerate the schemas with `python -m featrix_iac.plan.jsonformat` (a test checks they are current).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from featrix_iac.model.secrets import REDACTED
from featrix_iac.plan.model import PLAN_FORMAT_VERSION, Plan

if TYPE_CHECKING:
    from featrix_iac.diagnostics import Diagnostic
    from featrix_iac.state.lockfile import Lockfile

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE = "python -m featrix_iac.plan.jsonformat"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as JSON data, every sensitive field change redacted (a second line of defence), with its id
    when it has changes (`plan_id`: what apply records in the lockfile's provenance)."""
    data = _redacted(plan)
    if plan.applicable():  # an empty plan is never applied: it has no id to look for
        data["plan_id"] = _id_of(data)
    return data


def plan_id(plan: Plan) -> str:
    """The plan's id, `plan-` and 16 hex digits: the hash of its JSON form, so the same plan, saved (`plan -out`)
    or made again by apply, has the same id. Apply records it in each training's provenance.

    The last plan's id is kept (a Plan is frozen): the text plan, the applier and the apply's summary each show
    it, and hashing a 10,000-action plan costs about 0.15 s."""
    global _LAST_ID
    last = _LAST_ID
    if last is not None and last[0] is plan:
        return last[1]
    value = _id_of(_redacted(plan))
    _LAST_ID = (plan, value)
    return value


_LAST_ID: tuple[Plan, str] | None = None


def _id_of(data: dict[str, Any]) -> str:
    import hashlib

    if not data.get("serial"):  # no lockfile yet: its lineage is drawn afresh by every plan until apply writes it
        data = {k: v for k, v in data.items() if k != "lineage"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "plan-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _redacted(plan: Plan) -> dict[str, Any]:
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


RESULT_FORMAT_VERSION = 1


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Doc):
    file: str
    line: int = 0
    col: int = 0


class DiagnosticDoc(_Doc):
    severity: Literal["error", "warning"]
    summary: str
    detail: str | None = None
    address: str | None = None
    range: Range | None = Field(None, description="Where in the manifests (1-based line and column; 0 = unknown).")


class ValidateDocument(_Doc):
    """`featrix validate --json`."""

    format_version: int = RESULT_FORMAT_VERSION
    valid: bool
    diagnostics: list[DiagnosticDoc] = Field(default_factory=list)


class SmokeCheckDoc(_Doc):
    """One smoke check's outcome (operations/checks.py CheckResult), as `featrix check --json` prints it."""

    address: str
    name: str
    passed: bool
    got: str = Field(description="What the prediction showed (or why there was none).")
    expected: str
    rolled_back: str = Field("", description="on_failure: rollback: what was done (empty otherwise).")


class ApplyDocument(_Doc):
    """`featrix apply --json` / `destroy --json` (built by cli/views.py `apply_json`): the plan and its outcome."""

    format: Literal["featrix-apply"] = "featrix-apply"
    format_version: int = RESULT_FORMAT_VERSION
    operation: Literal["apply", "destroy"]
    plan: Plan
    applied: bool = Field(description="False when nothing was applied (no changes, or not approved).")
    ok: bool = Field(description="Every action done (nothing failed or skipped) and every smoke check passed.")
    summary: str = Field(description="The summary line, e.g. 'Apply complete! Resources: 1 added, ...'.")
    done: list[str] = Field(default_factory=list, description="Addresses applied.")
    failed: dict[str, str] = Field(default_factory=dict, description="Address -> error (with the server's detail).")
    skipped: dict[str, str] = Field(default_factory=dict, description="Address -> why (e.g. upstream failed).")
    gates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Address -> its gates checked by this apply. A predictor's quality gates: {status: passed | "
        "waived | gated_out, results: [{gate, metric, value, threshold, passed}], at, ids}. An endpoint's shadow "
        "gate: {status: passed | shadow_gated_out, require_verdict, min_paired, max_wait, verdict, paired, why, "
        "step, at, ids}.",
    )
    checks: list[SmokeCheckDoc] = Field(
        default_factory=list,
        description="The endpoints' smoke checks run after the apply (as `featrix check`); absent when they did "
        "not run (a destroy, or an apply that failed or was interrupted). A failed one exits 1.",
    )


class StateResource(_Doc):
    address: str
    kind: str
    status: str
    ids: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list, description="Names of the encrypted values (never the values).")
    depends_on: list[str] = Field(default_factory=list)
    protected: bool = False


class StateDocument(_Doc):
    """`featrix show --json` (no plan file): what the lockfile records."""

    format_version: int = RESULT_FORMAT_VERSION
    project: str
    environment: str
    lineage: str
    serial: int
    resources: list[StateResource] = Field(default_factory=list)


class WhyData(_Doc):
    """A data file a model was trained on: the manifest's path (when declared), fingerprint and summary."""

    field: str
    fingerprint: str
    file: str | None = None
    summary: dict[str, Any] | None = None


class WhyLink(_Doc):
    """One resource of the chain, with what its lockfile entry records of how it came to be."""

    address: str
    kind: str
    status: str
    ids: dict[str, str] = Field(default_factory=dict)
    refers_to: list[str] = Field(default_factory=list)  # the next links (what it serves, what it was built on)
    data: list[WhyData] = Field(default_factory=list)
    promoted: dict[str, Any] | None = None  # the lockfile's `borrowed`: from, serial, lineage, promoted_by, plan...
    provenance: dict[str, Any] | None = None  # how it was trained (apply/provenance.py)
    training: dict[str, Any] | None = None  # seconds, rows, columns, epochs


class WhyDocument(_Doc):
    """`featrix show --why ADDRESS --json`: the chain from ADDRESS down to the data it was trained on."""

    format_version: int = RESULT_FORMAT_VERSION
    environment: str
    address: str
    chain: list[WhyLink] = Field(default_factory=list)


def why_json(doc: WhyDocument) -> str:
    return _dumps(doc.model_dump(mode="json", exclude_none=True))


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def validate_json(diagnostics: Iterable[Diagnostic]) -> str:
    items = [DiagnosticDoc.model_validate(d.to_json()) for d in diagnostics]
    doc = ValidateDocument(valid=not any(d.severity == "error" for d in items), diagnostics=items)
    return _dumps(doc.model_dump(mode="json", exclude_none=True))


def state_json(lock: Lockfile) -> str:
    resources = [
        StateResource(
            address=address,
            kind=entry.kind,
            status=entry.status,
            ids=dict(entry.ids),
            outputs=dict(entry.outputs),
            secrets=sorted(entry.secrets),
            depends_on=list(entry.depends_on),
            protected=entry.protected,
        )
        for address, entry in sorted(lock.resources.items())
    ]
    doc = StateDocument(
        project=lock.project,
        environment=lock.environment,
        lineage=lock.lineage,
        serial=lock.serial,
        resources=resources,
    )
    return _dumps(doc.model_dump(mode="json"))


def _document_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = DIALECT
    schema["title"] = title
    return schema


def plan_schema() -> dict[str, Any]:
    schema = _document_schema(Plan, "featrix plan (featrix plan --json)")
    schema["description"] = (
        f"A featrix-iac plan, format_version {PLAN_FORMAT_VERSION}. Sensitive values are never present: "
        f'changes with "sensitive": true hold "{REDACTED}".'
    )
    # only with `plan --refresh-only --quality` (operations/quality.py QualityResult, one per endpoint)
    schema["properties"]["model_quality"] = {
        "title": "Model Quality",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["address", "verdict", "why"],
            "properties": {
                "address": {"type": "string"},
                "verdict": {"enum": ["ok", "degraded", "unknown"]},
                "why": {"type": "string"},
                "metric": {"type": ["string", "null"]},
                "baseline": {"type": ["number", "null"]},
                "live": {"type": ["number", "null"]},
                "paired": {"type": "integer"},
                "usage_count": {"type": ["integer", "null"]},
                "last_used_at": {"type": ["string", "null"]},
                "comparisons": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
    return schema


def lockfile_schema() -> dict[str, Any]:
    from featrix_iac.state.lockfile import FORMAT_VERSION, Lockfile

    schema = _document_schema(Lockfile, "featrix lockfile (featrix.lock, featrix.<environment>.lock)")
    schema["description"] = (
        f"What featrix-iac created in one environment, format_version {FORMAT_VERSION}. "
        'Secrets are AES-256-GCM blobs ("enc:v1:..."), never plaintext.'
    )
    return schema


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "plan.schema.json": plan_schema,
    "lockfile.schema.json": lockfile_schema,
    "validate.schema.json": lambda: _document_schema(ValidateDocument, "featrix validate --json"),
    "apply.schema.json": lambda: _document_schema(ApplyDocument, "featrix apply --json"),
    "state.schema.json": lambda: _document_schema(StateDocument, "featrix show --json (the lockfile, no secrets)"),
    "why.schema.json": lambda: _document_schema(WhyDocument, "featrix show --why ADDRESS --json"),
}


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
