"""Environment overlays: each precedence rule of `environments.<env>` over the base manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError, Source

Write = Callable[..., Path]

BASE = """\
version: 1
project: "demo-{{ environment }}"
server:
  url: local
  timeout: 10
variables:
  epochs: 5
  name: base
environments:
  prod:
    variables: {epochs: 50}
    server: {url: "https://sphere-api.featrix.com"}
    foundational_models:
      penguins:
        ignore_columns: [island]
        lifecycle: {prevent_destroy: true}
        published: {name: "penguins-{{ var('name') }}"}
  empty: {}
foundational_models:
  penguins:
    data: data.csv
    epochs: "{{ var('epochs') }}"
    ignore_columns: [year, sex]
    published: true
    lifecycle: {create_before_destroy: true}
"""


@pytest.fixture
def root(write: Write) -> Path:
    return write({"featrix.yaml": BASE})


def test_without_env_no_overlay_is_applied(root: Path) -> None:
    loaded = load_project(root)
    fm = loaded.project.foundational_models["penguins"]
    assert loaded.environment == "default"
    assert loaded.project.project == "demo-default"
    assert fm.epochs == 5 and fm.ignore_columns == ["year", "sex"] and fm.published is True
    assert loaded.project.server.url == "local"


def test_env_variables_override_root_variables_and_keep_the_others(root: Path) -> None:
    p = load_project(root, "prod").project
    assert p.variables == {"epochs": 50, "name": "base"}
    assert p.foundational_models["penguins"].epochs == 50  # templates see the overlaid variables


def test_env_server_fields_override_and_unset_ones_stay(root: Path) -> None:
    server = load_project(root, "prod").project.server
    assert server.url == "https://sphere-api.featrix.com"
    assert server.timeout == 10


def test_nested_mappings_merge_key_by_key(root: Path) -> None:
    life = load_project(root, "prod").project.foundational_models["penguins"].lifecycle
    assert life.prevent_destroy is True
    assert life.create_before_destroy is True  # from the base


def test_lists_and_scalars_are_replaced_not_merged(root: Path) -> None:
    fm = load_project(root, "prod").project.foundational_models["penguins"]
    assert fm.ignore_columns == ["island"]
    assert fm.published.name == "penguins-base"  # a scalar replaced by a mapping, then templated
    assert fm.data == "data.csv"  # untouched fields keep the base value


def test_environment_variable_in_templates_is_the_env_name(root: Path) -> None:
    assert load_project(root, "prod").project.project == "demo-prod"
    assert load_project(root, "empty").project.project == "demo-empty"


def test_overlaid_value_is_positioned_in_the_overlay(root: Path) -> None:
    loaded = load_project(root, "prod")
    assert loaded.source("foundational_models", "penguins", "ignore_columns") == Source("featrix.yaml", 15, 25)
    assert loaded.source("foundational_models", "penguins", "ignore_columns", 0) == Source("featrix.yaml", 15, 26)
    assert loaded.source("foundational_models", "penguins", "data") == Source("featrix.yaml", 21, 11)


def test_unknown_environment_lists_the_known_ones(root: Path) -> None:
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root, "prd")
    (d,) = exc.value.diagnostics
    assert d.summary == 'Unknown environment "prd"'
    assert d.detail == 'Known environments: empty, prod. Did you mean "prod"?'


def test_unknown_environment_without_any_declared(write: Write) -> None:
    root = write({"featrix.yaml": "version: 1\nproject: x\n"})
    with pytest.raises(DiagnosticsError, match="Unknown environment"):
        load_project(root, "dev")


def test_overlay_errors_are_found_in_every_environment(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": BASE.replace(
                "  empty: {}\n",
                "  empty: {}\n  dev:\n    server: {urll: x}\n    predictors:\n      nothing: {epochs: 1}\n",
            )
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root, "prod")
    assert [d.summary for d in exc.value.diagnostics.sorted()] == [
        'Unknown field "urll"',
        'Environment "dev" overrides an undeclared resource',
    ]


def test_overlay_field_errors_point_into_the_overlay(write: Write) -> None:
    root = write({"featrix.yaml": BASE.replace("ignore_columns: [island]", "epochs: -1")})
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root, "prod")
    (d,) = exc.value.diagnostics
    assert d.summary == 'Value out of range for "epochs"'
    assert d.source == Source("featrix.yaml", 15, 17)


def test_the_overlay_itself_is_kept_as_written(root: Path) -> None:
    p = load_project(root, "prod").project
    assert p.environments["prod"].foundational_models["penguins"]["published"] == {"name": "penguins-{{ var('name') }}"}
