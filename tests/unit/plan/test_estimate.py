"""Training estimates: work from the data, calibration on recorded trainings, the critical path."""

from __future__ import annotations

from featrix_iac.plan.estimate import MIN_SECONDS, estimate, seconds_per_unit, totals
from featrix_iac.plan.model import ActionDraft, ActionType
from featrix_iac.state import LockEntry, Lockfile

SUMMARY = {"file": "t.csv", "rows": 1000, "columns": {"a": "int", "b": "string", "c": "float", "id": "string"}}


def _actions() -> list[ActionDraft]:
    fm = ActionDraft(
        address="foundational_model.fm",
        kind="foundational_model",
        action=ActionType.REPLACE,
        desired={"data_summary": SUMMARY, "epochs": 10, "ignore_columns": ["id"]},
    )
    preds = [
        ActionDraft(
            address=f"predictor.p{i}",
            kind="predictor",
            action=ActionType.CREATE,
            desired={"epochs": 10 * (i + 1)},
            depends_on=["foundational_model.fm"],
        )
        for i in range(3)
    ]
    endpoint = ActionDraft(address="endpoint.e", kind="endpoint", action=ActionType.UPDATE, depends_on=["predictor.p0"])
    return [fm, *preds, endpoint]


def _calibrated() -> Lockfile:
    lock = Lockfile(project="x")
    lock.resources["foundational_model.old"] = LockEntry(
        kind="foundational_model", status="ready", ids={"session_id": "s"}, training={"seconds": 300, "work": 100_000}
    )
    lock.resources["predictor.old"] = LockEntry(
        kind="predictor", status="ready", ids={"predictor_id": "p"}, training={"seconds": 60, "work": 300_000}
    )
    return lock


def test_work_is_rows_times_trained_columns_times_epochs_and_rates_come_from_the_lockfile() -> None:
    actions = _actions()
    desired = {a.address: a.desired for a in actions}
    estimate(actions, desired, _calibrated(), {"foundational_model", "predictor"})
    fm, p0, p1, p2, endpoint = actions
    assert fm.estimate is not None and fm.estimate["work"] == 1000 * 3 * 10  # the id column is ignored
    assert fm.estimate["training_seconds"] == 90.0 and fm.estimate["calibrated_on"] == 1  # 300 s / 100k units
    assert p2.estimate is not None and p2.estimate["training_seconds"] == 1000 * 4 * 30 * 60 / 300_000
    assert endpoint.estimate is None
    assert totals(actions) == {
        "training_seconds": 90.0 + 8.0 + 16.0 + 24.0,
        "critical_path_seconds": 90.0 + 24.0,  # the foundational model, then the longest predictor
    }


def test_without_history_every_training_has_a_floor_and_no_data_means_no_estimate() -> None:
    actions = _actions()
    desired = {a.address: a.desired for a in actions}
    assert seconds_per_unit(Lockfile(project="x")) == {}
    estimate(actions, desired, Lockfile(project="x"), {"foundational_model", "predictor"})
    assert all(a.estimate["training_seconds"] >= MIN_SECONDS for a in actions[:4] if a.estimate)
    assert all(a.estimate and a.estimate["calibrated_on"] == 0 for a in actions[:4])
    bare = [
        ActionDraft(address="foundational_model.u", kind="foundational_model", action=ActionType.CREATE, desired={})
    ]
    estimate(bare, {}, Lockfile(project="x"), {"foundational_model"})
    assert bare[0].estimate is None and totals(bare) is None


def test_the_estimate_line_reads_in_seconds_or_minutes() -> None:
    from featrix_iac.plan.render import estimate_line

    assert estimate_line({"training_seconds": 30.0, "critical_path_seconds": 12.4}) == (
        "Estimated training: ≈ 30 s (critical path 12 s)"
    )
    assert estimate_line({"training_seconds": 720.0, "critical_path_seconds": 300.0}) == (
        "Estimated training: ≈ 12 min (critical path 5 min)"
    )
