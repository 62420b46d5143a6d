"""operations.load: the config stage and the graph's reference check report their problems in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac import operations
from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError

MANIFEST = """\
version: 1
project: demo
foundational_models:
  fm:
    data: t.csv
    colour: red
predictors:
  p:
    foundational_model: ghost
    type: binary_classifier
    target_column: y
"""


def _project(tmp_path: Path, manifest: str) -> Path:
    (tmp_path / "t.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "featrix.yaml").write_text(manifest)
    return tmp_path


def test_a_validation_error_and_an_unknown_reference_are_reported_together(tmp_path: Path) -> None:
    root = _project(tmp_path, MANIFEST)
    with pytest.raises(DiagnosticsError) as caught:
        operations.load(root)
    where = sorted((d.address, d.source.line if d.source else None) for d in caught.value.diagnostics.sorted())
    assert where == [("foundational_model.fm", 6), ("predictor.p", 9)]


def test_the_reference_check_belongs_to_the_graph_stage_not_the_loader(tmp_path: Path) -> None:
    root = _project(tmp_path, MANIFEST.replace("    colour: red\n", ""))
    assert load_project(root).project.predictors["p"].foundational_model == "ghost"  # config alone: no graph check
    with pytest.raises(DiagnosticsError) as caught:
        operations.load(root)
    (problem,) = caught.value.diagnostics.sorted()
    assert (problem.address, problem.source and problem.source.line) == ("predictor.p", 8)
