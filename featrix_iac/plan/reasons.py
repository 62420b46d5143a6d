"""The words of the plan: why each action happens, and the warnings that go with it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from featrix_iac.plan.model import Reason
from featrix_iac.plan.model import ReasonCode as R
from featrix_iac.state import RETIRED_NOTE

if TYPE_CHECKING:
    from featrix_iac.plan.differ import FieldDiff, Uncleared
    from featrix_iac.plan.model import ActionBase
    from featrix_iac.resources.spec import KindNotes

NEW = Reason(code=R.NEW, text="declared in the manifest, not yet created")
GONE = Reason(code=R.MISSING, text="deleted outside featrix: it is created again")
TAINTED = Reason(code=R.TAINTED, text="tainted: an earlier apply failed to finish it")
DELETING = Reason(code=R.DELETING, text="an earlier apply started deleting it: it is created again")
FAILED = Reason(code=R.FAILED, text="the server reports it failed: it is created again")
ADOPT_FOUND = Reason(
    code=R.ADOPTED,
    text="found on the server by its identity, but missing from the lockfile "
    "(an earlier apply stopped before recording it, or the lockfile was lost): adopted, not created again",
)
RESUME_NOT_FOUND = Reason(
    code=R.RESUMED,
    text="an earlier apply recorded the intent to create it, but nothing on the server fits its identity",
)
FINISH_REPLACEMENT = Reason(
    code=R.FINISH_REPLACEMENT,
    text="an earlier apply replaced it but did not delete the old object yet (it stopped, or kept it for a smoke "
    "check's rollback): deleted now, after dependents follow",
)
REMOVE_REPLACED = Reason(
    code=R.FINISH_REPLACEMENT,
    text="the older objects an interrupted replacement left to delete are deleted with it",
)

# what a changed field means, beyond "changed"
FIELD_WORDS: dict[str, str] = {
    "api_key.rotation": "rotate the API key (the new key goes only to the encrypted lockfile)",
    "api_key.revoked": "revoke the API key",
    "predictor": "move the endpoint to another predictor by shadow → promote (same URL and key)",
    "webhook_secret": "change the webhook secret",
}


def gated_out(address: str, gate: dict[str, Any]) -> Reason:
    """Why a gated-out predictor is trained again (the apply that gated it out left dependents as they were)."""
    from featrix_iac.resources.gates import failures

    return Reason(
        code=R.GATED_OUT,
        text=f"its last training was gated out ({failures(gate)}): trained again; dependents move only if it passes "
        f"(relax the gate, change the model, or waive it once with `featrix apply --skip-gate {address}`)",
    )


def resume_replacement(old: list[str]) -> Reason:
    return Reason(
        code=R.FINISH_REPLACEMENT,
        text=f"it replaces an older object that an interrupted apply did not delete yet ({', '.join(old)}): "
        "deleted once dependents follow",
    )


def resume(ids: dict[str, str]) -> Reason:
    if ids:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(ids.items()))
        text = f"resume: an earlier apply created it ({shown}) but did not finish; apply re-attaches to it"
    else:
        text = (
            "resume: an earlier apply recorded the intent to create it but not the result; "
            "apply first looks for it on the server by its identity (adopts it when found)"
        )
    return Reason(code=R.RESUMED, text=text)


def import_command(address: str, object_id: str, environment: str) -> str:
    """The exact `featrix import` command that records `object_id` as `address`."""
    env = f" -e {environment}" if environment and environment != "default" else ""
    return f"featrix import{env} {address} {object_id}"


def cannot_determine_detail(
    address: str, why: str, candidates: list[str], environment: str, first: list[tuple[str, str]] | None = None
) -> str:
    """What to do when the server may hold an object created for `address` but it cannot be told which;
    `first`: (address, id) of what it refers to that the lockfile lacks (imported before it)."""
    if candidates:
        commands = "\n".join(f"  {import_command(address, c, environment)}" for c in candidates)
        todo = f"If one of them is the one an earlier apply created, import it, e.g.:\n{commands}"
        if first:
            before = "\n".join(f"  {import_command(a, i, environment)}" for a, i in first)
            todo = f"First import what it refers to (found on the server too):\n{before}\n{todo}"
    else:
        todo = "Run it again once the server has settled, or import the object by hand (featrix import ADDRESS ID)"
    return (
        f"{why}.\n{todo}\nNothing was changed: featrix never creates an object it may already have created "
        f"(to create a new one regardless, remove the stray objects first)."
    )


def field_reasons(diff: FieldDiff, applied: dict[str, Any]) -> list[Reason]:
    """One reason per cause: manifest edits (split by replace / in place) and drift to converge."""
    out: list[Reason] = []
    forcing = {c.field for c in diff.changes if c.forces_replacement}
    manifest = diff.manifest_fields
    replace = [f for f in manifest if f in forcing]
    in_place = [f for f in manifest if f not in forcing]
    if replace:
        out.append(changed(f"{_names(replace)} changed in the manifest; {_cannot(replace)} forces replacement"))
    plain = [f for f in in_place if f not in FIELD_WORDS]
    if plain:
        out.append(changed(f"{_names(plain)} changed in the manifest"))
    for name in in_place:
        words = FIELD_WORDS.get(name)
        if name == "api_key.revoked" and not _desired_true(diff, name):
            words = "re-enable the API key (a new key is generated)"
        if words:
            out.append(changed(f"{name} changed in the manifest: {words}"))
    if diff.drift_fields:
        drifted = diff.drift_fields
        forced = [f for f in drifted if f in forcing]
        tail = f"; {_cannot(forced)} forces replacement" if forced else ""
        back = "it" if len(drifted) == 1 else "them"
        text = f"{_names(drifted)} changed outside featrix: apply sets {back} back to the manifest{tail}"
        out.append(Reason(code=R.DRIFT, text=text))
    return out


def changed(text: str) -> Reason:
    return Reason(code=R.FIELD_CHANGED, text=text)


def data_changed(note: str) -> Reason:
    return Reason(code=R.DATA_CHANGED, text=f"what changed in the data: {note}")


def drift_accepted(fields: list[str]) -> Reason:
    return Reason(
        code=R.DRIFT_ACCEPTED,
        text=f"{_names(fields)} changed outside featrix to what the manifest now says: "
        "apply records it in the lockfile (no call to the server)",
    )


def _desired_true(diff: FieldDiff, name: str) -> bool:
    return any(c.field == name and c.new is True for c in diff.changes)


def _names(fields: list[str]) -> str:
    return ", ".join(fields)


def _cannot(fields: list[str]) -> str:
    return "changing it" if len(fields) == 1 else "changing them"


def _notes(kind: str) -> KindNotes:
    """The kind's plan notes (resources/spec.py: KindNotes)."""
    from featrix_iac.resources.registry import SPECS
    from featrix_iac.resources.spec import KindNotes

    spec = SPECS.get(kind)
    return spec.notes if spec is not None else KindNotes()


def replace_warnings(action: ActionBase) -> list[str]:
    when = (
        "once the new one is ready (create_before_destroy)"
        if action.create_before_destroy
        else "first, then the new one is trained"
    )
    text = _notes(action.kind).replaced
    return [text.format(address=action.address, when=when, retired=RETIRED_NOTE)] if text else []


def adopt_warnings(action: ActionBase) -> list[str]:
    notes = _notes(action.kind)
    if notes.adopted and not any(action.desired.get(f) for f in notes.adopted_unless):
        return [notes.adopted.format(address=action.address)]  # e.g. a key that was in the lost answer
    return []


def update_warnings(action: ActionBase) -> list[str]:
    """In-place changes that still break callers: every one that makes the server issue a new API key."""
    new_key = any(
        c.field == "api_key.rotation" or (c.field == "api_key.revoked" and c.new is False) for c in action.changes
    )
    if not new_key:
        return []
    return [
        f"{action.address}: the server issues a new API key and the old one stops working; callers holding "
        f"the old key will fail until they get the new one (featrix output {action.address}.api_key)"
    ]


def recreate_warnings(action: ActionBase) -> list[str]:
    text = _notes(action.kind).recreated
    return [text.format(address=action.address)] if text else []


def cascade(target: str, target_action: ActionBase, kind: str) -> Reason:
    what = "is replaced" if target_action.action.value == "replace" else "is created again"
    return Reason(code=R.DEPENDENCY_REPLACED, text=f"follows {target}: it {what}{_consequence(kind)}", follows=target)


def stale_reference(target: str, kind: str) -> Reason:
    """A dependent still on the object its target had before an interrupted replacement."""
    return Reason(
        code=R.DEPENDENCY_STALE,
        text=f"follows {target}: an earlier apply replaced it but stopped before this followed{_consequence(kind)}",
        follows=target,
    )


def _consequence(kind: str) -> str:
    return _notes(kind).follows


def removal(destroy: bool, gone: bool, retire: bool, status: str, has_ids: bool = True) -> Reason:
    cause = "featrix destroy" if destroy else "removed from the manifest"
    text = cause
    if gone:
        text = f"{cause}; already gone from the server: only the lockfile entry is removed"
    elif status == "creating" and not retire and not has_ids:
        text = f"{cause}; an earlier apply started creating it: only its lockfile entry is removed"
    elif retire:
        text = f"{cause}; the API cannot delete predictors: it is retired ({RETIRED_NOTE})"
    return Reason(code=R.DESTROY if destroy else R.REMOVED, text=text)


def retiring(recorded: dict[str, Any]) -> Reason:
    """Why a resource removed under lifecycle.retire is deprecated instead of deleted."""
    return Reason(
        code=R.RETIRING,
        text=f"removed from the manifest under lifecycle.retire: it retires now (a published foundational model is "
        f"deprecated) and a later apply deletes it, once {recorded.get('deprecate_for')} have passed and it has "
        "gone unused that long",
    )


def retirement_due(standing: str) -> Reason:
    return Reason(code=R.RETIREMENT_DUE, text=f"removed from the manifest under lifecycle.retire; {standing}")


def retirement_cancelled(address: str, retiring: dict[str, Any]) -> Reason:
    return Reason(
        code=R.RETIRE_POLICY,
        text=f"declared again while retiring (since {retiring.get('deprecated_at')}): the retirement ends and it "
        "stays; a deprecation the server holds stays too (the API cannot clear one)",
    )


def shadow_gate(gates: dict[str, Any]) -> Reason:
    return Reason(
        code=R.GATE,
        text=f"gate before promote: the new predictor shadows the old one until the verdict is "
        f"{gates.get('require_verdict')} on at least {gates.get('min_paired')} paired predictions (max_wait "
        f"{gates.get('max_wait')}); otherwise the endpoint keeps its predictor and apply exits 1",
    )


def replaced_in_use(address: str, users: list[str]) -> str:
    return (
        f"{address}: the old object of its last replacement stays, because {', '.join(users)} still use it "
        "(e.g. rolled back onto it); it is deleted once they move"
    )


def move_refused(address: str, target: str, refused: str) -> str:
    return (
        f"{address} stays where it is although {target} was trained again: {refused}; it moves to the next "
        f"training of {target} (change the model or its data)"
    )


def kept_for_rollback(users: list[str]) -> Reason:
    return Reason(
        code=R.KEPT_FOR_ROLLBACK,
        text=f"the old object is kept until the next apply, so that the smoke checks of {', '.join(users)} "
        "(on_failure: rollback) can go back to it",
    )


def retire_policy(new: Any) -> Reason:
    what = f"deprecate_for {new.get('deprecate_for')}" if isinstance(new, dict) else "none"
    return Reason(
        code=R.RETIRE_POLICY,
        text=f"lifecycle.retire changed ({what}): only the lockfile records it, so that it outlives the manifest block",
    )


def renamed(old: str, new: str) -> str:
    return (
        f"{new} looks like {old} renamed: to keep the object instead of replacing it, run "
        f"`featrix state mv {old} {new}` before applying (and keep its server name with `name:` if it was the key)"
    )


def protection_lifted(address: str) -> str:
    return f"{address}: the manifest turns deletion protection off; apply lifts it on the server before deleting"


def removed_orphan(address: str, found: dict[str, str] | None, looked: bool) -> list[str]:
    """What a removed, never-recorded create left behind (refresh looked it up by its identity)."""
    if found:
        ids = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
        return [f"{address}: an earlier apply did create it ({ids}), found by its identity: it goes too"]
    if looked:
        return []
    return [f"{address}: cannot tell whether an earlier apply created it; check the server for an object it left"]


def uncleared(address: str, item: Uncleared) -> tuple[str, str]:
    """(summary, detail) of the refusal to clear a set-only field (the server keeps it whatever apply does)."""
    name, rule = item.change.field, item.rule.set_only
    assert rule is not None
    old = item.change.old if isinstance(item.change.old, str) else json.dumps(item.change.old, sort_keys=True)
    if item.outside:
        summary = f"{address}: {name} was set outside featrix, and the Featrix API cannot clear it"
        first = f"The server reports {name} = {old}, which the manifest does not set"
    else:
        summary = f"cannot remove {name} from {address}: the Featrix API cannot clear it"
        first = f"The manifest no longer sets {name}, but the server keeps {old}"
    detail = (
        f"{first}: {rule.why}.\n"
        "Apply could not change it, so the plan stops here instead of reporting an update.\n"
        f"To proceed: {rule.way_out}."
    )
    return summary, detail


def texts(action: ActionBase, sep: str = "; ") -> str:
    """An action's reasons as one line of text."""
    return sep.join(r.text for r in action.reasons)


def prevent_destroy_detail(action: ActionBase) -> str:
    return (
        f"The plan would {action.action.value} it ({texts(action)}).\n"
        "Remove lifecycle.prevent_destroy first if you really mean it."
    )


def protected_detail(action: ActionBase, declared: bool) -> str:
    what = f"The plan would {action.action.value} it ({texts(action)})."
    if action.action.value == "replace" and declared:
        # e.g. a data refresh retrains a protected predictor: the old one must lose its protection first
        return (
            f"{what}\nDeletion protection keeps the old one, so the replacement is refused. To go ahead:\n"
            f"  1. set deletion_protection: false on {action.address} in the manifest (keep your other changes);\n"
            "  2. featrix apply: the protection is lifted first, then the replacement runs;\n"
            f"  3. set deletion_protection: true again and featrix apply, so the new {action.kind.replace('_', ' ')} "
            "is protected."
        )
    step = (
        "set deletion_protection: false in the manifest (apply then lifts the protection before deleting)"
        if declared
        else "restore its block with deletion_protection: false and apply, then remove it"
    )
    return f"{what}\nTo proceed: {step}."


def data_change_class(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    """How a data file changed: "schema" (columns or types), "rows" (only the row count), or "content"."""
    old_cols, new_cols = (old or {}).get("columns"), (new or {}).get("columns")
    if old_cols is None or new_cols is None:
        return "content" if old_cols == new_cols else "schema"
    if old_cols != new_cols:
        return "schema"
    return "rows" if (old or {}).get("rows") != (new or {}).get("rows") else "content"


def data_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    """What changed between two data summaries, e.g. "data/p.csv: 344 → 350 rows; + column year2 (schema)"."""
    if not old or not new or old == new:
        return ""
    parts: list[str] = []
    if old.get("rows") != new.get("rows"):
        parts.append(f"{_count(old.get('rows'))} → {_count(new.get('rows'))} rows")
    old_cols: dict[str, str] = old.get("columns") or {}
    new_cols: dict[str, str] = new.get("columns") or {}
    parts += [f"+ column {c}" for c in new_cols if c not in old_cols]
    parts += [f"- column {c}" for c in old_cols if c not in new_cols]
    parts += [f"{c} {old_cols[c]} → {t}" for c, t in new_cols.items() if c in old_cols and old_cols[c] != t]
    kind = data_change_class(old, new)
    if not parts:
        parts.append("same rows and columns, other values")
    name = new.get("file") or old.get("file") or "data"
    return f"{name}: {'; '.join(parts)} ({'schema change' if kind == 'schema' else kind + ' only'})"


def data_kept(address: str, note: str, policy: str) -> str:
    because = f"lifecycle.retrain_on: {policy}" if policy else "lifecycle.ignore_changes"
    return f"{address}: the data changed ({note}), but {because} keeps the trained model"


def _count(rows: Any) -> str:
    return "?" if rows is None else str(rows)
