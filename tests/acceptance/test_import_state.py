"""State surgery through the CLI: what a golden transcript cannot show (tests/acceptance/import_state shows the rest).

One applied project on a local server with its test hooks on: the request log shows that `state rm` sends
no request and `featrix import` only reads; a stuck lock held by another process is released only with its
id; a create whose answer was lost (fault injection) is resolved by importing what the server made. The
tests run in order on the one project (each starts from where the previous one left it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import manifest

FM, SPECIES, SEX = "foundational_model.penguins", "predictor.species", "predictor.sex"
ENDPOINT, VDB = "endpoint.species_api", "vector_database.catalog"
EVERYTHING = [FM, SPECIES, SEX, ENDPOINT, VDB]
RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}


TEST_HOOKS = True  # this module's server has the test hooks on (conftest.py: server)


def lockfile(project: Path) -> dict[str, Any]:
    return json.loads((project / "featrix.lock").read_text())


def ids(project: Path, address: str) -> dict[str, str]:
    return dict(lockfile(project)["resources"][address]["ids"])


def requests_since_clear(server: Any) -> list[dict[str, Any]]:
    headers = {"X-Api-Key": server.api_key}
    data = httpx.get(server.url + "/__test__/requests", headers=headers, timeout=10).json()
    rows = data["requests"] if isinstance(data, dict) else data
    return [r for r in rows if not r["path"].startswith("/__test__")]


def clear_requests(server: Any) -> None:
    httpx.delete(server.url + "/__test__/requests", headers={"X-Api-Key": server.api_key}, timeout=10)


@pytest.fixture(scope="module")
def applied(cli: Any, server: Any, project: Path) -> dict[str, dict[str, str]]:
    cli.write(manifest(server.url))
    cli.ok("apply", "--auto-approve")
    return {a: ids(project, a) for a in EVERYTHING}


def test_state_rm_sends_no_request_and_import_only_reads(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    clear_requests(server)
    cli.ok("state", "rm", *EVERYTHING)
    assert requests_since_clear(server) == []  # forgetting sends nothing: no DELETE, not even a read
    clear_requests(server)
    sid = applied[FM]["session_id"]
    cli.ok("import", FM, sid)
    cli.ok("import", SPECIES, f"{sid}/{applied[SPECIES]['predictor_id']}")
    cli.ok("import", SEX, applied[SEX]["predictor_id"])
    cli.ok("import", VDB, "catalog")
    cli.ok("import", ENDPOINT, applied[ENDPOINT]["endpoint_id"])
    writes = [r for r in requests_since_clear(server) if r["method"] != "GET"]
    assert writes == []  # import only reads
    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


HOLDER = """
import sys, time
from featrix_iac.state import StateStore
with StateStore(sys.argv[1], "default").lock("apply") as info:
    print(info.id, flush=True)
    time.sleep(120)
"""


def test_unlock_releases_a_stuck_lock_by_its_id_only(
    cli: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project)], stdout=subprocess.PIPE, text=True, env=cli.env
    )
    try:
        assert holder.stdout is not None
        lock_id = holder.stdout.readline().strip()
        blocked = cli("state", "rm", SEX)
        assert blocked.returncode == 1 and "state is locked" in blocked.stderr and lock_id in blocked.stderr
        wrong = cli("unlock", "not-the-id")
        assert wrong.returncode == 1 and "lock id does not match" in wrong.stderr
        assert cli("import", SEX, "x").returncode == 1  # still locked
        released = cli.ok("unlock", lock_id)
        assert lock_id in released.stdout
        assert cli("unlock", lock_id).returncode == 1  # nothing left to unlock
        cli.ok("apply", "--auto-approve")  # the environment is usable again (nothing to do)
    finally:
        holder.kill()
        holder.wait()


def test_import_resolves_an_undetermined_create(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    """A create whose answer was lost, unseen in a lagging list, stays 'creating' in the lockfile; importing
    the object that the server did make (by its name and serving predictor) resolves it."""
    headers = {"X-Api-Key": server.api_key}
    old_id = ids(project, ENDPOINT)["endpoint_id"]
    cli.ok("state", "rm", ENDPOINT)  # forgotten, and gone from the server: the next apply creates it again
    httpx.delete(f"{server.url}/endpoints/{old_id}", headers=headers, timeout=10).raise_for_status()
    httpx.post(server.url + "/__test__/consistency", headers=headers, json={"stale_list_seconds": 60}, timeout=10)
    fault = {"route": "POST /endpoints$", "drop_connection": True, "when": "after"}
    httpx.post(server.url + "/__test__/faults", headers=headers, json=fault, timeout=10)
    try:
        lost = cli("apply", "--auto-approve")
    finally:
        httpx.delete(server.url + "/__test__/faults", headers=headers, timeout=10)  # lists are whole again
    assert lost.returncode == 1 and "stays in the lockfile" in lost.stdout + lost.stderr
    entry = lockfile(project)["resources"][ENDPOINT]
    assert entry["status"] == "creating" and not entry["ids"]
    endpoints = httpx.get(server.url + "/endpoints", headers=headers, timeout=10).json()["endpoints"]
    serving = ids(project, SPECIES)["predictor_id"]
    made = [e["id"] for e in endpoints if e["name"] == "species_api" and e["serving_predictor_id"] == serving]
    assert len(made) == 1 and made[0] != old_id
    cli.ok("import", ENDPOINT, made[0])
    assert ids(project, ENDPOINT)["endpoint_id"] == made[0]
    assert cli("plan", "--detailed-exitcode").returncode == 0
