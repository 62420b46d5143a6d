"""Validation: pydantic errors become positioned diagnostics with readable summaries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.diagnostics import Diagnostic, DiagnosticsError

Write = Callable[..., Path]
HEAD = "version: 1\nproject: demo\nfoundational_models:\n  fm:\n    data: data.csv\n"


def problems(write: Write, body: str, env: str | None = None) -> list[Diagnostic]:
    root = write({"featrix.yaml": HEAD + body})
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root, env)
    return exc.value.diagnostics.sorted()


def test_unknown_field_suggests_the_closest(write: Write) -> None:
    (d,) = problems(write, "    deletion_protecton: true\n")
    assert d.summary == 'Unknown field "deletion_protecton"'
    assert d.detail == 'FoundationalModel has no field "deletion_protecton". Did you mean "deletion_protection"?'
    assert str(d.source) == "featrix.yaml:6:5"  # the key, not the value
    assert d.address == "foundational_model.fm"


def test_unknown_field_in_a_nested_block(write: Write) -> None:
    (d,) = problems(write, "    lifecycle: {prevent_destory: true}\n")
    assert d.summary == 'Unknown field "prevent_destory"'
    assert 'Lifecycle has no field "prevent_destory". Did you mean "prevent_destroy"?' == d.detail


def test_wrong_type_shows_what_was_given(write: Write) -> None:
    (d,) = problems(write, "    epochs: lots\n")
    assert d.summary == 'Invalid value for "epochs"'
    assert d.detail.endswith("(got 'lots')")
    assert str(d.source) == "featrix.yaml:6:13"


def test_missing_field_points_at_the_resource_key(write: Write) -> None:
    (d,) = problems(write, "predictors:\n  p:\n    foundational_model: fm\n    target_column: y\n")
    assert d.summary == 'Missing required field "type"'
    assert str(d.source) == "featrix.yaml:7:3"
    assert d.detail.startswith("type: ")


def test_range_errors(write: Write) -> None:
    (d,) = problems(write, "    sequential_window_interval: 11\n")
    assert d.summary == 'Value out of range for "sequential_window_interval"'
    assert d.detail == "Input should be less than or equal to 10"


def test_union_errors_report_only_the_branch_that_fits_the_value(write: Write) -> None:
    (d,) = problems(write, "    published: {nmae: x}\n")
    assert d.summary == 'Unknown field "nmae"'
    (d,) = problems(write, "    published: sometimes\n")
    assert d.summary == 'Invalid value for "published"'
    assert "valid boolean" in d.detail


def test_model_level_rules_are_reported_on_the_resource(write: Write) -> None:
    body = "predictors:\n  p:\n    foundational_model: fm\n    type: regressor\n    target_column: y\n    k: 3\n"
    (d,) = problems(write, body)
    assert d.summary == "Invalid predictor"
    assert d.detail == "k applies only to multi_classifier, not regressor"
    assert d.address == "predictor.p"


def test_invalid_resource_key(write: Write) -> None:
    (d,) = problems(write, "predictors:\n  9bad: {foundational_model: fm, type: regressor, target_column: y}\n")
    assert "invalid key '9bad'" in d.detail


def test_list_items_are_labelled_with_their_index(write: Write) -> None:
    (d,) = problems(write, "    ignore_columns: [a, {b: 1}]\n")
    assert d.summary == 'Invalid value for "ignore_columns[1]"'
    assert str(d.source) == "featrix.yaml:6:25"


def test_sensitive_values_are_not_echoed(write: Write) -> None:
    body = (
        "predictors:\n  p:\n    foundational_model: fm\n    type: regressor\n    target_column: y\n"
        "    webhooks: {webhook_secret: [hunter2]}\n"
    )
    (d,) = problems(write, body)
    assert d.summary == 'Invalid value for "webhooks.webhook_secret"'
    assert "hunter2" not in d.detail


def test_top_level_problems_have_no_address(write: Write) -> None:
    ds = problems(write, "server: {url: ftp://x, timeout: -1}\nvariables: [1]\n")
    assert [(d.summary, d.address) for d in ds] == [
        ('Invalid value for "server.url"', ""),
        ('Value out of range for "server.timeout"', ""),
        ('Invalid value for "variables"', ""),
    ]


def test_numbers_where_text_is_expected_are_read_as_text(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": HEAD
            + "predictors:\n  p:\n    foundational_model: fm\n    type: binary_classifier\n    target_column: y\n"
            + "    rare_label_value: 1\n    class_imbalance: {0: 0.9, 1: 0.1}\n"
        }
    )
    p = load_project(root).project.predictors["p"]
    assert p.rare_label_value == "1"
    assert p.class_imbalance == {"0": 0.9, "1": 0.1}


def test_a_resource_that_is_not_a_mapping(write: Write) -> None:
    (d,) = problems(write, "predictors:\n  p:\n")
    assert (d.summary, d.detail, d.address) == ("Invalid predictor", "Expected a mapping", "predictor.p")


def test_non_string_include_items_are_reported_once(write: Write) -> None:
    root = write({"featrix.yaml": "version: 1\nproject: x\ninclude: [[a]]\n"})
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    assert [d.summary for d in exc.value.diagnostics] == ['Invalid value for "include[0]"']
