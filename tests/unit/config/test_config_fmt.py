"""Canonical formatting: indentation, quoting, comments kept, idempotent, syntax errors diagnosed."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.config.fmt import format_files, format_text
from featrix_iac.diagnostics import DiagnosticsError

MESSY = """\
# yaml-language-server: $schema=schema.json
# a header comment
version: 1
project:   'demo'   # trailing comment (its column is kept)
foundational_models:
    penguins:
        data: "data/penguins.csv"
        ignore_columns:
        - year
        epochs: '{{ var("n") }}'
        name: '{{ environment }}'
        flags: {published: true}

# section comment
predictors: {}
"""

CANONICAL = """\
# yaml-language-server: $schema=schema.json
# a header comment
version: 1
project: demo       # trailing comment (its column is kept)
foundational_models:
  penguins:
    data: data/penguins.csv
    ignore_columns:
      - year
    epochs: '{{ var("n") }}'
    name: "{{ environment }}"
    flags: {published: true}

# section comment
predictors: {}
"""


def test_canonical_form() -> None:
    assert format_text(MESSY) == CANONICAL


def test_formatting_is_idempotent() -> None:
    assert format_text(CANONICAL) == CANONICAL


def test_strings_that_need_quotes_keep_them() -> None:
    out = format_text("a: 'yes'\nb: '012'\nc: ': x'\nd: \"plain\"\ne: \"on\"\nf: '1e3'\ng: '~'\n")
    assert out == "a: 'yes'\nb: '012'\nc: ': x'\nd: plain\ne: 'on'\nf: '1e3'\ng: '~'\n"


def test_syntax_error_is_a_positioned_diagnostic() -> None:
    with pytest.raises(DiagnosticsError) as exc:
        format_text("a: [1\nb: 2\n", "x.yaml")
    (d,) = exc.value.diagnostics
    assert d.summary == "Invalid YAML syntax"
    assert d.source is not None and d.source.file == "x.yaml" and d.source.line == 2


def test_format_files_reports_and_writes(tmp_path: Path) -> None:
    messy, clean = tmp_path / "a.yaml", tmp_path / "b.yaml"
    messy.write_text(MESSY, encoding="utf-8")
    clean.write_text(CANONICAL, encoding="utf-8")
    assert format_files([messy, clean], tmp_path, write=False) == [messy]
    assert messy.read_text(encoding="utf-8") == MESSY
    assert format_files([messy, clean], tmp_path, write=True) == [messy]
    assert messy.read_text(encoding="utf-8") == CANONICAL
    assert format_files([messy, clean], tmp_path, write=True) == []


@pytest.mark.parametrize(
    "text",
    [MESSY, "a: 'yes'\nb: \"no\"\nc: 'null'\nd: '3.0'\ne: \"2027-01-01\"\nf: [x, 'true']\ng: '0x1f'\n"],
)
def test_formatting_never_changes_what_the_loader_reads(text: str) -> None:
    from featrix_iac.config.yaml_source import parse_text
    from featrix_iac.diagnostics import Diagnostics

    before = parse_text(text, Path("x"), "x", Diagnostics())
    after = parse_text(format_text(text), Path("x"), "x", Diagnostics())
    assert before is not None and after is not None
    assert before.data == after.data
