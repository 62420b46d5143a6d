"""Promotion keeps the artifact's provenance: each trained model's lockfile entry records how it was built, and a
promoted one in prod records the same plus its own promotion; a development environment's models (sampled data,
capped epochs) are recorded as such and never promoted.

The rest of promotion is the golden transcript tests/acceptance/promotion; this test reads the lockfile's
provenance fields (hashes, plan ids, the CI run URL) and compares them between environments in Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acceptance_helpers import manifest

CI_RUN = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "42"}


ENVIRONMENTS = """
environments:
  dev: {mode: development, sample: 0.5, max_epochs: 1, name_prefix: alice-}
  staging:
    foundational_models:
      penguins: {name: penguins-staging}
    endpoints:
      species_api: {name: species-staging}
  prod:
    foundational_models:
      penguins: {name: penguins-prod}
    predictors:
      species: {name: species-prod}
    endpoints:
      species_api: {name: species-prod, description: Penguin species (prod)}
"""


def write(cli: Any, server: Any) -> None:
    text = manifest(server.url, published=False, vector_database=False, fm_epochs=2, species_epochs=2, sex_epochs=2)
    cli.write(text + ENVIRONMENTS)


def lock(project: Path, env: str) -> dict[str, Any]:
    return json.loads((project / f"featrix.{env}.lock").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def staged(cli: Any, server: Any) -> None:
    """Staging applied "in CI"."""
    write(cli, server)
    cli.env.update(CI_RUN)  # staging is applied "in CI": its provenance names the run
    try:
        cli.ok("apply", "-e", "staging", "--auto-approve")
    finally:
        for name in CI_RUN:
            cli.env.pop(name)


def test_every_model_records_its_provenance_and_a_promotion_keeps_it(cli: Any, server: Any, staged: None) -> None:
    staging = lock(cli.project, "staging")["resources"]
    fm, species = staging["foundational_model.penguins"], staging["predictor.species"]
    for entry in (fm, species):
        p = entry["provenance"]
        assert p["config_hash"].startswith("sha256:") and p["plan"].startswith("plan-"), p
        assert p["applied_by"]["ci_run_url"] == "https://github.example/acme/models/actions/runs/42", p
        assert p["tool_version"] and p["server_version"] and p["applied_at"], p
        assert entry["training"]["seconds"] >= 0, entry  # the duration, where it always was
    assert fm["hashes"]["data"].startswith("sha256:") and fm["applied"]["data_summary"], fm  # the data, likewise
    assert fm["provenance"]["plan"] == species["provenance"]["plan"]  # one apply, one plan
    assert species["provenance"]["built_on"] == {"foundational_model.penguins": fm["ids"]["session_id"]}
    assert set(species["provenance"]["metrics"]) & {"accuracy", "auc", "f1"}, species["provenance"]
    write(cli, server)
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")
    prod = lock(cli.project, "prod")["resources"]["predictor.species"]
    assert prod["provenance"] == species["provenance"]  # how the artifact was built, in staging
    assert prod["borrowed"]["plan"].startswith("plan-") and prod["borrowed"]["plan"] != species["provenance"]["plan"]
    assert "ci_run_url" not in prod["borrowed"]["promoted_by"]  # prod was applied outside CI
    cli.ok("destroy", "-e", "prod", "--auto-approve")


def test_prod_on_another_compute_cluster_clones_the_model_and_retrains_its_predictors(
    cli: Any, server: Any, staged: None
) -> None:
    import httpx

    on_b = ENVIRONMENTS.replace("{name: penguins-prod}", "{name: penguins-prod, compute_cluster: gpu-b}")
    text = manifest(server.url, published=False, vector_database=False, fm_epochs=2, species_epochs=2, sex_epochs=2)
    cli.write(text + on_b)
    r = cli.ok("plan", "-e", "prod", "--promote-from", "staging")
    assert "by cloning" in r.stdout and "to compute cluster gpu-b" in r.stdout, r.stdout
    retrains = "retrains: the clone of foundational_model.penguins to compute cluster gpu-b carries no predictors"
    assert retrains in r.stdout and "2 trainings (1 promoted)" in r.stdout, r.stdout
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")
    staging, prod = lock(cli.project, "staging")["resources"], lock(cli.project, "prod")["resources"]
    source, clone = staging["foundational_model.penguins"], prod["foundational_model.penguins"]
    sid = clone["ids"]["session_id"]
    assert sid != source["ids"]["session_id"] and not clone.get("borrowed"), clone  # prod's own object
    promoted = clone["provenance"]["promoted"]
    assert promoted["from"] == "staging" and promoted["clone"]["session_id"] == source["ids"]["session_id"], promoted
    assert clone["applied"]["name"] == "penguins-prod" and clone["applied"]["compute_cluster"] == "gpu-b"
    for address in ("predictor.sex", "predictor.species"):  # trained here, on the clone
        assert prod[address]["ids"]["session_id"] == sid and not prod[address].get("borrowed"), prod[address]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        doc = http.get(f"/compute/session/{sid}").json()["session"]
        assert doc["compute_cluster"] == "gpu-b" and doc["name"] == "penguins-prod", doc
        cli.ok("plan", "-e", "prod", "--detailed-exitcode")  # converged: nothing left to do
        why = cli.ok("show", "-e", "prod", "--why", "predictor.species").stdout
        assert f"by cloning session {source['ids']['session_id']} to compute cluster gpu-b" in why, why
        cli.ok("destroy", "-e", "prod", "--auto-approve")  # the clone is prod's: deleted; staging's stays
        gone = http.get(f"/compute/session/{sid}")
        assert gone.status_code == 404 or gone.json()["session"].get("marked_for_deletion"), gone.text
        kept = http.get(f"/compute/session/{source['ids']['session_id']}").json()["session"]
        assert not kept.get("marked_for_deletion"), kept
    cli.ok("plan", "-e", "staging", "--detailed-exitcode")


def test_a_development_environment_trains_on_a_sample_and_is_never_promoted(cli: Any, server: Any) -> None:
    write(cli, server)
    cli.ok("apply", "-e", "dev", "--auto-approve")
    dev = lock(cli.project, "dev")["resources"]
    fm = dev["foundational_model.penguins"]
    assert fm["applied"]["name"] == "alice-penguins" and fm["applied"]["epochs"] == 1, fm["applied"]
    summary = fm["applied"]["data_summary"]
    assert summary["file"].startswith(".featrix/samples/penguins.sample-0_5.") and summary["rows"] == 172, summary
    assert fm["hashes"]["data"].startswith("sha256:")  # the sample's fingerprint, what was trained on
    assert dev["predictor.species"]["applied"]["epochs"] == 1
    assert dev["endpoint.species_api"]["applied"]["name"] == "alice-species_api"
    for address in ("foundational_model.penguins", "predictor.species"):
        assert dev[address]["provenance"]["development"] == {"sample": 0.5, "max_epochs": 1}
    r = cli.ok("plan", "-e", "prod", "--promote-from", "dev")
    assert "not promoted from dev: it was built in development mode in dev" in r.stdout, r.stdout
    assert "promoted)" not in r.stdout
    cli.ok("plan", "-e", "dev", "--detailed-exitcode")  # the same sample, the same fingerprint: no change
    cli.ok("destroy", "-e", "dev", "--auto-approve")
