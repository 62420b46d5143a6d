"""Apply summaries and the line observer."""

from __future__ import annotations

import pytest

from featrix_iac.apply import ApplyResult
from featrix_iac.cli.views import LineObserver, apply_summary
from featrix_iac.plan.jsonformat import plan_id
from featrix_iac.plan.model import Action, ActionType, Plan


def _plan(*actions: tuple[str, ActionType]) -> Plan:
    return Plan(
        tool_version="0.1.0",
        project="p",
        environment="default",
        server_url="local",
        lineage="l",
        serial=1,
        actions=[Action(address=a, kind=a.split(".")[0], action=t) for a, t in actions],
    )


def test_complete_summary_counts_by_action() -> None:
    plan = _plan(
        ("foundational_model.a", ActionType.CREATE),
        ("predictor.b", ActionType.REPLACE),
        ("endpoint.c", ActionType.UPDATE),
        ("vector_database.d", ActionType.DELETE),
        ("predictor.e", ActionType.RETIRE),
        ("predictor.f", ActionType.NOOP),
    )
    done = ["foundational_model.a", "predictor.b", "endpoint.c", "vector_database.d", "predictor.e"]
    text = apply_summary(plan, ApplyResult(done=done))
    # counted as the plan counts: "1 to replace" becomes "1 replaced" (not added + destroyed or retired)
    assert plan.summary_line() == "Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy, 1 to retire."
    assert text.splitlines() == [
        "Apply complete! Resources: 1 added, 1 changed, 1 replaced, 1 destroyed, 1 retired.",
        f"Plan id: {plan_id(plan)}",  # the id the lockfile's provenance records: a CI log leads to it
    ]
    assert apply_summary(plan, ApplyResult(done=done), destroy=True).startswith("Destroy complete!")


def test_failure_lists_done_failed_and_skipped() -> None:
    plan = _plan(
        ("foundational_model.a", ActionType.CREATE),
        ("predictor.b", ActionType.CREATE),
        ("endpoint.c", ActionType.CREATE),
    )
    result = ApplyResult(
        done=["foundational_model.a"],
        failed={"predictor.b": "training failed"},
        skipped={"endpoint.c": "upstream failed: predictor.b"},
    )
    assert apply_summary(plan, result).splitlines() == [
        "Apply failed. Resources: 1 added, 0 changed, 0 destroyed.",
        f"Plan id: {plan_id(plan)}",
        "Done:",
        "  foundational_model.a",
        "Failed:",
        "  predictor.b: training failed",
        "Skipped:",
        "  endpoint.c: upstream failed: predictor.b",
    ]


def test_line_observer_prints_progress_once_per_message(capsys: pytest.CaptureFixture[str]) -> None:
    obs = LineObserver()
    action = Action(address="predictor.b", kind="predictor", action=ActionType.CREATE)
    obs.on_start(action)
    obs.on_progress("predictor.b", "training epoch 1/40", 0.025)
    obs.on_progress("predictor.b", "training epoch 1/40", 0.025)
    obs.on_progress("predictor.b", "training epoch 2/40", 0.05)  # same stage, same 10%: not repeated
    obs.on_progress("predictor.b", "training epoch 5/40", 0.125)
    obs.on_progress("predictor.b", "waiting for the shadow", None)
    obs.on_failed(action, "boom")
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "predictor.b: creating...",
        "predictor.b: training epoch 1/40 (2%)",
        "predictor.b: training epoch 5/40 (12%)",
        "predictor.b: waiting for the shadow",
        "predictor.b: FAILED: boom",
    ]


def test_gates_list_predictor_metrics_and_shadow_verdicts() -> None:
    plan = _plan(("predictor.b", ActionType.REPLACE), ("endpoint.c", ActionType.UPDATE))
    metric = {"gate": "min_f1", "metric": "f1", "value": 0.91, "threshold": 0.8, "passed": True}
    shadow = {
        "status": "shadow_gated_out",
        "require_verdict": "not_worse",
        "min_paired": 200,
        "verdict": "undecided",
        "paired": 12,
        "why": "no passing verdict within max_wait 1h: verdict undecided on 12 paired (min_paired 200)",
        "step": "shadow_gate",
    }
    result = ApplyResult(done=["predictor.b"], failed={"endpoint.c": "shadow gate failed"})
    result.gates = {"predictor.b": {"status": "passed", "results": [metric]}, "endpoint.c": shadow}
    assert apply_summary(plan, result).splitlines()[-5:] == [
        "Gates:",
        "  endpoint.c: shadow gated out",
        "    no passing verdict within max_wait 1h: verdict undecided on 12 paired (min_paired 200)",
        "  predictor.b: passed",
        "    f1 0.91 >= min_f1 0.8",
    ]
