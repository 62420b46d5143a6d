"""Terminal output helpers: stdout/stderr, colour choice, and the diagnostics view."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import click

from featrix_iac.diagnostics import Diagnostic, Diagnostics, Severity


def color_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().obj is not None:
        if not ctx.find_root().obj.get("color", True):
            return False
    return not os.environ.get("NO_COLOR") and sys.stderr.isatty()


def out(text: str = "", nl: bool = True) -> None:
    click.echo(text, nl=nl)


def err(text: str = "", nl: bool = True) -> None:
    click.echo(text, err=True, nl=nl)


def style(text: str, **kw: object) -> str:
    return click.style(text, **kw) if color_enabled() else text  # type: ignore[arg-type]


def format_diagnostic(d: Diagnostic) -> str:
    head = "Error" if d.severity is Severity.ERROR else "Warning"
    color = "red" if d.severity is Severity.ERROR else "yellow"
    lines = [f"{style(head + ':', fg=color, bold=True)} {d.summary}"]
    if d.address:
        lines.append(f"  at {d.address}")
    if d.source:
        lines.append(f"  in {d.source}")
    if d.detail:
        lines.extend(f"  {line}" if line else "" for line in d.detail.splitlines())
    return "\n".join(lines)


def echo_diagnostics(diags: Diagnostics | Iterable[Diagnostic]) -> None:
    items = diags.sorted() if isinstance(diags, Diagnostics) else list(diags)
    for i, d in enumerate(items):
        if i:
            err("")
        err(format_diagnostic(d))
