"""Nothing is created twice: lost create answers and a lost lockfile are recovered by each kind's identity.

The real `featrix` CLI against the local server with test hooks. The server echoes no tag on endpoints or
predictors (as the real service), so what is found is found by documented fields only. A Python test, not a
golden transcript: lost answers are made by fault injection and a killed process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import Cli, cli_env

MANIFEST = """\
version: 1
project: identity
server:
  url: {url}
foundational_models:
  penguins:
    data: data/penguins.csv
    ignore_columns: [year]
    epochs: 2
predictors:
  species:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: 2
endpoints:
  species_api:
    predictor: species
"""
FM, PRED, EP = "foundational_model.penguins", "predictor.species", "endpoint.species_api"


TEST_HOOKS = True  # this module's server has the test hooks on (conftest.py: server)


@pytest.fixture(scope="module")
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as client:
        yield client


def _lock(project: Path) -> dict[str, Any]:
    path = project / "featrix.lock"
    return json.loads(path.read_text())["resources"] if path.exists() else {}


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _inventory(http: httpx.Client) -> dict[str, list[str]]:
    """Every session named penguins, predictor of species in them, and endpoint named species_api."""
    sessions = [s["session_id"] for s in http.get("/compute/sessions-for-org").json()["sessions"]]
    docs = {sid: http.get(f"/compute/session/{sid}").json() for sid in sessions}
    fms = [sid for sid, d in docs.items() if d["session"]["name"] == "penguins"]
    preds = [
        str(e["predictor_id"])
        for sid in fms
        for e in docs[sid]["session"]["job_plan"]
        if e.get("predictor_id") and e["spec"]["target_column"] == "species"
    ]
    endpoints = [e["id"] for e in http.get("/endpoints").json()["endpoints"] if e["name"] == "species_api"]
    return {"fms": fms, "predictors": preds, "endpoints": endpoints}


def _kill_during_create(cli: Cli, http: httpx.Client, address: str, route: str, made: Callable[[], bool]) -> None:
    """Apply with the create's answer held back after the server committed it; SIGKILL the apply meanwhile."""
    http.post("/__test__/faults", json={"route": route, "when": "after", "hang_seconds": 40}).raise_for_status()
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"{address} to be created on the server", made)
        entry = _lock(cli.project).get(address) or {}
        assert entry.get("status") == "creating" and not entry.get("ids"), entry  # the answer is lost
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        http.delete("/__test__/faults")


def test_a_wrong_key_fails_at_plan_even_with_an_empty_lockfile(server: Any, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "featrix.yaml").write_text("version: 1\nproject: nothing\nserver:\n  url: " + server.url + "\n")
    cli = Cli(tmp_path, cli_env("fx_wrong_key_0123456789abcdef"))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Error: the server refused the account API key" in r.stderr and "Traceback" not in r.stderr
    assert "fx_wrong_key" not in r.stdout + r.stderr


def test_lost_create_answers_are_adopted_and_nothing_is_duplicated(cli: Cli, server: Any, http: httpx.Client) -> None:
    """A SIGKILL while each create's answer is held back, then a plain apply: one of each, all recorded."""
    cli.write(MANIFEST.format(url=server.url))
    _kill_during_create(cli, http, FM, "POST /compute/upload_with_new_session", lambda: bool(_inventory(http)["fms"]))
    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 2 and f"{FM} will be adopted" in plan.stdout, plan.stdout + plan.stderr
    _kill_during_create(cli, http, PRED, "POST .*/train_predictor$", lambda: bool(_inventory(http)["predictors"]))
    _kill_during_create(cli, http, EP, "POST /endpoints$", lambda: bool(_inventory(http)["endpoints"]))
    cli.ok("apply", "--auto-approve")
    seen, lock = _inventory(http), _lock(cli.project)
    assert seen == {
        "fms": [lock[FM]["ids"]["session_id"]],
        "predictors": [lock[PRED]["ids"]["predictor_id"]],
        "endpoints": [lock[EP]["ids"]["endpoint_id"]],
    }
    assert lock[EP]["secrets"]["api_key"]  # the key lost with the answer was rotated into the lockfile
    assert "No changes." in cli.ok("plan").stdout


def test_a_lost_lockfile_plans_adoption_and_apply_creates_nothing(cli: Cli, server: Any, http: httpx.Client) -> None:
    before = _inventory(http)
    assert all(len(ids) == 1 for ids in before.values()), before  # left by the test above
    (cli.project / "featrix.lock").unlink()
    http.delete("/__test__/requests")
    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    for address in (FM, PRED, EP):
        assert f"{address} will be adopted" in plan.stdout, plan.stdout
    assert "will be created" not in plan.stdout
    assert "its API key was shown only to the run that created it" in plan.stdout  # adopting rotates the key
    reads = [f"{r['method']} {r['path']}" for r in http.get("/__test__/requests").json()["requests"]]
    searched = ["GET /compute/sessions-for-org", f"GET /compute/session/{before['fms'][0]}", "GET /endpoints"]
    assert all(reads.count(path) == 1 for path in searched), reads  # one read per list or document, no N+1
    cli.ok("apply", "--auto-approve")
    assert _inventory(http) == before
    lock = _lock(cli.project)
    assert (
        lock[FM]["ids"]["session_id"] == before["fms"][0] and lock[EP]["ids"]["endpoint_id"] == before["endpoints"][0]
    )
    assert "No changes." in cli.ok("plan").stdout


def test_an_ambiguous_identity_refuses_the_plan_and_names_featrix_import(cli: Cli, http: httpx.Client) -> None:
    """Two endpoints fit (one made by hand with the same name and predictor): featrix cannot tell which is ours."""
    lock = _lock(cli.project)
    pred = lock[PRED]["ids"]
    body = {"name": "species_api", "predictor_id": pred["predictor_id"], "session_id": pred["session_id"]}
    twin = http.post("/endpoints", json=body).json()["id"]
    (cli.project / "featrix.lock").unlink()
    r = cli("plan")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"Error: cannot determine creation result for {EP}" in r.stderr
    assert (
        f"featrix import {EP} {twin}" in r.stderr
        and f"featrix import {EP} {lock[EP]['ids']['endpoint_id']}" in r.stderr
    )
    # import needs what the endpoint refers to recorded first: those commands come first, in order
    fm, sp = lock[FM]["ids"]["session_id"], f"{pred['session_id']}/{pred['predictor_id']}"
    order = [r.stderr.find(f"featrix import {a} {i}") for a, i in ((FM, fm), (PRED, sp), (EP, twin))]
    assert -1 not in order and order == sorted(order), r.stderr
    assert "Traceback" not in r.stderr and not (cli.project / "featrix.lock").exists()
