"""The parsed-manifest cache: a file parsed before without a problem loads as parsed, positions included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.config.yaml_source import ParsedFile, parse_file
from featrix_iac.diagnostics import Diagnostics, DiagnosticsError

Write = Callable[..., Path]

TEXT = "a: 1\nb:\n  c: [x, 'y', 2.5, null, true]\n  d: {e: 007}\n"


def parsed_twice(tmp_path: Path, text: str) -> tuple[ParsedFile | None, ParsedFile | None, Diagnostics, Diagnostics]:
    (tmp_path / ".featrix").mkdir(exist_ok=True)
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    d1, d2 = Diagnostics(), Diagnostics()
    return (
        parse_file(path, "f.yaml", d1, tmp_path / ".featrix"),
        parse_file(path, "f.yaml", d2, tmp_path / ".featrix"),
        d1,
        d2,
    )


def test_a_second_parse_comes_from_the_cache_with_the_same_data_and_positions(tmp_path: Path) -> None:
    first, second, d1, d2 = parsed_twice(tmp_path, TEXT)
    uncached = parse_file(tmp_path / "f.yaml", "f.yaml", Diagnostics())
    assert first is not None and second is not None and uncached is not None
    assert list((tmp_path / ".featrix" / "parsed").iterdir())  # kept
    assert not d1.items and not d2.items
    for p in (first, second):
        assert p.data == uncached.data
        assert p.sources.values == uncached.sources.values and p.sources.keys == uncached.sources.keys
        assert p.sources.value(("b", "c", 1)) == uncached.sources.value(("b", "c", 1))
    second.data["b"]["c"].append("changed")
    third = parse_file(tmp_path / "f.yaml", "f.yaml", Diagnostics(), tmp_path / ".featrix")
    assert third is not None and third.data == uncached.data  # each load has objects of its own


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    parsed_twice(tmp_path, TEXT)
    (tmp_path / "f.yaml").write_text(TEXT.replace("a: 1", "a: 2"), encoding="utf-8")
    again = parse_file(tmp_path / "f.yaml", "f.yaml", Diagnostics(), tmp_path / ".featrix")
    assert again is not None and again.data["a"] == 2


def test_a_file_with_problems_is_never_cached_and_reported_each_time(tmp_path: Path) -> None:
    first, second, d1, d2 = parsed_twice(tmp_path, "a: 1\na: 2\n")
    summaries = [[(d.summary, str(d.source)) for d in ds.sorted()] for ds in (d1, d2)]
    assert summaries[0] == summaries[1] == [('Duplicate key "a"', "f.yaml:2:1")]
    assert not (tmp_path / ".featrix" / "parsed").exists()


def test_values_marshal_cannot_keep_are_parsed_each_time(tmp_path: Path) -> None:
    first, second, _, _ = parsed_twice(tmp_path, "when: 2027-01-02\n")
    assert first is not None and second is not None and first.data == second.data
    assert not list((tmp_path / ".featrix" / "parsed").glob("*"))


def test_no_private_folder_is_made_for_the_cache(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(TEXT, encoding="utf-8")
    assert parse_file(tmp_path / "f.yaml", "f.yaml", Diagnostics(), tmp_path / ".featrix") is not None
    assert not (tmp_path / ".featrix").exists()


def test_a_project_loaded_from_the_cache_reports_the_same_positions(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            include: [models/*.yaml]
            foundational_models:
              penguins: {data: data.csv, epochs: many}
            """,
            "models/p.yaml": """\
            predictors:
              species: {foundational_model: penguins, type: multi_classifier, target_column: nope}
            """,
        }
    )
    (root / ".featrix").mkdir(exist_ok=True)
    shown = []
    for _ in range(2):
        with pytest.raises(DiagnosticsError) as info:
            load_project(root)
        shown.append([(d.summary, d.detail, str(d.source)) for d in info.value.diagnostics.sorted()])
    assert len(list((root / ".featrix" / "parsed").iterdir())) == 2  # both files came from the cache the 2nd time
    assert shown[0] == shown[1] and any("featrix.yaml:5" in s for _, _, s in shown[0])
