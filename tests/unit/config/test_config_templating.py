"""Jinja2 on string values: var(), env_var(), environment, native types, sandboxing and errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.config.templating import Renderer, TemplateProblem
from featrix_iac.diagnostics import DiagnosticsError

Write = Callable[..., Path]


def render(text: str, variables: dict[str, object] | None = None, env: str = "dev") -> object:
    return Renderer(variables or {}, env).render(text)


def test_a_single_expression_keeps_its_native_type() -> None:
    assert render("{{ var('n') }}", {"n": 5}) == 5
    assert render("  {{ var('flag') }} ", {"flag": True}) is True
    assert render("{{ var('cols') }}", {"cols": ["a", "b"]}) == ["a", "b"]
    assert render("{{ 2 * var('n') }}", {"n": 4}) == 8


def test_mixed_text_renders_to_a_string() -> None:
    assert render("{{ var('n') }}0", {"n": 5}) == "50"
    assert render("x-{{ environment }}") == "x-dev"
    assert render("{% if environment == 'dev' %}small{% else %}big{% endif %}") == "small"
    assert render("{{ var('a') }} and {{ var('b') }}", {"a": 1, "b": 2}) == "1 and 2"


def test_env_var_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_TEST_VALUE", "from-env")
    assert render("{{ env_var('FX_TEST_VALUE') }}") == "from-env"
    assert render("{{ env_var('FX_TEST_VALUE', 'fallback') }}") == "from-env"


def test_env_var_default_and_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FX_TEST_MISSING", raising=False)
    assert render("{{ env_var('FX_TEST_MISSING', 'fallback') }}") == "fallback"
    assert render("{{ env_var('FX_TEST_MISSING', none) }}") is None
    with pytest.raises(TemplateProblem, match='Undefined environment variable "FX_TEST_MISSING"'):
        render("{{ env_var('FX_TEST_MISSING') }}")


def test_undefined_names_and_variables_fail() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render("{{ epochs }}")
    with pytest.raises(UndefinedError):
        render("x {{ epochs }}")
    with pytest.raises(TemplateProblem, match='Undefined variable "epoch"'):
        render("{{ var('epoch') }}", {"epochs": 1})


def test_the_sandbox_refuses_unsafe_attributes() -> None:
    from jinja2.sandbox import SecurityError

    with pytest.raises(SecurityError):
        render("{{ var.__globals__ }}")


def test_variables_are_plain_values_not_templates() -> None:
    assert render("{{ var('v') }}", {"v": "{{ environment }}"}) == "{{ environment }}"


def test_templates_apply_to_resources_not_to_variables(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            variables: {raw: "{{ not rendered }}", n: 3}
            foundational_models:
              penguins:
                data: data.csv
                epochs: "{{ var('n') }}"
                user_metadata: {note: "{{ var('raw') }}", list: ["{{ environment }}"]}
            """
        }
    )
    p = load_project(root).project
    assert p.variables["raw"] == "{{ not rendered }}"
    fm = p.foundational_models["penguins"]
    assert fm.epochs == 3
    assert fm.user_metadata == {"note": "{{ not rendered }}", "list": ["default"]}


def test_a_failed_template_is_reported_once_at_its_value(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            foundational_models:
              penguins:
                data: data.csv
                epochs: "{{ var('missing') }}"
            """
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    (d,) = exc.value.diagnostics
    assert d.summary == 'Undefined variable "missing"'
    assert str(d.source) == "featrix.yaml:6:13"
    assert d.address == "foundational_model.penguins"


def test_secrets_from_env_var_never_appear_in_diagnostics(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_TEST_SECRET", "s3cr3t-value")
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            foundational_models:
              penguins: {data: data.csv}
            predictors:
              p:
                foundational_model: penguins
                type: regressor
                target_column: y
                webhooks: {webhook_secret: "{{ env_var('FX_TEST_SECRET') }}", usage: not-a-url}
            """
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    text = repr(exc.value.diagnostics.items)
    assert "s3cr3t-value" not in text
    assert "must be an http(s) URL" in text
