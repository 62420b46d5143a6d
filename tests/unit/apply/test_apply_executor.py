"""The applier's DAG walk with fake handlers: ordering, failure containment, skip reasons, interrupt, intent."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.apply import Interrupt, RecordingObserver, apply_plan
from featrix_iac.apply.executor import CycleError, Outcome, State, run_dag
from featrix_iac.apply.schedule import Node, build_nodes
from featrix_iac.client import AmbiguousResult, RequestError
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.model import ActionType, FieldChange, Phase, Step
from featrix_iac.plan.steps import decided
from featrix_iac.resources.base import Ambiguous, CannotTell, Progress
from featrix_iac.state import LockEntry

from .fakes import Log, action, handlers, plan, store_and_lock

FM, P1, P2, EP = "foundational_model.fm", "predictor.a", "predictor.b", "endpoint.api"


def run(tmp_path: Path, p: Any, hs: Any, **kw: Any) -> Any:
    store, lock = kw.pop("store_lock", None) or store_and_lock(tmp_path)
    obs = kw.pop("observer", RecordingObserver())
    p = decided(p, lock, hs)  # the planner's decisions (create_before_destroy, steps) for a plan built by hand
    result = apply_plan(p, loaded=None, client=None, store=store, lockfile=lock, observer=obs, handlers=hs, **kw)  # type: ignore[arg-type]
    return result, lock, obs


def chain() -> Any:
    return plan(
        action(EP, deps=(P1,)),
        action(P1, deps=(FM,)),
        action(P2, deps=(FM,)),
        action(FM),
    )


def test_dependencies_run_first_and_everything_is_recorded(tmp_path: Path) -> None:
    log = Log()
    result, lock, obs = run(tmp_path, chain(), handlers(log))
    assert sorted(result.done) == sorted([FM, P1, P2, EP]) and not result.failed
    assert log.index("create", FM) < log.index("create", P1) < log.index("create", EP)
    assert log.index("poll", f"id-{P1}") < log.index("create", EP)  # training awaited before dependents
    assert all(lock.entry(a).status == "ready" for a in (FM, P1, P2, EP))
    assert lock.entry(EP).depends_on == [P1]
    assert obs.names(FM) == ["start", "progress", "done"]


def test_intent_is_saved_before_the_create_call(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    store, lock = store_and_lock(tmp_path)
    hs["endpoint"].store_path = store.path
    run(tmp_path, plan(action(EP)), hs, store_lock=(store, lock))
    on_disk = hs["endpoint"].seen_on_disk[EP]
    assert on_disk["status"] == "creating" and on_disk["creation_token"] and on_disk["ids"] == {}
    assert lock.entry(EP).creation_token == on_disk["creation_token"]


def test_secret_is_encrypted_immediately_and_never_plain(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    run(tmp_path, plan(action(EP)), handlers(log), store_lock=(store, lock))
    assert "fx_secret_api" not in store.path.read_text()
    assert store.decrypt(EP, lock.entry(EP).secrets["api_key"]) == "fx_secret_api"


def test_a_failure_stops_only_its_dependents(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)

    def boom(op: Any) -> None:
        raise RequestError("POST /train_predictor: HTTP 400: bad target", status=400)

    hs["predictor"].on_create[P1] = boom
    result, lock, obs = run(tmp_path, chain(), hs)
    assert result.failed == {P1: "POST /train_predictor: HTTP 400: bad target"}
    assert result.skipped == {EP: f"upstream {P1} failed"}
    assert sorted(result.done) == [FM, P2]
    assert lock.entry(P1) is None  # a refused create leaves no intent behind
    assert ("create", EP) not in log.calls
    assert obs.names(EP) == ["skipped"]


def test_independent_actions_run_in_parallel(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    barrier = threading.Barrier(3, timeout=10)
    for a in ("endpoint.x", "endpoint.y", "endpoint.z"):
        hs["endpoint"].on_create[a] = lambda op: barrier.wait()
    result, _, _ = run(tmp_path, plan(*(action(a) for a in ("endpoint.x", "endpoint.y", "endpoint.z"))), hs)
    assert len(result.done) == 3, result.failed  # a serial walk would break the barrier


def test_interrupt_lets_in_flight_finish_and_starts_nothing_new(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    stop = Interrupt()

    def interrupted(op: Any) -> None:
        stop.set()

    hs["foundational_model"].on_create[FM] = interrupted
    hs["foundational_model"].on_poll[f"id-{FM}"] = lambda: Progress("training", 0.5, "epoch 5/10")
    result, lock, _ = run(tmp_path, chain(), hs, interrupt=stop)
    # FM's create finished and is recorded; its training wait saw the interrupt: skipped, ids kept
    assert lock.entry(FM).ids == {"id": f"id-{FM}"} and lock.entry(FM).status == "creating"
    assert result.done == []
    assert "interrupted" in result.skipped[FM]
    assert set(result.skipped) == {FM, P1, P2, EP}
    assert [c for c in log.calls if c[0] == "create"] == [("create", FM)]


def test_reattach_waits_instead_of_creating_again(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    store.update(
        lock, FM, LockEntry(kind="foundational_model", status="creating", creation_token="t", ids={"id": "old"})
    )
    result, lock, _ = run(tmp_path, plan(action(FM)), handlers(log), store_lock=(store, lock))
    assert result.done == [FM]
    assert ("create", FM) not in log.calls and ("poll", "old") in log.calls
    assert lock.entry(FM).ids == {"id": "old"} and lock.entry(FM).status == "ready"


def test_orphan_without_ids_is_adopted_by_identity(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    hs["endpoint"].found[EP] = {"id": "orphan"}
    store, lock = store_and_lock(tmp_path)
    store.update(lock, EP, LockEntry(kind="endpoint", status="creating", creation_token="tok"))
    result, lock, _ = run(tmp_path, plan(action(EP)), hs, store_lock=(store, lock))
    assert result.done == [EP] and lock.entry(EP).ids == {"id": "orphan"}
    assert ("create", EP) not in log.calls


def test_orphan_that_cannot_be_told_stops_with_instructions(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    hs["predictor"].found[P1] = CannotTell("a training is queued and has no predictor id yet")
    store, lock = store_and_lock(tmp_path)
    store.update(lock, P1, LockEntry(kind="predictor", status="creating", creation_token="tok"))
    result, lock, _ = run(tmp_path, plan(action(P1)), hs, store_lock=(store, lock))
    msg = result.failed[P1]
    assert msg.startswith(f"cannot determine creation result for {P1}") and "queued" in msg
    assert "featrix import" in msg
    assert lock.entry(P1).status == "creating"  # kept for the user to resolve
    assert ("create", P1) not in log.calls


def test_an_ambiguous_orphan_stops_and_names_the_import_commands(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    hs["predictor"].found[P1] = Ambiguous("2 predictors fit", ["s/p1", "s/p2"])
    store, lock = store_and_lock(tmp_path)
    store.update(lock, P1, LockEntry(kind="predictor", status="creating", creation_token="tok"))
    result, lock, _ = run(tmp_path, plan(action(P1)), hs, store_lock=(store, lock))
    msg = result.failed[P1]
    assert f"featrix import {P1} s/p1" in msg and f"featrix import {P1} s/p2" in msg
    assert lock.entry(P1).status == "creating" and ("create", P1) not in log.calls


def test_ambiguous_create_is_resolved_by_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import featrix_iac.apply.applier as applier

    monkeypatch.setattr(applier, "FIND_GRACE", (0.01,))  # the re-search for lagging lists, shortened
    log = Log()
    hs = handlers(log)

    def lost(op: Any) -> None:
        raise AmbiguousResult("POST /endpoints: outcome unknown")

    hs["endpoint"].on_create[EP] = lost
    hs["endpoint"].found[EP] = {"id": "made-anyway"}
    result, lock, _ = run(tmp_path, plan(action(EP)), hs)
    assert result.done == [EP] and lock.entry(EP).ids == {"id": "made-anyway"}
    hs["endpoint"].found[EP] = None  # not found (a list may lag): the intent stays for the next apply to search
    result, lock, _ = run(tmp_path / "2", plan(action(EP)), hs)
    assert "outcome unknown" in result.failed[EP] and "stays in the lockfile" in result.failed[EP]
    assert lock.entry(EP).status == "creating" and not lock.entry(EP).ids and lock.entry(EP).creation_token


def test_failed_training_marks_the_entry_tainted(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    hs["predictor"].on_poll[f"id-{P1}"] = lambda: Progress("failed", None, "training failed: diverged")
    result, lock, _ = run(tmp_path, chain(), hs)
    assert "diverged" in result.failed[P1] and "tainted" in result.failed[P1]
    assert lock.entry(P1).status == "tainted" and lock.entry(P1).ids == {"id": f"id-{P1}"}
    assert result.skipped[EP] == f"upstream {P1} failed"


def test_training_wait_times_out_with_an_error(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)
    hs["foundational_model"].on_poll[f"id-{FM}"] = lambda: Progress("training", 0.1, "epoch 1/10")
    result, lock, obs = run(tmp_path, plan(action(FM)), hs, training_timeout=0.3)
    assert "still training after" in result.failed[FM] and "next apply waits" in result.failed[FM]
    assert lock.entry(FM).status == "creating" and lock.entry(FM).ids
    assert ("progress", FM, ("epoch 1/10", 0.1)) in obs.events


def test_followups_and_in_place_updates_run_their_steps(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    run(
        tmp_path,
        plan(action(FM, desired={"size": 1, "deletion_protection": True})),
        handlers(log),
        store_lock=(store, lock),
    )
    assert ("protect", FM) in log.calls and lock.entry(FM).protected
    unprotect = [FieldChange(field="deletion_protection", old=True, new=False)]
    wanted = {"size": 1, "deletion_protection": False, "secret": "sha256:x"}
    upd = action(FM, ActionType.UPDATE, desired=wanted, changes=unprotect)
    result, lock, _ = run(tmp_path, plan(upd), handlers(log), store_lock=(store, lock))
    assert result.done == [FM]
    assert lock.entry(FM).applied == {"size": 1, "deletion_protection": False} and lock.entry(FM).hashes == {
        "secret": "sha256:x"
    }
    assert not lock.entry(FM).protected


def _seed(
    store: Any, lock: Any, entries: dict[str, tuple[str, list[str], bool]], session_id: str | None = None
) -> None:
    for address, (kind, deps, protected) in entries.items():
        ids = {"id": f"old-{address}", **({"session_id": session_id} if session_id else {})}
        store.update(lock, address, LockEntry(kind=kind, status="ready", ids=ids, depends_on=deps, protected=protected))


def test_deletes_run_in_reverse_dependency_order(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(
        store,
        lock,
        {FM: ("foundational_model", [], True), P1: ("predictor", [FM], True), EP: ("endpoint", [P1], False)},
        session_id="s-1",
    )
    p = plan(
        action(FM, ActionType.DELETE),
        action(P1, ActionType.RETIRE, deps=(FM,)),
        action(EP, ActionType.DELETE, deps=(P1,)),
    )
    result, lock, _ = run(tmp_path, p, handlers(log), store_lock=(store, lock))
    assert sorted(result.done) == sorted([FM, P1, EP]) and lock.resources == {}  # P1 went with its model
    assert log.index("delete", EP) < log.index("unprotect", P1) < log.index("unprotect", FM) < log.index("delete", FM)
    assert ("delete", P1) not in log.calls  # predictors are retired, never deleted


def test_a_retired_predictor_stays_tracked_while_its_model_lives(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {FM: ("foundational_model", [], False), P1: ("predictor", [FM], True)}, session_id="s-1")
    result, lock, _ = run(tmp_path, plan(action(P1, ActionType.RETIRE)), handlers(log), store_lock=(store, lock))
    assert result.done == [P1] and ("delete", P1) not in log.calls
    retired = lock.resources[P1]
    assert retired.status == "retired" and retired.ids["id"] == f"old-{P1}" and not retired.protected


def test_replace_creates_before_destroying_when_asked_and_remembers_the_old_ids(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {FM: ("foundational_model", [], False), P1: ("predictor", [FM], False)})
    p = plan(
        action(FM, ActionType.REPLACE, create_before_destroy=True),
        action(P1, ActionType.REPLACE, deps=(FM,)),
    )
    result, lock, _ = run(tmp_path, p, handlers(log), store_lock=(store, lock))
    assert sorted(result.done) == [FM, P1]
    assert log.index("create", FM) < log.index("create", P1) < log.index("delete", FM)
    assert lock.entry(FM).ids == {"id": f"id-{FM}"} and lock.entry(FM).retired == []  # deleted: forgotten
    assert lock.entry(P1).retired == [{"id": f"old-{P1}", "reason": "replaced"}]  # retired predictor kept


def test_a_deleted_model_takes_every_retired_predictor_record_of_its_session_along(tmp_path: Path) -> None:
    """A retrain replaces the model and its predictors: once the old model is deleted, neither its retired
    predictor entries nor the replaced predictors' records stay in the lockfile (one more per retrain)."""
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {FM: ("foundational_model", [], False), P1: ("predictor", [FM], False)}, session_id="s-1")
    older = {"id": "older", "session_id": "s-0", "reason": "replaced"}  # from a model deleted long ago: kept
    store.update(lock, P1, lock.entry(P1).model_copy(update={"retired": [older]}))
    store.update(lock, P2, LockEntry(kind="predictor", status="retired", ids={"id": "p2", "session_id": "s-1"}))
    p = plan(
        action(FM, ActionType.REPLACE, create_before_destroy=True),
        action(P1, ActionType.REPLACE, deps=(FM,)),
    )
    result, lock, _ = run(tmp_path, p, handlers(log), store_lock=(store, lock))
    assert sorted(result.done) == [FM, P1] and ("delete", FM) in log.calls
    assert P2 not in lock.resources
    assert lock.entry(P1).retired == [older]
    assert json.loads(store.path.read_text())["resources"][P1].get("retired", []) == [older]


def test_replace_without_cbd_destroys_first(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {EP: ("endpoint", [], False)})
    result, lock, _ = run(tmp_path, plan(action(EP, ActionType.REPLACE)), handlers(log), store_lock=(store, lock))
    assert result.done == [EP]
    assert log.index("delete", EP) < log.index("create", EP)


def test_nodes_follow_the_plans_create_before_destroy_and_never_recompute_it() -> None:
    both = [Step(call="create"), Step(call="forget", phase=Phase.DESTROY)]
    cbd = plan(
        action(FM, ActionType.REPLACE, create_before_destroy=True, steps=both),
        action(P1, ActionType.REPLACE, deps=(FM,), steps=both),
    )
    nodes = {n.id: n for n in build_nodes(cbd.actions, {})}
    assert f"{FM}#main" in nodes[f"{FM}#destroy"].deps  # the old model goes once the new one is made
    assert f"{FM}#destroy" not in nodes[f"{FM}#main"].deps
    # the planner decides the propagation (plan/steps.py); a plan that says otherwise is followed as it is
    first = plan(action(FM, ActionType.REPLACE, steps=both), action(P1, ActionType.REPLACE, deps=(FM,), steps=both))
    nodes = {n.id: n for n in build_nodes(first.actions, {})}
    assert f"{FM}#destroy" in nodes[f"{FM}#main"].deps
    # the nodes are the phases the steps name: an action with main steps only has no destroy node
    only_main = plan(action(FM, ActionType.REPLACE, steps=both[:1]))
    assert [n.id for n in build_nodes(only_main.actions, {})] == [f"{FM}#main"]


def test_a_plan_without_steps_is_refused_before_anything_runs(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    with pytest.raises(DiagnosticsError) as exc:
        apply_plan(plan(action(FM)), loaded=None, client=None, store=store, lockfile=lock, handlers=handlers(log))  # type: ignore[arg-type]
    assert any("records no steps for foundational_model.fm" in d.summary for d in exc.value.diagnostics)
    assert log.calls == [] and lock.resources == {}


def test_run_dag_reports_cycles_and_outcomes() -> None:
    a, b = Node("a", "x.a", Phase.MAIN, {"b"}), Node("b", "x.b", Phase.MAIN, {"a"})
    with pytest.raises(CycleError):
        run_dag([a, b], lambda n: None)
    seen: list[tuple[str, Outcome]] = []
    out = run_dag([Node("c", "x.c", Phase.MAIN)], lambda n: None, on_outcome=lambda n, o: seen.append((n.id, o)))
    assert out == {"c": Outcome(State.DONE)} and seen == [("c", Outcome(State.DONE))]


def test_replace_also_deletes_old_objects_an_interrupted_run_left_pending(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    leftover = {"id": "older", "reason": "replaced", "pending_delete": "true"}
    store.update(
        lock,
        FM,
        LockEntry(kind="foundational_model", status="ready", ids={"id": "old"}, retired=[leftover]),
    )
    result, lock, _ = run(
        tmp_path,
        plan(action(FM, ActionType.REPLACE, create_before_destroy=True)),
        handlers(log),
        store_lock=(store, lock),
    )
    assert result.done == [FM]
    deleted = sorted(i for step, i in log.calls if step == "delete-id")
    assert deleted == ["old", "older"]  # never the new object
    assert lock.entry(FM).retired == [] and lock.entry(FM).ids == {"id": f"id-{FM}"}


def test_an_unexpected_error_fails_only_its_action_with_a_clear_message(tmp_path: Path) -> None:
    log = Log()
    hs = handlers(log)

    def bug(op: Any) -> None:
        raise KeyError("session_id")

    hs["predictor"].on_create[P2] = bug
    result, _, _ = run(tmp_path, chain(), hs)
    assert result.failed == {P2: f"internal error while applying {P2}: KeyError: 'session_id'"}
    assert sorted(result.done) == [EP, FM, P1]


def test_a_resumed_create_skips_follow_up_steps_already_recorded(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    desired = {"size": 1, "deletion_protection": True}
    partial = LockEntry(
        kind="foundational_model",
        status="creating",
        creation_token="t",
        ids={"id": "x"},
        applied={"deletion_protection": True},
    )
    store.update(lock, FM, partial)
    result, lock, _ = run(tmp_path, plan(action(FM, desired=desired)), handlers(log), store_lock=(store, lock))
    assert result.done == [FM] and ("protect", FM) not in log.calls and ("create", FM) not in log.calls
    store.update(lock, FM, partial.model_copy(update={"applied": {}}))
    run(tmp_path, plan(action(FM, desired=desired)), handlers(log), store_lock=(store, lock))
    assert ("protect", FM) in log.calls  # nothing recorded yet: the follow-up runs


def test_an_interrupt_between_the_halves_of_a_replacement_reports_what_was_done(tmp_path: Path) -> None:
    """Ctrl-C after the new foundational model finished (recorded) but before the old one was deleted: the
    report says the new one is recorded, not "interrupted before it started" (and not a plain 0 added)."""
    from featrix_iac.cli.views import apply_summary

    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {FM: ("foundational_model", [], False), P1: ("predictor", [FM], False)})
    stop = Interrupt()
    hs = handlers(log)

    def finished_then_ctrl_c() -> Progress:
        stop.set()
        return Progress("ready", 1.0, "done")

    hs["foundational_model"].on_poll[f"id-{FM}"] = finished_then_ctrl_c
    p = plan(action(FM, ActionType.REPLACE, create_before_destroy=True), action(P1, ActionType.REPLACE, deps=(FM,)))
    result, lock, _ = run(tmp_path, p, hs, interrupt=stop, store_lock=(store, lock))
    assert lock.entry(FM).ids == {"id": f"id-{FM}"}  # the new model is recorded
    message = result.skipped[FM]
    assert message.startswith("partly applied: the new object was created and recorded in the lockfile"), message
    assert "next apply completes it" in message
    assert result.interrupted
    assert apply_summary(p, result).startswith("Apply interrupted.")


def test_a_lost_create_answer_during_a_replacement_keeps_the_creation_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8: the new predictor's create answer is lost and a search cannot see it yet: the intent (its
    creation token, the old object recorded as replaced) stays, so the next apply searches before it trains."""
    import featrix_iac.apply.applier as applier

    monkeypatch.setattr(applier, "FIND_GRACE", (0.01,))
    log = Log()
    hs = handlers(log)
    store, lock = store_and_lock(tmp_path)
    store.update(lock, P1, LockEntry(kind="predictor", status="ready", ids={"id": "old"}, applied={"size": 1}))

    def lost(op: Any) -> None:
        raise AmbiguousResult("POST train_predictor: outcome unknown")

    hs["predictor"].on_create[P1] = lost
    hs["predictor"].found[P1] = None
    replace = action(P1, ActionType.REPLACE, desired={"size": 2}, prior_ids={"id": "old"})
    result, lock, _ = run(tmp_path, plan(replace), hs, store_lock=(store, lock))
    assert "outcome unknown" in result.failed[P1] and "stays in the lockfile" in result.failed[P1]
    entry = lock.entry(P1)
    assert entry.status == "creating" and entry.creation_token  # the attempt is remembered
    assert any(r.get("id") == "old" for r in entry.retired)  # and the old predictor still tracked


def test_the_applier_runs_the_plans_steps_and_never_asks_the_handler_which(tmp_path: Path) -> None:
    log = Log()
    store, lock = store_and_lock(tmp_path)
    _seed(store, lock, {FM: ("foundational_model", [], True)})
    recorded = [
        Step(call="shadow"),
        Step(call="record"),
    ]
    unprotect = [FieldChange(field="deletion_protection", old=True, new=False)]  # the handler would "protect"
    upd = action(
        FM, ActionType.UPDATE, desired={"size": 1, "deletion_protection": False}, steps=recorded, changes=unprotect
    )
    gone = [Step(call="delete", phase=Phase.DESTROY, target=f"id=old-{EP}"), Step(call="forget", phase=Phase.DESTROY)]
    _seed(store, lock, {EP: ("endpoint", [], True)})  # protected: the handler would "unprotect" first
    p = plan(upd, action(EP, ActionType.DELETE, prior_ids={"id": f"old-{EP}"}, steps=gone))
    result = apply_plan(p, loaded=None, client=None, store=store, lockfile=lock, handlers=handlers(log))  # type: ignore[arg-type]
    assert sorted(result.done) == [EP, FM]
    assert ("shadow", FM) in log.calls and ("protect", FM) not in log.calls
    assert ("delete", EP) in log.calls and ("unprotect", EP) not in log.calls
    assert EP not in lock.resources


@pytest.mark.parametrize("seed", range(12))
def test_run_dag_on_random_graphs_starts_by_critical_path_and_skips_below_failures(seed: int) -> None:
    """One worker, so the order is the scheduler's alone: every node starts once its deps are done, always the
    deepest-chain startable node first (ties by id); below a failure everything is skipped, naming the root."""
    import random

    from featrix_iac.apply.executor import critical_path

    rng = random.Random(seed)
    ids = [f"n{i:02d}" for i in range(40)]
    nodes = [
        Node(nid, f"x.{nid}", Phase.MAIN, {d for d in ids[:i] if rng.random() < 0.08}) for i, nid in enumerate(ids)
    ]
    failing = set(rng.sample(ids, 3))
    started: list[str] = []

    def work(node: Node) -> None:
        started.append(node.id)
        if node.id in failing:
            raise RuntimeError("boom")

    out = run_dag(nodes, work, parallelism=1)
    by_id = {n.id: n for n in nodes}
    depth = critical_path(by_id)
    done: set[str] = set()
    for i, nid in enumerate(started):
        assert by_id[nid].deps <= done, f"{nid} started before its deps"
        startable = [
            n for n in ids if n not in started[:i] and by_id[n].deps <= done and out[n].state is not State.SKIPPED
        ]
        assert nid == min(startable, key=lambda n: (-depth[n], n))
        if out[nid].state is State.DONE:
            done.add(nid)
    for nid in ids:
        if any(d not in done for d in by_id[nid].deps):
            assert out[nid].state is State.SKIPPED and out[nid].message.startswith("upstream x.")
            assert out[nid].message.removeprefix("upstream x.").removesuffix(" failed") in failing
            assert nid not in started
        elif nid in failing:
            assert out[nid] == Outcome(State.FAILED, "boom")
        else:
            assert out[nid] == Outcome(State.DONE)
