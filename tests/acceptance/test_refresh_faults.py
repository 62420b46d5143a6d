"""Refresh under faults (the local server's test hooks): an error is never read as a deletion (R17).

A Python test, not a golden transcript: the errors are made by the server's fault injection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import Cli, manifest

TEST_HOOKS = True  # this module's server has the test hooks on (conftest.py: server)


@pytest.fixture(scope="module")
def applied(cli: Cli, server: Any) -> Cli:
    cli.write(manifest(server.url, vector_database=False))
    cli.ok("apply", "--auto-approve")
    return cli


@pytest.fixture
def hooks(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        yield http
        http.delete("/__test__/faults")


def _endpoint_id(project: Path) -> str:
    lock = json.loads((project / "featrix.lock").read_text())
    return str(lock["resources"]["endpoint.species_api"]["ids"]["endpoint_id"])


@pytest.mark.parametrize(
    ("status", "words"),
    [(403, "refused the account API key while reading endpoints"), (404, "cannot read endpoints from the server")],
)
def test_a_failing_read_aborts_the_plan(applied: Cli, hooks: httpx.Client, status: int, words: str) -> None:
    before = (applied.project / "featrix.lock").read_text()
    hooks.post("/__test__/faults", json={"route": "GET /endpoints$", "status": status, "count": 0}).raise_for_status()
    r = applied("plan", "--detailed-exitcode")
    assert r.returncode == 1, r.stdout + r.stderr
    assert words in r.stderr and "never reads an error as a deletion" in r.stderr
    assert "will be created" not in r.stdout and "deleted outside" not in r.stdout
    assert (applied.project / "featrix.lock").read_text() == before


def test_a_single_404_on_a_stale_list_is_not_a_deletion(applied: Cli, hooks: httpx.Client) -> None:
    eid = _endpoint_id(applied.project)
    hooks.post("/__test__/consistency", json={"stale_list_seconds": 600}).raise_for_status()
    hooks.post("/__test__/faults", json={"route": f"GET /endpoints/{eid}$", "status": 404, "count": 1})
    r = applied("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes." in r.stdout
    hits = hooks.get("/__test__/faults").json()
    rules = hits.get("faults", hits) if isinstance(hits, dict) else hits
    assert any(rule.get("hits") == 1 for rule in rules)


def test_a_transient_5xx_on_a_read_is_retried(applied: Cli, hooks: httpx.Client) -> None:
    hooks.post("/__test__/faults", json={"route": "GET /compute/sessions-for-org", "status": 503, "count": 1})
    r = applied("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes." in r.stdout


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("GET /compute/session/[^/]+$", {}),  # issue 9.4: read as "predictors deleted outside featrix"
        ("GET /compute/session/[^/]+$", {"session": {"session_id": "someone-else", "status": "done"}}),
        ("GET /endpoints$", {}),
    ],
)
def test_a_malformed_200_aborts_the_plan(applied: Cli, hooks: httpx.Client, route: str, body: Any) -> None:
    before = (applied.project / "featrix.lock").read_text()
    hooks.post("/__test__/faults", json={"route": route, "status": 200, "body": body, "count": 0}).raise_for_status()
    r = applied("plan", "--detailed-exitcode")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("Error: ") and "malformed document" in r.stderr and "Traceback" not in r.stderr
    assert "deleted outside" not in r.stdout and "will be created" not in r.stdout
    r = applied("apply", "--auto-approve")
    assert r.returncode == 1 and "malformed document" in r.stderr, r.stdout + r.stderr
    assert (applied.project / "featrix.lock").read_text() == before
    hooks.delete("/__test__/faults").raise_for_status()
    assert "No changes." in applied.ok("plan").stdout
