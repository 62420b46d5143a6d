"""Quality gates through the real CLI and the local server: a gate the new training cannot meet keeps the
endpoint on its previous predictor (same key, same predictor id), apply exits 1 showing metric vs
threshold, the next plan says it trains again, and `--skip-gate` waives it once (recorded in the lockfile)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from acceptance_helpers import Cli

RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}


def gated_manifest(url: str, *, epochs: int, gates: str) -> str:
    return f"""\
version: 1
project: gates
server:
  url: {url}

foundational_models:
  penguins:
    data: data/penguins.csv
    ignore_columns: [year]
    epochs: 2

predictors:
  mass:
    foundational_model: penguins
    type: regressor
    target_column: body_mass_g
    epochs: {epochs}
    gates: {gates}

endpoints:
  mass_api:
    predictor: mass
"""


def entry(project: Path, address: str) -> dict[str, Any]:
    return dict(json.loads((project / "featrix.lock").read_text(encoding="utf-8"))["resources"][address])


def serving(server: Any, endpoint_id: str) -> str:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        return str(http.get(f"/endpoints/{endpoint_id}").json().get("serving_predictor_id"))


def predict(server: Any, endpoint_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/endpoint/{endpoint_id}/predict",
        json={"query_record": RECORD},
        headers={"X-API-Key": key},
        timeout=30,
    )


def test_a_failed_gate_keeps_the_endpoint_on_its_previous_predictor(cli: Cli, server: Any, project: Path) -> None:
    cli.write(gated_manifest(server.url, epochs=2, gates="{max_rmse: 1000000}"))
    r = cli.ok("apply", "--auto-approve")
    assert "predictor.mass: passed" in r.stdout and "max_rmse 1e+06" in r.stdout, r.stdout
    assert entry(project, "predictor.mass")["gate"]["status"] == "passed"
    old_pid = entry(project, "predictor.mass")["ids"]["predictor_id"]
    endpoint_id = entry(project, "endpoint.mass_api")["ids"]["endpoint_id"]
    key = cli.ok("output", "endpoint.mass_api.api_key").stdout.strip()

    # a retrain under a gate no model can meet (an RMSE of 0.0001 grams)
    cli.write(gated_manifest(server.url, epochs=3, gates="{max_rmse: 0.0001, min_r2: -1000}"))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stderr
    assert "gate: rmse <= 0.0001 (max_rmse)" in r.stdout and "gate: r2 >= -1000 (min_r2)" in r.stdout, r.stdout
    r = cli("apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "Failed:\n  predictor.mass: gated out: rmse " in r.stdout and "> max_rmse 0.0001" in r.stdout, r.stdout
    assert "endpoint.mass_api" in r.stdout.split("Skipped:")[1], r.stdout
    assert "predictor.mass: gated out" in r.stdout.split("Gates:")[1]

    recorded = entry(project, "predictor.mass")
    assert recorded["ids"]["predictor_id"] == old_pid  # the lockfile still names what serves
    gate = recorded["gate"]
    assert gate["status"] == "gated_out" and gate["ids"]["predictor_id"] != old_pid
    failed = [g for g in gate["results"] if not g["passed"]]
    assert [(g["metric"], g["threshold"]) for g in failed] == [("rmse", 0.0001)] and failed[0]["value"] > 0.0001
    assert any(
        r.get("reason") == "gated_out" and r["predictor_id"] == gate["ids"]["predictor_id"] for r in recorded["retired"]
    )
    assert entry(project, "endpoint.mass_api")["ids"]["predictor_id"] == old_pid
    assert serving(server, endpoint_id) == old_pid
    answer = predict(server, endpoint_id, key)
    assert answer.status_code == 200 and old_pid in answer.text
    assert cli.ok("output", "endpoint.mass_api.api_key").stdout.strip() == key

    # the next plan does not loop silently: it says it trains again, and why
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stderr
    assert "-/+ predictor.mass" in r.stdout and "last training was gated out (rmse" in r.stdout, r.stdout

    # a waiver for one apply moves the endpoint, and the lockfile says it was waived
    r = cli("apply", "--auto-approve", "--json", "--skip-gate", "predictor.mass")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["gates"]["predictor.mass"]["status"] == "waived"
    new = entry(project, "predictor.mass")
    assert new["gate"]["status"] == "waived" and new["ids"]["predictor_id"] != old_pid
    assert serving(server, endpoint_id) == new["ids"]["predictor_id"]
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_skip_gate_of_an_address_without_gates_is_refused(cli: Cli, server: Any) -> None:
    cli.write(gated_manifest(server.url, epochs=4, gates="{max_rmse: 1000000}"))
    r = cli("apply", "--auto-approve", "--skip-gate", "predictor.nope")
    assert r.returncode == 1
    assert r.stderr.startswith("Error: --skip-gate predictor.nope") and "predictor.mass" in r.stderr, r.stderr
