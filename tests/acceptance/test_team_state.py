"""Team state on PostgreSQL through the real CLI: two checkouts share one state and one lock; a second apply
is refused naming the holder; a SIGKILLed holder frees the lock at once; nothing is duplicated or lost.

A Python test, not a golden transcript: it needs PostgreSQL, two processes at once and a killed one.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import PENGUINS, Cli, cli_env, manifest
from pg_server import Postgres, postgres_cluster

TEST_HOOKS = True  # the shared server fixture starts with fault injection (conftest)


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_cluster() as cluster:
        yield cluster


def _checkout(root: Path, server: Any, pg: Postgres, **kw: Any) -> Cli:
    (root / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    cli = Cli(root, {**cli_env(server.api_key), "FEATRIX_STATE_URL": pg.url})
    cli.write(manifest(server.url, vector_database=False, **kw) + "\nstate: {backend: postgres, schema: team}\n")
    return cli


def _endpoints(server: Any) -> list[str]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        return [e["name"] for e in http.get("/endpoints").json()["endpoints"]]


def test_two_checkouts_share_the_state_and_its_lock(server: Any, pg: Postgres, tmp_path: Path) -> None:
    laptop, runner = _checkout(tmp_path / "laptop", server, pg), _checkout(tmp_path / "runner", server, pg)
    missing = Cli(laptop.project, {k: v for k, v in laptop.env.items() if k != "FEATRIX_STATE_URL"})
    r = missing("plan")
    assert r.returncode == 1 and "FEATRIX_STATE_URL" in r.stderr and "Traceback" not in r.stderr
    laptop.ok("apply", "--auto-approve")
    assert not (laptop.project / "featrix.lock").exists()  # the state is in the database, not the checkout
    r = runner.ok("plan", "--detailed-exitcode")
    assert "No changes" in r.stdout  # the other checkout sees what the first one applied
    pulled = json.loads(runner.ok("state", "pull").stdout)
    assert "endpoint.species_api" in pulled["resources"] and pulled["serial"] >= 1
    assert all(v.startswith("enc:v1:") for e in pulled["resources"].values() for v in e["secrets"].values())
    history = runner.ok("state", "history").stdout.splitlines()
    assert history[0].startswith(f"serial {pulled['serial']} ")

    # an apply on the laptop holds the lock (its refresh is held up by the server for 25 s); the runner is refused
    hooks = httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30)
    hooks.post("/__test__/faults", json={"route": "GET /compute/sessions-for-org", "hang_seconds": 25, "count": 1})
    slow = _checkout(laptop.project, server, pg, sex_epochs=400)
    proc = slow.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not hooks.get("/__test__/faults").json()["faults"][0]["hits"]:
            time.sleep(0.2)  # until the laptop's apply, holding the lock, is inside its refresh
        refused = _checkout(runner.project, server, pg, sex_epochs=400)("apply", "--auto-approve")
        assert refused.returncode == 1 and "locked by another run" in refused.stderr, refused.stdout + refused.stderr
        assert f"pid {proc.pid}" in refused.stderr and "featrix unlock" in refused.stderr
        assert "Traceback" not in refused.stderr
        plan = runner("plan")
        assert proc.poll() is None, "the apply finished before the plan could see it"
        assert "holds the lock" in plan.stderr, plan.stderr  # plan takes no lock, but says an apply runs
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        hooks.delete("/__test__/faults")
        hooks.close()
    # the killed holder's connection is gone: the lock is free at once, and the runner finishes the change
    again = _checkout(runner.project, server, pg, sex_epochs=400)
    r = again("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert again.ok("plan", "--detailed-exitcode").returncode == 0
    assert _endpoints(server).count("species_api") == 1  # nothing was duplicated


def test_state_migrates_from_the_file_and_back(server: Any, pg: Postgres, tmp_path: Path) -> None:
    cli = _checkout(tmp_path / "p", server, pg)
    text = (cli.project / "featrix.yaml").read_text().replace("project: acceptance", "project: migrating")
    cli.write(text.replace("backend: postgres, schema: team", "backend: file, schema: migrated"))
    cli.ok("apply", "--auto-approve")
    before = json.loads((cli.project / "featrix.lock").read_text())
    r = cli.ok("state", "migrate", "--to", "postgres")
    assert "Migrated the state" in r.stdout
    cli.write(text.replace("schema: team", "schema: migrated"))
    assert json.loads(cli.ok("state", "pull").stdout)["lineage"] == before["lineage"]
    assert cli.ok("plan", "--detailed-exitcode").returncode == 0
    stale = cli.project / "stale.lock"
    stale.write_text(json.dumps({**before, "serial": before["serial"] - 1}))
    refused = cli("state", "push", str(stale))
    assert refused.returncode == 1 and "older than the stored state" in refused.stderr
    other = cli.project / "other.lock"
    other.write_text(json.dumps({**before, "lineage": "00000000-0000-4000-8000-000000000001"}))
    refused = cli("state", "push", str(other))
    assert refused.returncode == 1 and "another lineage" in refused.stderr


def test_twenty_concurrent_runs_lose_nothing(server: Any, pg: Postgres, tmp_path: Path) -> None:
    cli = _checkout(tmp_path / "crowd", server, pg)
    text = (cli.project / "featrix.yaml").read_text().replace("project: acceptance", "project: crowd")
    cli.write(text)
    cli.ok("apply", "--auto-approve")
    before = json.loads(cli.ok("state", "pull").stdout)
    procs = [
        cli.popen(
            *(("apply", "--auto-approve") if n % 2 else ("plan",)), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for n in range(20)
    ]
    outcomes = [(p.args, p.wait(300), *p.communicate()) for p in procs]
    for args, code, out, err in outcomes:
        assert "Traceback" not in err, err
        refused = code == 1 and "locked by another run" in err and "held by" in err
        assert code == 0 or refused, f"{args}: {code}\n{out}\n{err}"
    after = json.loads(cli.ok("state", "pull").stdout)
    assert after["resources"] == before["resources"]  # no entry lost or changed by the crowd
    assert cli.ok("plan", "--detailed-exitcode").returncode == 0


def test_a_database_lost_mid_apply_is_a_clear_error_and_the_state_stays_valid(
    server: Any, pg: Postgres, tmp_path: Path
) -> None:
    cli = _checkout(tmp_path / "cut", server, pg, sex_epochs=300)
    cli.write((cli.project / "featrix.yaml").read_text().replace("project: acceptance", "project: cut"))
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            pulled = cli("state", "pull")
            if pulled.returncode == 0 and "predictor.sex" in pulled.stdout:
                break
            time.sleep(0.5)
        pg.stop("immediate")  # the network to the state database is cut while the apply runs
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        pg.start()
    assert proc.returncode == 1, out + err
    assert "cannot reach the state database" in out + err and "Traceback" not in err, out + err
    stored = json.loads(cli.ok("state", "pull").stdout)  # what was written before the cut is whole
    assert stored["resources"]
    r = cli("apply", "--auto-approve")  # and the next apply finishes from it
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli.ok("plan", "--detailed-exitcode").returncode == 0
