"""The lockfile's data model (DESIGN §6) and its deterministic JSON form."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from featrix_iac import __version__
from featrix_iac.state.secrets import PREFIX, is_encrypted

FORMAT_VERSION = 1
KINDS = ("foundational_model", "predictor", "endpoint", "vector_database")
Status = Literal["creating", "ready", "tainted", "retired", "deleting"]


class LockEntry(BaseModel):
    """What the tool created for one address: ids, what was applied, outputs, encrypted secrets."""

    model_config = ConfigDict(extra="forbid")

    kind: str  # foundational_model | predictor | endpoint | vector_database
    status: Status
    ids: dict[str, str] = Field(default_factory=dict)  # session_id, predictor_id, endpoint_id, job_id, name
    creation_token: str | None = None
    applied: dict[str, Any] = Field(default_factory=dict)  # non-secret desired fields as applied
    hashes: dict[str, str] = Field(default_factory=dict)  # write-only values by hash (webhook secret, data)
    outputs: dict[str, Any] = Field(default_factory=dict)  # non-secret computed values
    secrets: dict[str, str] = Field(default_factory=dict)  # ENCRYPTED blobs only: "enc:v1:<base64>"
    depends_on: list[str] = Field(default_factory=list)  # addresses, for delete ordering
    protected: bool = False  # deletion protection as last applied
    retired: list[dict[str, str]] = Field(default_factory=list)  # ids of replaced predictors

    @field_validator("secrets")
    @classmethod
    def _only_ciphertext(cls, value: dict[str, str]) -> dict[str, str]:
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


def dumps(lock: Lockfile) -> str:
    """Deterministic JSON: sorted keys, 2-space indent, trailing newline; same content, same bytes."""
    return json.dumps(lock.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def version_tuple(text: str) -> tuple[int, ...]:
    """ "1.2.3rc1" -> (1, 2, 3): the leading number of each of the first three parts (0 when none)."""
    return tuple(int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in text.split(".")[:3])
