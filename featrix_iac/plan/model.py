"""The Plan: pure, versioned, serialisable data; apply executes exactly it and never re-decides.

The planner builds `ActionDraft`s, then freezes them: a Plan and its actions are frozen (no attribute can be
set, sequences are tuples), and a step that changes a plan (promotion) builds a new one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from featrix_iac.addresses import Address
from featrix_iac.model.base import built

# 2: reasons are {code, text, follows} objects; actions carry their ordered steps
PLAN_FORMAT_VERSION = 2


class ActionType(str, Enum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"  # in place
    REPLACE = "replace"  # new id; create-before-destroy or destroy-before-create
    DELETE = "delete"
    RETIRE = "retire"  # the API cannot delete it (predictors): forget it, leave it on the server
    ADOPT = "adopt"  # found on the server tagged as ours but missing from the lockfile
    PROMOTE = "promote"  # take another environment's trained artifact (its ids) instead of training (plan/promote.py)


TRAINING = (ActionType.CREATE, ActionType.REPLACE)  # the actions that train a new object (estimates, promotion)

SYMBOLS: dict[ActionType, str] = {
    ActionType.NOOP: " ",
    ActionType.CREATE: "+",
    ActionType.UPDATE: "~",
    ActionType.REPLACE: "-/+",
    ActionType.DELETE: "-",
    ActionType.RETIRE: "x",
    ActionType.ADOPT: "<=",
    ActionType.PROMOTE: "=>",
}


class ReasonCode(str, Enum):
    """Why an action happens, as data: views and cascades read the code, never the prose."""

    NEW = "new"  # declared in the manifest, not yet created
    ADOPTED = "adopted"  # found on the server by its identity, missing from the lockfile
    RESUMED = "resumed"  # an earlier apply started creating it
    MISSING = "missing"  # deleted outside featrix: created again
    TAINTED = "tainted"  # an earlier apply failed to finish it
    DELETING = "deleting"  # an earlier apply started deleting it
    FAILED = "failed"  # the server reports it failed
    FIELD_CHANGED = "field_changed"  # fields changed in the manifest (in place, or forcing replacement)
    DATA_CHANGED = "data_changed"  # what changed in a data file (rows, columns, types)
    DRIFT = "drift"  # changed outside featrix: apply sets it back
    DRIFT_ACCEPTED = "drift_accepted"  # changed outside featrix to what the manifest now says: recorded only
    DEPENDENCY_REPLACED = "dependency_replaced"  # follows a referenced object that gets a new id
    DEPENDENCY_STALE = "dependency_stale"  # still on the object an interrupted replacement left behind
    GATED_OUT = "gated_out"  # its last training failed a quality gate: trained again
    FINISH_REPLACEMENT = "finish_replacement"  # an interrupted replacement's old objects are deleted
    REMOVED = "removed"  # removed from the manifest
    DESTROY = "destroy"  # featrix destroy
    PROMOTE = "promote"  # another environment's trained artifact is taken instead of training
    PROMOTE_CLONE = "promote_clone"  # promoted to another compute cluster by cloning (predictors retrain)
    PROMOTION_PROOF = "promotion_proof"  # what proves the promoted artifact equal
    BORROWED = "borrowed"  # another environment's object: only forgotten here
    RETIRING = "retiring"  # removed under lifecycle.retire: deprecated now, deleted on a later apply
    RETIREMENT_DUE = "retirement_due"  # a retirement expired and the object went unused long enough: deleted
    RETIRE_POLICY = "retire_policy"  # lifecycle.retire changed: only the lockfile records it
    GATE = "gate"  # a gate checked before dependents move (an endpoint's shadow verdict)
    KEPT_FOR_ROLLBACK = "kept_for_rollback"  # a replaced object a smoke check may roll back to: deleted next apply
    NOTE = "note"  # a reason given as plain text (no code of its own)


CASCADES = frozenset({ReasonCode.DEPENDENCY_REPLACED, ReasonCode.DEPENDENCY_STALE})


class Phase(str, Enum):
    """The half of an action a step belongs to: the new object (main) or the old one going (destroy)."""

    MAIN = "main"
    DESTROY = "destroy"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(_Data):
    """One cause of an action: a code (what views and cascades read) beside its text (what people read)."""

    code: ReasonCode
    text: str
    follows: str | None = None  # for cascades: the address whose renewal this action follows

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"code": ReasonCode.NOTE, "text": value} if isinstance(value, str) else value

    def __str__(self) -> str:
        return self.text


# the tool's own steps (not a handler's update or delete call), see plan/steps.py
CREATE = "create"  # the create call (a resumed create first re-attaches to, or looks for, what it made)
TRAIN = "wait_for_training"
GATE = "check_gates"
CLONE = "clone"  # a promotion to another compute cluster: the handler's clone call (plan/promote.py)
RECORD = "record"  # the lockfile records the object as ready, with what was applied
FORGET = "forget"  # the lockfile forgets the entry (or the replaced objects it recorded)
RETIRE = "retire"  # the lockfile keeps the object as retired (the API cannot delete it)
BEGIN_RETIREMENT = "begin_retirement"  # lifecycle.retire: the lockfile records the retirement and its expiration
OWN_STEPS = frozenset({CREATE, TRAIN, GATE, RECORD, FORGET, RETIRE, BEGIN_RETIREMENT})


class Step(_Data):
    """One step apply makes for an action, in order, in its phase: a handler's call ("publish", "shadow",
    "mark_for_deletion", ...) or the tool's own ("create", "wait_for_training", "check_gates", and "record",
    "forget", "retire", which change only the lockfile). See plan/steps.py."""

    call: str
    phase: Phase = Phase.MAIN
    target: str = ""  # destroy calls: the object they are made on, by its ids ("session_id=s-1")


class PathChange(_Data):
    """One key or item of a container field: `user_metadata.team: "a" → "b"`, `ignore_columns: + year`."""

    path: str  # ".team", "[2]", or "" for an item of a list (lists are compared as sets of items)
    op: Literal["add", "remove", "change"]
    old: Any = None
    new: Any = None


class FieldChange(_Data):
    """One field's old → new. Sensitive values are never stored: old/new hold a redaction marker."""

    field: str
    old: Any = None
    new: Any = None
    sensitive: bool = False
    forces_replacement: bool = False
    items: tuple[PathChange, ...] = ()  # for dicts and lists: what changed inside, by path


class ActionBase(BaseModel):
    """What an action says: the frozen `Action` of a plan and the `ActionDraft` the planner builds share it."""

    model_config = ConfigDict(extra="forbid")

    address: Address
    kind: str
    action: ActionType
    reasons: Sequence[Reason] = ()
    changes: Sequence[FieldChange] = ()
    # normalised desired fields (secrets as hashes), what the applier records as `applied`
    desired: dict[str, Any] = Field(default_factory=dict)
    prior_ids: dict[str, str] = Field(default_factory=dict)  # ids in the lockfile (or found, for adopt)
    depends_on: Sequence[str] = ()  # addresses this action waits for
    create_before_destroy: bool = False
    # the entry still records objects it replaced that an interrupted apply did not delete: delete them
    # once dependents have followed (a destroy step after an update or no-op)
    delete_replaced: bool = False
    warnings: Sequence[str] = ()
    # a training's estimate: {training_seconds, rows, columns, epochs, work, calibrated_on} (plan/estimate.py)
    estimate: dict[str, Any] | None = None
    # a promote's proof: {from, serial, lineage, data, config_hash, training} (plan/promote.py)
    promotion: dict[str, Any] | None = None
    # quality gates checked after this create / replace trains, before anything depends on it: gate -> threshold
    gates: dict[str, float] = Field(default_factory=dict)
    steps: Sequence[Step] = ()  # what apply does, in order (plan/steps.py)

    def calls(self, phase: Phase, target: str | None = None) -> list[str]:
        """The handler calls of one phase (of one object, for destroy steps), in order."""
        return [
            s.call
            for s in self.steps
            if s.phase is phase and s.call not in OWN_STEPS and (target is None or s.target == target)
        ]

    def phases(self) -> list[Phase]:
        """The phases this action has steps in: one node each when applied."""
        return [p for p in Phase if any(s.phase is p for s in self.steps)]


class Action(ActionBase):
    """One change of a plan, frozen: the planner decided it, apply executes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reasons: tuple[Reason, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    depends_on: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()

    def thaw(self) -> ActionDraft:
        """A mutable copy, for a step that builds a new plan from this one (plan/promote.py)."""
        return ActionDraft(**copy.deepcopy(dict(self)))


SEQUENCES = ("reasons", "changes", "depends_on", "warnings", "steps")  # tuples in an Action, lists in a draft


class ActionDraft(ActionBase):
    """An action while the planner builds it; `freeze()` makes the plan's Action."""

    reasons: list[Reason] = Field(default_factory=list)
    changes: list[FieldChange] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)

    @classmethod
    def of(cls, **given: Any) -> ActionDraft:
        """`ActionDraft(**given)` for values the planner made itself, already of the fields' types (an Address, an
        ActionType, new dicts of plain values), without validating them again: validating 9,990 drafts cost about
        30 ms of a 10,000-resource plan's CPU (issue 16). The other fields get their defaults (new lists and
        dicts), in the fields' order, as validation gives them."""
        missing = _DRAFT_REQUIRED - given.keys()
        if missing:
            raise TypeError(f"ActionDraft.of needs {', '.join(sorted(missing))}")
        fields = dict(_DRAFT_DEFAULTS)
        fields.update(given)
        for name, factory in _DRAFT_FACTORIES:
            if name not in given:
                fields[name] = factory()
        return built(cls, fields, set(given))

    def freeze(self) -> Action:
        """The frozen action (its fields were validated as the draft was built; sequences become tuples)."""
        fields = dict(self.__dict__)
        for name in SEQUENCES:
            fields[name] = tuple(fields[name])
        # What Action.model_construct(**fields) makes (every field set, nothing extra or private), without its
        # per-field alias and default lookups, which cost 6% of a 10,000-resource plan: a draft has every field.
        return built(Action, fields, set(fields))


_DRAFT_DEFAULTS: dict[str, Any] = {name: f.default for name, f in ActionDraft.model_fields.items()}
_DRAFT_REQUIRED = frozenset(name for name, f in ActionDraft.model_fields.items() if f.is_required())
_DRAFT_FACTORIES: list[tuple[str, Any]] = [
    (name, f.default_factory) for name, f in ActionDraft.model_fields.items() if f.default_factory is not None
]


class Drift(_Data):
    """A live object that moved although the manifest did not (changed or deleted outside the tool)."""

    address: str
    deleted: bool = False
    changes: tuple[FieldChange, ...] = ()


class PlanSummary(_Data):
    """What a plan does, counted once from its actions: every view (text, Markdown, JSON) reads these."""

    add: int = 0  # create, adopt, promote
    change: int = 0  # update in place
    replace: int = 0
    destroy: int = 0  # delete
    retire: int = 0
    promote: int = 0  # of `add`: promoted instead of trained
    trainings: int = 0  # the creates and replacements that train (those with an estimate)
    unchanged: int = 0


def _plan_id_schema(schema: dict[str, Any]) -> None:
    """The JSON forms carry `plan_id` beside the fields (plan/jsonformat.py plan_data): so does their schema."""
    schema["properties"]["plan_id"] = {
        "title": "Plan Id",
        "type": "string",
        "pattern": "^plan-[0-9a-f]{16}$",
        "description": "The plan's id (a hash of the plan), when it has changes: apply records it in each "
        "training's provenance (featrix show --why ADDRESS).",
    }


class Plan(_Data):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_plan_id_schema)

    format_version: int = PLAN_FORMAT_VERSION
    tool_version: str
    project: str
    environment: str
    server_url: str
    lineage: str
    serial: int
    actions: tuple[Action, ...] = ()
    drift: tuple[Drift, ...] = ()
    warnings: tuple[str, ...] = ()
    refresh_only: bool = False
    estimate: dict[str, float] | None = None  # {training_seconds, critical_path_seconds} of the trainings

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, value: Any) -> Any:
        """`summary` is derived from the actions: a plan read back (a saved plan) counts again."""
        if isinstance(value, dict) and ("summary" in value or "plan_id" in value):
            value = {k: v for k, v in value.items() if k not in ("summary", "plan_id")}
        return value

    def applicable(self) -> bool:
        """Whether applying this plan does something (changes, not a refresh-only look): then it has an id
        (plan/jsonformat.py plan_id)."""
        return not self.refresh_only and bool(self.changes())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> PlanSummary:
        c = self.counts()
        return PlanSummary(
            add=c["create"] + c["adopt"] + c["promote"],
            change=c["update"],
            replace=c["replace"],
            destroy=c["delete"],
            retire=c["retire"],
            promote=c["promote"],
            trainings=sum(1 for a in self.actions if a.action in TRAINING and a.estimate),
            unchanged=c["no-op"],
        )

    def with_warnings(self, notes: Iterable[str]) -> Plan:
        """This plan with more plan-level warnings (e.g. from refresh): a new plan, sorted, without repeats."""
        return self.model_copy(update={"warnings": tuple(sorted({*self.warnings, *notes}))})

    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.action is not ActionType.NOOP]

    def has_changes(self) -> bool:
        return bool(self.changes()) or (self.refresh_only and bool(self.drift))

    def counts(self) -> dict[str, int]:
        c = {t.value: 0 for t in ActionType}
        for a in self.actions:
            c[a.action.value] += 1
        return c

    def summary_line(self) -> str:
        s = self.summary
        line = f"Plan: {s.add} to add, {s.change} to change, {s.replace} to replace, {s.destroy} to destroy."
        if s.retire:
            line = line[:-1] + f", {s.retire} to retire."
        if s.promote:
            line += f" {s.trainings} training{'' if s.trainings == 1 else 's'} ({s.promote} promoted)."
        return line
