"""Promotion end to end: apply staging, then `apply -e prod --promote-from staging` trains nothing and serves
staging's predictor; a predictor configured differently in prod trains alone; prod's destroy only forgets;
an artifact deleted under staging is drift in prod and refused for promotion as stale; staging cannot delete
what prod serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import manifest

RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}
TRAINING_KINDS = {"foundational_model", "predictor"}
CI_RUN = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "42"}


def environments(prod_sex_epochs: int | None = None, prod_fm_epochs: int | None = None) -> str:
    """staging and prod differ in names and descriptions only (plus, optionally, epochs in prod)."""
    sex = f"\n      sex: {{epochs: {prod_sex_epochs}}}" if prod_sex_epochs else ""
    fm = f", epochs: {prod_fm_epochs}" if prod_fm_epochs else ""
    return f"""
environments:
  staging:
    foundational_models:
      penguins: {{name: penguins-staging}}
    endpoints:
      species_api: {{name: species-staging}}
  prod:
    foundational_models:
      penguins: {{name: penguins-prod{fm}}}
    predictors:
      species: {{name: species-prod}}{sex}
    endpoints:
      species_api: {{name: species-prod, description: Penguin species (prod)}}
"""


def write(cli: Any, server: Any, prod_sex_epochs: int | None = None, prod_fm_epochs: int | None = None) -> None:
    text = manifest(server.url, published=False, vector_database=False, fm_epochs=2, species_epochs=2, sex_epochs=2)
    cli.write(text + environments(prod_sex_epochs, prod_fm_epochs))


def lock(project: Path, env: str) -> dict[str, Any]:
    return json.loads((project / f"featrix.{env}.lock").read_text(encoding="utf-8"))


def trainings(server: Any) -> int:
    """Training jobs on the server: every session's jobs of a training type (its document's job plan)."""
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as api:
        sessions = api.get("/compute/sessions-for-org").json()["sessions"]
        count = 0
        for item in sessions:
            sid = item["session_id"] if isinstance(item, dict) else item
            doc = api.get(f"/compute/session/{sid}").json()
            jobs = doc.get("jobs") or {}
            values = jobs.values() if isinstance(jobs, dict) else jobs
            count += sum(1 for j in values if "train" in str(j.get("job_type", "")))
        return count


def predict(cli: Any, server: Any, env: str) -> Any:
    entry = lock(cli.project, env)["resources"]["endpoint.species_api"]
    key = cli.ok("output", "-e", env, "endpoint.species_api.api_key").stdout.strip()
    r = httpx.post(
        f"{server.url}/endpoint/{entry['ids']['endpoint_id']}/predict",
        json={"query_record": RECORD},
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer.get("prediction") is not None, answer
    # what the model said, without the ids of this request and endpoint
    return {k: v for k, v in answer.items() if not k.endswith(("_id", "_uuid"))}


@pytest.fixture(scope="module")
def staged(cli: Any, server: Any) -> int:
    """Staging applied; the server's training count right after."""
    write(cli, server)
    cli.env.update(CI_RUN)  # staging is applied "in CI": its provenance names the run
    try:
        cli.ok("apply", "-e", "staging", "--auto-approve")
    finally:
        for name in CI_RUN:
            cli.env.pop(name)
    return trainings(server)


def test_every_model_records_its_provenance_and_a_promotion_keeps_it(cli: Any, server: Any, staged: int) -> None:
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


def test_a_changed_predictor_trains_alone_and_the_rest_is_promoted(cli: Any, server: Any, staged: int) -> None:
    write(cli, server, prod_sex_epochs=3)
    r = cli.ok("plan", "-e", "prod", "--promote-from", "staging")
    assert "1 training (2 promoted)." in r.stdout, r.stdout
    assert "foundational_model.penguins will be promoted" in r.stdout
    assert "predictor.species will be promoted" in r.stdout
    assert "predictor.sex will be created" in r.stdout
    assert "not promoted from staging: differs in epochs (2 in staging, 3 here)" in r.stdout
    assert "staging lockfile serial" in r.stdout
    assert trainings(server) == staged  # planning trains nothing


def test_promotion_trains_nothing_and_serves_stagings_predictor(cli: Any, server: Any, staged: int) -> None:
    write(cli, server)
    r = cli.ok("plan", "-e", "prod", "--promote-from", "staging")
    assert "0 trainings (3 promoted)." in r.stdout, r.stdout
    cli.ok("plan", "-e", "prod", "--promote-from", "staging", "-out", "promote.fxplan")
    cli.ok("apply", "-e", "prod", "promote.fxplan")  # a saved plan carries its promotions
    assert trainings(server) == staged
    prod, staging = lock(cli.project, "prod")["resources"], lock(cli.project, "staging")["resources"]
    for address in ("foundational_model.penguins", "predictor.species", "predictor.sex"):
        assert prod[address]["ids"] == staging[address]["ids"]
        assert prod[address]["borrowed"]["from"] == "staging"
    assert prod["endpoint.species_api"]["ids"]["endpoint_id"] != staging["endpoint.species_api"]["ids"]["endpoint_id"]
    assert predict(cli, server, "prod") == predict(cli, server, "staging")
    r = cli("plan", "-e", "prod", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr  # the borrowed entries read as up to date


def test_prod_destroy_forgets_borrowed_objects_and_staging_keeps_serving(cli: Any, server: Any, staged: int) -> None:
    r = cli.ok("plan", "-e", "prod", "--destroy")
    assert "borrowed from staging by promotion" in r.stdout, r.stdout
    cli.ok("destroy", "-e", "prod", "--auto-approve")
    assert lock(cli.project, "prod")["resources"] == {}
    staging = lock(cli.project, "staging")["resources"]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as api:
        sid = staging["foundational_model.penguins"]["ids"]["session_id"]
        assert api.get(f"/compute/session/{sid}").status_code == 200
    predict(cli, server, "staging")
    r = cli("plan", "-e", "staging", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr


def test_prods_own_models_are_replaced_by_promotion_and_deleted(cli: Any, server: Any, staged: int) -> None:
    write(cli, server, prod_fm_epochs=3)
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")  # differs: prod trains its own
    own = lock(cli.project, "prod")["resources"]["foundational_model.penguins"]
    assert not own.get("borrowed")
    assert trainings(server) == staged + 3
    write(cli, server)
    r = cli.ok("plan", "-e", "prod", "--promote-from", "staging")
    assert "0 trainings (3 promoted)." in r.stdout, r.stdout
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")
    assert trainings(server) == staged  # nothing trained; prod's own model (and its predictors' jobs) deleted
    prod = lock(cli.project, "prod")["resources"]
    assert prod["foundational_model.penguins"]["borrowed"]["from"] == "staging"
    assert predict(cli, server, "prod") == predict(cli, server, "staging")
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as api:
        assert api.get(f"/compute/session/{own['ids']['session_id']}").status_code == 404  # prod's own is gone
    r = cli("plan", "-e", "prod", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr


def test_staging_cannot_delete_what_prod_serves(cli: Any, server: Any, staged: int) -> None:
    write(cli, server)
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")
    prod_endpoint = lock(cli.project, "prod")["resources"]["endpoint.species_api"]["ids"]["endpoint_id"]
    for command in (("destroy", "-e", "staging", "--auto-approve"), ("plan", "-e", "staging", "--destroy")):
        r = cli(*command)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "Error: foundational_model.penguins cannot be deleted: an endpoint this environment does not" in r.stderr
        assert f"endpoint 'species-prod' ({prod_endpoint}) serves predictor" in r.stderr, r.stderr
        assert "featrix.yaml:" in r.stderr and "without --promote-from" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    cli.write(cli.project.joinpath("featrix.yaml").read_text(encoding="utf-8").replace("epochs: 2", "epochs: 3"))
    r = cli("plan", "-e", "staging")  # a retrain would delete the old session once the new one is trained
    assert r.returncode == 1 and "foundational_model.penguins cannot be deleted" in r.stderr, r.stdout + r.stderr
    write(cli, server)
    staging = lock(cli.project, "staging")["resources"]
    assert all(e["status"] == "ready" for e in staging.values())  # nothing of staging was deleted
    predict(cli, server, "prod")
    cli.ok("destroy", "-e", "prod", "--auto-approve")  # prod only forgets; staging may go again
    r = cli("plan", "-e", "staging", "--destroy")
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_artifact_deleted_under_staging_is_drift_in_prod_and_refused_as_stale(
    cli: Any, server: Any, staged: int
) -> None:
    before = trainings(server)
    cli.ok("apply", "-e", "prod", "--promote-from", "staging", "--auto-approve")
    assert trainings(server) == before
    sid = lock(cli.project, "staging")["resources"]["foundational_model.penguins"]["ids"]["session_id"]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as api:
        assert api.post(f"/compute/session/{sid}/mark_for_deletion", json={}).status_code == 200
    r = cli("plan", "-e", "prod", "--detailed-exitcode")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "borrowed from staging by promotion and deleted outside this environment" in r.stdout, r.stdout
    r = cli.ok("plan", "-e", "prod", "--promote-from", "staging")
    assert "not promoted from staging: staging's lockfile is stale" in r.stdout, r.stdout
    cli.ok("destroy", "-e", "staging", "--auto-approve")
