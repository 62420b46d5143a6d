"""plan/promote.py: which trainings become promotions, the proof, the refusals, and borrowed entries."""

from __future__ import annotations

from typing import Any

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.model import Action, ActionType, Drift, Plan, ReasonCode
from featrix_iac.plan.promote import candidates, config_hash, note_borrowed, promote
from featrix_iac.state import LockEntry, Lockfile

URL = "http://127.0.0.1:8080"
DATA = "sha256:" + "ab" * 32
FM = {"data": DATA, "name": "penguins-prod", "epochs": 3, "user_metadata": {"team": "prod"}}
PRED = {"foundational_model": "penguins", "name": "species", "epochs": 5, "target_column": "species"}
TRAINS = {"foundational_model", "predictor"}


def _plan(fm: dict[str, Any] | None = None, pred: dict[str, Any] | None = None) -> Plan:
    actions = [
        Action(
            address="foundational_model.penguins",
            kind="foundational_model",
            action=ActionType.CREATE,
            desired=dict(fm or FM),
            estimate={"training_seconds": 10.0},
        ),
        Action(
            address="predictor.species",
            kind="predictor",
            action=ActionType.CREATE,
            desired=dict(pred or PRED),
            depends_on=["foundational_model.penguins"],
            estimate={"training_seconds": 5.0},
        ),
    ]
    return Plan(
        tool_version="t", project="p", environment="prod", server_url=URL, lineage="l", serial=1, actions=actions
    )


def _with(plan: Plan, index: int, **update: Any) -> Plan:
    """The plan with one action changed (plans are frozen: a new one)."""
    actions = list(plan.actions)
    actions[index] = actions[index].model_copy(update=update)
    return plan.model_copy(update={"actions": tuple(actions)})


def _staging(**fm_changes: Any) -> Lockfile:
    fm_applied = {**FM, "name": "penguins-staging", "user_metadata": {"team": "staging"}, **fm_changes}
    data = fm_applied.pop("data")
    return Lockfile(
        serial=7,
        lineage="staging-lineage",
        environment="staging",
        server_url=URL,
        resources={
            "foundational_model.penguins": LockEntry(
                kind="foundational_model",
                status="ready",
                ids={"session_id": "s-1"},
                applied=fm_applied,
                hashes={"data": data},
                training={"seconds": 9.0},
            ),
            "predictor.species": LockEntry(
                kind="predictor", status="ready", ids={"session_id": "s-1", "predictor_id": "p-1"}, applied=dict(PRED)
            ),
        },
    )


def test_equal_configuration_and_data_promote_with_proof_and_no_training() -> None:
    plan = _plan()
    plan = promote(plan, _staging(), "staging", TRAINS)
    fm, pred = plan.actions
    assert [fm.action, pred.action] == [ActionType.PROMOTE, ActionType.PROMOTE]
    assert pred.prior_ids == {"session_id": "s-1", "predictor_id": "p-1"}
    assert fm.promotion == {
        "from": "staging",
        "serial": 7,
        "lineage": _staging().lineage,
        "data": DATA,
        "config_hash": config_hash(FM),
        "training": {"seconds": 9.0},
    }
    assert fm.desired["name"] == "penguins-staging"  # the object keeps staging's name
    assert "0 trainings (2 promoted)." in plan.summary_line()
    assert "staging lockfile serial 7" in fm.reasons[1].text


def test_config_hash_ignores_what_environments_may_differ_in() -> None:
    assert config_hash(FM) == config_hash({**FM, "name": "x", "user_metadata": {}, "compute_cluster": "gpu"})
    assert config_hash(FM) != config_hash({**FM, "epochs": 4})


def test_a_different_field_is_refused_by_name_and_its_dependents_train_too() -> None:
    plan = _plan(fm={**FM, "epochs": 4})
    plan = promote(plan, _staging(), "staging", TRAINS)
    fm, pred = plan.actions
    assert fm.action is ActionType.CREATE and pred.action is ActionType.CREATE
    assert fm.warnings == ("not promoted from staging: differs in epochs (3 in staging, 4 here)",)
    assert "foundational_model.penguins is not promoted" in pred.warnings[0]


def test_different_data_is_refused() -> None:
    plan = _plan()
    plan = promote(plan, _staging(data="sha256:" + "cd" * 32), "staging", TRAINS)
    assert plan.actions[0].action is ActionType.CREATE
    assert "differs in data" in plan.actions[0].warnings[0]


def test_a_tainted_or_missing_source_is_refused() -> None:
    staging = _staging()
    staging.resources["foundational_model.penguins"].status = "tainted"
    plan = _plan()
    plan = promote(plan, staging, "staging", TRAINS)
    assert plan.actions[0].warnings == ("not promoted from staging: it is tainted in staging's lockfile",)
    plan = _plan()
    plan = promote(plan, Lockfile(server_url=URL), "staging", TRAINS)
    assert plan.actions[0].warnings == (
        "not promoted from staging: staging's lockfile has no foundational_model.penguins",
    )


def test_another_server_is_refused() -> None:
    staging = _staging()
    staging.server_url = "https://sphere-api.featrix.com"
    with pytest.raises(DiagnosticsError) as info:
        promote(_plan(), staging, "staging", TRAINS)
    assert any("cannot promote from 'staging'" in d.summary for d in info.value.diagnostics)


def test_removing_a_borrowed_entry_says_it_is_only_forgotten() -> None:
    lock = Lockfile(
        resources={
            "foundational_model.penguins": LockEntry(
                kind="foundational_model", status="ready", ids={"session_id": "s-1"}, borrowed={"from": "staging"}
            )
        }
    )
    plan = _plan()
    gone = Action(address="foundational_model.penguins", kind="foundational_model", action=ActionType.DELETE)
    plan = plan.model_copy(update={"actions": (gone,)})
    plan = note_borrowed(plan, lock)
    assert "the object is staging's, so this environment only forgets it" in plan.actions[0].reasons[-1].text
    again = Action(address="foundational_model.penguins", kind="foundational_model", action=ActionType.CREATE)
    plan = plan.model_copy(
        update={"actions": (again,), "drift": (Drift(address="foundational_model.penguins", deleted=True),)}
    )
    plan = note_borrowed(plan, lock)
    assert "deleted outside this environment" in plan.actions[0].reasons[-1].text


def test_an_object_gone_or_failed_on_the_server_is_refused_as_stale() -> None:
    from featrix_iac.resources.base import LiveObject

    plan = _plan()
    plan = promote(plan, _staging(), "staging", TRAINS, {"foundational_model.penguins": None})
    assert plan.actions[0].action is ActionType.CREATE
    assert "staging's lockfile is stale: the object it records was deleted on the server" in plan.actions[0].warnings[0]
    plan = _plan()
    failed = LiveObject(ids={"session_id": "s-1"}, fields={}, status="failed")
    plan = promote(plan, _staging(), "staging", TRAINS, {"foundational_model.penguins": failed})
    assert "is failed on the server" in plan.actions[0].warnings[0]


def test_candidates_are_the_source_entries_of_planned_trainings() -> None:
    plan = _plan()
    plan = _with(plan, 1, action=ActionType.NOOP)
    assert list(candidates(plan, _staging(), TRAINS).resources) == ["foundational_model.penguins"]


def test_a_replacement_is_promoted_and_deletes_its_own_old_object_after_dependents() -> None:
    plan = _plan()
    plan = _with(
        _with(plan, 0, action=ActionType.REPLACE, prior_ids={"session_id": "prod-own"}),
        1,
        action=ActionType.REPLACE,
        prior_ids={"session_id": "prod-own"},
    )
    own = Lockfile(
        resources={
            "foundational_model.penguins": LockEntry(
                kind="foundational_model", status="ready", ids={"session_id": "prod-own"}
            ),
            "predictor.species": LockEntry(
                kind="predictor", status="ready", ids={"session_id": "prod-own", "predictor_id": "p-own"}
            ),
        }
    )
    plan = promote(plan, _staging(), "staging", TRAINS, lockfile=own)
    fm, pred = plan.actions
    assert [fm.action, pred.action] == [ActionType.PROMOTE, ActionType.PROMOTE]
    assert fm.delete_replaced and pred.delete_replaced
    assert fm.prior_ids == {"session_id": "s-1"}
    # its steps: record the borrowed object, then (destroy half) delete this environment's own old one
    assert [(s.call, s.phase.value, s.target) for s in fm.steps] == [
        ("record", "main", ""),
        ("unprotect", "destroy", "session_id=prod-own"),
        ("mark_for_deletion", "destroy", "session_id=prod-own"),
        ("forget", "destroy", ""),
    ]
    assert [s.call for s in pred.steps] == ["record", "retire"]  # the API cannot delete predictors


def _gated(status: str, accuracy: float, ids: dict[str, str] | None = None) -> dict[str, Any]:
    result = {"gate": "min_accuracy", "metric": "accuracy", "value": accuracy, "threshold": 0.9}
    result["passed"] = accuracy >= 0.9
    return {
        "status": status,
        "results": [result],
        "at": "t",
        "ids": ids or {"session_id": "s-1", "predictor_id": "p-1"},
    }


def test_an_artifact_that_failed_a_gate_in_staging_is_refused() -> None:
    staging = _staging()
    staging.resources["predictor.species"].gate = _gated("waived", 0.5)
    plan = _plan()
    plan = promote(plan, staging, "staging", TRAINS)
    assert plan.actions[1].action is ActionType.CREATE
    assert "failed a quality gate in staging (waived (--skip-gate))" in plan.actions[1].warnings[0]


def test_this_environments_gates_are_checked_on_stagings_metrics_and_shown_as_proof() -> None:
    staging = _staging()
    staging.resources["predictor.species"].gate = _gated("passed", 0.93)
    plan = _plan()
    plan = _with(plan, 1, gates={"min_accuracy": 0.95})
    plan = promote(plan, staging, "staging", TRAINS)
    assert plan.actions[1].action is ActionType.CREATE
    assert "staging's recorded metrics fail this environment's gates: accuracy 0.93" in plan.actions[1].warnings[0]
    plan = _plan()
    plan = _with(plan, 1, gates={"min_accuracy": 0.9})
    plan = promote(plan, staging, "staging", TRAINS)
    assert plan.actions[1].action is ActionType.PROMOTE
    assert plan.actions[1].promotion is not None and plan.actions[1].promotion["metrics"] == {"accuracy": 0.93}
    assert plan.actions[1].reasons[1].text.endswith(", accuracy 0.93")


def _on_cluster(staging: Lockfile, cluster: str | None) -> Lockfile:
    """`staging` with its foundational model trained on `cluster` (as the create's answer recorded it)."""
    entry = staging.resources["foundational_model.penguins"]
    entry.outputs = {"compute_cluster": cluster} if cluster else {}
    return staging


def test_another_compute_cluster_promotes_by_cloning_and_its_predictors_retrain() -> None:
    plan = promote(_plan(fm={**FM, "compute_cluster": "gpu-b"}), _on_cluster(_staging(), "gpu-a"), "staging", TRAINS)
    fm, pred = plan.actions
    assert fm.action is ActionType.PROMOTE
    assert fm.promotion is not None and fm.promotion["clone"] == {"to": "gpu-b", "from": "gpu-a", "session_id": "s-1"}
    assert fm.promotion["serial"] == 7 and fm.promotion["config_hash"] == config_hash(FM)  # the proof, as borrowed
    assert fm.reasons[0].code is ReasonCode.PROMOTE_CLONE and "to compute cluster gpu-b" in fm.reasons[0].text
    calls = [s.call for s in fm.steps]
    assert calls[0] == "clone" and calls[-1] == "record" and "mark_for_deletion" not in calls
    assert fm.desired["name"] == "penguins-prod" and fm.desired["compute_cluster"] == "gpu-b"  # the clone is prod's
    assert fm.desired["user_metadata"] == {"team": "staging"}  # copied with the embedding space
    assert pred.action is ActionType.CREATE and pred.estimate
    assert pred.warnings == (
        "not promoted from staging: retrains: the clone of foundational_model.penguins to compute cluster gpu-b "
        "carries no predictors",
    )
    assert "1 training (1 promoted)." in plan.summary_line()


def test_the_environments_cluster_counts_and_the_same_or_no_cluster_borrows() -> None:
    cloned = promote(_plan(), _on_cluster(_staging(), "gpu-a"), "staging", TRAINS, cluster="gpu-b")
    assert cloned.actions[0].promotion is not None and cloned.actions[0].promotion["clone"]["to"] == "gpu-b"
    for cluster in ("gpu-a", None):  # the same cluster, or none asked (the server's default): borrowed
        plan = promote(_plan(), _on_cluster(_staging(), "gpu-a"), "staging", TRAINS, cluster=cluster)
        assert [a.action for a in plan.actions] == [ActionType.PROMOTE, ActionType.PROMOTE]
        assert plan.actions[0].promotion is not None and "clone" not in plan.actions[0].promotion
    unknown = promote(_plan(), _on_cluster(_staging(), None), "staging", TRAINS, cluster="gpu-a")
    assert unknown.actions[0].promotion is not None and unknown.actions[0].promotion["clone"]["from"] is None
