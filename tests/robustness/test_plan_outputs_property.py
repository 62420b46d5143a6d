"""Property tests of the plan outputs: any plan renders under the limit, leaks no secret, and round-trips."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featrix_iac.plan.jsonformat import SCHEMA_DIR, plan_json
from featrix_iac.plan.markdown import render_markdown
from featrix_iac.plan.model import Action, ActionType, Drift, FieldChange, Plan
from featrix_iac.plan.planfile import read_planfile, write_planfile

SECRET = "CANARY-s3cr3t-9f8e7d"  # every sensitive value holds it; it must never come out
KINDS = ["foundational_model", "predictor", "endpoint", "vector_database"]

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)


@st.composite
def changes(draw: st.DrawFn) -> FieldChange:
    if draw(st.booleans()):
        return FieldChange(field=draw(text), old=SECRET, new=SECRET + draw(text), sensitive=True)
    return FieldChange(
        field=draw(text), old=draw(json_values), new=draw(json_values), forces_replacement=draw(st.booleans())
    )


@st.composite
def actions(draw: st.DrawFn, i: int) -> Action:
    kind = draw(st.sampled_from(KINDS))
    return Action(
        address=f"{kind}.r{i}",
        kind=kind,
        action=draw(st.sampled_from(list(ActionType))),
        reasons=draw(st.lists(text, max_size=3)),
        changes=draw(st.lists(changes(), max_size=4)),
        warnings=draw(st.lists(text, max_size=2)),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(0, 30))
    acts = [draw(actions(i)) for i in range(n)]
    drift = [
        Drift(address=f"predictor.d{i}", deleted=draw(st.booleans()), changes=draw(st.lists(changes(), max_size=3)))
        for i in range(draw(st.integers(0, 5)))
    ]
    return Plan(
        tool_version="0.1.0",
        project=draw(text.filter(bool)),
        environment=draw(st.sampled_from(["default", "staging", "prod"])),
        server_url="http://127.0.0.1:1",
        lineage="l-1",
        serial=draw(st.integers(0, 10**6)),
        actions=acts,
        drift=drift,
        warnings=draw(st.lists(text, max_size=3)),
        refresh_only=draw(st.booleans()),
    )


def _balanced(md: str) -> bool:
    md = re.sub(r"`[^`\n]*`", "", md)  # text inside code spans is literal
    return md.count("<details") == md.count("</details>") and md.count("<code>") == md.count("</code>")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), limit=st.sampled_from([1500, 4000, 65535]))
def test_markdown_is_bounded_balanced_and_secret_free(plan: Plan, limit: int) -> None:
    md = render_markdown(plan, limit=limit)
    assert len(md) <= limit
    assert SECRET not in md
    if len(md) < limit - 2:  # not hard-cut: the markup is whole
        assert _balanced(md)
    # nothing a value contains may open raw HTML: every tag is one the renderer writes
    outside_code_spans = re.sub(r"`[^`\n]*`", "", md)  # a Markdown code span shows its text literally
    tags = set(re.findall(r"</?([a-zA-Z]+)", outside_code_spans))
    assert tags <= {"details", "summary", "code", "i", "sub"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
def test_json_and_planfile_round_trip_without_secrets(plan: Plan, tmp_path: Path) -> None:
    text_json = plan_json(plan)
    assert SECRET not in text_json
    jsonschema.validate(json.loads(text_json), json.loads((SCHEMA_DIR / "plan.schema.json").read_text()))
    path = write_planfile(
        tmp_path / "p.fxplan",
        plan,
        manifest_digest="sha256:x",
        data_fingerprints={},
        environment=plan.environment,
        server_url=plan.server_url,
        lineage=plan.lineage,
        serial=plan.serial,
    )
    assert SECRET.encode() not in path.read_bytes()
    saved = read_planfile(path)
    assert plan_json(saved.plan) == text_json
