"""Each action's ordered steps (the calls apply makes) and its create-before-destroy choice, decided at plan time.

The planner calls `create_before_destroy` and `steps_for`; a plan built by other means (tests, benchmarks)
gets the same decisions from `decided`. The applier turns the steps into nodes and runs their calls; it
never asks a handler which calls to make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from featrix_iac.plan.model import (
    BEGIN_RETIREMENT,
    CLONE,
    CREATE,
    FORGET,
    GATE,
    RECORD,
    RETIRE,
    TRAIN,
    ActionBase,
    ActionType,
    Phase,
    Plan,
    ReasonCode,
    Step,
)
from featrix_iac.state import LockEntry, Lockfile

if TYPE_CHECKING:
    from featrix_iac.resources.base import Handler

A = ActionType
CREATE_SIDE = frozenset({A.CREATE, A.UPDATE, A.ADOPT, A.REPLACE, A.PROMOTE})
DESTROY_SIDE = frozenset({A.DELETE, A.RETIRE, A.REPLACE})
NOT_IDS = ("reason", "pending_delete")  # keys of a replaced-object record that are not ids


def object_key(ids: Mapping[str, str]) -> str:
    """The object a destroy step is made on, named by its ids (`session_id=s-1`)."""
    return ",".join(f"{k}={v}" for k, v in sorted(ids.items()) if k not in NOT_IDS)


def _record_ids(record: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in record.items() if k not in NOT_IDS}


def always_first() -> set[str]:
    """The kinds whose replacement always creates first (their spec says so: a predictor is only retired)."""
    from featrix_iac.resources.registry import SPECS

    return {kind for kind, spec in SPECS.items() if spec.always_create_first}


def create_before_destroy(
    actions: Sequence[ActionBase],
    recorded: Mapping[str, Iterable[str]],
    first: set[str],
    dependents: Callable[[str], set[str]] | None = None,
) -> set[str]:
    """The replaced addresses whose new object is made before the old one goes.

    A kind in `first` (always_first(): predictors, which are only retired) is always created first. A
    replacement whose replaced dependents are created first must be created first too (Terraform's rule).
    Dependents are the actions that depend on it now or did when the lockfile recorded them (`recorded`),
    plus `dependents(address)` (the planner's manifest graph).
    """
    replaced = [a for a in actions if a.action is A.REPLACE]
    if not replaced:
        return set()
    by_address: dict[str, ActionBase] = {a.address: a for a in actions}
    chosen: set[str] = {a.address for a in replaced if a.create_before_destroy or a.kind in first}
    below: dict[str, set[str]] = {a.address: set() for a in actions}
    for a in actions:
        for dep in {*a.depends_on, *recorded.get(a.address, ())}:
            if dep in below and dep != a.address:
                below[dep].add(a.address)
    changed = True
    while changed:
        changed = False
        for action in replaced:
            if action.address in chosen:
                continue
            near = below[action.address] | (dependents(action.address) if dependents else set())
            if any(d in chosen and by_address[d].action is A.REPLACE for d in near if d in by_address):
                chosen.add(action.address)
                changed = True
    return chosen


def steps_for(action: ActionBase, handler: Handler, entry: LockEntry | None) -> list[Step]:
    """The ordered steps of `action`, given its handler and its lockfile entry (None: none recorded)."""
    out: list[Step] = []
    if action.action in CREATE_SIDE:
        out += [Step(call=c) for c in _main(action, handler, entry)]
    if (action.action in DESTROY_SIDE or action.delete_replaced) and not kept_for_rollback(action, handler):
        out += [Step(call=c, phase=Phase.DESTROY, target=t) for c, t in _destroy(action, handler, entry)]
    return out


def kept_for_rollback(action: ActionBase, h: Handler) -> bool:
    """A replacement whose old object stays (recorded to delete) until the next apply, so that a smoke check
    with on_failure: rollback can go back to what depended on it (plan/planner.py decides it)."""
    kept = any(r.code is ReasonCode.KEPT_FOR_ROLLBACK for r in action.reasons)
    return kept and action.action is A.REPLACE and action.create_before_destroy and h.deletable


def _main(action: ActionBase, h: Handler, entry: LockEntry | None) -> list[str]:
    desired = dict(action.desired)
    if action.action is A.UPDATE:
        fields = [c.field for c in action.changes]
        return [*h.update_steps(fields, desired, dict(entry.applied) if entry else {}), RECORD]
    if action.action is A.PROMOTE and (action.promotion or {}).get("clone"):  # a copy of it: this one's own
        return [CLONE, *h.followups(desired), RECORD]
    if action.action is A.PROMOTE:  # the other environment's object, proven equal: nothing to call
        return [RECORD]
    calls = [CREATE] if action.action is not A.ADOPT else []
    calls += [TRAIN] if h.trains else []
    calls += [GATE] if action.gates else []
    if action.action is A.ADOPT:  # found by its identity: nothing of it was recorded (its key was never seen)
        resumed: LockEntry | None = LockEntry(kind=action.kind, status="creating", ids=dict(action.prior_ids))
    else:  # a create an earlier apply started and recorded: what it did already is not done again
        resumed = entry if entry is not None and entry.status == "creating" and entry.ids else None
    calls += _remaining(h, desired, resumed)
    adopt_steps: Callable[[LockEntry], list[str]] | None = getattr(h, "adopt_steps", None)
    if resumed is not None and adopt_steps is not None:
        calls += [s for s in adopt_steps(resumed) if s not in calls]
    return [*calls, RECORD]


def _remaining(h: Handler, desired: dict[str, Any], entry: LockEntry | None) -> list[str]:
    """The follow-up steps (fields the create route cannot set) not yet recorded as done."""
    done = {**entry.applied, **entry.hashes} if entry is not None else {}
    return [
        step
        for step in h.followups(desired)
        if not (done and all(done.get(k) == v for k, v in h.step_applied(step, desired).items()))
    ]


def _destroy(action: ActionBase, h: Handler, old: LockEntry | None) -> list[tuple[str, str]]:
    """(call, object) of the destroy half: the old object's delete calls, those of the replaced objects the
    entry still records, then what the lockfile does with the entry."""
    removing = action.action in (A.DELETE, A.RETIRE)
    if old is not None and old.borrowed:  # another environment's object: forget it, never delete it
        return [(FORGET, "")]
    if old is not None and begins_retirement(action, h):  # lifecycle.retire: deprecate it, keep it recorded
        return [*((call, object_key(old.ids)) for call in h.retire_steps(old)), (BEGIN_RETIREMENT, "")]
    if not removing and ((action.action is A.REPLACE and action.create_before_destroy) or action.delete_replaced):
        if not h.deletable:  # the old one stays on the server, retired (its protection lifted)
            live = old is not None and bool(old.ids) and old.status != "creating"
            return [*(_deletes(h, old) if live and old is not None else []), (RETIRE, "")]
        return [*_pending(action, h, old, own=True), (FORGET, "")]
    ids = dict(old.ids) if old is not None and old.ids else dict(action.prior_ids) if removing else {}
    out: list[tuple[str, str]] = []
    if old is not None and ids:
        out += _deletes(h, old.model_copy(update={"ids": ids}))
    if action.delete_replaced:
        out += _pending(action, h, old, own=False)
    if action.action is A.RETIRE and old is not None:
        for record in old.retired:  # older objects of an unfinished replacement: their protection lifted too
            rids = _record_ids(record)
            if rids and rids != old.ids:
                out += _deletes(h, LockEntry(kind=old.kind, status="retired", ids=rids, protected=True))
        if ids:
            return [*out, (RETIRE, "")]
    return [*out, (FORGET, "")]


def begins_retirement(action: ActionBase, h: Handler) -> bool:
    """A retire of a kind the API can delete: lifecycle.retire begins (a predictor's retire only forgets it)."""
    return action.action is A.RETIRE and h.deletable


def _deletes(h: Handler, entry: LockEntry) -> list[tuple[str, str]]:
    return [(call, object_key(entry.ids)) for call in h.delete_steps(entry)]


def _pending(action: ActionBase, h: Handler, old: LockEntry | None, *, own: bool) -> list[tuple[str, str]]:
    """The delete calls of every replaced object left to delete: those the entry records, and (`own`) the one
    this replacement or promotion replaces."""
    records = [r for r in (old.retired if old is not None else []) if r.get("pending_delete")]
    replacing = action.action is A.PROMOTE or (old is not None and old.status != "creating")
    if own and h.deletable and old is not None and old.ids and not old.borrowed and replacing:
        records.append(dict(old.ids))
    out: list[tuple[str, str]] = []
    for record in records:
        out += _deletes(h, LockEntry(kind=action.kind, status="deleting", ids=_record_ids(record), protected=True))
    return out


def decided(plan: Plan, lockfile: Lockfile, handlers: Mapping[str, Handler] | None = None) -> Plan:
    """`plan` with the planner's decisions made: create-before-destroy and every action's steps (for plans
    built by hand, e.g. in tests; the planner makes them itself)."""
    if handlers is None:
        from featrix_iac.resources.registry import HANDLERS

        handlers = HANDLERS
    recorded = {a: list(e.depends_on) for a, e in lockfile.resources.items()}
    cbd = create_before_destroy(plan.actions, recorded, always_first())
    actions = []
    for action in plan.actions:
        draft = action.thaw()
        draft.create_before_destroy = draft.create_before_destroy or draft.address in cbd
        draft.steps = steps_for(draft, handlers[draft.kind], lockfile.resources.get(draft.address))
        actions.append(draft.freeze())
    return plan.model_copy(update={"actions": tuple(actions)})
