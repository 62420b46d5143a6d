"""Lifecycle through the CLI on one local server: key rotation, a foundational model replaced by new data
(predictors retrained, endpoint keeps URL and key), a two-stage Ctrl-C, and destroy."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import manifest

RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}


def entry(project: Path, address: str) -> dict[str, Any]:
    return json.loads((project / "featrix.lock").read_text())["resources"][address]


def predict(server: Any, endpoint_id: str, key: str) -> int:
    resp = httpx.post(
        f"{server.url}/endpoint/{endpoint_id}/predict",
        json={"query_record": RECORD},
        headers={"X-API-Key": key},
        timeout=30,
    )
    return resp.status_code


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


def test_apply_then_rotate_the_key(cli: Any, server: Any, project: Path, state: dict[str, Any]) -> None:
    cli.write(manifest(server.url, vector_database=False, protected=True))
    cli.ok("apply", "--auto-approve")
    old_key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    eid = entry(project, "endpoint.species_api")["ids"]["endpoint_id"]
    cli.write(manifest(server.url, vector_database=False, rotation=1, protected=True))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2 and "rotate the API key" in r.stdout and "api_key.rotation: 0 → 1" in r.stdout
    cli.ok("apply", "--auto-approve")
    new_key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    assert new_key != old_key
    assert entry(project, "endpoint.species_api")["ids"]["endpoint_id"] == eid
    assert predict(server, eid, new_key) == 200
    assert predict(server, eid, old_key) in (401, 403)
    assert cli("plan", "--detailed-exitcode").returncode == 0
    assert all(old_key not in t and new_key not in t for t in cli.transcript)
    state.update(key=new_key, endpoint_id=eid)
    refused = cli("plan", "--destroy")
    assert refused.returncode == 1
    assert "cannot delete foundational_model.penguins: the lockfile records deletion protection" in refused.stderr


def test_new_data_replaces_the_foundational_model_and_everything_follows(
    cli: Any, server: Any, project: Path, state: dict[str, Any]
) -> None:
    lines = (project / "data" / "penguins.csv").read_text().splitlines()
    (project / "data" / "penguins-v2.csv").write_text("\n".join(lines[:-5]) + "\n")
    old_sid = entry(project, "foundational_model.penguins")["ids"]["session_id"]
    cli.write(manifest(server.url, vector_database=False, rotation=1, data="data/penguins-v2.csv"))  # unprotected
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "-/+ foundational_model.penguins" in r.stdout and "data changed in the manifest" in r.stdout
    rows = len(lines) - 1
    assert f"data/penguins-v2.csv: {rows} → {rows - 5} rows (rows only)" in r.stdout
    assert "-/+ predictor.species" in r.stdout and "-/+ predictor.sex" in r.stdout
    assert "  ~ endpoint.species_api" in r.stdout
    assert "Plan: 0 to add, 1 to change, 3 to replace, 0 to destroy." in r.stdout
    assert "apply lifts it on the server before deleting" in r.stdout
    cli.ok("apply", "--auto-approve")
    new_sid = entry(project, "foundational_model.penguins")["ids"]["session_id"]
    assert new_sid != old_sid
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        old = http.get(f"/compute/session/{old_sid}")
    assert old.status_code == 404 or old.json().get("session", old.json()).get("marked_for_deletion"), old.text
    assert entry(project, "predictor.species")["ids"]["session_id"] == new_sid
    ep = entry(project, "endpoint.species_api")
    assert ep["ids"]["endpoint_id"] == state["endpoint_id"] and ep["ids"]["session_id"] == new_sid
    assert cli.ok("output", "endpoint.species_api.api_key").stdout.strip() == state["key"]
    assert predict(server, state["endpoint_id"], state["key"]) == 200
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_more_rows_under_retrain_on_schema_keep_the_model(cli: Any, server: Any, project: Path) -> None:
    text = manifest(server.url, vector_database=False, rotation=1, data="data/penguins-v2.csv")
    cli.write(
        text.replace(
            "    ignore_columns: [year]\n", "    ignore_columns: [year]\n    lifecycle: {retrain_on: schema}\n"
        )
    )
    v2 = project / "data" / "penguins-v2.csv"
    original = v2.read_text()
    rows = len(original.splitlines()) - 1
    v2.write_text(original + "\n".join(original.splitlines()[1:4]) + "\n")  # three more rows, same columns
    try:
        r = cli("plan", "--detailed-exitcode")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"{rows} → {rows + 3} rows (rows only)" in r.stdout + r.stderr
        assert "retrain_on: schema keeps the trained model" in r.stdout + r.stderr
        v2.write_text(original.replace("\n", ",x\n").replace("year,x", "year,note", 1))  # a new column
        r = cli("plan", "--detailed-exitcode")
        assert r.returncode == 2 and "-/+ foundational_model.penguins" in r.stdout
        assert "+ column note (schema change)" in r.stdout
    finally:
        v2.write_text(original)
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_first_ctrl_c_starts_nothing_new_and_the_next_apply_finishes(cli: Any, server: Any) -> None:
    cli.write(manifest(server.url, vector_database=False, rotation=1, data="data/penguins-v2.csv", sex_epochs=400))
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_line(proc, "predictor.sex: replacing"), "the apply never started the replacement"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    cli.transcript.extend([out, err])
    assert proc.returncode == 1, out + err
    assert "Interrupt: nothing new is started" in err
    r = cli.ok("apply", "--auto-approve")
    assert "Apply complete!" in r.stdout or "No changes" in r.stdout
    assert cli("plan", "--detailed-exitcode").returncode == 0


def _wait_line(proc: Any, text: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            return False
        if text in line:
            return True
    return False


def test_saved_plan_applies_exactly_once_and_json_matches_the_schema(cli: Any, server: Any, project: Path) -> None:
    import jsonschema

    cli.write(manifest(server.url, vector_database=False, rotation=2, data="data/penguins-v2.csv", sex_epochs=400))
    r = cli("plan", "--json", "--detailed-exitcode")
    assert r.returncode == 2
    data = json.loads(r.stdout)
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert [a["address"] for a in data["actions"] if a["action"] != "no-op"] == ["endpoint.species_api"]
    r = cli.ok("plan", "-out", "rotate.fxplan")
    assert "Saved the plan" in r.stderr
    r = cli.ok("apply", "rotate.fxplan")
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in r.stdout
    again = cli("apply", "rotate.fxplan")
    assert again.returncode == 1 and "Error:" in again.stderr
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_destroy_deletes_and_retires_everything(cli: Any, server: Any, project: Path, state: dict[str, Any]) -> None:
    r = cli("destroy", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "x predictor.species" in r.stdout and "- endpoint.species_api" in r.stdout
    assert "Destroy complete! Resources: 0 added, 0 changed, 2 destroyed, 2 retired." in r.stdout
    assert json.loads((project / "featrix.lock").read_text())["resources"] == {}
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        assert http.get(f"/endpoints/{state['endpoint_id']}").status_code == 404
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2 and "Plan: 4 to add" in r.stdout
