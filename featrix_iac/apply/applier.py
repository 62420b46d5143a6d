"""apply_plan: runs a Plan's actions through the handlers, writing the lockfile before and after every step."""

from __future__ import annotations

import time
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from featrix_iac import clock
from featrix_iac.addresses import Address
from featrix_iac.apply.events import Interrupt, NullObserver, Observer
from featrix_iac.apply.executor import NodeSkipped, critical_path, run_dag
from featrix_iac.apply.provenance import applied_by, provenance
from featrix_iac.apply.reads import SharedReads
from featrix_iac.apply.schedule import Node, build_nodes
from featrix_iac.apply.slots import Slot, TrainingSlots
from featrix_iac.apply.tracking import ApplyResult, Tracker
from featrix_iac.client import (
    AuthError,
    ConflictError,
    ConnectionFailed,
    FeatrixClient,
    FeatrixError,
    QuotaExceeded,
    RequestError,
)
from featrix_iac.diagnostics import DiagnosticsError, fail
from featrix_iac.plan.jsonformat import plan_id
from featrix_iac.plan.model import CLONE, Action, ActionType, Phase, Plan
from featrix_iac.plan.steps import begins_retirement, object_key
from featrix_iac.resources import gates, retirement
from featrix_iac.resources.base import (
    CannotTell,
    CreateFailed,
    GatedOut,
    Handler,
    Operation,
    Probe,
    Progress,
    StepResult,
    TrainingFailed,
    WaitTimeout,
    make_tag,
)
from featrix_iac.resources.registry import HANDLERS
from featrix_iac.resources.waits import DEFAULT_LIMITS, Interrupted, Limit, Waits
from featrix_iac.state import LockEntry, Lockfile, StateStore

if TYPE_CHECKING:
    from featrix_iac.config import LoadedProject


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()


FIND_GRACE = (0.5, 1.0, 2.0)  # re-searches for an object whose create answer was lost (lagging lists)


class ApplyError(Exception):
    """A step failed for a reason worth telling the user as is (no traceback)."""


def apply_plan(
    plan: Plan,
    *,
    loaded: LoadedProject | None,
    client: FeatrixClient,
    store: StateStore,
    lockfile: Lockfile,
    observer: Observer | None = None,
    parallelism: int = 8,
    training_timeout: float | None = None,
    timeouts: dict[str, Limit] | None = None,
    interrupt: Interrupt | None = None,
    handlers: dict[str, Handler] | None = None,
    skip_gates: frozenset[str] = frozenset(),
    server_version: str = "",
) -> ApplyResult:
    """Execute exactly `plan` (never re-decide). `loaded` is the LoadedProject the plan was made from
    (manifest models with plaintext secrets, project root); `lockfile` is updated in place through
    `store.update` after every step. A failure stops only what depends on it. `skip_gates`: addresses
    whose quality gates are waived for this run (the waiver is recorded in their lockfile entries);
    `server_version` goes into each training's provenance.
    """
    unplanned = [a.address for a in plan.actions if a.action is not ActionType.NOOP and not a.steps]
    if unplanned:  # the applier runs the plan's steps and never decides them (plan/steps.py)
        raise fail(f"the plan records no steps for {', '.join(unplanned)}", "make the plan again (featrix plan)")
    limits = run_limits(loaded.project.server if loaded is not None else None, timeouts)
    if training_timeout is not None:  # the older single knob: the total limit of a training wait
        limits["training"] = Limit(min(limits["training"].stall, training_timeout), training_timeout)
    nodes = build_nodes(plan.actions, {a: list(e.depends_on) for a, e in lockfile.resources.items()})
    tracker = Tracker(observer or NullObserver(), {a.address: a for a in plan.actions}, lockfile, nodes)
    applier = _Applier(
        plan,
        loaded,
        client,
        store,
        lockfile,
        tracker,
        limits,
        interrupt or Interrupt(),
        handlers or HANDLERS,
    )
    applier.skip_gates = skip_gates
    applier.server_version = server_version
    applier.priority = _priorities(nodes)
    outcomes = run_dag(
        nodes, applier.run_node, parallelism=parallelism, interrupt=applier.interrupt, on_outcome=tracker.finished
    )
    result = tracker.result(outcomes)
    result.interrupted = applier.interrupt.is_set()
    result.gates = dict(sorted(applier.gates.items()))
    return result


def _priorities(nodes: list[Node]) -> dict[str, tuple[int, int]]:
    """Per address: (longest chain of dependents, how many depend on it at all), for the training slots."""
    by_id = {n.id: n for n in nodes}
    depth = critical_path(by_id)
    below: dict[str, set[str]] = {n.id: set() for n in nodes}
    for n in sorted(nodes, key=lambda n: depth[n.id]):  # leaves first: a node's dependents are counted before it
        for d in n.deps:
            if d in below:
                below[d] |= below[n.id] | {n.id}
    out: dict[str, tuple[int, int]] = {}
    for n in nodes:
        out[n.address] = max(out.get(n.address, (0, 0)), (depth[n.id], len(below[n.id])))
    return out


class _Applier:
    def __init__(
        self,
        plan: Plan,
        loaded: LoadedProject | None,
        client: FeatrixClient,
        store: StateStore,
        lock: Lockfile,
        tracker: Tracker,
        limits: dict[str, Limit],
        interrupt: Interrupt,
        handlers: dict[str, Handler],
    ) -> None:
        self.plan, self.loaded, self.client, self.store, self.lock = plan, loaded, client, store, lock
        self.tracker, self.limits, self.interrupt, self.handlers = tracker, limits, interrupt, handlers
        self.actions: dict[str, Action] = {a.address: a for a in plan.actions}
        # the entries as they were, for the actions that change them (a deep copy of all 10,000 entries of a large
        # project cost about a second of CPU for an apply of one change; unchanged ones are never read back)
        acting = {a.address for a in plan.actions if a.action is not ActionType.NOOP}
        self.prior = {a: e.model_copy(deep=True) for a, e in lock.resources.items() if a in acting}
        self.root = loaded.root if loaded is not None else Path(".")
        self.slots = TrainingSlots(stop=interrupt.is_set)  # the server's training quota, as backpressure
        self.reads = SharedReads(client)  # status polls of one document shared by the waits on it
        self.priority: dict[str, tuple[int, int]] = {}
        self.skip_gates: frozenset[str] = frozenset()
        self.gates: dict[str, dict[str, Any]] = {}  # per address, the gate record of this run
        self.server_version = ""  # recorded in each training's provenance
        self._plan_id = ""

    # -- dispatch ------------------------------------------------------------------------------

    def run_node(self, node: Node) -> None:
        action = self.actions[node.address]
        self.tracker.started(node)
        try:
            if node.phase is Phase.DESTROY:
                self._destroy(action)
            elif action.action is ActionType.UPDATE:
                self._update(action)
            elif action.action is ActionType.ADOPT:
                self._adopt(action)
            elif action.action is ActionType.PROMOTE:
                self._promote(action)
            else:
                self._create(action)
        except (ApplyError, NodeSkipped):
            raise
        except Interrupted as exc:
            raise NodeSkipped(f"{exc}; the server goes on with it and the next apply waits for it again") from None
        except FeatrixError as exc:
            raise ApplyError(exc.message) from None
        except (CreateFailed, CannotTell, TrainingFailed, WaitTimeout) as exc:
            raise ApplyError(str(exc)) from None
        except DiagnosticsError as exc:  # e.g. the lockfile key is wrong, or the lockfile changed on disk
            detail = "; ".join(f"{d.summary}: {d.detail}" if d.detail else d.summary for d in exc.diagnostics)
            raise ApplyError(detail) from None
        except OSError as exc:  # a data file that went away, a full disk while writing the lockfile
            raise ApplyError(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # a bug: say where, keep the run going for everything else
            raise ApplyError(f"internal error while applying {node.address}: {type(exc).__name__}: {exc}") from exc

    def _handler(self, action: Action) -> Handler:
        return self.handlers[action.kind]

    def _resource(self, address: str) -> Any:
        return self.loaded.project.get(Address.parse(address)) if self.loaded is not None else None

    def _op(self, action: Action, entry: LockEntry | None, token: str = "") -> Operation:
        token = token or (entry.creation_token if entry and entry.creation_token else "")
        return Operation(
            address=action.address,
            key=action.address.key,
            resource=self._resource(action.address),
            desired=action.desired,
            entry=entry,
            refs=dict(self.lock.resources),
            tag=make_tag(self.plan.project, self.plan.environment, action.address, token),
            root=self.root,
            token=token,
            waits=self._waits(action.address),
        )

    def _waits(self, address: str) -> Waits:
        def progress(p: Progress) -> None:
            self.tracker.progress(address, p.message, p.fraction)

        return Waits(dict(self.limits), on_progress=progress, stop=self.interrupt.is_set)

    def _save(self, address: str, entry: LockEntry | None) -> None:
        self.store.update(self.lock, address, entry)

    def _record(self, address: str, entry: LockEntry, res: StepResult, h: Handler, done: dict[str, Any]) -> LockEntry:
        """Save what a step produced: ids, encrypted secrets, outputs, and the desired values it put in place."""
        applied, hashes = h.split_applied(done)
        new = entry.model_copy(
            deep=True,
            update={
                "ids": {**entry.ids, **res.ids},
                "secrets": {**entry.secrets, **{k: self.store.encrypt(address, v) for k, v in res.secrets.items()}},
                "outputs": {**entry.outputs, **{k: v for k, v in res.outputs.items() if v is not None}},
                "applied": {**entry.applied, **applied},
                "hashes": {**entry.hashes, **hashes},
            },
        )
        self._save(address, new)
        return new

    # -- create / re-attach / adopt ------------------------------------------------------------

    def _create(self, action: Action) -> None:
        h, address = self._handler(action), action.address
        current = self.lock.entry(address)
        replacing = action.action is ActionType.REPLACE and current is not None and current.status != "creating"
        if current is not None and current.status == "creating":
            entry = self._reattach(action, h, current)
            if entry is not None:
                self._converge(action, h, entry)
                return
            token = current.creation_token or uuid.uuid4().hex
        else:
            token = uuid.uuid4().hex
        retired = list(current.retired) if current is not None else []
        if current is not None and current.status == "retired" and current.ids:
            retired.append({**current.ids, "reason": "retired"})  # declared again: the old one stays tracked
        if replacing and current is not None and current.ids and not current.borrowed:
            retired.append(replaced_record(h, current))
        intent = LockEntry(
            kind=action.kind,
            status="creating",
            creation_token=token,
            creation_started=current.creation_started
            if current is not None and current.status == "creating" and current.creation_started
            else now_iso(),
            depends_on=sorted(action.depends_on),
            retired=retired,
        )
        self._save(address, intent)  # intent first: a crash from here on is resolved by the token
        restore = current if replacing else None
        if not h.trains:
            entry = self._record(address, intent, self._create_call(action, h, intent, restore), h, {})
            self._converge(action, h, entry)
            return
        with self.slots.slot(self.priority.get(address, (0, 0))) as slot:  # held while the server trains it
            entry = self._record(address, intent, self._create_under_quota(action, h, intent, restore, slot), h, {})
            entry = self._trained(action, h, entry)
        self._converge(action, h, entry, trained=True)

    def _create_under_quota(
        self, action: Action, h: Handler, intent: LockEntry, restore: LockEntry | None, slot: Slot
    ) -> StepResult:
        """The create call of a training; a full quota (429 quota_exceeded, nothing created) waits for a slot."""
        while True:
            try:
                with self.client.quota_as_error() if self.client is not None else nullcontext():
                    return self._create_call(action, h, intent, restore)
            except QuotaExceeded as exc:
                self.tracker.progress(action.address, "the server's training quota is full: waiting for a slot", None)
                slot.refused(exc.retry_after)

    def _create_call(self, action: Action, h: Handler, intent: LockEntry, restore: LockEntry | None) -> StepResult:
        """The one create call. A refusal that proves nothing was created restores the entry; an unknown
        outcome is resolved by the kind's identity, or stops with "cannot determine creation result"."""
        op = self._op(action, intent)
        try:
            return h.create(self.client, op)
        except QuotaExceeded:  # refused before anything was made; the caller waits for room and retries
            raise
        except (RequestError, AuthError, CreateFailed):
            self._save(action.address, restore)
            raise
        except ConnectionFailed as exc:
            if not exc.never_sent:  # sent, and the answer lost: it may exist
                return self._found_or_raise(action, h, intent, restore, exc)
            self._save(action.address, restore)  # no server was reached: nothing was created
            raise
        except ConflictError as exc:
            if exc.detail != "stalled-node-busy":  # e.g. "already exists": it may be ours
                return self._found_or_raise(action, h, intent, restore, exc)
            self._save(action.address, restore)  # no capacity: refused before anything was made
            raise
        except FeatrixError as exc:
            return self._found_or_raise(action, h, intent, restore, exc)

    def _found_or_raise(
        self, action: Action, h: Handler, intent: LockEntry, restore: LockEntry | None, exc: FeatrixError
    ) -> StepResult:
        """After an unknown outcome: the object found by its identity, or (surely absent) the error re-raised.

        A lost answer (5xx, dropped connection) may hide a create that a lagging list does not show yet:
        the search is repeated for FIND_GRACE, and the create keeps its intent (status "creating", same
        token, and in a replacement the old object recorded as replaced) so that the next apply searches
        again before creating anything: dropping it could train a duplicate.
        """
        unknown = not isinstance(exc, ConflictError)
        ids = self._find(action, h, intent, str(exc), grace=FIND_GRACE if unknown else ())
        if ids is None:
            if unknown:
                raise ApplyError(
                    f"{exc.message}; not found by its identity either, so the attempt stays in the lockfile "
                    "(status 'creating'): the next apply looks for it again before creating it"
                ) from None
            self._save(action.address, restore)
            raise exc
        return StepResult(ids=ids)

    def _reattach(self, action: Action, h: Handler, current: LockEntry) -> LockEntry | None:
        """An entry left in "creating": wait on it when it has ids; else find the orphan (None: never created)."""
        if current.ids:
            self.tracker.progress(action.address, "re-attaching to the object an earlier apply created", None)
            return current
        cause = "an earlier apply stopped after recording its intent"
        ids = self._find(action, h, current, cause, grace=FIND_GRACE)  # lists may still lag behind that create
        if ids is None:
            return None
        self.tracker.progress(action.address, "adopting the object an earlier apply created", None)
        entry = current.model_copy(deep=True, update={"ids": ids})
        self._save(action.address, entry)
        return entry

    def _find(
        self, action: Action, h: Handler, entry: LockEntry, cause: str, grace: tuple[float, ...] = ()
    ) -> dict[str, str] | None:
        """The object an earlier attempt created, by the kind's identity (None: surely never created)."""
        probe = self._probe(action, entry)
        for delay in (*grace, None):
            try:
                ids = h.find_existing(self.client, probe)
            except (CannotTell, FeatrixError) as exc:
                candidates = getattr(exc, "candidates", [])
                raise ApplyError(cannot_determine(action.address, f"{cause}; {exc}", candidates, self.plan)) from None
            if ids is not None or delay is None:
                return ids
            time.sleep(delay)
        return None  # pragma: no cover - the loop always returns

    def _probe(self, action: Action, entry: LockEntry) -> Probe:
        """What identifies the object `entry` is creating (its intent, references, the ids recorded)."""
        from featrix_iac.plan.refresh import probe_of

        lock = self.lock.model_copy(update={"resources": {**self.lock.resources, action.address: entry}})
        return probe_of(
            lock, action.address, action.desired, {}, self.handlers, self.plan.project, self.plan.environment
        )

    def _adopt(self, action: Action) -> None:
        h = self._handler(action)
        current = self.lock.entry(action.address)
        entry = LockEntry(
            kind=action.kind,
            status="creating",
            ids=dict(action.prior_ids),
            depends_on=sorted(action.depends_on),
            creation_token=current.creation_token if current is not None else None,
            retired=list(current.retired) if current is not None else [],
        )
        self._save(action.address, entry)
        self._converge(action, h, entry)

    def _promote(self, action: Action) -> None:
        """Record the other environment's trained object as this address's, borrowed (no call: the plan proved
        it equal; its follow-up fields are part of that proof)."""
        h = self._handler(action)
        applied, hashes = h.split_applied(action.desired)
        proof = dict(action.promotion or {})
        current = self.lock.entry(action.address)
        retired = list(current.retired) if current is not None else []
        if action.delete_replaced and current is not None and current.ids and not current.borrowed:
            retired.append(replaced_record(h, current))  # this environment's own object it replaces
        if proof.get("clone"):
            self._promote_clone(action, h, proof, retired)
            return
        entry = LockEntry(
            kind=action.kind,
            status="ready",
            ids=dict(action.prior_ids),
            applied=applied,
            hashes=hashes,
            protected=bool(action.desired.get("deletion_protection")),
            depends_on=sorted(action.depends_on),
            training=dict(proof.pop("training", {})),
            provenance=dict(proof.pop("provenance", {})),  # the artifact's own: how the other environment built it
            borrowed={**proof, "promoted_by": applied_by(), "promoted_at": now_iso(), "plan": self.plan_id()},
            retired=retired,
        )
        self._save(action.address, entry)

    def _promote_clone(self, action: Action, h: Handler, proof: dict[str, Any], retired: list[dict[str, str]]) -> None:
        """Clone the other environment's object to this environment's compute cluster: the clone is this
        environment's own (not borrowed: the other's destroy never touches it); its provenance names the source."""
        clone = proof["clone"]
        res = h.clone(self.client, dict(action.prior_ids), clone["to"], str(action.desired.get("name")), clone["from"])
        promoted = {**proof, "promoted_by": applied_by(), "promoted_at": now_iso(), "plan": self.plan_id()}
        entry = LockEntry(
            kind=action.kind,
            status="creating",
            ids=dict(res.ids),
            outputs=dict(res.outputs),
            depends_on=sorted(action.depends_on),
            training=dict(promoted.pop("training", {})),
            provenance={**promoted.pop("provenance", {}), "promoted": promoted},
            retired=retired,
        )
        self._save(action.address, entry)
        for step in action.calls(Phase.MAIN):
            if step != CLONE:
                entry = self._step(action, h, entry, step)
        self._finalize(action, h, entry)

    def _converge(self, action: Action, h: Handler, entry: LockEntry, *, trained: bool = False) -> None:
        """Wait for training (unless `trained`), run the steps the create route could not do, record it ready."""
        entry = entry if trained else self._trained(action, h, entry)
        if action.gates:
            entry = self._gate(action, h, entry)
        if h.trains:
            entry = entry.model_copy(deep=True, update={"provenance": self._provenance(action, h, entry)})
        steps = action.calls(Phase.MAIN)
        if hasattr(h, "adopt_steps"):  # what the plan could not know: the object was found by its identity during
            steps += [s for s in h.adopt_steps(entry) if s not in steps]  # this apply (its key was never seen)
        for step in steps:
            entry = self._step(action, h, entry, step)
        self._finalize(action, h, entry)

    def _provenance(self, action: Action, h: Handler, entry: LockEntry) -> dict[str, Any]:
        """The lineage of a training just finished (apply/provenance.py); the metrics are its gate's, else read."""
        from featrix_iac.config.development import recorded
        from featrix_iac.plan.promote import config_hash, trained_references

        built_on: dict[str, str] = {}
        for field, kind, id_field in trained_references(action.kind):
            ref = self.lock.entry(Address(kind, str(action.desired.get(field))))
            if ref is not None and ref.ids.get(id_field):
                built_on[str(Address(kind, str(action.desired.get(field))))] = ref.ids[id_field]
        record = entry.gate if entry.gate and entry.gate.get("ids") == entry.ids else None
        if record is not None:
            metrics = {r["metric"]: r["value"] for r in record.get("results", []) if r.get("value") is not None}
        else:
            try:
                metrics = h.metrics(self.client, entry.ids)
            except (FeatrixError, NotImplementedError):  # no metrics for this kind, or not (yet) served: none recorded
                metrics = {}
        return provenance(
            config_hash=config_hash(action.desired),
            built_on=built_on,
            metrics=metrics,
            server_version=self.server_version,
            plan=self.plan_id(),
            at=now_iso(),
            who=applied_by(),
            development=recorded(self.loaded.project, self.loaded.environment) if self.loaded is not None else None,
        )

    def plan_id(self) -> str:
        """The id of the plan this apply runs (computed once)."""
        if not self._plan_id:
            self._plan_id = plan_id(self.plan)
        return self._plan_id

    def _gate(self, action: Action, h: Handler, entry: LockEntry) -> LockEntry:
        """Check the new object's training metrics against the action's gates, before anything depends on it.

        Passed or waived (`--skip-gate`): recorded in the entry, and the apply goes on. Gated out: the entry
        goes back to the object it replaced (dependents keep it), the new one is recorded as gated out
        (metric and threshold), and the node fails, so its dependents are skipped, not moved.
        """
        results = gates.evaluate(action.gates, h.metrics(self.client, entry.ids))
        waived = action.address in self.skip_gates
        record: dict[str, Any] = {
            "status": gates.verdict(results, waived),
            "results": results,
            "at": now_iso(),
            "ids": dict(entry.ids),
        }
        self.gates[action.address] = record
        if record["status"] != gates.GATED_OUT:
            entry = entry.model_copy(deep=True, update={"gate": record})
            self._save(action.address, entry)
            return entry
        kept = self._gated_out(action, entry, record)
        serving = f"dependents keep {kept}" if kept else "nothing depends on it yet"
        raise ApplyError(
            f"gated out: {gates.failures(record)}; {serving}. The lockfile records it as gated out and the next "
            f"plan trains it again (or waive the gate once: featrix apply --skip-gate {action.address})"
        )

    def _gated_out(self, action: Action, entry: LockEntry, record: dict[str, Any]) -> str:
        """Record a gated-out training: a replacement's entry gets back the object it replaced (still serving),
        with the new one kept among its retired objects; a first creation stays, tainted. Returns the id kept."""
        address, id_field = action.address, self._handler(action).id_field
        replaced = next((r for r in reversed(entry.retired) if r.get("reason") == "replaced"), None)
        retired = [r for r in entry.retired if r is not replaced] + [{**entry.ids, "reason": "gated_out"}]
        prior = self.prior.get(address)
        if replaced is not None:
            old_ids = {k: v for k, v in replaced.items() if k not in ("reason", "pending_delete")}
        elif prior is not None and prior.ids and prior.status != "creating" and prior.ids != entry.ids:
            old_ids = dict(prior.ids)  # e.g. a borrowed (promoted) object, which a replacement does not record
        else:
            self._save(address, entry.model_copy(deep=True, update={"status": "tainted", "gate": record}))
            return ""
        if prior is not None and prior.ids == old_ids:
            restored = prior.model_copy(deep=True, update={"retired": retired, "gate": record})
        else:  # an interrupted replacement resumed: what was applied to the old one is not known any more
            restored = LockEntry(kind=action.kind, status="ready", ids=old_ids, retired=retired, gate=record)
        self._save(address, restored)
        return f"{id_field} {old_ids.get(id_field, '?')}"

    def _trained(self, action: Action, h: Handler, entry: LockEntry) -> LockEntry:
        """The entry once its training is over: a queued create's id first, then the training itself."""
        return self._wait(action, h, self._resolve(action, h, entry))

    def _resolve(self, action: Action, h: Handler, entry: LockEntry) -> LockEntry:
        """A create accepted without its id (a queued training): wait for the id, then record it at once.

        The entry keeps what the answer gave (e.g. the session) in the meantime, so a crash during the
        queue resumes this wait instead of training a second time.
        """
        if not h.pending(entry.ids):
            return entry
        self.tracker.progress(action.address, "queued: waiting for a worker", None)
        try:
            ids = h.resolve(self.client, entry.ids, self._probe(action, entry), self._waits(action.address))
        except TrainingFailed as exc:
            self._save(action.address, entry.model_copy(deep=True, update={"ids": {}}))  # nothing was made
            raise ApplyError(f"{exc}; the next apply trains it again") from None
        except WaitTimeout as exc:
            raise ApplyError(f"{exc}; the training stays queued on the server: the next apply waits again") from None
        new = entry.model_copy(deep=True, update={"ids": {**entry.ids, **ids}})
        self._save(action.address, new)
        return new

    def _wait(self, action: Action, h: Handler, entry: LockEntry) -> LockEntry:
        if not h.trains:
            return entry
        address = action.address

        def progress(p: Progress) -> None:
            self.tracker.progress(address, p.message, p.fraction)

        progress(Progress("training", None, "waiting for training"))
        started = time.monotonic()
        try:
            limit = self.limits["training"]
            view = self.reads.view()  # the trainings waiting in one session share its polls
            p = h.wait_ready(
                cast("FeatrixClient", view),
                entry.ids,
                timeout=limit.total,
                stall=limit.stall,
                on_progress=progress,
                stop=self.interrupt.is_set,
                pause=view.pause,
            )
        except TrainingFailed as exc:
            tainted = entry.model_copy(deep=True, update={"status": "tainted"})
            self._save(address, tainted)
            raise ApplyError(
                f"training failed: {exc}; {address} is marked tainted (the next plan replaces it)"
            ) from None
        except WaitTimeout as exc:
            raise ApplyError(
                f"{exc}; the training goes on on the server and its id is in the lockfile: the next apply waits for it"
            ) from None
        if p.state != "ready":
            raise NodeSkipped(
                "interrupted while waiting for training; its id is in the lockfile, the next apply re-attaches"
            )
        if not action.estimate:
            return entry
        training: dict[str, Any] = {"seconds": round(time.monotonic() - started, 1)}
        training.update({k: action.estimate[k] for k in ("rows", "columns", "epochs", "work") if k in action.estimate})
        return entry.model_copy(deep=True, update={"training": training})

    def _finalize(self, action: Action, h: Handler, entry: LockEntry) -> None:
        applied, hashes = h.split_applied(action.desired)
        final = entry.model_copy(
            deep=True,
            update={
                "status": "ready",
                "applied": applied,
                "hashes": hashes,
                "protected": bool(action.desired.get("deletion_protection")),
                "depends_on": sorted(action.depends_on),
                "retiring": None,  # declared and applied: not retiring (any more)
            },
        )
        self._save(action.address, final)

    # -- update / destroy ----------------------------------------------------------------------

    def _step(self, action: Action, h: Handler, entry: LockEntry, step: str) -> LockEntry:
        res = h.update(self.client, self._op(action, entry), step)
        if res.gate is not None:  # a gate the step passed (an endpoint's shadow verdict): the summary's Gates
            self.gates[action.address] = {**res.gate, "step": step}
        return self._record(action.address, entry, res, h, h.step_applied(step, action.desired))

    def _update(self, action: Action) -> None:
        h, entry = self._handler(action), self.lock.entry(action.address)
        if entry is None or not entry.ids:
            raise ApplyError(f"{action.address} has no ids in the lockfile; plan again")
        for step in action.calls(Phase.MAIN):
            try:
                entry = self._step(action, h, entry, step)
            except GatedOut as exc:  # e.g. an endpoint's shadow verdict: it stays as it was, the gate recorded
                record = {**exc.record, "step": step}
                self.gates[action.address] = record
                self._save(action.address, entry.model_copy(deep=True, update={"gate": record}))
                raise
        if entry.gate and entry.gate.get("step"):  # an earlier update's gate refusal: this one went through
            entry = entry.model_copy(deep=True, update={"gate": None})
        self._finalize(action, h, entry)

    def _destroy(self, action: Action) -> None:
        h, address = self._handler(action), action.address
        old = self.prior.get(address)
        removing = action.action in (ActionType.DELETE, ActionType.RETIRE)
        if old is not None and old.borrowed:  # another environment's object: forget it, never delete it
            if removing or self.lock.entry(address) == old:  # (a replacement made first already overwrote it)
                self._save(address, None)
            return
        if old is not None and begins_retirement(action, h):
            self._begin_retirement(action, h, old)
            return
        if not removing and (
            (action.action is ActionType.REPLACE and action.create_before_destroy) or action.delete_replaced
        ):
            self._destroy_replaced(action, h, old)
            return
        ids = dict(old.ids) if old is not None and old.ids else dict(action.prior_ids) if removing else {}
        target = old.model_copy(deep=True, update={"ids": ids}) if old is not None else None
        if target is not None and ids:
            if action.action is not ActionType.REPLACE:
                self._save(address, target.model_copy(deep=True, update={"status": "deleting"}))
            self._delete_object(action, h, address, target)
        if action.delete_replaced:  # the old objects of an interrupted replacement go with the entry
            self._delete_pending(action, h)
        if action.action is ActionType.RETIRE and target is not None:
            self._release_replaced(action, h, address, target)
        if action.action is ActionType.RETIRE and target is not None and ids:
            # still on the server (the API cannot delete it): keep tracking it until its model is deleted
            current = self.lock.entry(address) or target
            self._save(address, current.model_copy(deep=True, update={"status": "retired", "protected": False}))
            return
        self._save(address, None)
        if h.owns_recorded and ids.get(h.id_field):
            self._forget_retired_on(h.id_field, ids[h.id_field])

    def _begin_retirement(self, action: Action, h: Handler, old: LockEntry) -> None:
        """lifecycle.retire: deprecate the object (its kind's retire calls) until now + deprecate_for, and record
        the retirement; a later plan deletes it once expired and unused (resources/retirement.py)."""
        record = retirement.begin(action.address, old.applied[retirement.FIELD], clock.now())
        desired = {**old.applied, "deprecation": retirement.deprecation(record)}
        op = Operation.on_entry(action.address, old, dict(self.lock.resources), self.root, desired)
        for step in action.calls(Phase.DESTROY, object_key(old.ids)):
            h.update(self.client, op, step)
        current = self.lock.entry(action.address) or old
        self._save(action.address, current.model_copy(deep=True, update={"retiring": record}))

    def _release_replaced(self, action: Action, h: Handler, address: str, entry: LockEntry) -> None:
        """Retiring an entry also runs the retire steps (lifting deletion protection) for the older objects it
        records: a replacement that never finished left them as they were, and a protected one would block
        the deletion of the model it lives on."""
        for record in entry.retired:
            ids = {k: v for k, v in record.items() if k not in ("reason", "pending_delete")}
            if not ids or ids == entry.ids:
                continue
            try:
                retired = LockEntry(kind=entry.kind, status="retired", ids=ids, protected=True)
                self._delete_object(action, h, address, retired)
            except AuthError:
                raise
            except FeatrixError:  # e.g. its model is already gone; a model still blocked says so when deleted
                continue

    def _forget_retired_on(self, id_field: str, value: str) -> None:
        """A deleted object that owns what is recorded with its id (a foundational model, its session's retired
        predictors) takes them with it: forget their entries, and the records of replaced objects that lived
        in it (else one more would stay per retrain, for ever)."""
        for address, entry in list(self.lock.resources.items()):
            if entry.status == "retired" and entry.ids.get(id_field) == value:
                self._save(address, None)
                continue
            kept = [r for r in entry.retired if r.get("pending_delete") or r.get(id_field) != value]
            if len(kept) != len(entry.retired):
                self._save(address, entry.model_copy(deep=True, update={"retired": kept}))

    def _destroy_replaced(self, action: Action, h: Handler, old: LockEntry | None) -> None:
        """The old half of a create-before-destroy replacement, once the new one and its dependents are done.

        Deletable kinds delete every object the entry records as pending_delete (this run's old object,
        and any an interrupted run left), forgetting each record once it is gone; a predictor is retired.
        """
        if not h.deletable:
            if old is not None and old.ids and old.status != "creating":
                self._delete_object(action, h, action.address, old)
            return
        self._delete_pending(action, h)

    def _delete_pending(self, action: Action, h: Handler) -> None:
        """Delete each replaced object the entry records as pending_delete, forgetting each record once it is gone
        (and, for a foundational model, the retired predictors that went with it)."""
        address = action.address
        current = self.lock.entry(address)
        for record in [r for r in (current.retired if current else []) if r.get("pending_delete")]:
            ids = {k: v for k, v in record.items() if k not in ("reason", "pending_delete")}
            deleting = LockEntry(kind=action.kind, status="deleting", ids=ids, protected=True)
            self._delete_object(action, h, address, deleting)
            current = self.lock.entry(address)
            if current is not None:
                retired = [r for r in current.retired if r != record]
                self._save(address, current.model_copy(deep=True, update={"retired": retired}))
            if h.owns_recorded and ids.get(h.id_field):
                self._forget_retired_on(h.id_field, ids[h.id_field])

    def _delete_object(self, action: Action, h: Handler, address: str, old: LockEntry) -> None:
        op = Operation.on_entry(address, old, dict(self.lock.resources), self.root)
        for step in action.calls(Phase.DESTROY, object_key(old.ids)):
            h.delete(self.client, op, step)


def replaced_record(h: Handler, current: LockEntry) -> dict[str, str]:
    """The record of an object being replaced: deleted once the dependents have followed (a predictor, which
    the API cannot delete, is retired)."""
    record = {**current.ids, "reason": "replaced"}
    if h.deletable:
        record["pending_delete"] = "true"
    return record


def run_limits(server: Any, overrides: dict[str, Limit] | None = None) -> dict[str, Limit]:
    """Each wait's limits: the defaults, then the manifest's `server.timeouts`, then this run's overrides."""
    limits = dict(DEFAULT_LIMITS)
    training_total = getattr(server, "training_timeout", None)
    if training_total:
        limits["training"] = Limit(min(limits["training"].stall, training_total), float(training_total))
    configured = getattr(server, "timeouts", None)
    for name, base in list(limits.items()):
        block = getattr(configured, name, None)
        stall, total = getattr(block, "stall", None), getattr(block, "total", None)
        limits[name] = Limit(float(stall or base.stall), float(total or base.total))
    limits.update(overrides or {})
    return limits


def cannot_determine(address: str, why: str, candidates: list[str], plan: Plan) -> str:
    from featrix_iac.plan.reasons import cannot_determine_detail

    detail = cannot_determine_detail(address, why, candidates, plan.environment)
    return (
        f"cannot determine creation result for {address}: {detail} The lockfile keeps the attempt "
        f"(status 'creating'): the next plan looks for it again."
    )
