"""The pure planner: desired + lockfile + live → Plan (actions with reasons, field changes, drift, guards)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from featrix_iac import __version__, clock
from featrix_iac.addresses import Address
from featrix_iac.diagnostics import Diagnostics, DiagnosticsError, Source, fail
from featrix_iac.graph import ResourceGraph, reference_fields
from featrix_iac.plan import reasons as why
from featrix_iac.plan.differ import (
    MISSING,
    FieldDiff,
    RuleIndex,
    Uncleared,
    creation_changes,
    diff_fields,
    is_ignored,
    rule_for,
    rule_index,
    same,
)
from featrix_iac.plan.estimate import totals as training_totals
from featrix_iac.plan.model import CASCADES, ActionDraft, ActionType, Drift, FieldChange, Plan, Reason, ReasonCode
from featrix_iac.resources import retirement
from featrix_iac.resources.base import Change, FieldRule, Handler, LiveObject
from featrix_iac.resources.desired import DesiredState
from featrix_iac.state import LockEntry, Lockfile

Live = Mapping[str, "LiveObject | None"]  # address -> live object; None = confirmed gone; absent = not read
SourceOf = Callable[[str, tuple[str, ...]], "Source | None"]  # (address, field path) -> manifest position
KNOWN_AFTER_APPLY = "(known after apply)"
DATA_SUMMARY = "data_summary"  # rows and columns of a data file, recorded next to its fingerprint
RENEWING = (ActionType.REPLACE, ActionType.CREATE)
A = ActionType
SHADOW_GATE = "shadow_gate"  # the handler step that checks a shadow's verdict against the endpoint's gates


@dataclass
class _State:
    """Working data of one planning run."""

    desired: DesiredState
    lockfile: Lockfile
    live: Live
    graph: ResourceGraph
    rules: Mapping[str, Sequence[FieldRule]]
    found: Mapping[str, dict[str, str] | None]
    actions: dict[str, ActionDraft] = field(default_factory=dict)
    drift: dict[str, Drift] = field(default_factory=dict)
    renewed: set[str] = field(default_factory=set)  # addresses whose server ids change (dependents follow)
    uncleared: dict[str, list[Uncleared]] = field(default_factory=dict)  # set-only fields the plan would clear
    indexed: dict[str, RuleIndex] = field(default_factory=dict)
    now: datetime | None = None  # the time retirements are judged at (clock.now(): FEATRIX_NOW in tests)

    def kind_rules(self, kind: str) -> RuleIndex:
        """A kind's rules by field name (indexed once per plan)."""
        index = self.indexed.get(kind)
        if index is None:
            index = self.indexed[kind] = rule_index(self.rules.get(kind, ()))
        return index

    def managed(self) -> dict[str, LockEntry]:
        return {a: e for a, e in self.lockfile.resources.items() if e.status != "retired"}


def default_rules() -> dict[str, tuple[FieldRule, ...]]:
    """Every kind's declared field rules, from the resource handlers."""
    from featrix_iac.resources.registry import HANDLERS

    return {kind: tuple(h.rules) for kind, h in HANDLERS.items()}


def default_handlers() -> Mapping[str, Handler]:
    from featrix_iac.resources.registry import HANDLERS

    return HANDLERS


def deletable_kinds() -> set[str]:
    from featrix_iac.resources.registry import HANDLERS

    return {kind for kind, h in HANDLERS.items() if h.deletable}


def make_plan(
    desired: DesiredState,
    lockfile: Lockfile,
    live: Live,
    graph: ResourceGraph,
    *,
    destroy: bool = False,
    refresh_only: bool = False,
    allow_empty: bool = False,
    targets: Iterable[str] = (),
    project: str = "",
    environment: str | None = None,
    server_url: str = "",
    rules: Mapping[str, Sequence[FieldRule]] | None = None,
    deletable: set[str] | None = None,
    found: Mapping[str, dict[str, str] | None] | None = None,
    source_of: SourceOf | None = None,
    trains: set[str] | None = None,
    handlers: Mapping[str, Handler] | None = None,
    now: datetime | None = None,
) -> Plan:
    """The plan that takes the server from `live` (recorded in `lockfile`) to `desired`. Pure: no I/O.

    Raises DiagnosticsError for what must be refused at plan time: deleting or replacing a protected
    resource (deletion protection recorded in the lockfile, or lifecycle.prevent_destroy), an empty
    manifest against a non-empty lockfile (unless allow_empty), an unknown --target. `now` (default: the
    clock) is the time retirements (lifecycle.retire) are judged at.
    """
    st = _State(desired, lockfile, live, graph, rules or default_rules(), found or {}, now=now or clock.now())
    wanted = {} if destroy else dict(desired)
    _guard_empty(st, wanted, allow_empty or destroy)
    _check_targets(st, list(targets))
    for address in graph.order:
        if address in wanted:
            _plan_declared(st, address)
    _cascade(st, wanted)
    _finish_replacements(st)
    deletable = deletable if deletable is not None else deletable_kinds()
    handlers = handlers if handlers is not None else default_handlers()
    _plan_removals(st, wanted, deletable, destroy, {k: h.reports_use for k, h in handlers.items()})
    _hold_retirements(st)
    _set_dependencies(st)
    _suggest_moves(st)
    actions = _select(st, list(targets))
    _create_before_destroy(st, actions)
    _keep_for_rollback(st, actions, deletable)
    diags = Diagnostics()
    if not refresh_only:
        _guard_uncleared(st, actions, source_of, diags)
    _guard_destroy(st, actions, source_of, diags)
    _estimate(st, actions, trains)
    _gates(st, actions)
    _steps(st, actions, handlers)
    return Plan(
        tool_version=__version__,
        project=project or lockfile.project,
        environment=environment or lockfile.environment,
        server_url=server_url,
        lineage=lockfile.lineage,
        serial=lockfile.serial,
        actions=() if refresh_only else tuple(a.freeze() for a in sorted(actions, key=_order_key(graph))),
        drift=tuple(sorted(st.drift.values(), key=lambda d: d.address)),
        warnings=tuple(sorted({w for a in actions for w in a.warnings})),
        refresh_only=refresh_only,
        estimate=None if refresh_only else training_totals(actions),
    )


def _estimate(st: _State, actions: list[ActionDraft], trains: set[str] | None) -> None:
    from featrix_iac.plan.estimate import estimate

    desired = {address: d.fields for address, d in st.desired.items()}
    estimate(actions, desired, st.lockfile, trains if trains is not None else training_kinds())


def training_kinds() -> set[str]:
    from featrix_iac.resources.registry import HANDLERS

    return {kind for kind, h in HANDLERS.items() if h.trains}


def _order_key(graph: ResourceGraph) -> Callable[[ActionDraft], tuple[int, str]]:
    """Dependencies first (the manifest graph's order), then what is removed, by address."""
    position = {address: i for i, address in enumerate(graph.order)}
    return lambda a: (position.get(a.address, len(position)), a.address)


# -- guards ------------------------------------------------------------------------------------------


def _guard_empty(st: _State, wanted: DesiredState, allowed: bool) -> None:
    managed = st.managed()
    if wanted or not managed or allowed:
        return
    raise fail(
        f"the manifests declare no resources, but the lockfile records {len(managed)}",
        "Planning this would delete (or retire) everything the lockfile records: "
        + ", ".join(sorted(managed))
        + ".\nIf that is what you want, run again with --allow-empty (or use `featrix destroy`).",
    )


def _check_targets(st: _State, targets: list[str]) -> None:
    known = set(st.desired) | set(st.lockfile.resources)
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise fail(
            f"--target {unknown[0]} names no resource",
            "it is neither declared in the manifests nor recorded in the lockfile",
            address=unknown[0],
        )


def _guard_uncleared(st: _State, actions: list[ActionDraft], source_of: SourceOf | None, diags: Diagnostics) -> None:
    """A set-only field (FieldRule.set_only) that the server has and the manifest drops: no call can clear
    it, so the plan refuses with the field's position instead of pretending to update it."""
    for action in sorted(actions, key=lambda a: a.address):
        if action.action is A.REPLACE:
            continue  # the new object starts without it
        for item in st.uncleared.get(action.address, ()):
            path = item.rule.set_only.path if item.rule.set_only and item.rule.set_only.path else (item.rule.name,)
            src = source_of(action.address, path) if source_of else None
            summary, detail = why.uncleared(action.address, item)
            diags.error(summary, detail, action.address, src)


def _guard_destroy(st: _State, actions: list[ActionDraft], source_of: SourceOf | None, diags: Diagnostics) -> None:
    """prevent_destroy and recorded deletion protection refuse every delete, retire and replace."""
    for action in sorted(actions, key=lambda a: a.address):
        address = action.address
        entry = st.lockfile.resources.get(address)
        destroys = action.action in (A.DELETE, A.RETIRE) or (action.action is A.REPLACE and _had_ids(entry))
        if not destroys:
            continue
        verb = {A.DELETE: "delete", A.RETIRE: "retire", A.REPLACE: "replace"}[action.action]
        declared = st.desired.get(address)
        resource = declared.resource if declared is not None else None
        lifecycle = getattr(resource, "lifecycle", None)
        if lifecycle is not None and lifecycle.prevent_destroy:
            src = source_of(address, ("lifecycle", "prevent_destroy")) if source_of else None
            diags.error(
                f"cannot {verb} {address}: lifecycle.prevent_destroy is set",
                why.prevent_destroy_detail(action),
                address,
                src,
            )
        elif entry is not None and entry.protected and _lifted(st, address):
            action.warnings.append(why.protection_lifted(address))
        elif entry is not None and entry.protected:
            src = source_of(address, ("deletion_protection",)) if source_of and resource is not None else None
            diags.error(
                f"cannot {verb} {address}: the lockfile records deletion protection for it",
                why.protected_detail(action, declared=resource is not None),
                address,
                src,
            )
    if diags.has_errors:
        raise DiagnosticsError(diags)


def _lifted(st: _State, address: str) -> bool:
    """The manifest still declares it and now says deletion_protection: false: the user lifts the protection."""
    declared = st.desired.get(address)
    return declared is not None and declared.fields.get("deletion_protection") is False


def _had_ids(entry: LockEntry | None) -> bool:
    return entry is not None and bool(entry.ids) and entry.status not in ("creating", "retired")


# -- declared resources --------------------------------------------------------------------------------


def _plan_declared(st: _State, address: Address) -> None:
    declared = st.desired[address]
    resource, wanted = declared.resource, declared.fields
    kind = address.kind
    rules = st.kind_rules(kind)
    lifecycle = getattr(resource, "lifecycle", None)
    entry = st.lockfile.resources.get(address)
    prior = {**entry.applied, **entry.hashes} if entry is not None else {}
    ignore = _ignores(lifecycle, wanted, prior)
    if entry is not None and entry.borrowed and ignore != "all":  # another environment's object keeps its names
        from featrix_iac.plan.promote import ENVIRONMENT_FIELDS

        ignore = [*ignore, *sorted(ENVIRONMENT_FIELDS)]
    action = ActionDraft.of(
        address=address,
        kind=kind,
        action=A.NOOP,
        desired=_with_ignored(wanted, prior, ignore),
        prior_ids=dict(entry.ids) if entry is not None else {},
        create_before_destroy=bool(lifecycle and lifecycle.create_before_destroy),
    )
    st.actions[address] = action
    if entry is None or entry.status == "retired":
        _new(st, action, rules, wanted)
    elif entry.status == "creating":
        _resume(st, action, entry, rules, wanted)
    else:
        _existing(st, action, entry, rules, wanted, prior, ignore)


def _ignores(lifecycle: Any, wanted: dict[str, Any], prior: dict[str, Any]) -> Sequence[str] | str:
    """lifecycle.ignore_changes, plus the data fields that lifecycle.retrain_on keeps at what was trained on."""
    ignore = lifecycle.ignore_changes if lifecycle is not None else []
    policy = getattr(lifecycle, "retrain_on", "content")
    if ignore == "all" or policy == "content" or "data" not in prior:
        return ignore
    if policy == "schema" and why.data_change_class(prior.get(DATA_SUMMARY), wanted.get(DATA_SUMMARY)) == "schema":
        return ignore
    return [*ignore, "data", DATA_SUMMARY]


def _lifecycle_of(st: _State, address: str) -> Any:
    declared = st.desired.get(address)
    return getattr(declared.resource, "lifecycle", None) if declared is not None else None


def _with_ignored(wanted: dict[str, Any], prior: dict[str, Any], ignore: Sequence[str] | str) -> dict[str, Any]:
    """The desired dict the applier records, with ignored fields kept at their applied values."""
    if not prior or not ignore:
        return dict(wanted)
    return {k: (prior[k] if k in prior and is_ignored(k, ignore) else v) for k, v in wanted.items()}


def _new(st: _State, action: ActionDraft, rules: Mapping[str, FieldRule], wanted: dict[str, Any]) -> None:
    found = st.found.get(action.address)
    action.changes = creation_changes(rules, wanted)
    if found:
        _adopt(action, found)
        return
    action.action = A.CREATE
    action.reasons = [why.NEW]


def _adopt(action: ActionDraft, found: dict[str, str]) -> None:
    action.action, action.prior_ids = A.ADOPT, dict(found)
    action.reasons = [why.ADOPT_FOUND]
    action.warnings = why.adopt_warnings(action) + action.warnings


def _resume(
    st: _State, action: ActionDraft, entry: LockEntry, rules: Mapping[str, FieldRule], wanted: dict[str, Any]
) -> None:
    found = st.found.get(action.address)
    action.changes = creation_changes(rules, wanted)
    if found and not entry.ids:
        _adopt(action, found)
    else:
        action.action = A.CREATE
        action.reasons = [why.resume(entry.ids)]
        if action.address in st.found and found is None and not entry.ids:
            action.reasons = [why.RESUME_NOT_FOUND]
    pending = _pending_deletes(entry)
    if not pending:
        return
    # an interrupted replacement, whether its new object is resumed or found by its tag: finish it
    # (dependents follow the new object, then the old one is deleted)
    if action.action is A.ADOPT:
        action.delete_replaced = True
    else:
        action.action, action.create_before_destroy = A.REPLACE, True
    action.reasons.append(why.resume_replacement([str(c.old) for c in _replaced_changes(action.address, pending)]))
    st.renewed.add(action.address)


def _pending_deletes(entry: LockEntry) -> list[dict[str, str]]:
    """The replaced objects an entry still has to delete (recorded before the replacement began)."""
    return [r for r in entry.retired if r.get("pending_delete")]


def _replaced_changes(address: str, pending: list[dict[str, str]]) -> list[FieldChange]:
    """`replaced object: "sess-old" → (deleted)` for each recorded object still to delete."""
    id_field = ref_kind_id(Address.parse(address))
    return [
        FieldChange(
            field="replaced object",
            old=record.get(id_field)
            or ", ".join(f"{k} {v}" for k, v in sorted(record.items()) if k not in ("pending_delete", "reason")),
            new="(deleted)",
        )
        for record in pending
    ]


def _existing(
    st: _State,
    action: ActionDraft,
    entry: LockEntry,
    rules: Mapping[str, FieldRule],
    wanted: dict[str, Any],
    prior: dict[str, Any],
    ignore: Sequence[str] | str,
) -> None:
    address = action.address
    live = st.live.get(address, MISSING)
    if live is None:  # confirmed gone
        st.drift[address] = Drift(address=address, deleted=True)
        action.action, action.reasons = A.CREATE, [why.GONE]
        action.changes = creation_changes(rules, wanted)
        action.warnings = why.recreate_warnings(action)
        st.renewed.add(address)
        return
    fields = live.fields if isinstance(live, LiveObject) else None
    diff = diff_fields(rules, wanted, prior, fields, ignore)
    data_note = why.data_change(prior.get(DATA_SUMMARY), wanted.get(DATA_SUMMARY))
    if data_note and "data" not in diff.manifest_fields and not same(wanted.get("data"), prior.get("data")):
        policy = getattr(_lifecycle_of(st, address), "retrain_on", "content")
        action.warnings.append(why.data_kept(address, data_note, "" if policy == "content" else policy))
    if diff.uncleared:
        st.uncleared[address] = diff.uncleared
    if diff.drift:
        st.drift[address] = Drift(address=address, changes=diff.drift)
    forced = _forced_replacement(entry, live)
    if forced is not None or diff.replace:
        _replace(st, action, diff, forced)
        if data_note and "data" in diff.manifest_fields:
            action.reasons.append(why.data_changed(data_note))
    elif diff.changes:
        action.action, action.changes = A.UPDATE, diff.changes
        action.reasons = why.field_reasons(diff, entry.applied)
        action.warnings += why.update_warnings(action)
    elif diff.drift:  # the server moved to what the manifest now says: no call, but the lockfile must learn it
        action.action, action.reasons = A.UPDATE, [why.drift_accepted([c.field for c in diff.drift])]
    _retire_policy(action, entry, wanted, prior)


def _retire_policy(action: ActionDraft, entry: LockEntry, wanted: dict[str, Any], prior: dict[str, Any]) -> None:
    """lifecycle.retire must be in the lockfile before the block goes: a changed policy makes an update that
    only records it (no API call); never diffed as a field of the object. Declared again while retiring: the
    retirement ends (a foundational model's deprecation stays: the API cannot clear it)."""
    if action.action not in (A.NOOP, A.UPDATE):
        return
    if entry.retiring is not None:
        action.action = A.UPDATE
        action.reasons.append(why.retirement_cancelled(action.address, entry.retiring))
    old, new = prior.get(retirement.FIELD), wanted.get(retirement.FIELD)
    if not same(old or None, new or None):
        action.action = A.UPDATE
        action.changes.append(FieldChange(field=retirement.FIELD, old=old, new=new))
        action.reasons.append(why.retire_policy(new))


def _gates(st: _State, actions: list[ActionDraft]) -> None:
    """A training action carries its quality gates (checked by apply before anything depends on it); an entry
    whose last training was gated out says so, and that this plan trains it again."""
    for action in actions:
        if action.action not in (A.CREATE, A.REPLACE):
            continue
        action.gates = dict(action.desired.get("gates") or {})
        entry = st.lockfile.resources.get(action.address)
        if entry is not None and entry.gate and entry.gate.get("status") == "gated_out":
            rest = [r for r in action.reasons if r.code is not ReasonCode.TAINTED]
            action.reasons = [why.gated_out(action.address, entry.gate), *rest]


def _forced_replacement(entry: LockEntry, live: Any) -> Reason | None:
    if entry.status == "tainted":
        return why.TAINTED
    if entry.status == "deleting":
        return why.DELETING
    if isinstance(live, LiveObject) and live.status == "failed":
        return why.FAILED
    return None


def _replace(st: _State, action: ActionDraft, diff: FieldDiff, forced: Reason | None) -> None:
    action.action, action.changes = A.REPLACE, diff.changes
    action.reasons = ([forced] if forced is not None else []) + why.field_reasons(diff, {})
    st.renewed.add(action.address)


# -- cascades along references -------------------------------------------------------------------------


def _cascade(st: _State, wanted: DesiredState) -> None:
    """Dependents of a renewed object follow it: retrain (replace) or move in place (endpoint shadow → promote)."""
    for address in st.graph.order:
        action = st.actions.get(address)
        entry = st.lockfile.resources.get(address)
        if action is None or entry is None or address not in wanted or not _had_ids(entry):
            continue
        if action.action in (A.CREATE, A.ADOPT):
            continue
        resource = wanted[address].resource
        for ref_field, ref_kind in reference_fields(action.kind):
            target = Address(ref_kind, str(getattr(resource, ref_field, "")))
            if target in st.renewed:
                _follow(st, action, entry, ref_field, target, why.cascade(target, st.actions[target], action.kind))
            elif entry.applied.get(ref_field) == target.key and _stale_reference(st, entry, target):
                refused = _refused_move(st, entry, target)
                if refused:  # a smoke check rolled it back, or a shadow gate kept it: not moved again blindly
                    action.warnings.append(why.move_refused(address, target, refused))
                    continue
                _follow(st, action, entry, ref_field, target, why.stale_reference(target, action.kind))


def _refused_move(st: _State, entry: LockEntry, target: Address) -> str:
    """Why the entry stays on an older object than `target` records: its move to exactly that object was sent
    back (a failed smoke check's rollback, `checks.rolled_back`; a failed shadow gate, `gate`); "" otherwise."""
    id_field = ref_kind_id(target)
    referenced = st.lockfile.resources.get(target)
    current = referenced.ids.get(id_field) if referenced is not None else None
    if not current:
        return ""
    back = (entry.checks.get("rolled_back") or {}).get("from") or {}
    if back.get(id_field) == current:
        return f"a smoke check failed on {id_field} {current} and rolled it back"
    gate = entry.gate or {}
    if gate.get("step") and (gate.get("ids") or {}).get(id_field) == current:
        return f"a gate kept it off {id_field} {current} ({gate.get('why', 'failed')})"
    return ""


def _finish_replacements(st: _State) -> None:
    """An entry that still records replaced objects to delete (an apply stopped after the new one was
    ready) gets a step that deletes them after its dependents followed."""
    for address, action in st.actions.items():
        entry = st.lockfile.resources.get(address)
        if entry is None or entry.status != "ready" or action.action not in (A.NOOP, A.UPDATE):
            continue
        pending = _pending_deletes(entry)
        if not pending:
            continue
        users = _users_of(st, address, pending)
        if users:  # e.g. an endpoint a smoke check rolled back onto a predictor of the old model
            action.warnings.append(why.replaced_in_use(address, users))
            continue
        if action.action is A.NOOP:
            action.action = A.UPDATE
        action.delete_replaced = True
        action.reasons.append(why.FINISH_REPLACEMENT)
        action.changes.extend(_replaced_changes(address, pending))


def _users_of(st: _State, address: str, records: list[dict[str, str]]) -> list[str]:
    """Other entries whose own ids still name one of the replaced objects `records` (by the kind's id) and that
    this plan does not move off it (renewed, or following a renewal)."""
    id_field = ref_kind_id(Address.parse(address))
    wanted = {r.get(id_field) for r in records} - {None, ""}
    return sorted(
        a
        for a, e in st.managed().items()
        if a != address and e.status in ("ready", "tainted") and e.ids.get(id_field) in wanted and not _moves(st, a)
    )


def _moves(st: _State, address: str) -> bool:
    action = st.actions.get(address)
    return action is not None and (address in st.renewed or any(r.code in CASCADES for r in action.reasons))


def _stale_reference(st: _State, entry: LockEntry, target: Address) -> bool:
    """The entry was made on an older object than its target's entry records: a replacement cascade that an
    interrupted apply did not finish (the target was renewed, this dependent never followed)."""
    id_field = ref_kind_id(target)
    referenced = st.lockfile.resources.get(target)
    if referenced is None or not entry.ids.get(id_field):
        return False
    if referenced.status == "creating":  # being created again: this cannot have been made on the new one
        return True
    current = referenced.ids.get(id_field)
    return referenced.status == "ready" and bool(current) and current != entry.ids[id_field]


def _follow(st: _State, action: ActionDraft, entry: LockEntry, ref_field: str, target: Address, reason: Reason) -> None:
    rule = rule_for(st.kind_rules(action.kind), ref_field)
    if rule.change is Change.IN_PLACE and action.action is not A.REPLACE:
        action.changes = [c for c in action.changes if c.field != ref_field]
        action.changes.insert(0, _ref_change(entry, ref_field, target, forces=False))
        action.action = A.UPDATE
        action.reasons.insert(0, reason)
        return
    if action.action is not A.REPLACE:
        action.action = A.REPLACE
        st.renewed.add(action.address)
    action.reasons.insert(0, reason)
    if not any(c.field == ref_field for c in action.changes):
        action.changes.insert(0, _ref_change(entry, ref_field, target, forces=rule.change is not Change.IN_PLACE))


def _ref_change(entry: LockEntry, ref_field: str, target: Address, *, forces: bool) -> FieldChange:
    """`predictor: "species (pred-1)" → "species (known after apply)"`: same key, new server object."""
    key = target.key
    old_id = entry.ids.get(ref_kind_id(target), "")
    old_key = entry.applied.get(ref_field, key)
    old = f"{old_key} ({old_id})" if old_id else str(old_key)
    return FieldChange(field=ref_field, old=old, new=f"{key} {KNOWN_AFTER_APPLY}", forces_replacement=forces)


def ref_kind_id(target: Address) -> str:
    """The id field of the lockfile entry that names the referenced object (predictor_id, session_id)."""
    from featrix_iac.resources.registry import SPECS

    spec = SPECS.get(target.kind)
    return spec.reference_id if spec is not None else "id"


def _create_before_destroy(st: _State, selected: list[ActionDraft]) -> None:
    """Decide the order of each replacement: the applier follows `create_before_destroy`, never re-decides.

    Dependents are those of the manifest graph (among every action), and, among the selected actions,
    those that depend on it now or did when the lockfile recorded them (a predictor moved to another model
    still leaves the old one), see plan/steps.py.
    """
    from featrix_iac.plan.steps import always_first, create_before_destroy

    def graph_dependents(address: str) -> set[str]:
        return st.graph.transitive_dependents(address) if address in st.graph.order else set()

    everything, first = list(st.actions.values()), always_first()
    replaced = [a for a in everything if a.action is A.REPLACE]
    if not replaced:  # only a replacement has an order to decide
        return
    chosen = create_before_destroy(everything, {}, first, graph_dependents)
    for action in replaced:
        action.create_before_destroy = action.create_before_destroy or action.address in chosen
    recorded = {a: e.depends_on for a, e in st.lockfile.resources.items()}
    chosen |= create_before_destroy(selected, recorded, first)
    for action in replaced:
        action.create_before_destroy = action.create_before_destroy or action.address in chosen
        action.warnings = why.replace_warnings(action) + action.warnings


def _keep_for_rollback(st: _State, actions: list[ActionDraft], deletable: set[str]) -> None:
    """A replacement made first whose dependents include an endpoint with a smoke check `on_failure: rollback`
    keeps its old object until the next apply (recorded to delete), so that the rollback has somewhere to go."""
    if not any(a.action is A.REPLACE and a.create_before_destroy for a in actions):
        return
    guarded = {
        address
        for address, declared in st.desired.items()
        if any(getattr(c, "on_failure", "") == "rollback" for c in getattr(declared.resource, "checks", None) or ())
    }
    for action in actions:
        if action.action is not A.REPLACE or not action.create_before_destroy or action.kind not in deletable:
            continue
        if action.address not in st.graph.order:
            continue
        users = sorted(guarded & st.graph.transitive_dependents(action.address))
        if users:
            said = why.replace_warnings(action)  # "... deleted once the new one is ready": no longer true
            action.reasons.append(why.kept_for_rollback(users))
            action.warnings = [w for w in action.warnings if w not in said]


def _steps(st: _State, actions: list[ActionDraft], handlers: Mapping[str, Handler]) -> None:
    """Each action's ordered steps, from its handler and its lockfile entry (plan/steps.py)."""
    from featrix_iac.plan.steps import steps_for

    for action in actions:
        if action.action is A.NOOP and not action.delete_replaced:
            continue  # nothing to do: no steps
        action.steps = steps_for(action, handlers[action.kind], st.lockfile.resources.get(action.address))
        if any(s.call == SHADOW_GATE for s in action.steps):  # the endpoint's gates, checked before promote
            action.reasons.append(why.shadow_gate(action.desired.get("shadow_gates") or {}))


# -- removals --------------------------------------------------------------------------------------------


def _plan_removals(
    st: _State, wanted: DesiredState, deletable: set[str], destroy: bool, reports_use: Mapping[str, bool]
) -> None:
    for address, entry in sorted(st.managed().items()):
        if address in wanted:
            continue
        gone = st.live.get(address, MISSING) is None
        kind = entry.kind
        retire = kind not in deletable
        if not destroy and not gone and not retire and entry.status == "ready" and _retires(entry):
            st.actions[address] = _retirement(st, Address.parse(address), entry, reports_use.get(kind, False))
            continue
        # an entry left "creating" without ids whose object refresh found by its creation tag: ours, so it goes too
        found = st.found.get(address) if entry.status == "creating" and not entry.ids else None
        ids = dict(entry.ids or found or {})
        action = ActionDraft(
            address=address,
            kind=kind,
            action=A.RETIRE if retire else A.DELETE,
            prior_ids=ids,
            reasons=[why.removal(destroy, gone, retire, entry.status, bool(ids))],
        )
        if entry.status == "creating" and not entry.ids:
            action.warnings = why.removed_orphan(address, found, address in st.found)
        pending = _pending_deletes(entry) if not retire else []
        if pending:  # an interrupted replacement's old objects go with it (nothing the lockfile records leaks)
            action.delete_replaced = True
            action.reasons.append(why.REMOVE_REPLACED)
            action.changes.extend(_replaced_changes(address, pending))
        if gone:
            st.drift[address] = Drift(address=address, deleted=True)
        st.actions[address] = action


def _retires(entry: LockEntry) -> bool:
    """Declared with lifecycle.retire when last applied, or its retirement already begun."""
    return bool(entry.applied.get(retirement.FIELD)) or entry.retiring is not None


def _retirement(st: _State, address: Address, entry: LockEntry, reported: bool) -> ActionDraft:
    """lifecycle.retire: begin the retirement (deprecate), wait (a no-op saying where it stands), or delete it
    once due (expired, and unused for the window)."""
    action = ActionDraft(address=address, kind=entry.kind, action=A.NOOP, prior_ids=dict(entry.ids))
    if entry.retiring is None:
        action.action, action.reasons = A.RETIRE, [why.retiring(entry.applied[retirement.FIELD])]
        return action
    live = st.live.get(address)
    used = live.last_used if isinstance(live, LiveObject) else None
    now = st.now or clock.now()
    standing = retirement.standing(entry.retiring, now, used, reported=reported)
    if standing.due:
        action.action, action.reasons = A.DELETE, [why.retirement_due(standing.text)]
    else:
        action.warnings = [f"{address}: {standing.text}"]
    return action


def _hold_retirements(st: _State) -> None:
    """A retirement that is due waits while something kept (a retiring endpoint) still depends on it, through
    what the lockfile records (e.g. an endpoint on a predictor trained on the foundational model)."""
    changed = True
    while changed:
        changed = False
        for address, action in st.actions.items():
            if action.action is not A.DELETE or not any(r.code is ReasonCode.RETIREMENT_DUE for r in action.reasons):
                continue
            users = sorted(
                a
                for a, other in st.actions.items()
                if other.action not in (A.DELETE, A.RETIRE) and address in _recorded_closure(st, a)
            )
            if users:
                text = action.reasons[0].text.split("; ", 1)[-1]
                action.action, action.reasons = A.NOOP, []
                action.warnings = [f"{address}: {text}; kept while {', '.join(users)} still depend on it"]
                changed = True


def _recorded_closure(st: _State, address: str) -> set[str]:
    """Every address `address` depends on through the lockfile's recorded depends_on (retired entries too)."""
    seen: set[str] = set()
    todo = [address]
    while todo:
        entry = st.lockfile.resources.get(todo.pop())
        for dep in entry.depends_on if entry is not None else ():
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def _set_dependencies(st: _State) -> None:
    """What each address depends on (forward edges, for every action): the manifest graph for declared
    resources, plus the lockfile's recorded depends_on for what is removed. The applier reverses the
    edges for deletes (dependents go first)."""
    for address, action in st.actions.items():
        deps = _recorded_deps(st, address)
        action.depends_on = sorted(d for d in deps if d in st.actions and d != address)


def _recorded_deps(st: _State, address: str) -> set[str]:
    if address in st.desired and st.actions[address].action not in (A.DELETE, A.RETIRE):
        return st.graph.dependencies(address)
    entry = st.lockfile.resources.get(address)
    deps = set(entry.depends_on) if entry is not None else set()
    if address in st.desired:
        deps |= st.graph.dependencies(address)
    return deps


# -- --target ----------------------------------------------------------------------------------------------


def _select(st: _State, targets: list[str]) -> list[ActionDraft]:
    """Every action, or with --target only the targets, what they depend on, and dependents they drag along."""
    if not targets:
        return list(st.actions.values())
    keep: set[str] = set()
    todo = list(targets)
    while todo:
        address = todo.pop()
        if address in keep or address not in st.actions:
            continue
        keep.add(address)
        if st.actions[address].action in (A.DELETE, A.RETIRE):
            todo.extend(_removed_dependents(st, address))  # what uses it goes first (and goes too)
        else:
            todo.extend(st.graph.dependencies(address) if address in st.graph.order else ())
    for address in sorted(keep & st.renewed):
        keep |= {d for d in st.graph.transitive_dependents(address) if st.actions.get(d) and _follows(st, d)}
    selected = [a for addr, a in st.actions.items() if addr in keep]
    for a in selected:
        a.depends_on = [d for d in a.depends_on if d in keep]
    return selected


RENAME_IGNORES = frozenset({"name", "depends_on", "lifecycle"})  # what a renamed block may also change


def _suggest_moves(st: _State) -> None:
    """A new block and a removed recorded entry of the same kind that agree on their other fields: most likely a
    renamed key. Say so on both, with the `featrix state mv` that keeps the object instead of replacing it."""
    removed = {
        a: st.lockfile.resources[a]
        for a, act in st.actions.items()
        if act.action in (A.DELETE, A.RETIRE) and a in st.lockfile.resources
    }
    for address, action in sorted(st.actions.items()):
        if action.action is not A.CREATE or address in st.lockfile.resources:
            continue
        for old, entry in sorted(removed.items()):
            if entry.kind != action.kind or not _same_but_name(entry.applied, action.desired):
                continue
            hint = why.renamed(old, address)
            action.warnings.append(hint)
            st.actions[old].warnings.append(hint)
            del removed[old]
            break


def _same_but_name(applied: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    fields = set(applied) - RENAME_IGNORES  # write-only values are kept as hashes, not in applied
    return bool(fields) and all(applied[f] == desired.get(f) for f in fields)


def _removed_dependents(st: _State, address: str) -> list[str]:
    return sorted(
        other
        for other, a in st.actions.items()
        if a.action in (A.DELETE, A.RETIRE) and address in a.depends_on and other != address
    )


def _follows(st: _State, address: str) -> bool:
    return any(r.code in CASCADES for r in st.actions[address].reasons)


__all__ = ["KNOWN_AFTER_APPLY", "Live", "default_rules", "make_plan"]
