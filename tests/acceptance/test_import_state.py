"""State surgery through the CLI (issue 5 §4, practices R9): `featrix import`, `state rm`, `state mv`, `unlock`.

One applied project on a local server with its test hooks on (to see which requests each command sends):
forget everything with `state rm` (no request at all), adopt it back with `featrix import` (only reads;
a mismatch is refused with a diff), and the next plan is empty; rename addresses with `state mv`;
a protected entry needs --force; a stuck lock is released only with its id. The tests run in order on the
one project (each starts from where the previous one left it).
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


def test_state_rm_forgets_without_a_request_and_import_adopts_back(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    clear_requests(server)
    r = cli.ok("state", "rm", *EVERYTHING)
    assert requests_since_clear(server) == []  # forgetting sends nothing: no DELETE, not even a read
    assert "is untouched" in r.stdout and "still declared" in r.stdout
    assert lockfile(project)["resources"] == {}
    assert cli("plan", "--detailed-exitcode").returncode == 2  # declared and unrecorded: planned as new

    refused = cli("import", ENDPOINT, applied[ENDPOINT]["endpoint_id"])
    assert refused.returncode == 1 and f"cannot import {ENDPOINT} before {SPECIES}" in refused.stderr

    clear_requests(server)
    fm = cli.ok("import", FM, applied[FM]["session_id"])
    assert "data fingerprint" in fm.stderr and "unchecked" in fm.stderr
    wrong = cli("import", SPECIES, applied[SEX]["predictor_id"])  # the sex predictor is not the species one
    assert wrong.returncode == 1
    assert 'target_column: server "sex", manifest "species"' in wrong.stderr, wrong.stderr
    assert SPECIES not in lockfile(project)["resources"]  # nothing recorded
    sid = applied[FM]["session_id"]
    cli.ok("import", SPECIES, f"{sid}/{applied[SPECIES]['predictor_id']}")
    cli.ok("import", SEX, applied[SEX]["predictor_id"])
    cli.ok("import", VDB, "catalog")
    ep = cli.ok("import", ENDPOINT, applied[ENDPOINT]["endpoint_id"])
    assert "no key until you rotate it" in ep.stderr
    writes = [r for r in requests_since_clear(server) if r["method"] != "GET"]
    assert writes == []  # import only reads

    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # every imported object matches: nothing to do
    for address in EVERYTHING:
        for name, value in applied[address].items():
            if name != "job_id":
                assert ids(project, address)[name] == value, (address, name)


def test_import_refusals(cli: Any, project: Path, applied: dict[str, dict[str, str]]) -> None:
    again = cli("import", FM, applied[FM]["session_id"])
    assert again.returncode == 1 and f"{FM} is already in the lockfile" in again.stderr
    undeclared = cli("import", "predictor.nope", applied[SEX]["predictor_id"])
    assert undeclared.returncode == 1 and "predictor.nope is not declared in the manifests" in undeclared.stderr
    before = (project / "featrix.lock").read_bytes()
    cli.ok("state", "rm", SEX)
    foreign = cli("import", SEX, f"other-session/{applied[SEX]['predictor_id']}")
    assert foreign.returncode == 1 and "is in session other-session" in foreign.stderr
    missing = cli("import", SEX, "no-such-predictor")
    assert missing.returncode == 1 and "no predictor no-such-predictor on the server" in missing.stderr
    taken = cli("import", SEX, applied[SPECIES]["predictor_id"])
    assert taken.returncode == 1 and f"already recorded as {SPECIES}" in taken.stderr
    cli.ok("import", SEX, applied[SEX]["predictor_id"])
    assert lockfile(project)["resources"] == json.loads(before)["resources"]
    for r in (again, undeclared, foreign, missing, taken):
        assert "Traceback" not in r.stderr


def test_an_imported_endpoint_has_no_key_until_rotated(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    none = cli("output", f"{ENDPOINT}.api_key")
    assert none.returncode == 1 and "has no API key in the lockfile" in none.stderr
    cli.write(manifest(server.url, rotation=1))
    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 2 and "rotate the API key" in plan.stdout
    cli.ok("apply", "--auto-approve")
    key = cli.ok("output", f"{ENDPOINT}.api_key").stdout.strip()
    eid = applied[ENDPOINT]["endpoint_id"]
    resp = httpx.post(
        f"{server.url}/endpoint/{eid}/predict", json={"query_record": RECORD}, headers={"X-API-Key": key}, timeout=30
    )
    assert resp.status_code == 200
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_state_mv_follows_renamed_keys(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    key = cli.ok("output", f"{ENDPOINT}.api_key").stdout.strip()
    text = manifest(server.url, rotation=1)
    # new keys, same server names (a name defaults to the key, and a new name would replace the object)
    renamed = text.replace("  species:\n", "  species_v2:\n    name: species\n")
    renamed = renamed.replace("predictor: species\n", "predictor: species_v2\n")
    renamed = renamed.replace("  species_api:\n", "  species_public:\n    name: species_api\n")
    cli.write(renamed)
    assert cli("plan", "--detailed-exitcode").returncode == 2  # without mv: new objects, old ones removed
    kinds = cli("state", "mv", SPECIES, "endpoint.species_v2")
    assert kinds.returncode == 1 and "cannot move a predictor to an endpoint address" in kinds.stderr
    cli.ok("state", "mv", SPECIES, "predictor.species_v2")
    moved = cli.ok("state", "mv", ENDPOINT, "endpoint.species_public")
    assert "Warning" not in moved.stdout
    plan = cli("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # the same objects under their new addresses
    assert cli.ok("output", "endpoint.species_public.api_key").stdout.strip() == key  # re-encrypted, same key
    assert ids(project, "predictor.species_v2")["predictor_id"] == applied[SPECIES]["predictor_id"]
    assert lockfile(project)["resources"]["endpoint.species_public"]["depends_on"] == ["predictor.species_v2"]
    cli.write(text)  # and back (manifest first: a write-only hash is re-salted for the address it names)
    cli.ok("state", "mv", "predictor.species_v2", SPECIES)
    cli.ok("state", "mv", "endpoint.species_public", ENDPOINT)
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_state_rm_of_a_protected_entry_needs_force(
    cli: Any, server: Any, project: Path, applied: dict[str, dict[str, str]]
) -> None:
    text = manifest(server.url, rotation=1).replace(
        "    rare_label_value: female\n", "    rare_label_value: female\n    deletion_protection: true\n"
    )
    cli.write(text)
    cli.ok("apply", "--auto-approve")
    assert lockfile(project)["resources"][SEX]["protected"] is True
    before = (project / "featrix.lock").read_bytes()
    refused = cli("state", "rm", SEX, VDB)
    assert refused.returncode == 1 and "--force" in refused.stderr and "deletion protection" in refused.stderr
    assert (project / "featrix.lock").read_bytes() == before  # all or nothing: the VDB was not removed either
    pid = ids(project, SEX)["predictor_id"]
    cli.ok("state", "rm", "--force", SEX)
    cli.ok("import", SEX, pid)
    assert lockfile(project)["resources"][SEX]["protected"] is True
    assert cli("plan", "--detailed-exitcode").returncode == 0


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
