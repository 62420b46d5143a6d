"""The PR-comment rendering of a plan: content, call-outs, escaping, secrets, and the size limit."""

from __future__ import annotations

import random

import pytest

from featrix_iac.plan.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from featrix_iac.plan.model import Action, ActionType, Drift, FieldChange, Plan

SECRET = "whsec_CANARY_7f3a9b1c2d"


def _plan(actions: list[Action], drift: list[Drift] | None = None, **kw: object) -> Plan:
    return Plan(
        tool_version="0.1.0",
        project="penguins",
        environment="staging",
        server_url="http://127.0.0.1:8080",
        lineage="3c0ffee0-0000-4000-8000-000000000001",
        serial=4,
        actions=actions,
        drift=drift or [],
        **kw,  # type: ignore[arg-type]
    )


def _small_plan() -> Plan:
    return _plan(
        [
            Action(address="foundational_model.penguins", kind="foundational_model", action=ActionType.NOOP),
            Action(
                address="predictor.species",
                kind="predictor",
                action=ActionType.REPLACE,
                reasons=["target_column changed (forces replacement)"],
                changes=[FieldChange(field="target_column", old="island", new="species", forces_replacement=True)],
            ),
            Action(
                address="predictor.sex",
                kind="predictor",
                action=ActionType.UPDATE,
                reasons=["webhooks changed"],
                changes=[FieldChange(field="webhooks.webhook_secret", old=SECRET, new=SECRET + "x", sensitive=True)],
            ),
            Action(address="endpoint.old_api", kind="endpoint", action=ActionType.DELETE, reasons=["not in manifests"]),
            Action(address="endpoint.species_api", kind="endpoint", action=ActionType.CREATE, reasons=["new"]),
        ],
        drift=[
            Drift(
                address="foundational_model.penguins",
                changes=[FieldChange(field="published", old=True, new=False)],
            )
        ],
    )


def test_summary_table_callouts_details_and_drift() -> None:
    md = render_markdown(_small_plan())
    assert md.startswith("<!-- featrix-plan: penguins/staging -->\n")
    assert "**Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy.**" in md
    assert "1 resource unchanged." in md
    # replacements and deletions are called out before the table
    callout = md.index("⚠️ **1 to be replaced")
    assert callout < md.index("| Address | Action | Reason |")
    assert "⚠️ **1 to be deleted**: `endpoint.old_api`" in md
    # the table lists the risky actions first
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows[:4]] == [
        "endpoint.old_api",
        "predictor.species",
        "predictor.sex",
        "endpoint.species_api",
    ]
    assert "<details><summary><code>predictor.species</code>: replace</summary>" in md
    assert "| `target_column` | <code>island</code> | <code>species</code> | forces replacement |" in md
    assert "<details><summary>Drift: 1 object changed outside featrix</summary>" in md
    assert "`published`: <code>true</code> → <code>false</code>" in md
    assert md.count("<details") == md.count("</details>")


def test_sensitive_values_never_appear() -> None:
    md = render_markdown(_small_plan())
    assert SECRET not in md
    assert "(sensitive value)" in md


def test_no_changes() -> None:
    plan = _plan([Action(address="predictor.a", kind="predictor", action=ActionType.NOOP)])
    md = render_markdown(plan)
    assert "No changes" in md and "| Address |" not in md


def test_refresh_only_reports_drift() -> None:
    plan = _plan([], drift=[Drift(address="endpoint.api", deleted=True)], refresh_only=True)
    md = render_markdown(plan)
    assert "drift check" in md
    assert "1 object changed outside featrix" in md and "**Plan:" not in md
    assert "<details open><summary>Drift" in md  # the drift is the whole point here: shown expanded
    assert "`endpoint.api`: deleted outside featrix" in md


def test_markup_in_values_cannot_break_out() -> None:
    nasty = "a|b</details><script>x</script>\n| injected | row |`tick`"
    plan = _plan(
        [
            Action(
                address="predictor.p",
                kind="predictor",
                action=ActionType.UPDATE,
                reasons=[nasty],
                changes=[FieldChange(field="description", old=nasty, new="ok")],
            )
        ]
    )
    md = render_markdown(plan)
    assert "</details><script>" not in md and "<script>" not in md
    assert "| injected | row |" not in md
    assert md.count("<details") == md.count("</details>")


def _huge_plan(n: int, value_len: int, seed: int = 7, reason_len: int = 80) -> Plan:
    rng = random.Random(seed)
    kinds = ["foundational_model", "predictor", "endpoint", "vector_database"]
    types = [ActionType.CREATE, ActionType.UPDATE, ActionType.REPLACE, ActionType.DELETE, ActionType.RETIRE]
    actions = []
    for i in range(n):
        kind = kinds[i % 4]
        chunk = "".join(rng.choice("abcdefgh|<>`") for _ in range(64))
        long = (chunk * (value_len // 64 + 1))[:value_len]
        actions.append(
            Action(
                address=f"{kind}.r{i:05d}",
                kind=kind,
                action=types[i % len(types)],
                reasons=[f"field_{i} changed: {long[:reason_len]}"],
                changes=[
                    FieldChange(field="description", old=long, new=long[::-1]),
                    FieldChange(field="webhooks.webhook_secret", old=SECRET, new=SECRET, sensitive=True),
                ],
            )
        )
    drift = [Drift(address=f"predictor.r{i:05d}", changes=[FieldChange(field="x", old=1, new=2)]) for i in range(200)]
    return _plan(actions, drift=drift, warnings=[f"warning {i}" for i in range(50)])


@pytest.mark.parametrize(("n", "value_len"), [(40, 2000), (300, 500), (5000, 5000)])
def test_always_under_the_limit(n: int, value_len: int) -> None:
    md = render_markdown(_huge_plan(n, value_len), json_artifact_hint="artifacts/plan.json")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert SECRET not in md
    assert md.count("<details") == md.count("</details>")
    assert "**Plan:" in md
    if n >= 300:
        assert "Shortened to fit GitHub's comment limit" in md and "`artifacts/plan.json`" in md


def test_details_are_collapsed_before_rows_are_cut() -> None:
    plan = _huge_plan(300, 500, reason_len=10)
    full = render_markdown(plan, limit=10**9)
    md = render_markdown(plan)
    rows = [line for line in md.splitlines() if line.startswith("| `") and "r00" in line]
    assert len(full) > GITHUB_COMMENT_LIMIT
    # every change still has its row; only details were dropped
    assert len(rows) == 300
    assert "detail sections not shown" in md
    assert "more changes" not in md


def test_rows_are_cut_with_a_pointer_when_the_table_alone_is_too_long() -> None:
    md = render_markdown(_huge_plan(5000, 50))
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert 0 < len(rows) < 5000
    assert f"{5000 - len(rows)} more changes" in md
    assert "`plan.json`" in md


@pytest.mark.parametrize("limit", [2000, 5000, 20000])
def test_smaller_limits_are_honoured(limit: int) -> None:
    md = render_markdown(_huge_plan(1000, 300), limit=limit)
    assert len(md) <= limit
    assert SECRET not in md


def test_an_action_warning_listed_under_warnings_is_not_repeated_in_details() -> None:
    warning = "predictor.p: the old predictor is retired, not deleted"
    own = "predictor.p: only here"
    plan = _plan(
        [
            Action(
                address="predictor.p",
                kind="predictor",
                action=ActionType.REPLACE,
                reasons=["target_column changed"],
                warnings=[warning, own],
                changes=[FieldChange(field="target_column", old="a", new="b", forces_replacement=True)],
            )
        ],
        warnings=[warning],
    )
    md = render_markdown(plan)
    assert md.count(warning) == 1 and md.index(warning) > md.index("**Warnings**")
    assert f"- ⚠️ {own}" in md


def _golden_module():  # type: ignore[no-untyped-def]
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "golden" / "plans" / "test_golden_plans.py"
    spec = importlib.util.spec_from_file_location("golden_plans_for_markdown", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _golden_module()


def _golden_plan(name: str) -> Plan | None:
    import json

    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.graph import build_graph
    from featrix_iac.plan.planner import make_plan
    from featrix_iac.state import Lockfile

    case = GOLDEN.HERE / name
    args = json.loads((case / "args.json").read_text()) if (case / "args.json").exists() else {}
    found = args.pop("found", {})
    loaded, desired = GOLDEN.desired_of(case)
    lock = Lockfile.model_validate(json.loads((case / "lockfile.json").read_text()))
    try:
        return make_plan(
            desired,
            lock,
            GOLDEN.live_of(case, lock),
            build_graph(loaded.project),
            server_url="http://127.0.0.1:8000",
            found=found,
            source_of=lambda address, path: GOLDEN._source(loaded, address, path),
            **args,
        )
    except DiagnosticsError:
        return None


@pytest.mark.parametrize("name", GOLDEN.CASES)
def test_every_golden_plan_renders_completely(name: str) -> None:
    plan = _golden_plan(name)
    if plan is None:
        pytest.skip("the planner refuses this case")
    md = render_markdown(plan)
    for action in plan.changes():
        assert f"| `{action.address}` |" in md, action.address
        if action.action in (ActionType.REPLACE, ActionType.DELETE, ActionType.RETIRE):
            callout = next(
                line for line in md.splitlines() if line.startswith("> ⚠️") and action.action.value[:5] in line
            )
            assert f"`{action.address}`" in callout
    for drift in plan.drift:
        assert f"`{drift.address}`" in md
    small = render_markdown(plan, limit=1200)
    assert len(small) <= 1200
