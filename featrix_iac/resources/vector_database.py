"""Vector databases: named per foundational model; records are append-only (additions in place, removals replace)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from featrix_iac.client import FeatrixClient, NotFoundError
from featrix_iac.model.base import is_url
from featrix_iac.model.resources import VECTOR_DATABASE
from featrix_iac.resources.base import (
    Change,
    CreateFailed,
    DesiredContext,
    FieldRule,
    Handler,
    Lister,
    LiveObject,
    Operation,
    Probe,
    StepResult,
    get_confirmed,
    get_list,
    has_list,
)
from featrix_iac.resources.common import record_digest
from featrix_iac.resources.records import read_records
from featrix_iac.resources.spec import KindSpec, RefIds, in_session
from featrix_iac.state import LockEntry, fingerprint_url

R = Change.REPLACE
BATCH = 500


class VectorDatabaseHandler(Handler):
    """Identity is (session_id, name). `records` is compared as a list of record digests: records appended
    at the end are added in place (POST .../records), any other change replaces the database."""

    kind = "vector_database"
    id_field = "name"
    rules = (
        FieldRule("foundational_model", R, live=False),
        FieldRule("name", R),
        FieldRule("auto_populate", R),
        FieldRule("records", Change.IN_PLACE, live=False, route="add_records", append_only=True),
        FieldRule("records_file", R, write_only=True, live=False),
    )

    def desired(self, key: str, resource: Any, ctx: DesiredContext) -> dict[str, Any]:
        v = resource
        return {
            "foundational_model": v.foundational_model,
            "name": v.name or key,
            "auto_populate": v.auto_populate,
            "records": [record_digest(r) for r in v.records],
            "records_file": _fingerprint(v.records_file, ctx),
        }

    def read(self, client: FeatrixClient, entry: LockEntry) -> LiveObject | None:
        sid, name = entry.ids.get("session_id"), entry.ids.get("name")
        if not sid or not name:
            return None
        path = f"/session/{sid}/vector_databases/{quote(name, safe='')}"
        doc = get_confirmed(client, path, check=lambda d: _vdb_problem(d, name))
        return None if doc is None else self._live(doc, entry)

    def read_all(self, client: FeatrixClient, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        """One list GET per foundational model; databases missing from a list are read one by one."""
        listed: dict[Any, dict[str, Any]] = {}
        for sid in sorted({e.ids.get("session_id", "") for e in entries.values()}):
            try:
                docs = get_list(client, f"/session/{sid}/vector_databases", "vector_databases") if sid else []
            except NotFoundError:
                docs = []
            listed.update({(sid, d.get("name")): d for d in docs if isinstance(d, dict)})
        return self.read_listed(
            client, entries, listed, lambda e: (e.ids.get("session_id", ""), e.ids.get("name")), self._live
        )

    def _live(self, doc: dict[str, Any], entry: LockEntry) -> LiveObject:
        live = {"name": doc.get("name", entry.ids.get("name")), "auto_populate": bool(doc.get("auto_populated", True))}
        ids = {"session_id": entry.ids["session_id"], "name": entry.ids["name"]}
        return LiveObject(ids=ids, fields=self.merge_live(entry, live), tag={}, status="ready")

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """Identity: the name, unique within its foundational model's session (vector_database.py routes)."""
        sid, name = probe.refs.get("session_id"), probe.desired.get("name")
        if not sid or not name:
            return None  # its foundational model does not exist, so neither can it
        try:
            docs = get(f"/session/{sid}/vector_databases", has_list("vector_databases"))["vector_databases"]
        except NotFoundError:
            return None
        found = any(isinstance(d, dict) and d.get("name") == name for d in docs)
        return {"session_id": sid, "name": str(name)} if found else None

    def import_id(self, ids: dict[str, str]) -> str:
        return f"{ids.get('session_id')}/{ids.get('name')}"

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        d = op.desired
        sid = op.ref_ids(f"foundational_model.{d['foundational_model']}")["session_id"]
        resp = client.post(
            f"/session/{sid}/vector_databases", {"name": d["name"], "auto_populate": d["auto_populate"]}, once=True
        )
        return StepResult(
            ids={"session_id": sid, "name": d["name"]}, outputs={"record_count": resp.get("record_count")}
        )

    def followups(self, desired: dict[str, Any]) -> list[str]:
        steps = ["add_records_file"] if desired.get("records_file") else []
        return steps + self.update_steps(["records"], desired, {"records": []})

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        if "records" not in fields:
            return []
        new, old = desired.get("records") or [], applied.get("records") or []
        return [f"add_records:{start}" for start in range(len(old), len(new), BATCH)]

    def step_applied(self, step: str, desired: dict[str, Any]) -> dict[str, Any]:
        """A batch of records is recorded as added up to its end, so a failure later re-adds only the rest."""
        if step.startswith("add_records:"):
            end = int(step.split(":", 1)[1]) + BATCH
            return {"records": list(desired.get("records") or [])[:end]}
        return super().step_applied(step, desired)

    def step_fields(self, step: str) -> list[str]:
        return ["records_file"] if step == "add_records_file" else super().step_fields(step)

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        base = f"/session/{op.ids['session_id']}/vector_databases/{quote(op.ids['name'], safe='')}"
        if step == "add_records_file":
            if is_url(op.resource.records_file):
                raise CreateFailed("records_file must be a local file (the records are sent by the tool)")
            records = read_records(op.root / op.resource.records_file)
            for start in range(0, len(records), BATCH):  # one call per batch of 500
                client.post(f"{base}/records", {"records": records[start : start + BATCH]}, once=True)
            return StepResult()
        if step.startswith("add_records:"):
            start = int(step.split(":", 1)[1])
            batch = list(op.resource.records[start : start + BATCH])
            resp = client.post(f"{base}/records", {"records": batch}, once=True)
            return StepResult(outputs={"record_count": resp.get("record_count")})
        return super().update(client, op, step)

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        try:
            client.delete(f"/session/{op.ids['session_id']}/vector_databases/{quote(op.ids['name'], safe='')}")
        except NotFoundError:
            return


def _fingerprint(records_file: str | None, ctx: DesiredContext) -> str | None:
    if not records_file:
        return None
    return fingerprint_url(records_file) if is_url(records_file) else ctx.fingerprint(ctx.root / records_file)


def _vdb_problem(doc: Any, name: str) -> str:
    """What is wrong with an answer to GET .../vector_databases/{name} (`vector_database.py` reads `name`)."""
    if not isinstance(doc, dict):
        return f"a JSON {type(doc).__name__}, not an object"
    return "" if doc.get("name") == name else f"the document of vector database {doc.get('name')!r}, not of {name!r}"


def _vdb_import_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    """`[SESSION/]NAME`: a vector database lives in its foundational model's session."""
    sid, name = in_session(object_id, ref, "foundational_model", VectorDatabaseHandler.kind)
    return {"session_id": sid, "name": name}


SPEC = KindSpec(
    facts=VECTOR_DATABASE,
    handler=VectorDatabaseHandler(),
    identity=("session_id", "name"),
    import_ids=_vdb_import_ids,
)
