"""Foundational models (Featrix sessions): upload or URL create, training waits, publish / protection / delete."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from featrix_iac.client import FeatrixClient, FeatrixError, NotFoundError
from featrix_iac.model.base import is_url
from featrix_iac.model.resources import FOUNDATIONAL_MODEL
from featrix_iac.resources import retirement
from featrix_iac.resources.base import (
    Change,
    DesiredContext,
    FieldRule,
    Handler,
    Lister,
    LiveObject,
    Operation,
    Probe,
    Progress,
    SetOnly,
    StepResult,
    get_checked,
    get_confirmed,
    get_list,
    has_list,
    one_of,
    tag_matches,
    tag_of,
)
from featrix_iac.resources.common import (
    fold_status,
    job_progress,
    jobs_of,
    newest,
    session_check,
    session_of,
    without_tag,
)
from featrix_iac.resources.spec import KindNotes, KindSpec, RefIds
from featrix_iac.resources.waits import Waits, wait_for
from featrix_iac.state import LockEntry, fingerprint_url

R, IP = Change.REPLACE, Change.IN_PLACE
CREATE_ONLY = (
    "session_name_prefix",
    "ignore_columns",
    "column_overrides",
    "epochs",
    "d_model",
    "foundation_mode",
    "time_column",
    "sequential_timestamp_col",
    "sequential_entity_id_col",
    "sequential_window_units",
    "sequential_window_interval",
    "sequential_rolling_windows",
    "webhooks",
)
# fields the create routes cannot set: their value right after a create
CREATION_DEFAULTS: dict[str, Any] = {
    "published": False,
    "published_name": None,
    "deprecation": None,
    "deletion_protection": False,
}
# no undeprecate route: the official client has only FoundationalModel.deprecate (REST contract §2.8, §9.1)
DEPRECATION_SET_ONLY = SetOnly(
    why="the Featrix API has a route to deprecate a foundational model but none to clear a deprecation "
    "(the official client has only FoundationalModel.deprecate)",
    way_out="keep (or restore) the deprecation block in the manifest, or add deprecation to "
    "lifecycle.ignore_changes to stop managing it; a replaced foundational model (e.g. new data) starts undeprecated",
)


class FoundationalModelHandler(Handler):
    kind = "foundational_model"
    trains = True
    id_field = "session_id"
    owns_recorded = True
    clonable = True
    rules = (
        FieldRule("data", R, write_only=True, live=False),
        FieldRule("name", R),
        *(FieldRule(name, R, live=False) for name in CREATE_ONLY),
        FieldRule("user_metadata", R),
        FieldRule("compute_cluster", R),
        FieldRule("priority", Change.IGNORED, live=False),
        # rows and columns of the data trained on: recorded for the plan's data-change reasons, never diffed
        FieldRule("data_summary", Change.IGNORED, live=False),
        FieldRule("published", IP, route="publish+unpublish"),
        FieldRule("published_name", IP, route="publish+unpublish"),
        FieldRule("deprecation", IP, route="deprecate", set_only=DEPRECATION_SET_ONLY),
        FieldRule("deletion_protection", IP, route="deletion_protection"),
        retirement.RULE,
    )

    # -- planning ------------------------------------------------------------------------------

    def desired(self, key: str, resource: Any, ctx: DesiredContext) -> dict[str, Any]:
        fm = resource
        name = fm.name or key
        data = fingerprint_url(fm.data) if is_url(fm.data) else ctx.fingerprint(ctx.root / fm.data)
        publish_name = fm.publish_name(key)
        dep = fm.deprecation
        return {
            "data": data,
            "name": name,
            "session_name_prefix": fm.session_name_prefix or name,
            "ignore_columns": sorted(set(fm.ignore_columns)),
            "column_overrides": dict(sorted(fm.column_overrides.items())),
            "epochs": fm.epochs,
            "d_model": fm.d_model,
            "foundation_mode": fm.foundation_mode,
            "time_column": fm.time_column,
            "sequential_timestamp_col": fm.sequential_timestamp_col,
            "sequential_entity_id_col": fm.sequential_entity_id_col,
            "sequential_window_units": fm.sequential_window_units,
            "sequential_window_interval": fm.sequential_window_interval,
            "sequential_rolling_windows": list(fm.sequential_rolling_windows),
            "webhooks": dict(sorted(fm.webhooks.items())),
            "user_metadata": dict(fm.user_metadata),
            "compute_cluster": fm.compute_cluster,
            "priority": fm.priority,
            "published": publish_name is not None,
            "published_name": publish_name,
            "deprecation": None
            if dep is None
            else {"warning_message": dep.warning_message, "expiration_date": expiration_iso(dep.expiration_date)},
            "deletion_protection": fm.deletion_protection,
            "data_summary": None if is_url(fm.data) or ctx.summarize is None else ctx.summarize(ctx.root / fm.data),
            **retirement.desired(fm),
        }

    def read(self, client: FeatrixClient, entry: LockEntry) -> LiveObject | None:
        sid = entry.ids.get("session_id")
        if not sid:
            return None
        doc = get_confirmed(client, f"/compute/session/{sid}", check=session_check(sid))
        return None if doc is None else self._live(session_of(doc), entry, jobs_of(doc))

    def read_all(self, client: FeatrixClient, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        """One org-wide list call; entries missing from it are read one by one (confirming a 404)."""
        if not entries:
            return {}
        sids = [e.ids.get("session_id", "") for e in entries.values()]
        prefix = os.path.commonprefix(sids)  # narrows the org-wide list when the ids share a prefix
        params = {"name_prefix": prefix} if len(prefix) >= 3 else None
        listed = {  # still training: not listed here, so the full document is read
            item.get("session_id"): item
            for item in get_list(client, "/compute/sessions-for-org", "sessions", params=params)
            if isinstance(item, dict) and item.get("es_status") in ("done", "failed", "cancelled")
        }
        return self.read_listed(
            client, entries, listed, lambda e: e.ids.get("session_id"), lambda item, e: self._live(item, e, {})
        )

    def _live(self, s: dict[str, Any], entry: LockEntry, jobs: dict[str, Any]) -> LiveObject:
        applied = entry.applied
        live: dict[str, Any] = {
            "name": s.get("name"),
            "user_metadata": without_tag(s.get("user_metadata")),
            "deletion_protection": bool(s.get("deletion_protection")),
            "compute_cluster": s.get("compute_cluster") if applied.get("compute_cluster") is not None else None,
        }
        if "published" in s:  # the local server reports it; the real one does not (the lockfile is the truth)
            live["published"] = bool(s.get("published"))
            live["published_name"] = s.get("published_name") if live["published"] else None
        if "deprecation" in s:  # the local server reports it; the real one does not (the lockfile is the truth)
            dep = s.get("deprecation")
            live["deprecation"] = (
                {"warning_message": dep.get("warning_message"), "expiration_date": dep.get("expiration_date")}
                if isinstance(dep, dict)
                else None
            )
        fields = self.merge_live(entry, live)
        status = fold_status(s.get("es_status") or s.get("status"))
        es_jobs = [j for j in jobs.values() if j.get("job_type") in ("train_es", "train_embedding_space", "training")]
        job = newest(es_jobs)
        ids = {"session_id": str(s.get("session_id") or entry.ids.get("session_id"))}
        if job and job.get("job_id"):
            ids["job_id"] = str(job["job_id"])
        return LiveObject(ids=ids, fields=fields, status=status, tag=tag_of(s.get("user_metadata")))

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """Identity: the session name and the creation tag in the session's user_metadata, which the official
        client sends on create and reads back from the list and the session (foundational_model.py:
        FoundationalModel.from_response, _update_from_session). A retried upload carries the same
        X-Featrix-Idempotency-Key (the creation token), so the service folds it into the first session.
        Sessions the lockfile records are never someone's orphan; marked-for-deletion ones are not listed."""
        name = probe.desired.get("name")
        matches: list[tuple[str, dict[str, str]]] = []
        for item in get("/compute/sessions-for-org", has_list("sessions"))["sessions"]:
            if not isinstance(item, dict):  # a legacy bare id: its name and tag are in its document
                known = str(item) in probe.known
                item = {} if known else session_of(get(f"/compute/session/{item}", session_check(str(item))))
            sid = str(item.get("session_id") or "")
            if sid and sid not in probe.known and item.get("name") == name:
                if tag_matches(item.get("user_metadata"), probe.tag):
                    matches.append((sid, {"session_id": sid}))
        return one_of(probe, "foundational model", matches)

    # -- applying ------------------------------------------------------------------------------

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        fm, d = op.resource, op.desired
        fields = _creation_fields(fm, d, op.tag)
        node = d.get("compute_cluster")
        if is_url(fm.data):  # typed JSON, user_metadata as a JSON string (client.py:_create_foundational_model_s3)
            body = {
                **fields,
                "s3_file_data_set_training": fm.data,
                "user_metadata": json.dumps(fields["user_metadata"]),
            }
            resp = client.post("/compute/create-embedding-space", body, once=True, node=node)
        else:
            path = op.root / fm.data
            # multipart: every field a string, 8 -> "8", True -> "true" (client.py:create_foundational_model)
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
            with open(path, "rb") as fh:
                resp = client.post(
                    "/compute/upload_with_new_session/",
                    files={"file": (Path(fm.data).name, fh)},
                    data=form,
                    idempotency_key=op.token,
                    node=node,
                )
        sid = resp.get("session_id")
        if not sid:
            raise FeatrixError(f"the server accepted the foundational model but returned no session_id: {resp}")
        # the cluster it trains on, as the server says, else as asked (a promotion compares it: plan/promote.py)
        cluster = resp.get("compute_cluster") or node or client.compute_cluster
        outputs = {"session_id": sid, "compute_cluster": cluster}
        return StepResult(ids={"session_id": str(sid)}, outputs={k: v for k, v in outputs.items() if v})

    def clone(self, client: FeatrixClient, ids: dict[str, str], to: str, name: str, node: str | None) -> StepResult:
        """The embedding space only (no predictors, no vector databases), as a new session on cluster `to`:
        body {to_compute, new_session_name}, answer new_session_id (foundational_model.py:FoundationalModel.clone)."""
        body = {"to_compute": to, "new_session_name": name}
        resp = client.post(f"/compute/session/{ids['session_id']}/clone_embedding_space", body, once=True, node=node)
        sid = resp.get("new_session_id") or resp.get("session_id")
        if not sid:
            raise FeatrixError(f"the server cloned the foundational model but returned no new_session_id: {resp}")
        return StepResult(ids={"session_id": str(sid)}, outputs={"session_id": str(sid), "compute_cluster": to})

    def poll(self, client: FeatrixClient, ids: dict[str, str]) -> Progress:
        doc = get_checked(client, f"/compute/session/{ids['session_id']}", session_check(ids["session_id"]))
        jobs = [
            j for j in jobs_of(doc).values() if j.get("job_type") in ("train_es", "train_embedding_space", "training")
        ]
        job = newest(jobs)
        if job is not None:
            return job_progress(job, "training")
        s = session_of(doc)
        state = fold_status(s.get("es_status") or s.get("status"))
        return Progress(state, None, f"session {s.get('status')}")

    def followups(self, desired: dict[str, Any]) -> list[str]:
        changed = [f for f, v in CREATION_DEFAULTS.items() if desired.get(f) != v]
        return self.update_steps(changed, desired, CREATION_DEFAULTS)

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        steps: list[str] = []
        if "published" in fields or "published_name" in fields:
            renamed = desired.get("published_name") != applied.get("published_name")
            if applied.get("published") and (not desired.get("published") or renamed):
                steps.append("unpublish")
            if desired.get("published"):
                steps.append("publish")
        if "deprecation" in fields and desired.get("deprecation"):
            steps.append("deprecate")
        if "deletion_protection" in fields or ("publish" in steps and not desired.get("deletion_protection")):
            steps.append("deletion_protection")
        return steps

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        base, d = f"/compute/session/{op.ids['session_id']}", op.desired
        if step == "publish":
            resp = client.post(f"{base}/publish", {"name": d["published_name"]})
            if resp.get("job_id") and resp.get("status") != "already_published":
                wait_publish(client, op.ids["session_id"], str(resp["job_id"]), op.waits or Waits())
            return StepResult(outputs={"publish_job_id": resp["job_id"]} if resp.get("job_id") else {})
        if step == "unpublish":
            client.post(f"{base}/unpublish", {})
        elif step == "deprecate":
            client.post(f"{base}/deprecate", d["deprecation"])
        elif step == "deletion_protection":
            client.post(f"{base}/deletion_protection", {"protected": bool(d["deletion_protection"])})
        else:
            return super().update(client, op, step)
        return StepResult()

    def delete_steps(self, entry: LockEntry) -> list[str]:
        guarded = entry.protected or entry.applied.get("deletion_protection") or entry.applied.get("published")
        return ["unprotect", "mark_for_deletion"] if guarded else ["mark_for_deletion"]

    def retire_steps(self, entry: LockEntry) -> list[str]:
        """A retirement deprecates a published model (the API's deprecation applies to published models only,
        foundational_model.py:FoundationalModel.deprecate); an unpublished one is only recorded as retiring."""
        return ["deprecate"] if entry.applied.get("published") else []

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        base = f"/compute/session/{op.ids['session_id']}"
        try:
            if step == "unprotect":
                client.post(f"{base}/deletion_protection", {"protected": False})
            else:
                client.post(f"{base}/mark_for_deletion", {})
        except NotFoundError:
            return  # already gone


def wait_publish(client: FeatrixClient, sid: str, job_id: str, waits: Waits, what: str = "publish") -> Progress:
    """Poll the publish job until it completes (foundational_model.py `publish`: 600 s stall timer by default,
    reset by any change of status / step / message / bytes / files / progress; 404 and 5xx ridden out)."""

    def poll() -> Progress:
        return publish_progress(client.get(f"/compute/session/{sid}/publish_job/{job_id}"), what)

    return wait_for(poll, what=f"{what} job {job_id}", limit=waits.limit("publish"), waits=waits)


def publish_progress(doc: dict[str, Any], what: str) -> Progress:
    """A Progress from one publish_job document (status completed / failed / anything else = going)."""
    status = doc.get("status")
    if status == "completed":
        return Progress("ready", 1.0, f"{what} completed")
    if status == "failed":
        return Progress("failed", None, f"{what} failed: {doc.get('error') or 'no detail'}")
    pct = doc.get("progress_pct")
    eta = doc.get("eta_minutes")
    parts = [str(doc.get("step") or status or "queued")]
    if doc.get("files_copied") or doc.get("bytes_copied"):
        parts.append(f"{doc.get('files_copied') or 0} files, {doc.get('bytes_copied') or 0} bytes copied")
    if isinstance(eta, (int, float)) and eta > 0.1:
        parts.append(f"~{eta:.0f} min left")
    fraction = float(pct) / 100.0 if isinstance(pct, (int, float)) else None
    return Progress("training", fraction, f"{what}: {', '.join(parts)}")


def _creation_fields(fm: Any, d: dict[str, Any], tag: dict[str, Any]) -> dict[str, Any]:
    """The creation parameters (contract §2.1/§2.2) that are set, typed as the official client types them
    in its JSON create (client.py:_create_foundational_model_s3); user_metadata carries the tag."""
    out: dict[str, Any] = {"name": d["name"], "session_name_prefix": d["session_name_prefix"]}
    optional = {
        "ignore_columns": d["ignore_columns"] or None,
        "column_overrides": d["column_overrides"] or None,
        "epochs": d["epochs"],
        "d_model": d["d_model"],
        "webhooks": d["webhooks"] or None,
        "foundation_mode": d["foundation_mode"],
        "time_column": d["time_column"],
        "priority": fm.priority,
    }
    if d["sequential_timestamp_col"]:  # with the official client's defaults (create_foundational_model)
        optional.update(
            sequential_timestamp_col=d["sequential_timestamp_col"],
            sequential_entity_id_col=d["sequential_entity_id_col"],
            sequential_window_units=d["sequential_window_units"] or "days",
            sequential_window_interval=d["sequential_window_interval"] or 3,
            sequential_rolling_windows=d["sequential_rolling_windows"] or None,
        )
    out.update({k: v for k, v in optional.items() if v is not None})
    out["user_metadata"] = {**d["user_metadata"], **tag}
    return out


def expiration_iso(value: dt.date) -> str:
    """A deprecation's expiration as the official client sends it: an ISO datetime, UTC, e.g.
    "2026-06-01T00:00:00Z" (foundational_model.py:FoundationalModel.deprecate); a date is its 00:00 UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fm_import_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    return {"session_id": object_id}


def session_outputs(client: FeatrixClient, ids: dict[str, str]) -> dict[str, Any]:
    """The ids a model (or a predictor, which lives in its model's session) outputs."""
    return {k: ids[k] for k in ("session_id", "predictor_id") if ids.get(k)}


def _fm_import_notes(address: str, wanted: dict[str, Any]) -> list[str]:
    return [
        "the server cannot report which data a foundational model was trained on: the manifest's data "
        f"fingerprint ({wanted.get('data')}) is recorded as applied, unchecked"
    ]


SPEC = KindSpec(
    facts=FOUNDATIONAL_MODEL,
    handler=FoundationalModelHandler(),
    identity=("session_id",),
    import_ids=_fm_import_ids,
    import_outputs=session_outputs,
    import_notes=_fm_import_notes,
    reference_id="session_id",
    seconds_per_unit=5e-6,
    notes=KindNotes(replaced="{address}: a new foundational model is trained; the old one is deleted {when}"),
)
