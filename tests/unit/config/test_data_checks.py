"""Data checks at load time: what a bounded sample settles is an error, what it cannot is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError

MANIFEST = """\
version: 1
project: p
server: {{url: local}}
foundational_models:
  t: {{data: big.csv}}
predictors:
  p:
    foundational_model: t
    type: {type}
    target_column: label
    {extra}
"""


def _project(tmp_path: Path, labels: str, kind: str, extra: str = "") -> Path:
    with (tmp_path / "big.csv").open("w") as fh:
        fh.write("id,text,label\n")
        for i in range(30_000):  # beyond the 1 MiB sample
            fh.write(f"{i},{'x' * 60},{labels[i % len(labels)] if i < 29_000 else 'z'}\n")
    (tmp_path / "featrix.yaml").write_text(MANIFEST.format(type=kind, extra=extra))
    return tmp_path


def test_a_label_beyond_the_sample_is_a_warning_not_an_error(tmp_path: Path) -> None:
    loaded = load_project(_project(tmp_path, "ab", "binary_classifier", "rare_label_value: z"))
    [warning] = loaded.warnings
    assert warning.address == "predictor.p" and '"z"' in warning.summary
    assert warning.source is not None and warning.source.line == 11


def test_three_classes_in_the_sample_settle_that_it_is_not_binary(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError) as exc:
        load_project(_project(tmp_path, "abc", "binary_classifier"))
    [diag] = list(exc.value.diagnostics)
    assert diag.address == "predictor.p" and diag.source is not None and diag.source.line == 9


def test_a_multi_classifier_with_one_class_in_a_partial_sample_is_only_warned(tmp_path: Path) -> None:
    loaded = load_project(_project(tmp_path, "a", "multi_classifier"))
    assert [w.address for w in loaded.warnings] == ["predictor.p"]
