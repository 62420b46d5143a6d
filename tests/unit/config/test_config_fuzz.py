"""Property: whatever the manifest holds, the loader returns a project or raises positioned diagnostics."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.model import FoundationalModel, Predictor

FIELDS = sorted(set(FoundationalModel.model_fields) | set(Predictor.model_fields))
WORDS = [*FIELDS, "fm", "p", "e", "data.csv", "penguins", "regressor", "multi_classifier", "dev", "prod"]
TEMPLATES = ["{{ var('n') }}", "{{ environment }}", "{{ nope }}", "{{ env_var('FX_FUZZ_UNSET') }}", "{{ (", "{% if %}"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 20000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(WORDS + TEMPLATES),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)),
    max_leaves=12,
)
resources = st.dictionaries(st.sampled_from(["fm", "p", "e", "9x"]), st.dictionaries(st.sampled_from(WORDS), values))
manifests = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 2, "1"]),
        "project": st.sampled_from(["demo", "", 3, "{{ environment }}"]),
        "variables": st.one_of(st.dictionaries(st.sampled_from(["n", "m"]), values), values),
        "environments": st.dictionaries(st.sampled_from(["dev", "prod"]), values),
        "server": values,
        "foundational_models": resources,
        "predictors": resources,
        "endpoints": resources,
        "vector_databases": resources,
        "include": values,
        "depends_on": values,
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest=manifests, env=st.sampled_from([None, "dev", "qa"]))
def test_loader_never_crashes(manifest: dict[str, Any], env: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        (root / "featrix.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
        try:
            loaded = load_project(root, env)
        except DiagnosticsError as exc:
            assert exc.diagnostics.has_errors
            for d in exc.diagnostics:
                # positioned in a file of the project (an `include` may pull in data.csv as a manifest)
                assert d.summary and d.source is not None and d.source.file in ("featrix.yaml", "data.csv")
        else:
            assert loaded.project.project
