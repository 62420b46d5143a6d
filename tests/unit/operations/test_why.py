"""`show --why` data (operations.why): the chain from an endpoint down to the data, from the lockfile alone."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from repo_files import copy_project

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.operations import why
from featrix_iac.operations.views import why_json
from featrix_iac.plan.jsonformat import SCHEMA_DIR
from featrix_iac.state.lockfile import LockEntry, Lockfile, dumps

PROVENANCE = {"config_hash": "sha256:c", "plan": "plan-0123456789abcdef", "metrics": {"accuracy": 0.9}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    copy_project(Path(__file__).resolve().parents[3] / "examples" / "quickstart", root)
    fm = LockEntry(
        kind="foundational_model",
        status="ready",
        ids={"session_id": "s-1"},
        hashes={"data": "sha256:d"},
        applied={"data_summary": {"file": "data/penguins.csv", "rows": 344, "columns": {"a": "int"}}},
        provenance=PROVENANCE,
    )
    species = LockEntry(
        kind="predictor",
        status="ready",
        ids={"session_id": "s-1", "predictor_id": "p-1", "job_id": "j-1"},
        applied={"foundational_model": "penguins"},
        borrowed={"from": "staging", "serial": 4},
        provenance={**PROVENANCE, "built_on": {"foundational_model.penguins": "s-1"}},
        training={"seconds": 3.5, "epochs": 2},
    )
    api = LockEntry(kind="endpoint", status="ready", ids={"endpoint_id": "ep-1"}, applied={"predictor": "species"})
    resources = {"foundational_model.penguins": fm, "predictor.species": species, "endpoint.species_api": api}
    (root / "featrix.lock").write_text(dumps(Lockfile(project="penguins", resources=resources)), encoding="utf-8")
    return root


def test_the_chain_goes_from_the_endpoint_down_to_the_data(project: Path) -> None:
    doc = why(project, None, "endpoint.species_api")
    assert [link.address for link in doc.chain] == [
        "endpoint.species_api",
        "predictor.species",
        "foundational_model.penguins",
    ]
    endpoint, predictor, model = doc.chain
    assert endpoint.refers_to == ["predictor.species"] and predictor.refers_to == ["foundational_model.penguins"]
    assert predictor.promoted == {"from": "staging", "serial": 4} and predictor.training == {
        "seconds": 3.5,
        "epochs": 2,
    }
    assert "job_id" not in predictor.ids
    assert [(d.file, d.fingerprint, (d.summary or {}).get("rows")) for d in model.data] == [
        ("data/penguins.csv", "sha256:d", 344)
    ]
    data = json.loads(why_json(doc))
    jsonschema.validate(data, json.loads((SCHEMA_DIR / "why.schema.json").read_text(encoding="utf-8")))
    assert data["chain"][1]["provenance"]["metrics"] == {"accuracy": 0.9}


def test_an_address_the_lockfile_lacks_is_an_error_naming_what_it_records(project: Path) -> None:
    with pytest.raises(DiagnosticsError) as err:
        why(project, None, "predictor.nope")
    assert "endpoint.species_api, foundational_model.penguins, predictor.species" in " ".join(
        d.detail for d in err.value.diagnostics
    )


def test_a_model_cloned_to_another_cluster_says_where_it_was_cloned_from(project: Path) -> None:
    from featrix_iac.cli.why_view import render_why

    lock_path = project / "featrix.lock"
    lock = Lockfile.model_validate_json(lock_path.read_text(encoding="utf-8"))
    promoted = {"from": "staging", "serial": 7, "clone": {"to": "gpu-b", "from": "gpu-a", "session_id": "s-0"}}
    fm = lock.resources["foundational_model.penguins"]
    fm.provenance = {**PROVENANCE, "promoted": promoted}  # a clone is this environment's own: not borrowed
    lock_path.write_text(dumps(lock), encoding="utf-8")
    model = why(project, None, "foundational_model.penguins").chain[0]
    assert model.promoted == promoted and model.provenance == PROVENANCE
    text = render_why(json.loads(why_json(why(project, None, "foundational_model.penguins"))))
    assert "promoted from staging by cloning session s-0 to compute cluster gpu-b (its lockfile serial 7)" in text
