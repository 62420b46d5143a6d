"""Lock key rules end to end (issue 9.3): an apply that would need a key it may not generate creates nothing.

A Python test, not a golden transcript: "nothing created" is checked by counting every object on the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from acceptance_helpers import Cli, manifest


def _server_counts(server: Any) -> tuple[int, int]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        sessions = http.get("/compute/sessions-for-org").json()["sessions"]
        endpoints = http.get("/endpoints").json()["endpoints"]
    return len(sessions), len(endpoints)


def _without_key(cli: Cli, **extra: str) -> Cli:
    env = {k: v for k, v in cli.env.items() if k != "FEATRIX_LOCK_KEY"}
    return Cli(cli.project, {**env, **extra})


def test_in_ci_an_empty_lock_key_refuses_before_anything_is_created(cli: Cli, server: Any) -> None:
    cli.write(manifest(server.url, vector_database=False))
    before = _server_counts(server)
    ci = _without_key(cli, CI="true", FEATRIX_LOCK_KEY="")  # what GitHub passes for a missing secret
    r = ci("apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    assert "FEATRIX_LOCK_KEY" in r.stderr and "empty" in r.stderr and "CI" in r.stderr
    assert not (cli.project / ".featrix" / "lock.key").exists()
    assert _server_counts(server) == before
    lockfile = cli.project / "featrix.lock"
    assert not lockfile.exists() or json.loads(lockfile.read_text())["resources"] == {}


def test_no_key_is_generated_over_a_lockfile_that_holds_keys(cli: Cli, server: Any) -> None:
    cli.write(manifest(server.url, vector_database=False))
    cli.ok("apply", "--auto-approve")  # with FEATRIX_LOCK_KEY: the endpoint key is encrypted under it
    lockfile: Path = cli.project / "featrix.lock"
    before, counts = lockfile.read_bytes(), _server_counts(server)
    text = manifest(server.url, vector_database=False).replace("Penguin species", "Species of penguins")
    cli.write(text)  # a new description replaces the endpoint: a new key to encrypt
    fresh = _without_key(cli)  # a fresh clone: the lockfile, but neither the variable nor .featrix/lock.key
    r = fresh("apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("Error: ") and "FEATRIX_LOCK_KEY" in r.stderr and "featrix.lock" in r.stderr
    assert not (cli.project / ".featrix" / "lock.key").exists()
    assert lockfile.read_bytes() == before and _server_counts(server) == counts
    assert "must be replaced" in cli.ok("plan").stdout  # with the key, the same change plans as before
