"""`featrix plan --refresh-only --quality`: an endpoint whose labelled traffic scores worse than training degrades.

A Python test, not a golden transcript: the labels fed back are computed from each prediction's answer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
from acceptance_helpers import PENGUINS, Cli, manifest

SHADOW = """  species_b:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: 4
"""


def _ids(project: Path, address: str) -> dict[str, str]:
    ids: dict[str, str] = json.loads((project / "featrix.lock").read_text())["resources"][address]["ids"]
    return ids


def test_quality_reports_a_degraded_endpoint_with_its_own_exit_code(cli: Cli, server: Any, project: Path) -> None:
    text = manifest(server.url, vector_database=False)
    cli.write(text.replace("\nendpoints:", SHADOW + "\nendpoints:", 1))
    cli.ok("apply", "--auto-approve")
    r = cli("plan", "--refresh-only", "--quality", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr  # no shadow yet: nothing to judge, unknown is not degraded
    assert "Model quality:" in r.stdout and "unknown  endpoint.species_api" in r.stdout
    assert cli("plan", "--quality").returncode == 1  # only with --refresh-only

    endpoint, shadow = _ids(project, "endpoint.species_api"), _ids(project, "predictor.species_b")
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    rows = list(csv.DictReader(PENGUINS.open()))[:6]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        body = {"predictor_id": shadow["predictor_id"], "session_id": shadow["session_id"]}
        assert http.post(f"/endpoints/{endpoint['endpoint_id']}/shadow", json=body).status_code == 200
        for row in rows:
            record = {k: v for k, v in row.items() if k not in ("species", "year") and v not in ("", "NA")}
            answer = http.post(
                f"/endpoint/{endpoint['endpoint_id']}/predict",
                json={"query_record": record},
                headers={"X-Api-Key": key},
            ).json()
            wrong = next(s for s in ("Adelie", "Chinstrap", "Gentoo") if s != answer["prediction"])
            fed = http.post(
                f"/compute/session/{answer['session_id']}/predict/{answer['prediction_uuid']}/feedback",
                json={"ground_truth": wrong},  # the ground truth says every answer was wrong
            )
            assert fed.status_code == 200, fed.text

    args = ("plan", "--refresh-only", "--quality", "--quality-min-paired", "5")
    r = cli(*args, "--detailed-exitcode")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "degraded endpoint.species_api: accuracy" in r.stdout and "6 labelled" in r.stdout
    assert "1 degraded" in r.stdout and "Traceback" not in r.stderr
    assert cli(*args).returncode == 0  # without --detailed-exitcode the exit codes keep their meaning
    import jsonschema

    doc = json.loads(cli.ok(*args, "--json").stdout)
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(doc, schema)  # model_quality is part of the plan's JSON format
    (only,) = doc["model_quality"]
    assert only["verdict"] == "degraded" and only["live"] == 0 and only["baseline"] > 0.5 and only["paired"] == 6
    assert "### Model quality" in cli.ok(*args, "--markdown").stdout
    r = cli(*args, "--quality-min-paired", "50", "--detailed-exitcode")  # too few labelled requests to judge
    assert r.returncode != 3 and "fewer than the 50 needed" in r.stdout
