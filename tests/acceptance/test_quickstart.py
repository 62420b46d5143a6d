"""The README's main job: apply examples/quickstart on the embedded local server, then predict through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acceptance_helpers import Cli, cli_env
from repo_files import copy_project

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
GENTOO = '{"island": "Biscoe", "bill_length_mm": 48.6, "bill_depth_mm": 16.0, "flipper_length_mm": 230, "body_mass_g": 5800, "sex": "male"}'


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("quickstart") / "quickstart"
    copy_project(QUICKSTART, root)
    cli = Cli(root, cli_env(None))
    r = cli.ok("apply", "--auto-approve")
    assert "Apply complete! Resources: 5 added, 0 changed, 0 destroyed." in r.stdout
    return cli


def test_prediction_through_the_endpoint_with_its_key(quickstart: Cli) -> None:
    r = quickstart.ok("predict", "endpoint.species_api", GENTOO)
    assert r.stdout.startswith("Gentoo (confidence ")
    answer = json.loads(quickstart.ok("predict", "endpoint.species_api", GENTOO, "--json").stdout)
    assert answer["predicted_class"] == "Gentoo"
    assert set(answer["probabilities"]) == {"Adelie", "Chinstrap", "Gentoo"}
    key = quickstart.ok("output", "endpoint.species_api.api_key").stdout.strip()
    assert key.startswith("fx_ep_") and key not in r.stdout + r.stderr


def test_prediction_through_a_predictor_and_a_batch(quickstart: Cli) -> None:
    r = quickstart.ok("predict", "predictor.body_mass", '[{"species": "Gentoo"}, {"species": "Adelie"}]')
    gentoo, adelie = (float(line) for line in r.stdout.split())
    assert gentoo > adelie  # gentoos are the heavy ones


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "endpoint.nope", "{}"), "Error: cannot predict with endpoint.nope"),
        (("predict", "endpoint.species_api", "{bad"), "Error: invalid JSON in the RECORD argument"),
        (("predict", "endpoint.species_api", "[1, 2]"), "Error: invalid record in the RECORD argument"),
        (("predict", "endpoint.species_api", "--file", "missing.json"), "Error: cannot read missing.json"),
    ],
)
def test_bad_predict_input_is_a_clear_error(quickstart: Cli, args: tuple[str, ...], message: str) -> None:
    r = quickstart(*args)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr


def test_trainings_are_recorded_and_calibrate_the_next_estimate(quickstart: Cli) -> None:
    lock = json.loads((quickstart.project / "featrix.lock").read_text())["resources"]
    fm = lock["foundational_model.penguins"]["training"]
    assert fm["seconds"] > 0 and fm["rows"] == 344 and fm["columns"] == 7 and fm["epochs"] == 8
    assert lock["predictor.species"]["training"]["seconds"] > 0
    manifest = quickstart.project / "featrix.yaml"
    original = manifest.read_text()
    manifest.write_text(original.replace("fm_epochs: 8", "fm_epochs: 16"))  # retrain everything, twice the epochs
    try:
        plan = json.loads(quickstart.ok("plan", "--json").stdout)
        estimates = {a["address"]: a["estimate"] for a in plan["actions"] if a.get("estimate")}
        assert set(estimates) == {
            "foundational_model.penguins",
            "predictor.species",
            "predictor.sex",
            "predictor.body_mass",
        }
        assert estimates["foundational_model.penguins"]["calibrated_on"] == 1
        # calibrated on the recorded training: twice the epochs, about twice the time (never under the floor)
        expected = max(2 * fm["seconds"], 1.0)
        assert estimates["foundational_model.penguins"]["training_seconds"] == pytest.approx(expected, rel=0.05)
        assert plan["estimate"]["critical_path_seconds"] <= plan["estimate"]["training_seconds"]
        text = quickstart.ok("plan").stdout
        assert "Estimated training: ≈ " in text and "(critical path " in text
        over = quickstart("plan", "--max-training-minutes", "0.01")
        assert over.returncode == 1 and "over the 0.01 min of --max-training-minutes" in over.stderr
        assert "foundational_model.penguins ≈ " in over.stderr and "Traceback" not in over.stderr
    finally:
        manifest.write_text(original)


def test_output_of_an_address_lists_its_outputs(quickstart: Cli) -> None:
    """`featrix output endpoint.X` (no field) lists that endpoint's outputs, the key as (sensitive value)."""
    r = quickstart.ok("output", "endpoint.species_api")
    names = [line.split("=")[0].strip() for line in r.stdout.splitlines()]
    assert "endpoint.species_api.endpoint_id" in names and "endpoint.species_api.api_key" in names, r.stdout
    assert all(n.startswith("endpoint.species_api.") for n in names), r.stdout
    [key_line] = [line for line in r.stdout.splitlines() if line.startswith("endpoint.species_api.api_key ")]
    assert key_line.endswith("= (sensitive value)"), key_line
    key = quickstart.ok("output", "endpoint.species_api.api_key").stdout.strip()
    assert key not in r.stdout


def test_predict_warns_about_columns_the_model_does_not_know(quickstart: Cli) -> None:
    r = quickstart.ok("predict", "endpoint.species_api", '{"colour": "red"}')
    assert "Warning:" in r.stderr and "colour" in r.stderr and "island" in r.stderr, r.stderr
    r = quickstart.ok("predict", "endpoint.species_api", '{"colour": "red", "island": "Biscoe"}')
    assert "Warning:" in r.stderr and "colour" in r.stderr, r.stderr
    r = quickstart.ok("predict", "endpoint.species_api", GENTOO)
    assert "Warning" not in r.stderr, r.stderr
