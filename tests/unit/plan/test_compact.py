"""Large plans stay readable: summary first, cascades that change nothing of their own folded by what they follow."""

from __future__ import annotations

import time

from featrix_iac.plan import reasons as why
from featrix_iac.plan.jsonformat import plan_id
from featrix_iac.plan.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from featrix_iac.plan.model import Action, ActionType, FieldChange, Plan
from featrix_iac.plan.render import render_text

A = ActionType


def _cascade(units: int, predictors: int = 20, endpoints: int = 9, own: bool = False) -> Plan:
    """`units` foundational models with new data, each dragging its predictors and their endpoints along."""
    actions: list[Action] = []
    for i in range(units):
        fm = Action(
            address=f"foundational_model.fm{i}",
            kind="foundational_model",
            action=A.REPLACE,
            reasons=["data changed (forces replacement)"],
            changes=[
                FieldChange(field="data", old="sha256:" + "a" * 64, new="sha256:" + "b" * 64, forces_replacement=True)
            ],
        )
        actions.append(fm)
        for j in range(predictors):
            p = f"predictor.p{i}_{j}"
            reasons = [why.cascade(fm.address, fm, "predictor")]
            if own and j == 0:
                reasons.append("epochs changed (forces replacement)")
            actions.append(Action(address=p, kind="predictor", action=A.REPLACE, reasons=reasons))
            if j < endpoints:
                reason = why.cascade(p, actions[-1], "endpoint")
                actions.append(Action(address=f"endpoint.e{i}_{j}", kind="endpoint", action=A.UPDATE, reasons=[reason]))
    return Plan(
        tool_version="t",
        project="big",
        environment="default",
        server_url="http://s",
        lineage="l",
        serial=1,
        actions=actions,
    )


def test_compact_puts_the_summary_first_and_folds_each_cascade_under_its_model() -> None:
    plan = _cascade(2, own=True)
    text = render_text(plan, compact=True)
    lines = text.splitlines()
    assert lines[0] == plan.summary_line() and lines[-2:] == [plan.summary_line(), f"Plan id: {plan_id(plan)}"]
    assert "# foundational_model.fm0 must be replaced" in text  # the cause, in full
    assert "-/+ foundational_model.fm0" in text and "~ data" in text
    fold = "# with foundational_model.fm0, changing nothing of their own: 8 endpoints updated in place, 19 predictors replaced"
    assert fold in text
    assert "#   predictor: p0_1, p0_2, p0_3, p0_4, p0_5, p0_6, p0_7, p0_8, p0_9, p0_10, p0_11, p0_12 and 7 more" in text
    assert "# with predictor.p0_0, changing nothing of their own: 1 endpoint updated in place" in text
    assert "# predictor.p0_5 must be replaced" not in text  # folded: no block of its own
    assert "# endpoint.e0_3 will be updated in place" not in text  # an endpoint follows its predictor, up to the model
    assert "# predictor.p0_0 must be replaced" in text  # a reason of its own: shown in full
    assert (
        text.index("foundational_model.fm0 must be") < text.index(fold) < text.index("foundational_model.fm1 must be")
    )


def test_small_plans_stay_in_full_unless_asked() -> None:
    plan = _cascade(1, predictors=3, endpoints=1)
    full = render_text(plan)
    assert not full.startswith("Plan:") and "# predictor.p0_2 must be replaced" in full
    assert render_text(plan, compact=True).startswith("Plan:")
    assert "# predictor.p0_2 must be replaced" in render_text(_cascade(5), compact=False)


def test_ten_thousand_resources_read_in_a_few_thousand_lines_and_fit_a_pull_request_comment() -> None:
    plan = _cascade(333)  # 9,990 actions
    assert len(plan.actions) == 9990
    start = time.process_time()
    text = render_text(plan)  # compact by default at this size
    md = render_markdown(plan, json_artifact_hint="plan.json")
    spent = time.process_time() - start
    assert text.startswith(plan.summary_line())
    assert len(text.splitlines()) < 12 * 333
    assert len(md) <= GITHUB_COMMENT_LIMIT and "**Plan:" in md and "`plan.json`" in md
    assert spent < 60  # a sanity bound against a quadratic blow-up, not a benchmark
