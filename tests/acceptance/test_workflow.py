"""The plan/apply workflow end to end: the `featrix` CLI against one local server, steps in order.

create → no-op re-plan → the endpoint key predicts → in-place change → drift converged → replacement
keeping the endpoint's URL and key → removal deletes → prevent_destroy refuses destroy → a second
concurrent apply is refused → no secret anywhere in the outputs or the lockfile.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import WEBHOOK_SECRET, manifest

RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}


def lock(project: Path) -> dict[str, Any]:
    return json.loads((project / "featrix.lock").read_text(encoding="utf-8"))


def entry(project: Path, address: str) -> dict[str, Any]:
    return lock(project)["resources"][address]


def api(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30)


def predict(server: Any, endpoint_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/endpoint/{endpoint_id}/predict",
        json={"query_record": RECORD},
        headers={"X-API-Key": key},
        timeout=30,
    )


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """Values carried from one step to the next (endpoint id, key)."""
    return {}


def test_create_from_scratch(cli: Any, server: Any, project: Path) -> None:
    cli.write(manifest(server.url))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stderr
    assert "Plan: 5 to add, 0 to change, 0 to replace, 0 to destroy." in r.stdout
    r = cli.ok("apply", "--auto-approve")
    assert "Apply complete! Resources: 5 added, 0 changed, 0 destroyed." in r.stdout
    resources = lock(project)["resources"]
    assert sorted(resources) == [
        "endpoint.species_api",
        "foundational_model.penguins",
        "predictor.sex",
        "predictor.species",
        "vector_database.catalog",
    ]
    assert {e["status"] for e in resources.values()} == {"ready"}
    assert lock(project)["server_url"] == server.url


def test_replan_is_a_noop(cli: Any) -> None:
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes. The server matches the manifests (5 resources up to date)." in r.stdout
    md = cli("plan", "--markdown", "--detailed-exitcode")
    assert md.returncode == 0 and "No changes." in md.stdout and "<!-- featrix-plan" in md.stdout


def test_state_list_and_show(cli: Any) -> None:
    listed = cli.ok("state", "list").stdout.splitlines()
    assert "endpoint.species_api" in listed and "vector_database.catalog" in listed
    shown = cli.ok("state", "show", "endpoint.species_api").stdout
    assert "status = ready" in shown and "api_key = (sensitive value)" in shown
    missing = cli("state", "show", "endpoint.nope")
    assert missing.returncode == 1 and "Error: no endpoint.nope in the lockfile" in missing.stderr


def test_output_prints_a_key_that_predicts(cli: Any, server: Any, project: Path, state: dict[str, Any]) -> None:
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    eid = entry(project, "endpoint.species_api")["ids"]["endpoint_id"]
    resp = predict(server, eid, key)
    assert resp.status_code == 200, resp.text
    assert predict(server, eid, key + "x").status_code in (401, 403)
    listing = cli.ok("output").stdout
    assert "endpoint.species_api.api_key" in listing and "(sensitive value)" in listing and key not in listing
    state.update(key=key, endpoint_id=eid, lockfile_with_key=(project / "featrix.lock").read_text())


def test_refresh_error_aborts_and_is_never_a_deletion(cli: Any, project: Path) -> None:
    before = (project / "featrix.lock").read_text()
    env = {**cli.env, "FEATRIX_API_KEY": "fx_wrong_key_0000000000000000"}
    r = type(cli)(cli.project, env, cli.transcript)("plan", "--detailed-exitcode")
    assert r.returncode == 1
    assert "refused the account API key" in r.stderr and "never reads an error as a deletion" in r.stderr
    assert "will be created" not in r.stdout
    assert (project / "featrix.lock").read_text() == before


def test_in_place_change(cli: Any, server: Any) -> None:
    cli.write(manifest(server.url, published=False, vdb_records=2))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "  ~ foundational_model.penguins" in r.stdout and "  ~ vector_database.catalog" in r.stdout
    assert "published" in r.stdout and "true → false" in r.stdout
    assert "Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy." in r.stdout
    r = cli.ok("apply", "--auto-approve", "--json")
    doc = json.loads(r.stdout)  # stdout is only the JSON document; progress went to stderr
    assert doc["format"] == "featrix-apply" and doc["ok"] is True
    assert doc["summary"] == "Apply complete! Resources: 0 added, 2 changed, 0 destroyed."
    assert doc["done"] == ["foundational_model.penguins", "vector_database.catalog"]
    assert "foundational_model.penguins: updat" in r.stderr
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_drift_is_shown_and_converged(cli: Any, server: Any, project: Path) -> None:
    sid = entry(project, "foundational_model.penguins")["ids"]["session_id"]
    with api(server) as http:
        resp = http.post(f"/compute/session/{sid}/deletion_protection", json={"protected": True})
        assert resp.status_code == 200, resp.text
    r = cli("plan", "--refresh-only", "--detailed-exitcode")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Objects changed outside featrix (drift)" in r.stdout
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "deletion_protection: false → true" in r.stdout  # drift: lockfile → live
    assert "deletion_protection: true → false" in r.stdout  # the change that converges it
    assert "changed outside featrix" in r.stdout
    cli.ok("apply", "--auto-approve")
    with api(server) as http:
        doc = http.get(f"/compute/session/{sid}").json()
    session = doc.get("session", doc)
    assert not session.get("deletion_protection")
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_replacement_keeps_endpoint_url_and_key(cli: Any, server: Any, project: Path, state: dict[str, Any]) -> None:
    old_pid = entry(project, "predictor.species")["ids"]["predictor_id"]
    cli.write(manifest(server.url, published=False, vdb_records=2, species_epochs=6))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "-/+ predictor.species" in r.stdout and "retired, not deleted" in r.stdout
    assert "  ~ endpoint.species_api" in r.stdout and "shadow → promote" in r.stdout
    assert "Plan: 0 to add, 1 to change, 1 to replace, 0 to destroy." in r.stdout
    r = cli.ok("apply", "--auto-approve")
    assert "Apply complete!" in r.stdout
    new_pid = entry(project, "predictor.species")["ids"]["predictor_id"]
    assert new_pid != old_pid
    ep = entry(project, "endpoint.species_api")
    assert ep["ids"]["endpoint_id"] == state["endpoint_id"]
    assert ep["ids"]["predictor_id"] == new_pid
    assert cli.ok("output", "endpoint.species_api.api_key").stdout.strip() == state["key"]
    with api(server) as http:
        live = http.get(f"/endpoints/{state['endpoint_id']}").json()
    assert live.get("serving_predictor_id") == new_pid
    assert predict(server, state["endpoint_id"], state["key"]).status_code == 200
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_removal_from_the_manifest_deletes(cli: Any, server: Any, project: Path, state: dict[str, Any]) -> None:
    cli.write(manifest(server.url, published=False, vdb_records=2, species_epochs=6, endpoint=False))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "  - endpoint.species_api" in r.stdout and "removed from the manifest" in r.stdout
    r = cli.ok("apply", "--auto-approve")
    assert "0 added, 0 changed, 1 destroyed" in r.stdout
    assert "endpoint.species_api" not in lock(project)["resources"]
    with api(server) as http:
        assert http.get(f"/endpoints/{state['endpoint_id']}").status_code == 404
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_target_limits_plan_and_apply(cli: Any, server: Any) -> None:
    text = manifest(server.url, published=False, vdb_records=3, species_epochs=6, endpoint=False)
    cli.write(
        text.replace("    rare_label_value: female\n", "    rare_label_value: female\n    deletion_protection: true\n")
    )
    r = cli("plan", "--detailed-exitcode", "--target", "vector_database.catalog")
    assert r.returncode == 2
    assert "~ vector_database.catalog" in r.stdout and "predictor.sex" not in r.stdout
    r = cli.ok("apply", "--auto-approve", "--target", "vector_database.catalog")
    assert "0 added, 1 changed, 0 destroyed" in r.stdout
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2 and "~ predictor.sex" in r.stdout and "vector_database.catalog" not in r.stdout
    cli.write(manifest(server.url, published=False, vdb_records=3, species_epochs=6, endpoint=False))
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_destroy_refused_by_prevent_destroy(cli: Any, server: Any, project: Path) -> None:
    cli.write(
        manifest(server.url, published=False, vdb_records=3, species_epochs=6, endpoint=False, prevent_destroy=True)
    )
    before = (project / "featrix.lock").read_text()
    r = cli("destroy", "--auto-approve")
    assert r.returncode == 1
    assert "Error: cannot delete foundational_model.penguins: lifecycle.prevent_destroy is set" in r.stderr
    assert "in featrix.yaml:" in r.stderr
    assert (project / "featrix.lock").read_text() == before


def test_second_concurrent_apply_is_refused_naming_the_holder(cli: Any, server: Any) -> None:
    cli.write(
        manifest(server.url, published=False, vdb_records=3, species_epochs=6, endpoint=True, prevent_destroy=True)
    )
    master, slave = pty.openpty()
    first = cli.popen("apply", stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        assert _wait_for(first, "Only 'yes' will be accepted"), "the first apply never asked for approval"
        second = cli("apply", "--auto-approve")
        assert second.returncode == 1
        assert "state is locked" in second.stderr and f"pid {first.pid}" in second.stderr
        os.write(master, b"no\n")
        rest_out, rest_err = first.communicate(timeout=60)
        cli.transcript.extend([rest_out, rest_err])
        assert first.returncode == 1 and "Apply cancelled." in rest_err
    finally:
        if first.poll() is None:
            first.kill()
        os.close(master)


def _wait_for(proc: Any, text: str, timeout: float = 60.0) -> bool:
    seen = ""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536).decode("utf-8", "replace")
            seen += chunk
            if text in seen:
                return True
    return False


def test_no_secret_in_any_output_or_in_the_lockfile(cli: Any, project: Path, state: dict[str, Any]) -> None:
    printed = "\n".join(cli.transcript)
    lockfiles = [(project / "featrix.lock").read_text(), state["lockfile_with_key"]]
    assert state["key"] and len(state["key"]) > 10
    assert '"api_key": "enc:v1:' in state["lockfile_with_key"]  # the key is there, encrypted
    for secret in (state["key"], WEBHOOK_SECRET):
        assert secret not in printed
        assert all(secret not in text for text in lockfiles)
