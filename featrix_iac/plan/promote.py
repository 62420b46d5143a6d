"""Promotion between environments: trainings whose configuration and data equal another environment's
lockfile take its trained artifact (action `promote`); entries borrowed that way are only forgotten."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from featrix_iac.diagnostics import fail
from featrix_iac.plan.differ import canon, same
from featrix_iac.plan.model import TRAINING, ActionBase, ActionDraft, ActionType, Plan, Reason, ReasonCode
from featrix_iac.resources import retirement
from featrix_iac.state import LockEntry, Lockfile

A = ActionType
# the fields an environment may differ in (names, descriptions, compute cluster, tags) and planning hints
ENVIRONMENT_FIELDS = frozenset(
    {
        "name",
        "description",
        "session_name_prefix",
        "compute_cluster",
        "user_metadata",
        "tags",
        "priority",
        "data_summary",
    }
)


# what an environment decides for itself about the same artifact: its gates, its retire policy
NOT_COMPARED = frozenset({"gates", retirement.FIELD})


def trained_references(kind: str) -> list[tuple[str, str, str]]:
    """(field, kind, id field) of each reference of `kind` to a kind that trains: a resource that references
    another promotable one must follow it (a predictor, its foundational model)."""
    from featrix_iac.graph import reference_fields
    from featrix_iac.resources.registry import SPECS

    return [
        (field, ref_kind, SPECS[ref_kind].reference_id)
        for field, ref_kind in reference_fields(kind)
        if ref_kind in SPECS and SPECS[ref_kind].handler.trains
    ]


BORROWED_NOTE = "borrowed from {env} by promotion: the object is {env}'s, so this environment only forgets it"
BORROWED_GONE = "borrowed from {env} by promotion and deleted outside this environment (e.g. by {env}'s destroy)"


def config_hash(desired: Mapping[str, Any]) -> str:
    """sha256 of the effective configuration (without the fields an environment may differ in)."""
    compared = {k: v for k, v in desired.items() if k not in ENVIRONMENT_FIELDS and k != retirement.FIELD}
    text = json.dumps(canon(compared), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def candidates(plan: Plan, source: Lockfile, trains: set[str]) -> Lockfile:
    """`source` reduced to the entries a promotion could take (to read them back from the server first)."""
    wanted = {a.address for a in plan.actions if a.kind in trains and a.action in TRAINING}
    return source.model_copy(update={"resources": {a: e for a, e in source.resources.items() if a in wanted}})


def promote(
    plan: Plan,
    source: Lockfile,
    source_env: str,
    trains: set[str],
    live: Mapping[str, Any] | None = None,
    lockfile: Lockfile | None = None,
    cluster: str | None = None,
) -> Plan:
    """`plan` with each training create whose configuration and data equal `source`'s ready entry turned into a
    promote (pure: a new plan). `live` is what the server holds for `source`'s entries (address → LiveObject,
    None when gone); an entry it lacks was not read. A refusal is a warning on the action naming the
    differences. `lockfile` is this environment's: a promote's steps delete what it replaces. `cluster` is this
    environment's compute cluster (server.compute_cluster): an object asked on another cluster than the one
    `source` recorded is promoted by cloning it there, when its kind can be cloned."""
    if source.server_url and plan.server_url and source.server_url != plan.server_url:
        raise fail(
            f"cannot promote from {source_env!r}: its lockfile was written for server {source.server_url}, "
            f"this environment uses {plan.server_url}",
            "promotion takes the other environment's trained objects by their ids, which exist on one server "
            "only; apply the environment on its own server (it trains there), or point both at the same server",
        )
    promoted: dict[str, ActionDraft] = {}
    drafts = [a.thaw() for a in plan.actions]
    for action in drafts:  # in dependency order: a predictor after its foundational model
        if action.kind not in trains or action.action not in TRAINING:
            continue
        refusal = _stale(action.address, live or {}, source_env) or _refusal(
            action, source.resources.get(action.address), source_env, promoted
        )
        if refusal:
            action.warnings.append(f"not promoted from {source_env}: {refusal}")
            continue
        entry = source.resources[action.address]
        _promote_one(action, entry, source, source_env, _clone_to(action, entry, cluster))
        _restep(action, lockfile)
        promoted[action.address] = action
    actions = tuple(a.freeze() for a in drafts)
    if not promoted:
        return plan.model_copy(update={"actions": actions})
    from featrix_iac.plan.estimate import totals

    warnings = tuple(sorted({*plan.warnings, *(w for a in actions for w in a.warnings)}))
    return plan.model_copy(update={"actions": actions, "estimate": totals(actions), "warnings": warnings})


def _restep(action: ActionDraft, lockfile: Lockfile | None) -> None:
    """A promote's own steps: record the borrowed object, then delete what it replaces (plan/steps.py)."""
    from featrix_iac.plan.steps import steps_for
    from featrix_iac.resources.registry import handler_for

    entry = lockfile.resources.get(action.address) if lockfile is not None else None
    action.steps = steps_for(action, handler_for(action.kind), entry)


def _clone_to(action: ActionBase, entry: LockEntry, cluster: str | None) -> dict[str, Any] | None:
    """{to, from} when this environment asks `action` on another compute cluster than the one the source
    recorded for its object and the kind can be cloned there (a foundational model); else None (borrowed)."""
    from featrix_iac.resources.registry import handler_for

    to = action.desired.get("compute_cluster") or cluster
    recorded = entry.applied.get("compute_cluster") or entry.outputs.get("compute_cluster")
    if not to or to == recorded or not handler_for(action.kind).clonable:
        return None
    return {"to": to, "from": recorded}


def _stale(address: str, live: Mapping[str, Any], env: str) -> str:
    """Why the server no longer holds what `env`'s lockfile records for `address` ("" when it does)."""
    if address not in live:
        return ""
    obj = live[address]
    if obj is None:
        return f"{env}'s lockfile is stale: the object it records was deleted on the server (apply {env} first)"
    status = getattr(obj, "status", "ready")
    if status != "ready":
        return f"{env}'s lockfile is stale: the object it records is {status} on the server (apply {env} first)"
    return ""


def _refusal(action: ActionBase, entry: LockEntry | None, env: str, promoted: Mapping[str, ActionBase]) -> str:
    if entry is None or not entry.ids:
        return f"{env}'s lockfile has no {action.address}"
    if entry.status != "ready":
        return f"it is {entry.status} in {env}'s lockfile"
    if entry.borrowed:
        return f"{env} itself borrowed it from {entry.borrowed.get('from')!r}: promote from there"
    if entry.provenance.get("development"):
        dev = entry.provenance["development"]
        return (
            f"it was built in development mode in {env} (sample {_show(dev.get('sample'))} of its data, at most "
            f"{_show(dev.get('max_epochs'))} epochs): development artifacts are never promoted; promote from an "
            "environment that trains on the full data"
        )
    recorded = {**entry.applied, **entry.hashes}
    differing = [
        f"{name} ({_show(recorded.get(name))} in {env}, {_show(value)} here)"
        for name, value in sorted(action.desired.items())
        if name not in ENVIRONMENT_FIELDS | NOT_COMPARED and not same(value, recorded.get(name))
    ]
    if differing:
        return "differs in " + "; ".join(differing)
    gate = _gate_refusal(action, entry, env)
    if gate:
        return gate
    for field, kind, id_field in trained_references(action.kind):
        target = f"{kind}.{action.desired.get(field)}"
        if target not in promoted:
            return f"its {kind} {target} is not promoted (it trains anew here)"
        clone = (promoted[target].promotion or {}).get("clone")
        if clone:  # the API clones the embedding space only (foundational_model.py:FoundationalModel.clone)
            what = action.kind.replace("_", " ") + "s"
            return f"retrains: the clone of {target} to compute cluster {clone['to']} carries no {what}"
        if promoted[target].prior_ids.get(id_field) != entry.ids.get(id_field):
            return f"{env}'s {action.address} was trained on another {kind} than {env}'s {target}"
    return ""


def _gate_refusal(action: ActionBase, entry: LockEntry, env: str) -> str:
    """A gate that staging's artifact failed there, or that this environment's gates (which may differ) refuse
    on the metrics staging recorded; "" when none."""
    from featrix_iac.resources import gates

    record = entry.gate or {}
    if record.get("status") in (gates.GATED_OUT, gates.WAIVED):
        failed = [gates.describe(r) for r in record.get("results", []) if not r.get("passed")]
        how = "gated out" if record["status"] == gates.GATED_OUT else "waived (--skip-gate)"
        return f"it failed a quality gate in {env} ({how}): " + "; ".join(failed)
    if not action.gates:
        return ""
    failed = [gates.describe(r) for r in gates.evaluate(action.gates, _metrics(entry)) if not r["passed"]]
    return f"{env}'s recorded metrics fail this environment's gates: " + "; ".join(failed) if failed else ""


def _metrics(entry: LockEntry) -> dict[str, float]:
    """The held-out metrics staging's gates recorded for the entry's object."""
    record = entry.gate or {}
    if record.get("ids") and record["ids"] != entry.ids:
        return {}
    return {r["metric"]: r["value"] for r in record.get("results", []) if r.get("value") is not None}


def _show(value: Any) -> str:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[:23] + "…"
    return json.dumps(value, sort_keys=True, default=str)


def _promote_one(
    action: ActionDraft, entry: LockEntry, source: Lockfile, env: str, clone: dict[str, Any] | None = None
) -> None:
    proof: dict[str, Any] = {
        "from": env,
        "serial": source.serial,
        "lineage": source.lineage,
        "config_hash": config_hash(action.desired),
    }
    if isinstance(action.desired.get("data"), str):
        proof["data"] = action.desired["data"]
    if entry.training:
        proof["training"] = dict(entry.training)
    if entry.provenance:
        proof["provenance"] = dict(entry.provenance)
    if _metrics(entry):
        proof["metrics"] = _metrics(entry)
    # a replacement's old object (this environment's own) goes once the dependents have followed
    action.delete_replaced = action.action is A.REPLACE and bool(action.prior_ids)
    action.action = A.PROMOTE
    action.prior_ids = dict(entry.ids)  # a clone's source: the clone gets ids of its own when applied
    # the object keeps the source's names: record them, so the next plans compare the truth (planner ignores them);
    # a clone is named and placed as this environment asks
    kept = (
        ENVIRONMENT_FIELDS - {"data_summary"} - ({"name", "session_name_prefix", "compute_cluster"} if clone else set())
    )
    action.desired.update({k: v for k, v in entry.applied.items() if k in kept})
    action.estimate = None
    ids = ", ".join(f"{k} {v}" for k, v in sorted(entry.ids.items()) if k != "job_id")
    first = Reason(
        code=ReasonCode.PROMOTE, text=f"promoted from {env} ({ids}): same configuration and data, no training"
    )
    if clone:
        proof["clone"] = {**clone, **{k: v for k, v in entry.ids.items() if k != "job_id"}}
        first = Reason(
            code=ReasonCode.PROMOTE_CLONE,
            text=f"promoted from {env} by cloning {ids} to compute cluster {clone['to']} ({env}'s is "
            f"{clone['from'] or 'the server default'}): no training; the clone is this environment's own, and "
            "carries no predictors (they retrain here)",
        )
    action.promotion = proof
    action.reasons = [
        first,
        Reason(
            code=ReasonCode.PROMOTION_PROOF,
            text=f"proof: {env} lockfile serial {source.serial}, config {proof['config_hash'][:23]}…"
            + (f", data {proof['data'][:23]}…" if "data" in proof else "")
            + (f", trained {_training(entry.training)}" if entry.training else "")
            + ("".join(f", {k} {v:g}" for k, v in sorted(proof.get("metrics", {}).items()))),
        ),
    ]


def _training(training: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {training[k]}" for k in ("seconds", "rows", "columns", "epochs") if k in training)


def note_borrowed(plan: Plan, lockfile: Lockfile) -> Plan:
    """`plan` with a reason on each removal or replacement of a borrowed entry: it is only forgotten here."""
    actions = []
    for action in plan.actions:
        entry = lockfile.resources.get(action.address)
        env = entry.borrowed.get("from", "?") if entry is not None and entry.borrowed else None
        note = None
        if env is not None and action.action in (A.DELETE, A.RETIRE, A.REPLACE):
            note = Reason(code=ReasonCode.BORROWED, text=BORROWED_NOTE.format(env=env))
        elif (
            env is not None
            and action.action is A.CREATE
            and any(d.address == action.address and d.deleted for d in plan.drift)
        ):
            note = Reason(code=ReasonCode.BORROWED, text=BORROWED_GONE.format(env=env))
        actions.append(action if note is None else action.model_copy(update={"reasons": (*action.reasons, note)}))
    return plan.model_copy(update={"actions": tuple(actions)})
