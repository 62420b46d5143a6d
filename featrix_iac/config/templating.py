"""Jinja2 on parsed string values (sandboxed, StrictUndefined): var(), env_var(), environment."""

from __future__ import annotations

import os
import re
from typing import Any

from featrix_iac.config.overlay import did_you_mean
from featrix_iac.config.yaml_source import Path_, SourceMap
from featrix_iac.diagnostics import Diagnostics

NOT_TEMPLATED = ("variables", "environments", "include")
_ONE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_MISSING: Any = object()


class TemplateProblem(Exception):
    """A template failure with a user-facing summary and detail."""

    def __init__(self, summary: str, detail: str):
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


class Renderer:
    """Renders template strings with the project's variables and the environment's name."""

    def __init__(self, variables: dict[str, Any], environment: str):
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        self.variables = variables
        self.jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.context = {"var": self._var, "env_var": self._env_var, "environment": environment}
        self._cache: dict[str, Any] = {}

    def _var(self, name: str) -> Any:
        if name not in self.variables:
            declared = ", ".join(sorted(self.variables)) or "none"
            raise TemplateProblem(
                f'Undefined variable "{name}"',
                f"var('{name}') names no variable. Declared variables: {declared}.{did_you_mean(name, set(self.variables))}",
            )
        return self.variables[name]

    def _env_var(self, name: str, default: Any = _MISSING) -> Any:
        value = os.environ.get(name)
        if value is not None:
            return value
        if default is _MISSING:
            raise TemplateProblem(
                f'Undefined environment variable "{name}"',
                f"Set {name}, or give a default: env_var('{name}', 'value').",
            )
        return default

    def _compiled(self, text: str) -> tuple[bool, Any]:
        hit = self._cache.get(text)
        if hit is None:
            m = _ONE_EXPR.match(text)
            expr = m.group("expr") if m else None
            if expr is not None and "{{" not in expr and "}}" not in expr and "{%" not in expr:
                hit = (True, self.jinja.compile_expression(expr, undefined_to_none=False))
            else:
                hit = (False, self.jinja.from_string(text))
            self._cache[text] = hit
        return hit

    def render(self, text: str) -> Any:
        """Render one string; a string that is exactly one expression keeps the expression's type."""
        from jinja2 import Undefined

        native, compiled = self._compiled(text)
        if not native:
            return compiled.render(self.context)
        value = compiled(**self.context)
        if isinstance(value, Undefined):
            str(value)  # raises UndefinedError with jinja's message
        return value


def _problem(exc: Exception) -> tuple[str, str]:
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    if isinstance(exc, TemplateProblem):
        return exc.summary, exc.detail
    if isinstance(exc, UndefinedError):
        return (
            "Undefined template variable",
            f"{exc.message}. Templates know var('name'), env_var('NAME', default) and environment.",
        )
    if isinstance(exc, TemplateSyntaxError):
        return "Invalid template syntax", str(exc.message)
    if isinstance(exc, SecurityError):
        return "Unsafe template", str(exc)
    return "Template error", f"{type(exc).__name__}: {exc}"


def render_tree(
    data: dict[str, Any], sources: SourceMap, variables: dict[str, Any], environment: str, diags: Diagnostics
) -> set[Path_]:
    """Render every templated string in `data` in place (not variables, environments, include).

    Returns the paths whose template failed, so validation does not report them a second time.
    """
    renderer: Renderer | None = None
    failed: set[Path_] = set()

    def render(text: str, path: Path_) -> Any:
        nonlocal renderer
        if renderer is None:
            renderer = Renderer(variables, environment)
        try:
            return renderer.render(text)
        except Exception as exc:  # noqa: BLE001 - every template failure becomes a diagnostic
            summary, detail = _problem(exc)
            diags.error(summary, detail, address=address_of(path), source=sources.value(path))
            failed.add(path)
            return text

    def walk(container: dict[Any, Any] | list[Any], path: Path_) -> None:
        """Render the templated strings of `container` in place (a path is built only for what is descended
        into or rendered: most values are plain strings)."""
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for k, v in list(items):
            if isinstance(v, str):
                if is_template(v):
                    container[k] = render(v, (*path, k))
            elif isinstance(v, (dict, list)):
                walk(v, (*path, k))

    for key in list(data):
        if key in NOT_TEMPLATED:
            continue
        value = data[key]
        if isinstance(value, str) and is_template(value):
            data[key] = render(value, (key,))
        elif isinstance(value, (dict, list)):
            walk(value, (key,))
    return failed


def address_of(path: Path_) -> str:
    """`predictor.species` for a path inside a resource, "" elsewhere."""
    from featrix_iac.addresses import SECTIONS

    if len(path) >= 2 and path[0] in SECTIONS and isinstance(path[1], str):
        return f"{SECTIONS[path[0]]}.{path[1]}"
    return ""
