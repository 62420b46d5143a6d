"""YAML with positions: marks per key and value, duplicate keys, syntax errors, empty and non-mapping files."""

from __future__ import annotations

from pathlib import Path

from featrix_iac.config.yaml_source import SourceMap, parse_text
from featrix_iac.diagnostics import Diagnostics, Source


def parse(text: str) -> tuple[object, SourceMap | None, Diagnostics]:
    diags = Diagnostics()
    parsed = parse_text(text, Path("f.yaml"), "f.yaml", diags)
    return (parsed.data if parsed else None), (parsed.sources if parsed else None), diags


def test_positions_of_keys_values_and_list_items() -> None:
    data, sources, diags = parse("a: 1\nb:\n  c: [x, y]\n  d:\n    - 2027-01-02\n")
    assert not diags.items and sources is not None
    assert data == {"a": 1, "b": {"c": ["x", "y"], "d": [__import__("datetime").date(2027, 1, 2)]}}
    assert sources.value(("a",)) == Source("f.yaml", 1, 4)
    assert sources.key(("b", "c")) == Source("f.yaml", 3, 3)
    assert sources.value(("b", "c", 1)) == Source("f.yaml", 3, 10)
    assert sources.key(("b", "c", 1)) == Source("f.yaml", 3, 10)  # a list item has no key: its value
    assert sources.value(("b", "c", 1, "deeper")) == Source("f.yaml", 3, 10)


def test_anchors_and_aliases_are_resolved() -> None:
    data, _, diags = parse("base: &b {x: 1}\nother: *b\n")
    assert not diags.items
    assert data == {"base": {"x": 1}, "other": {"x": 1}}


def test_duplicate_keys_are_errors_at_the_second_one() -> None:
    _, _, diags = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert [(d.summary, str(d.source)) for d in diags.sorted()] == [
        ('Duplicate key "c"', "f.yaml:4:3"),
        ('Duplicate key "a"', "f.yaml:5:1"),
    ]


def test_syntax_error_has_a_position() -> None:
    data, _, diags = parse("a: [1, 2\nb: 3\n")
    (d,) = diags
    assert data is None
    assert d.summary == "Invalid YAML syntax"
    assert d.source is not None and d.source.line == 2


def test_tab_indentation_is_a_syntax_error() -> None:
    _, _, diags = parse("a:\n\tb: 1\n")
    assert [d.summary for d in diags] == ["Invalid YAML syntax"]


def test_empty_and_comment_only_files() -> None:
    for text in ("", "# just a comment\n", "---\n"):
        _, _, diags = parse(text)
        assert [d.summary for d in diags] == ["Empty manifest file"]


def test_non_mapping_documents() -> None:
    _, _, diags = parse("- a\n- b\n")
    assert [d.summary for d in diags] == ["Manifest file is not a mapping"]
    _, _, diags = parse("just text\n")
    assert "a single value" in diags.items[0].detail


def test_merge_keys_are_refused_clearly() -> None:
    _, _, diags = parse("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert [d.summary for d in diags] == ["Unsupported mapping key"]


def test_scalars_read_as_the_safe_loader_reads_them() -> None:
    text = (
        "a: 1\nb: 0\nc: 010\nd: 0x1F\ne: 1_000\nf: -5\ng: +7\nh: yes\ni: No\nj: TRUE\nk: ~\nl: null\nm:\n"
        "n: 1.5\no: 2027-01-02\np: !!bool 'true'\nq: !!int '12'\nr: 1:30\ns: '12'\nt: off\nu: ١٢\n"
    )
    data, _, diags = parse(text)
    assert not diags.items
    expected = __import__("yaml").safe_load(text)
    assert data == expected
    assert {k: type(v) for k, v in data.items()} == {k: type(v) for k, v in expected.items()}
