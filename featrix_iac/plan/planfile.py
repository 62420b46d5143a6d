"""Saved plans (`featrix plan -out FILE`): a versioned, checksummed file, and the refusal of stale ones.

The file is JSON: a header (format, format_version, tool_version, created_at, checksum) and a body
(environment, server, lockfile lineage and serial, manifest digest, data fingerprints, the Plan).
The checksum is sha256 over the canonical JSON of everything but itself: it catches edits and
corruption; it is not a signature (anyone who can write the file can recompute it), so keep plan
artifacts where only CI can write them. The file holds no secrets: sensitive field changes are
redacted and write-only values appear only as salted hashes. It is written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from featrix_iac import __version__
from featrix_iac.diagnostics import Diagnostics, DiagnosticsError, Source, fail
from featrix_iac.plan.jsonformat import plan_data
from featrix_iac.plan.model import PLAN_FORMAT_VERSION, Plan
from featrix_iac.state.atomic import atomic_write
from featrix_iac.state.lockfile import Lockfile, version_tuple

if TYPE_CHECKING:
    from featrix_iac.config import LoadedProject

FORMAT = "featrix-plan"
PLANFILE_FORMAT_VERSION = 1
REPLAN = "run `featrix plan -out FILE` again and review the new plan"


@dataclass(frozen=True)
class SavedPlan:
    """A plan file as read back: the Plan and what it was made against."""

    plan: Plan
    environment: str
    server_url: str
    lineage: str
    serial: int
    manifest_digest: str
    data_fingerprints: dict[str, str] = field(default_factory=dict)
    tool_version: str = __version__
    created_at: str = ""
    path: Path | None = None


def canonical(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _checksum(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical({k: v for k, v in doc.items() if k != "checksum"})).hexdigest()


def write_planfile(
    path: Path | str,
    plan: Plan,
    *,
    manifest_digest: str,
    data_fingerprints: dict[str, str],
    environment: str,
    server_url: str,
    lineage: str,
    serial: int,
) -> Path:
    """Write the plan file atomically with mode 0600; returns its path."""
    path = Path(path)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": PLANFILE_FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": {
            "environment": environment,
            "server_url": server_url,
            "lineage": lineage,
            "serial": serial,
            "manifest_digest": manifest_digest,
            "data_fingerprints": dict(sorted(data_fingerprints.items())),
            "plan": plan_data(plan),
        },
    }
    doc["checksum"] = _checksum(doc)
    text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"), mode=0o600)
    return path


def _not_a_planfile(path: Path, why: str) -> DiagnosticsError:
    return fail(f"{path.name} is not a featrix plan file: {why}", f"{path}: {REPLAN}", source=Source(str(path)))


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"plan file {path} not found", REPLAN) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _not_a_planfile(path, str(exc)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _not_a_planfile(path, f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _not_a_planfile(path, f'no "format": "{FORMAT}" header')
    return doc


def _check_header(path: Path, doc: dict[str, Any]) -> None:
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _not_a_planfile(path, "format_version is missing or not a positive integer")
    tool = str(doc.get("tool_version", ""))
    if version > PLANFILE_FORMAT_VERSION or version_tuple(tool) > version_tuple(__version__):
        raise fail(
            f"plan file {path.name} was written by a newer featrix-iac ({tool or '?'}, format {version})",
            f"this is featrix-iac {__version__} (plan format {PLANFILE_FORMAT_VERSION}); upgrade, or {REPLAN}",
            source=Source(str(path)),
        )
    if doc.get("checksum") != _checksum(doc):
        raise fail(
            f"plan file {path.name} was tampered with: checksum mismatch",
            f"{path} changed after `featrix plan -out` wrote it; it will not be applied. {REPLAN}",
            source=Source(str(path)),
        )
    _check_plan_version(path, doc, tool)


def _check_plan_version(path: Path, doc: dict[str, Any], tool: str) -> None:
    """The plan inside must be in this tool's plan format: an older one lacks what apply now reads (reason
    codes, steps), a newer one may say what this one cannot do."""
    body = doc.get("body")
    plan = body.get("plan") if isinstance(body, dict) else None
    version = plan.get("format_version") if isinstance(plan, dict) else None
    if version == PLAN_FORMAT_VERSION or not isinstance(version, int):
        return  # (a missing version is reported with the body's other problems)
    if version > PLAN_FORMAT_VERSION:
        raise fail(
            f"plan file {path.name} was written by a newer featrix-iac ({tool or '?'}, plan format {version})",
            f"this is featrix-iac {__version__} (plan format {PLAN_FORMAT_VERSION}); upgrade, or {REPLAN}",
            source=Source(str(path)),
        )
    raise fail(
        f"plan file {path.name} was written by an older featrix-iac ({tool or '?'}, plan format {version})",
        f"this is featrix-iac {__version__}, which reads plan format {PLAN_FORMAT_VERSION} only: {REPLAN}",
        source=Source(str(path)),
    )


class _Body(BaseModel):
    environment: str
    server_url: str
    lineage: str
    serial: int
    manifest_digest: str
    data_fingerprints: dict[str, str]
    plan: Plan


def read_planfile(path: Path | str) -> SavedPlan:
    """Read and verify a plan file (format, version, checksum); refusals are diagnostics."""
    path = Path(path)
    doc = _load_json(path)
    _check_header(path, doc)
    try:
        body = _Body.model_validate(doc.get("body"))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
        raise _not_a_planfile(path, problems) from None
    return SavedPlan(
        plan=body.plan,
        environment=body.environment,
        server_url=body.server_url,
        lineage=body.lineage,
        serial=body.serial,
        manifest_digest=body.manifest_digest,
        data_fingerprints=body.data_fingerprints,
        tool_version=str(doc.get("tool_version", "")),
        created_at=str(doc.get("created_at", "")),
        path=path,
    )


def check_fresh(
    saved: SavedPlan,
    *,
    lockfile: Lockfile,
    manifest_digest: str,
    data_fingerprints: dict[str, str],
    environment: str,
    server_url: str,
) -> None:
    """Refuse (DiagnosticsError, every reason at once) a saved plan that no longer describes the next apply."""
    diags = Diagnostics()
    name = saved.path.name if saved.path else "the plan file"
    if saved.environment != environment:
        diags.error(
            f"{name} was made for environment {saved.environment!r}, not {environment!r}",
            f"apply it with `-e {saved.environment}`, or make a plan for {environment!r}",
        )
    if saved.server_url != server_url:
        diags.error(f"{name} was made for server {saved.server_url}, not {server_url}", REPLAN)
    _check_lockfile(diags, name, saved, lockfile)
    if saved.manifest_digest != manifest_digest:
        diags.error(f"plan is stale: the manifests changed since {name} was made", REPLAN)
    changed = sorted(
        k
        for k in set(saved.data_fingerprints) | set(data_fingerprints)
        if saved.data_fingerprints.get(k) != data_fingerprints.get(k)
    )
    if changed:
        diags.error(f"plan is stale: data changed since {name} was made", f"changed: {', '.join(changed)}. {REPLAN}")
    if diags.has_errors:
        raise DiagnosticsError(diags)


def _check_lockfile(diags: Diagnostics, name: str, saved: SavedPlan, lock: Lockfile) -> None:
    # a lockfile that did not exist yet gets a fresh lineage on every load: serial 0 on both sides is a match
    if saved.serial == 0 and lock.serial == 0:
        return
    if saved.serial == 0:  # made before the first lockfile was written, which has its own new lineage
        diags.error(f"plan is stale: the lockfile moved on (serial 0 → {lock.serial})", REPLAN)
    elif lock.lineage != saved.lineage:
        diags.error(
            f"plan is stale: {name} belongs to another lockfile (lineage {saved.lineage}, now {lock.lineage})",
            REPLAN,
        )
    elif lock.serial != saved.serial:
        diags.error(f"plan is stale: the lockfile moved on (serial {saved.serial} → {lock.serial})", REPLAN)


# -- manifest digest ------------------------------------------------------------------------------


def _sensitive_values(obj: Any, path: str) -> list[tuple[str, str]]:
    """(dotted path, value) of every set sensitive field in a model tree."""
    from featrix_iac.model.secrets import is_sensitive

    out: list[tuple[str, str]] = []
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            sub = f"{path}.{name}" if path else name
            if value is not None and is_sensitive(type(obj), name):
                out.append((sub, str(value)))
            else:
                out.extend(_sensitive_values(value, sub))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            out.extend(_sensitive_values(value, f"{path}.{key}"))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            out.extend(_sensitive_values(value, f"{path}[{i}]"))
    return out


def manifest_digest(loaded: LoadedProject) -> str:
    """sha256 of the resolved, redacted project (server block and resources) plus hashes of its secrets.

    Secrets enter only as salted hashes, so the digest changes when a secret does without the digest
    revealing it.
    """
    from featrix_iac.model.secrets import redact
    from featrix_iac.state.secrets import hash_write_only

    project = loaded.project
    resources: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for address, resource in project.resources():
        resources[str(address)] = redact(resource)
        for sub, value in _sensitive_values(resource, ""):
            secrets[f"{address}.{sub}"] = hash_write_only(str(address), sub, value)
    body = {"project": project.project, "server": redact(project.server), "resources": resources, "secrets": secrets}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()
