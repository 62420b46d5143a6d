"""Predictors: trained inside their foundational model's session; never deleted (retired), webhooks as a field group."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from featrix_iac.client import AmbiguousResult, FeatrixClient, NotFoundError
from featrix_iac.model.resources import PREDICTOR
from featrix_iac.resources import webhooks
from featrix_iac.resources.base import (
    CannotTell,
    Change,
    DesiredContext,
    FieldRule,
    Handler,
    Lister,
    LiveObject,
    Operation,
    Probe,
    Progress,
    StepResult,
    get_checked,
    get_confirmed,
    malformed,
    one_of,
    started_after,
)
from featrix_iac.resources.common import (
    cannot_confirm_absence,
    fold_status,
    is_replayed,
    job_error,
    job_plan_of,
    job_progress,
    jobs_of,
    newest,
    session_check,
    session_of,
)
from featrix_iac.resources.fetching import fetch_each
from featrix_iac.resources.foundational_model import session_outputs
from featrix_iac.resources.spec import KindNotes, KindSpec, RefIds, in_session
from featrix_iac.resources.waits import Waits, wait_for
from featrix_iac.state import LockEntry

R, IP = Change.REPLACE, Change.IN_PLACE
SP_JOB = "train_single_predictor"
QUEUED_404_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # riding out a queued session's 404s (~30 s)
OPTIONS = (
    "rare_label_value",
    "class_imbalance",
    "cost_false_positive",
    "cost_false_negative",
    "intent",
    "k",
    "auto_collapse_synonyms",
    "synonym_collapse_threshold",
    "label_mapping",
    "group_column",
    "allow_null",
    "keep_duplicates",
    "fine_tune",
)


class PredictorHandler(Handler):
    """Identity is (session_id, predictor_id). The API has no predictor delete: removal retires it
    (unprotects it so its foundational model can be deleted later, then forgets it in the lockfile)."""

    kind = "predictor"
    trains = True
    id_field = "predictor_id"
    deletable = False
    rules = (
        FieldRule("foundational_model", R, live=False),
        FieldRule("type", R, live=False),
        FieldRule("target_column", R),
        FieldRule("name", R),
        FieldRule("epochs", R, live=False),
        *(FieldRule(name, R, live=False) for name in OPTIONS),
        FieldRule("priority", Change.IGNORED, live=False),
        FieldRule("gates", Change.IGNORED, live=False),  # checked after training (apply), never retrains
        FieldRule("value_meaning", IP, route="value_meaning+value_meaning_clear"),
        FieldRule("deletion_protection", IP, route="deletion_protection"),
        *webhooks.RULES,
    )

    # -- planning ------------------------------------------------------------------------------

    def desired(self, key: str, resource: Any, ctx: DesiredContext) -> dict[str, Any]:
        p = resource
        out: dict[str, Any] = {
            "foundational_model": p.foundational_model,
            "type": p.type.value,
            "target_column": p.target_column,
            "name": p.name or key,
            "epochs": p.epochs,
        }
        for name in OPTIONS:
            value = getattr(p, name)
            out[name] = dict(sorted(value.items())) if isinstance(value, dict) else value
        out["priority"] = p.priority
        out["value_meaning"] = dict(sorted(p.value_meaning.items()))
        out["deletion_protection"] = p.deletion_protection
        out.update(webhooks.desired(f"predictor.{key}", p.webhooks))
        out["gates"] = p.gates.thresholds() if p.gates is not None else {}
        return out

    def read(self, client: FeatrixClient, entry: LockEntry) -> LiveObject | None:
        sid = entry.ids.get("session_id")
        if not sid or not entry.ids.get("predictor_id"):
            return None
        doc = get_confirmed(client, f"/compute/session/{sid}", check=session_check(sid))
        if doc is None:
            return None
        return self._live_or_confirmed_absent(doc, sid, entry, _read_back(client, sid, {"_": entry}).get("_", {}))

    def read_all(self, client: FeatrixClient, entries: dict[str, LockEntry]) -> dict[str, LiveObject | None]:
        """One session GET per foundational model (all its predictors are in that document), plus the
        read-back routes of what was applied: one webhooks GET per session, one value_meaning GET each."""
        by_session: dict[str, dict[str, LockEntry]] = defaultdict(dict)
        out: dict[str, LiveObject | None] = {}
        for address, entry in entries.items():
            sid = entry.ids.get("session_id")
            if sid and entry.ids.get("predictor_id"):
                by_session[sid][address] = entry
            else:
                out[address] = None
        if not by_session:
            return out
        docs = fetch_each(
            list(by_session),
            lambda sid: get_confirmed(client, f"/compute/session/{sid}", check=session_check(sid)),
            self.read_parallelism,
        )
        live = [sid for sid in by_session if docs[sid] is not None]
        extras = fetch_each(live, lambda sid: _read_back(client, sid, by_session[sid]), self.read_parallelism)
        for sid, group in by_session.items():
            doc = docs[sid]
            trainings = None if doc is None else Trainings(doc)  # indexed once for all its predictors
            for address, entry in group.items():
                extra = extras[sid].get(address, {}) if sid in extras else {}
                out[address] = (
                    None if doc is None else self._live_or_confirmed_absent(doc, sid, entry, extra, trainings)
                )
        return out

    def _live_or_confirmed_absent(
        self,
        doc: dict[str, Any],
        sid: str,
        entry: LockEntry,
        read_back: dict[str, Any],
        trainings: Trainings | None = None,
    ) -> LiveObject | None:
        """The predictor in its session's document; None only when a current (not replayed) document lacks it."""
        live = self._live(doc, entry, read_back, trainings or Trainings(doc))
        reason = cannot_confirm_absence(doc) if live is None else ""
        if reason:
            problem = f"{reason} without predictor {entry.ids['predictor_id']} confirms nothing"
            raise malformed(f"/compute/session/{sid}", problem)
        return live

    def _live(
        self, doc: dict[str, Any], entry: LockEntry, read_back: dict[str, Any], trainings: Trainings
    ) -> LiveObject | None:
        pid = entry.ids["predictor_id"]
        plan = trainings.plan_entry(pid)
        job = trainings.job_for(entry.ids)
        if plan is None and job is None:
            return None
        plan = plan or {}
        spec: dict[str, Any] = plan["spec"] if isinstance(plan.get("spec"), dict) else {}
        s = session_of(doc)
        live = {
            "target_column": spec.get("target_column") or plan.get("target_column") or (job or {}).get("target_column"),
            "name": plan.get("name") or (job or {}).get("name"),
            "deletion_protection": bool((s.get("predictor_deletion_protection") or {}).get(pid)),
        }
        live = {k: v for k, v in live.items() if v is not None}
        live.update(read_back)
        status = fold_status((job or {}).get("status") or plan.get("status"))
        ids = {"session_id": entry.ids["session_id"], "predictor_id": pid}
        if job and job.get("job_id"):
            ids["job_id"] = str(job["job_id"])
        return LiveObject(ids=ids, fields=self.merge_live(entry, live), status=status)

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """Identity, from the foundational model's session document (contract §2.3, the fields the official
        client's queued-predictor wait reads: foundational_model.py:_wait_for_queued_predictor): a
        train_single_predictor job of this target column and target type, started no earlier than the
        lockfile's intent, whose predictor id no lockfile entry records. Several → Ambiguous (the name,
        when the entries carry one, narrows first); one still queued without an id → {session_id} (the
        applier waits for its id: resolve); several queued → CannotTell."""
        sid = probe.refs.get("session_id")
        if not sid:
            return None  # its foundational model does not exist, so neither can it
        doc: dict[str, Any] = {}
        for delay in (*QUEUED_404_DELAYS, None):
            try:  # a session with a queued training 404s for a while (foundational_model.py _wait_for_queued_predictor)
                doc = get(f"/compute/session/{sid}", session_check(sid))
                break
            except NotFoundError:
                if delay is None:
                    raise CannotTell(f"session {sid} answered 404 for {sum(QUEUED_404_DELAYS):.0f}s") from None
                time.sleep(delay)
        if is_replayed(doc):
            raise CannotTell(f"session {sid} answered with a replayed (stale) document, which confirms nothing")
        wanted = (probe.desired.get("target_column"), _wire_type(str(probe.desired.get("type"))))
        fits = [r for r in training_records(doc) if (r["target"], r["type"] or wanted[1]) == wanted]
        fits = [
            r for r in fits if r["predictor_id"] not in probe.known and started_after(r["created_at"], probe.started)
        ]
        queued = [r for r in fits if not r["predictor_id"]]
        fits = [r for r in fits if r["predictor_id"]]
        if queued and not fits:  # still queued, so no id yet: the applier waits for it (resolve)
            if len([r for r in queued if r["name"] == probe.desired.get("name")] or queued) == 1:
                return {"session_id": sid}
            raise CannotTell(f"{len(queued)} trainings of {wanted[0]!r} in session {sid} are queued without an id")
        named = [r for r in fits if r["name"] == probe.desired.get("name")]
        matches = [
            (f"{sid}/{r['predictor_id']}", {"session_id": sid, "predictor_id": r["predictor_id"]})
            for r in named or fits
        ]
        return one_of(probe, "predictor", matches)

    def import_id(self, ids: dict[str, str]) -> str:
        return f"{ids.get('session_id')}/{ids.get('predictor_id')}"

    # -- applying ------------------------------------------------------------------------------

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        d = op.desired
        sid = op.ref_ids(f"foundational_model.{d['foundational_model']}")["session_id"]
        wire = _wire_type(d["type"])
        body: dict[str, Any] = {
            "target_column": d["target_column"],
            "target_column_type": wire,
            "epochs": d["epochs"],
            "name": d["name"],
        }
        body.update({k: d[k] for k in OPTIONS if d.get(k) is not None})
        if d.get("priority"):
            body["priority"] = d["priority"]
        hooks = webhooks.creation_body(op.resource.webhooks if op.resource is not None else None)
        if hooks:
            body["webhooks"] = hooks
        resp = client.post(f"/session/{sid}/train_predictor", body, once=True)
        pid = resp.get("predictor_id")
        if not pid and resp.get("queued"):  # every worker busy: the id comes once one picks it up (resolve)
            return StepResult(ids={"session_id": sid}, outputs={"session_id": sid})
        if not pid:  # no id and not queued: it may still get one, so this is not "nothing was created"
            raise AmbiguousResult(f"train_predictor answered without a predictor_id (queued={resp.get('queued')!r})")
        ids = {"session_id": sid, "predictor_id": str(pid)}
        if resp.get("job_id"):
            ids["job_id"] = str(resp["job_id"])
        return StepResult(ids=ids, outputs={"session_id": sid, "predictor_id": str(pid)})

    def pending(self, ids: dict[str, str]) -> bool:
        return bool(ids.get("session_id")) and not ids.get("predictor_id")

    def resolve(self, client: FeatrixClient, ids: dict[str, str], probe: Probe, waits: Waits) -> dict[str, str]:
        """The id of a queued training, once a worker picked it up (foundational_model.py
        `_wait_for_queued_predictor`): poll the session, riding out 404s, until a train_single_predictor job
        for this target carries a predictor_id that no lockfile entry knows; failed / error raises."""
        sid, target, name = ids["session_id"], probe.desired.get("target_column"), probe.desired.get("name")
        known = probe.known
        found: dict[str, str] = {}
        polls = [0]

        def poll() -> Progress:
            doc = client.get(f"/compute/session/{sid}")
            candidates: dict[str, dict[str, Any]] = {}
            for job in [*jobs_of(doc).values(), *job_plan_of(doc)]:
                raw = job.get("job_spec")
                spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
                if job.get("job_type") != SP_JOB or (job.get("target_column") or spec.get("target_column")) != target:
                    continue
                if name and job.get("name") not in (None, name):
                    continue
                pid = job.get("predictor_id") or spec.get("predictor_id")
                if pid and str(pid) not in known:
                    candidates[str(pid)] = job
                elif not pid and job.get("status") in ("failed", "error"):
                    return Progress("failed", None, f"queued training failed before dispatch: {job_error(job)}")
            if len(candidates) > 1:
                raise CannotTell(f"session {sid} has {len(candidates)} unrecorded trainings of {target!r}")
            if candidates:
                pid, job = next(iter(candidates.items()))
                found.update(
                    session_id=sid, predictor_id=pid, **({"job_id": job["job_id"]} if job.get("job_id") else {})
                )
                return Progress("ready", None, "dispatched")
            polls[0] += 1  # a queued job still waiting is progress (the official client resets its stall timer)
            return Progress("training", None, f"queued: waiting for a worker (poll {polls[0]})")

        wait_for(
            poll, what=f"the queued training of {target!r} in session {sid}", limit=waits.limit("queued"), waits=waits
        )
        return found

    def poll(self, client: FeatrixClient, ids: dict[str, str]) -> Progress:
        path = f"/compute/session/{ids['session_id']}"
        doc = get_checked(client, path, session_check(ids["session_id"]))
        trainings = Trainings(doc)
        job = trainings.job_for(ids)
        if job is not None:
            return job_progress(job, "training")
        plan = trainings.plan_entry(ids.get("predictor_id"))
        reason = cannot_confirm_absence(doc) if plan is None else ""
        if reason:
            raise malformed(path, f"{reason} without predictor {ids.get('predictor_id')}")
        if plan is None:
            raise NotFoundError(f"predictor {ids.get('predictor_id')} is not in session {ids['session_id']}")
        return Progress(fold_status(plan.get("status")), None, f"training {plan.get('status')}")

    def metrics(self, client: FeatrixClient, ids: dict[str, str]) -> dict[str, float]:
        """This predictor's own held-out metrics, for its gates: predictor.py `get_classification_metrics` (the
        predictor's own card, never the session's, which may belong to another predictor of the session);
        names read as `Predictor._update_metrics` reads them (auc from roc_auc or auc, f1 from f1 or f1_score)."""
        path = f"/compute/session/{ids['session_id']}/predictor/{ids['predictor_id']}/classification_metrics"
        doc = get_checked(client, path)
        raw = doc.get("classification_metrics")
        raw = raw if isinstance(raw, dict) else doc.get("regression_metrics")
        if not isinstance(raw, dict):
            raise malformed(path, "neither classification_metrics nor regression_metrics is an object")
        named = {
            "accuracy": raw.get("accuracy"),
            "auc": raw.get("roc_auc") if raw.get("roc_auc") is not None else raw.get("auc"),
            "f1": raw.get("f1") if raw.get("f1") is not None else raw.get("f1_score"),
            "rmse": raw.get("rmse"),
            "mae": raw.get("mae"),  # the live figure of a regressor's shadow comparisons (operations/quality.py)
            "r2": raw.get("r2"),
        }
        return {k: float(v) for k, v in named.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def followups(self, desired: dict[str, Any]) -> list[str]:
        fields = [f for f in ("value_meaning", "deletion_protection") if desired.get(f)]
        return self.update_steps(fields, desired, {"value_meaning": {}, "deletion_protection": False})

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        steps: list[str] = []
        if any(f in fields for f in webhooks.FIELDS):
            steps += webhooks.steps(desired, applied, drifted="webhooks" in fields)
        if "value_meaning" in fields:
            old, new = applied.get("value_meaning") or {}, desired.get("value_meaning") or {}
            steps += [f"value_meaning_clear:{label}" for label in sorted(old) if label not in new]
            if new:
                steps.append("value_meaning")
        if "deletion_protection" in fields:
            steps.append("deletion_protection")
        return steps

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        sid, pid = op.ids["session_id"], op.ids["predictor_id"]
        base = f"/session/{sid}/predictor/{pid}"
        if step.startswith(("configure_webhooks", "disable_webhook")):
            webhooks.apply_step(client, op, step)
        elif step == "value_meaning":
            client.put(f"{base}/value_meaning", op.desired["value_meaning"])
        elif step.startswith("value_meaning_clear:"):
            client.delete(f"{base}/value_meaning/{quote(step.split(':', 1)[1], safe='')}")
        elif step == "deletion_protection":
            client.post(f"{base}/deletion_protection", {"protected": bool(op.desired["deletion_protection"])})
        else:
            return super().update(client, op, step)
        return StepResult()

    def delete_steps(self, entry: LockEntry) -> list[str]:
        return ["unprotect"] if entry.protected or entry.applied.get("deletion_protection") else []

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        sid, pid = op.ids["session_id"], op.ids["predictor_id"]
        try:
            client.post(f"/session/{sid}/predictor/{pid}/deletion_protection", {"protected": False})
        except NotFoundError:
            return


def _wire_type(kind: str) -> str:
    """target_column_type on the wire (contract §3.1): scalar for a regressor, set for the classifiers."""
    return "scalar" if kind == "regressor" else "set"


def training_records(doc: dict[str, Any]) -> list[dict[str, str]]:
    """One record per predictor training in a session document: job_plan entries, then jobs not in it."""
    out: dict[str, dict[str, str]] = {}
    queued: list[dict[str, str]] = []
    for rec in [*job_plan_of(doc), *jobs_of(doc).values()]:
        if rec.get("job_type") != SP_JOB:
            continue
        spec = rec.get("spec") if isinstance(rec.get("spec"), dict) else rec.get("job_spec")
        spec = spec if isinstance(spec, dict) else {}
        pid = str(rec.get("predictor_id") or spec.get("predictor_id") or "")
        row = {
            "predictor_id": pid,
            "target": str(spec.get("target_column") or rec.get("target_column") or ""),
            "type": str(spec.get("target_column_type") or rec.get("target_column_type") or ""),
            "name": str(rec.get("name") or ""),
            "created_at": str(rec.get("created_at") or ""),
        }
        if not pid and fold_status(rec.get("status")) == "training":  # queued, not failed before dispatch
            queued.append(row)
        elif pid not in out:
            out[pid] = row
    return [*out.values(), *queued]


def _read_back(client: FeatrixClient, sid: str, group: dict[str, LockEntry]) -> dict[str, dict[str, Any]]:
    """Per address, the applied value_meaning and webhooks as the server reports them now (drift).

    Only what this tool applied is compared: `GET .../webhooks` is session-scoped (Predictor.get_webhooks
    sends no predictor_id) and `GET .../value_meaning` merges the server's automatic texts, so an event or
    label the server has beyond what was applied cannot be told apart from another predictor's or a default.
    A missing one (disabled or cleared outside featrix) or a changed one is seen.
    """
    out: dict[str, dict[str, Any]] = {a: {} for a in group}
    hooked = {a: e for a, e in group.items() if e.applied.get("webhooks")}
    hooks = _get_field(client, f"/compute/session/{sid}/webhooks", "webhooks") if hooked else None
    for address, entry in hooked.items():
        if hooks is not None:
            out[address]["webhooks"] = {k: hooks[k] for k in entry.applied["webhooks"] if k in hooks}
    for address, entry in group.items():
        applied = entry.applied.get("value_meaning")
        path = f"/compute/session/{sid}/predictor/{entry.ids['predictor_id']}/value_meaning"
        got = _get_field(client, path, "value_meaning") if applied else None
        if applied and got is not None:
            out[address]["value_meaning"] = {k: got[k] for k in applied if k in got}
    return out


def _get_field(client: FeatrixClient, path: str, name: str) -> dict[str, Any] | None:
    """The object `name` of a GET answer; None on 404 (the predictor's own document decides whether it is gone)."""
    try:
        value = client.get(path).get(name)
    except NotFoundError:
        return None
    return value if isinstance(value, dict) else {}


class Trainings:
    """A session document's job plan and training jobs, indexed by predictor id once: every predictor of a
    foundational model is read from the same document, and scanning it per predictor was quadratic."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.jobs = jobs_of(doc)
        self._plan: dict[Any, dict[str, Any]] = {}
        for e in job_plan_of(doc):
            pid = e.get("predictor_id")
            if _hashable(pid):
                self._plan.setdefault(pid, e)  # the first entry, as a scan would find it
        self._sp: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for j in self.jobs.values():
            if j.get("job_type") == SP_JOB:
                pid = j.get("predictor_id") or (j.get("job_spec") or {}).get("predictor_id")
                if _hashable(pid):
                    self._sp[pid].append(j)

    def plan_entry(self, pid: str | None) -> dict[str, Any] | None:
        """The predictor's job plan entry."""
        return self._plan.get(pid)

    def job_for(self, ids: dict[str, str]) -> dict[str, Any] | None:
        """The predictor's training job: by job id, else its newest train_single_predictor job."""
        if ids.get("job_id") in self.jobs:
            return self.jobs[ids["job_id"]]
        return newest(self._sp.get(ids.get("predictor_id"), []))


def _hashable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int))


def _predictor_import_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    """`[SESSION/]PREDICTOR`: a predictor lives in its foundational model's session."""
    sid, pid = in_session(object_id, ref, "foundational_model", PredictorHandler.kind)
    return {"session_id": sid, "predictor_id": pid}


def _predict(client: FeatrixClient, ids: dict[str, str], secret: str) -> Callable[[dict[str, Any]], Any]:
    """With the account key: POST /compute/session/{id}/predict naming the predictor."""
    path, pid = f"/compute/session/{ids['session_id']}/predict", ids["predictor_id"]

    def call(record: dict[str, Any]) -> Any:
        return client.post(path, {"query_record": record, "predictor_id": pid})

    return call


SPEC = KindSpec(
    facts=PREDICTOR,
    handler=PredictorHandler(),
    identity=("session_id", "predictor_id"),
    import_ids=_predictor_import_ids,
    import_outputs=session_outputs,
    reference_id="predictor_id",
    always_create_first=True,  # a replaced predictor is only retired: nothing is lost by creating first
    predict=_predict,
    seconds_per_unit=2e-6,
    notes=KindNotes(
        replaced="{address}: the old predictor is retired, not deleted (the API cannot delete predictors): "
        "{retired}; a new one is trained",
        follows=", so this predictor is trained again on the new one",
    ),
)
