"""load_project: the pipeline end to end, includes, data paths, positions and LoadedProject."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from featrix_iac.config import LoadedProject, find_project_root, load_project
from featrix_iac.diagnostics import DiagnosticsError, Source
from featrix_iac.graph import diagnose_references

Write = Callable[..., Path]


def summaries(exc: pytest.ExceptionInfo[DiagnosticsError]) -> list[str]:
    return [d.summary for d in exc.value.diagnostics.sorted()]


def test_loads_a_small_project(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            foundational_models:
              penguins:
                data: data.csv
                epochs: 5
            predictors:
              species:
                foundational_model: penguins
                type: multi_classifier
                target_column: species
            """
        }
    )
    loaded = load_project(root)
    assert isinstance(loaded, LoadedProject)
    assert loaded.root == root.resolve()
    assert loaded.environment == "default"
    assert loaded.files == (root.resolve() / "featrix.yaml",)
    assert loaded.project.foundational_models["penguins"].epochs == 5
    assert loaded.project.predictors["species"].type.value == "multi_classifier"


def test_source_gives_file_line_col_and_falls_back_to_the_ancestor(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            foundational_models:
              penguins:
                data: data.csv
                epochs: 5
            """
        }
    )
    loaded = load_project(root)
    assert loaded.source("foundational_models", "penguins", "epochs") == Source("featrix.yaml", 6, 13)
    assert loaded.source("foundational_models", "penguins", "d_model") == Source("featrix.yaml", 5, 5)
    assert str(loaded.source("project")) == "featrix.yaml:2:10"


def test_includes_merge_resources_and_keep_their_positions(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            include: [models/*.yaml]
            foundational_models:
              penguins: {data: data.csv}
            """,
            "models/b.yaml": """\
            predictors:
              species: {foundational_model: penguins, type: regressor, target_column: x}
            """,
            "models/a.yaml": """\
            endpoints:
              api: {predictor: species}
            """,
        }
    )
    loaded = load_project(root)
    assert [p.name for p in loaded.files] == ["featrix.yaml", "a.yaml", "b.yaml"]
    assert set(loaded.project.predictors) == {"species"}
    assert loaded.source("predictors", "species", "target_column") == Source("models/b.yaml", 2, 75)
    assert loaded.source("endpoints", "api") == Source("models/a.yaml", 2, 8)


def test_data_paths_are_rebased_to_the_root_and_urls_untouched(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            include: [models/*.yaml]
            foundational_models:
              local: {data: ./data/t.csv}
              remote: {data: "https://example.com/t.csv"}
            """,
            "models/v.yaml": """\
            vector_databases:
              search: {foundational_model: local, records_file: ../data/r.csv}
            foundational_models:
              nested: {data: t2.csv}
            """,
        },
        data=("data/t.csv", "data/r.csv", "models/t2.csv"),
    )
    p = load_project(root).project
    assert p.foundational_models["local"].data == "data/t.csv"
    assert p.foundational_models["remote"].data == "https://example.com/t.csv"
    assert p.foundational_models["nested"].data == "models/t2.csv"
    assert p.vector_databases["search"].records_file == "data/r.csv"


def test_every_problem_is_reported_in_one_run(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": """\
            version: 1
            project: demo
            include: [nothing/*.yaml]
            foundational_models:
              penguins: {data: nope.csv, epochs: -3, colour: red}
            predictors:
              p: {foundational_model: ghost, type: regressor}
            """
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root, checks=(diagnose_references,))  # the graph stage's check, as operations.load passes it
    assert summaries(exc) == [
        "Include pattern matches no files",
        "Data file not found",
        'Value out of range for "epochs"',
        'Unknown field "colour"',
        'Missing required field "target_column"',
        'Reference to undeclared foundational model "ghost"',
    ]


def test_missing_manifest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError, match="no featrix.yaml found in"):
        load_project(tmp_path)


def test_find_project_root_walks_up_like_git(write: Write) -> None:
    root = write({"featrix.yaml": "version: 1\nproject: demo\n"})
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_root(deep) == root.resolve()


def test_find_project_root_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError, match=r"no featrix.yaml found in .* or its parents"):
        find_project_root(tmp_path)


def test_included_files_may_not_include_or_declare_variables(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": "version: 1\nproject: demo\ninclude: ['m/*.yaml']\n",
            "m/a.yaml": "include: [x.yaml]\nvariables: {a: 1}\n",
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    assert summaries(exc) == [
        'Section "include" is not allowed in an included file',
        'Section "variables" is not allowed in an included file',
    ]


def test_a_file_matched_by_two_globs_is_read_once(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": "version: 1\nproject: demo\ninclude: ['m/*.yaml', 'm/a.*']\n",
            "m/a.yaml": "foundational_models:\n  x: {data: ../data.csv}\n",
        }
    )
    assert len(load_project(root).files) == 2


def test_duplicate_resource_names_both_places(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": "version: 1\nproject: demo\ninclude: ['m/*.yaml']\nforeign: 1\n"
            "foundational_models:\n  x: {data: data.csv}\n",
            "m/a.yaml": "foundational_models:\n  x: {data: ../data.csv}\n",
        }
    )
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    dup = next(d for d in exc.value.diagnostics if d.summary.startswith("Duplicate resource"))
    assert "featrix.yaml:6:3" in dup.detail and "m/a.yaml:2:3" in dup.detail
    assert dup.source == Source("m/a.yaml", 2, 3)


def test_a_single_include_pattern_may_be_a_string(write: Write) -> None:
    root = write(
        {
            "featrix.yaml": "version: 1\nproject: demo\ninclude: 'm/*.yaml'\n",
            "m/a.yaml": "foundational_models:\n  x: {data: ../data.csv}\n",
        }
    )
    loaded = load_project(root)
    assert loaded.project.include == ["m/*.yaml"] and len(loaded.files) == 2


def test_a_failed_data_template_is_not_also_a_missing_file(write: Write) -> None:
    root = write({"featrix.yaml": "version: 1\nproject: demo\nfoundational_models:\n  x: {data: '{{ 1/0 }}'}\n"})
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    assert summaries(exc) == ["Template error"]


def test_data_path_that_is_a_folder(write: Write) -> None:
    root = write({"featrix.yaml": "version: 1\nproject: demo\nfoundational_models:\n  x: {data: sub}\n"})
    (root / "sub").mkdir()
    with pytest.raises(DiagnosticsError) as exc:
        load_project(root)
    assert exc.value.diagnostics.items[0].detail == '"sub" is a folder, not a file.'
