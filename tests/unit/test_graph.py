"""The resource graph: edges from references and depends_on, order, dependents, unknown references, cycles."""

from __future__ import annotations

from typing import Any

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.graph import build_graph, check_graph
from featrix_iac.model import Project


def project(**sections: Any) -> Project:
    return Project.model_validate({"project": "t", **sections})


FMS = {"b_fm": {"data": "x.csv"}, "a_fm": {"data": "y.csv"}}
PREDS = {
    "p1": {"foundational_model": "a_fm", "type": "regressor", "target_column": "y"},
    "p2": {"foundational_model": "b_fm", "type": "regressor", "target_column": "y"},
}


def test_order_is_topological_with_ties_by_address() -> None:
    g = build_graph(
        project(
            foundational_models=FMS,
            predictors=PREDS,
            endpoints={"e": {"predictor": "p2"}},
            vector_databases={"v": {"foundational_model": "a_fm", "depends_on": ["endpoint.e"]}},
        )
    )
    assert g.order == [
        "foundational_model.a_fm",
        "foundational_model.b_fm",
        "predictor.p1",
        "predictor.p2",
        "endpoint.e",
        "vector_database.v",
    ]


def test_dependencies_dependents_and_transitive() -> None:
    g = build_graph(project(foundational_models=FMS, predictors=PREDS, endpoints={"e": {"predictor": "p2"}}))
    assert g.dependencies("endpoint.e") == {"predictor.p2"}
    assert g.dependencies("foundational_model.a_fm") == set()
    assert g.dependents("foundational_model.b_fm") == {"predictor.p2"}
    assert g.transitive_dependents("foundational_model.b_fm") == {"predictor.p2", "endpoint.e"}
    assert g.transitive_dependents("endpoint.e") == set()


def test_depends_on_adds_edges_across_kinds() -> None:
    fms = {"a_fm": {"data": "y.csv", "depends_on": ["foundational_model.b_fm"]}, "b_fm": {"data": "x.csv"}}
    g = build_graph(project(foundational_models=fms))
    assert g.order == ["foundational_model.b_fm", "foundational_model.a_fm"]
    assert g.dependents("foundational_model.b_fm") == {"foundational_model.a_fm"}


def test_check_graph_finds_unknown_references_with_paths() -> None:
    p = project(
        foundational_models=FMS,
        predictors={"p": {"foundational_model": "c_fm", "type": "regressor", "target_column": "y"}},
        endpoints={"e": {"predictor": "q", "depends_on": ["vector_database.nope", "bad"]}},
    )
    found = sorted((x.kind, x.address, x.path) for x in check_graph(p))
    assert found == sorted(
        [
            ("unknown_reference", "predictor.p", ("predictors", "p", "foundational_model")),
            ("unknown_reference", "endpoint.e", ("endpoints", "e", "predictor")),
            ("unknown_reference", "endpoint.e", ("endpoints", "e", "depends_on", 0)),
            ("bad_address", "endpoint.e", ("endpoints", "e", "depends_on", 1)),
        ]
    )


def test_check_graph_names_the_cycle_chain() -> None:
    p = project(
        foundational_models={"a": {"data": "x", "depends_on": ["predictor.b"]}},
        predictors={"b": {"foundational_model": "a", "type": "regressor", "target_column": "y"}},
    )
    (problem,) = check_graph(p)
    assert problem.kind == "cycle"
    assert problem.detail.splitlines()[0] == "foundational_model.a -> predictor.b -> foundational_model.a"
    assert problem.path == ("foundational_models", "a", "depends_on", 0)
    with pytest.raises(DiagnosticsError, match="Dependency cycle"):
        build_graph(p)


def test_self_dependency_is_a_cycle() -> None:
    p = project(foundational_models={"a": {"data": "x", "depends_on": ["foundational_model.a"]}})
    (problem,) = check_graph(p)
    assert problem.detail.startswith("foundational_model.a -> foundational_model.a")


def test_each_cycle_is_reported_once() -> None:
    fms = {
        "a": {"data": "x", "depends_on": ["foundational_model.b"]},
        "b": {"data": "x", "depends_on": ["foundational_model.a"]},
        "c": {"data": "x", "depends_on": ["foundational_model.d"]},
        "d": {"data": "x", "depends_on": ["foundational_model.c"]},
    }
    assert len([x for x in check_graph(project(foundational_models=fms)) if x.kind == "cycle"]) == 2


def test_check_graph_on_raw_data_skips_malformed_entries() -> None:
    raw = {
        "foundational_models": {"a": {"data": "x"}, "b": "not a mapping"},
        "predictors": {"p": {"foundational_model": 3}, "q": {"foundational_model": "zz"}},
    }
    assert [(x.address, x.path[-1]) for x in check_graph(raw)] == [("predictor.q", "foundational_model")]


def test_large_graph_orders_quickly_and_correctly() -> None:
    fms = {f"fm{i}": {"data": "x"} for i in range(50)}
    preds = {
        f"p{i}": {"foundational_model": f"fm{i % 50}", "type": "regressor", "target_column": "y"} for i in range(300)
    }
    g = build_graph(project(foundational_models=fms, predictors=preds))
    pos = {a: i for i, a in enumerate(g.order)}
    assert len(g.order) == 350
    assert all(pos[f"foundational_model.fm{i % 50}"] < pos[f"predictor.p{i}"] for i in range(300))
