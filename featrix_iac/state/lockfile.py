"""The lockfile's data model (DESIGN §6) and its deterministic JSON form."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import featrix_iac.model  # noqa: F401 - registers the built-in kinds (kinds.py) that addresses are checked against
from featrix_iac import __version__
from featrix_iac.addresses import KINDS, Address, is_address
from featrix_iac.collector import collector_paused
from featrix_iac.state.secrets import PREFIX, is_encrypted

FORMAT_VERSION = 1
# what "retired" means, in the same words for plan, apply, state list / show and the README
RETIRED_NOTE = "left on the server, recorded as retired in the lockfile until its foundational model is deleted"
Status = Literal["creating", "ready", "tainted", "retired", "deleting"]


class LockEntry(BaseModel):
    """What the tool created for one address: ids, what was applied, outputs, encrypted secrets."""

    model_config = ConfigDict(extra="forbid")

    kind: str  # foundational_model | predictor | endpoint | vector_database
    status: Status
    ids: dict[str, str] = Field(default_factory=dict)  # session_id, predictor_id, endpoint_id, job_id, name
    creation_token: str | None = None
    creation_started: str | None = None  # ISO time the intent to create was recorded (bounds the search)
    applied: dict[str, Any] = Field(default_factory=dict)  # non-secret desired fields as applied
    hashes: dict[str, str] = Field(default_factory=dict)  # write-only values by hash (webhook secret, data)
    outputs: dict[str, Any] = Field(default_factory=dict)  # non-secret computed values
    secrets: dict[str, str] = Field(default_factory=dict)  # ENCRYPTED blobs only: "enc:v1:<base64>"
    depends_on: list[str] = Field(default_factory=list)  # addresses, for delete ordering
    protected: bool = False  # deletion protection as last applied
    retired: list[dict[str, str]] = Field(default_factory=list)  # ids of replaced predictors
    # the last training: {seconds, rows, columns, epochs, work}, which calibrates the plan's estimates
    training: dict[str, Any] = Field(default_factory=dict)
    # the last smoke checks of an endpoint: {at, passed, results: [{name, passed, got, expected}]}
    checks: dict[str, Any] = Field(default_factory=dict)
    # promoted from another environment: {from, serial, lineage, config_hash}; the object is that environment's,
    # so destroying or replacing it here only forgets it (never deletes it on the server)
    borrowed: dict[str, Any] = Field(default_factory=dict)
    # the quality gates of the last training: {status: passed | waived | gated_out, results: [{gate, metric,
    # value, threshold, passed}], at, ids}; gated_out: the entry keeps the previous object (see README)
    gate: dict[str, Any] | None = None
    # lifecycle.retire begun (removed from the manifest, deprecated): {deprecated_at, expires_at, deprecate_for,
    # seconds, warning_message}; a later apply deletes it once expired and unused (resources/retirement.py)
    retiring: dict[str, Any] | None = None
    # a trained model's lineage, beside what the entry records already (data fingerprint in hashes, its summary
    # in applied, duration in training, gate metrics in gate): {config_hash, built_on: {address: id}, metrics,
    # tool_version, server_version, plan, applied_at, applied_by: {user, host, ci_run_url}} (apply/provenance.py);
    # a promoted entry keeps the other environment's (how the artifact was built)
    provenance: dict[str, Any] = Field(default_factory=dict)

    @field_validator("secrets")
    @classmethod
    def _only_ciphertext(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            return value
        plain = sorted(k for k, v in value.items() if not is_encrypted(v))
        if plain:
            raise ValueError(f"secrets must be encrypted ({PREFIX}...), plaintext found for: {', '.join(plain)}")
        return value


class Lockfile(BaseModel):
    """One environment's record of what exists, keyed by address ("kind.key")."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    format_version: int = FORMAT_VERSION
    tool_version: str = __version__
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    project: str = ""
    environment: str = "default"
    server_url: str | None = None
    resources: dict[str, LockEntry] = Field(default_factory=dict)

    def entry(self, address: str) -> LockEntry | None:
        return self.resources.get(address)

    def addresses(self, kind: str | None = None) -> list[str]:
        return sorted(a for a, e in self.resources.items() if kind is None or e.kind == kind)


def problems(lock: Lockfile) -> list[str]:
    """What the schema cannot check: every key is an address, of its entry's kind, with consistent ids.

    A lockfile with problems is refused at load and never written (it would be acted on wrongly:
    an address that is not `kind.key`, or a kind another than its address's, makes apply duplicate).
    """
    found: list[str] = []
    if lock.serial < 0:
        found.append(f"serial: {lock.serial} is negative")
    if not lock.lineage.strip():
        found.append("lineage: empty")
    by_address: list[tuple[str, str]] = []  # (address, problem): sorted by address once, at the end
    for address, entry in lock.resources.items():
        where = "resources." + address
        try:
            kind = Address.parse(address).kind
        except ValueError:
            problem = f"resources: {address!r} is not an address (KIND.KEY, KIND one of {', '.join(KINDS)})"
            by_address.append((address, problem))
            continue
        if entry.kind != kind:
            by_address.append((address, f"{where}.kind: {entry.kind!r} does not match the address (expected {kind!r})"))
        for value in entry.ids.values():
            if not value.strip():
                empty = [k for k, v in sorted(entry.ids.items()) if not v.strip()]
                by_address += [(address, f"{where}.ids.{k}: empty") for k in empty]
                break
        for dep in entry.depends_on:
            if dep == address or not is_address(dep):
                by_address.append((address, f"{where}.depends_on: {dep!r} is not another resource's address"))
    by_address.sort(key=lambda item: item[0])  # stable: an address's problems keep their order
    return found + [problem for _, problem in by_address]


@collector_paused()  # model_dump makes a dict per entry and field: with the collector on, at 10,000 entries its
# collections (over everything an apply keeps) tripled the cost of each write
def dumps(lock: Lockfile) -> str:
    """Deterministic JSON: sorted keys, 2-space indent, trailing newline; same content, same bytes.

    The bytes are those of `json.dumps(lock.model_dump(mode="json"), sort_keys=True, indent=2,
    ensure_ascii=False)`, made faster: json's indented output is pure Python and `model_dump` of every
    entry costs about as much (together 0.1 s of CPU at 1,000 resources, and apply writes after every
    step; issue 16), so each entry's text is kept with a copy of the entry it was made from and made
    again only when the entry no longer equals that copy (in-place changes included).
    """
    data = lock.model_dump(mode="json", exclude={"resources"})
    data["resources"] = _PLACEHOLDER
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)
    resources = lock.resources
    if resources:
        items = ",\n".join(f"    {_entry_text(a, resources[a])}" for a in sorted(resources))
        block = "{\n" + items + "\n  }"
    else:
        block = "{}"
    return text.replace(_PLACEHOLDER_TEXT, block, 1) + "\n"


_PLACEHOLDER = "\x00resources\x00"  # a value no lockfile field holds (JSON writes NUL escaped)
_PLACEHOLDER_TEXT = json.dumps(_PLACEHOLDER)
_ENTRY_TEXT: dict[str, tuple[LockEntry, str]] = {}  # address -> (a copy of the entry, its text as dumps writes it)


def _entry_text(address: str, entry: LockEntry) -> str:
    """`"address": {...}` as json.dumps writes it two levels deep (sorted keys, indent 2), from the cache if unchanged."""
    cached = _ENTRY_TEXT.get(address)
    if cached is not None and cached[0] == entry:
        return cached[1]
    data = entry.model_dump(mode="json")
    body = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False).replace("\n", "\n    ")
    text = f"{json.dumps(address, ensure_ascii=False)}: {body}"
    # the copy is the dumped data itself (new objects, shared with nothing): a deep copy of the entry cost as much
    # again on a process's first write (0.3 s at 10,000 entries). An entry holding values JSON shows otherwise
    # (a tuple) never equals it, so it is written again each time: never stale
    _ENTRY_TEXT[address] = (LockEntry.model_construct(**data), text)
    return text


def version_tuple(text: str) -> tuple[int, ...]:
    """ "1.2.3rc1" -> (1, 2, 3): the leading number of each of the first three parts (0 when none)."""
    return tuple(int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in text.split(".")[:3])
