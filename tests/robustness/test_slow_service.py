"""Issue 8: waits and timeouts against a server whose publishes take a while (FEATRIX_LOCAL_PUBLISH_SECONDS).

Every wait has a stall timer and a total limit, set in the manifest (`server.timeouts`) and per run
(`featrix apply --timeout WAIT.LIMIT=SECONDS`). The slow case (`pytest -m slow`) is the issue's done-when:
a data change behind an endpoint converges, URL and key unchanged, while every publish takes 60 s
(FEATRIX_SLOW_PUBLISH_SECONDS changes that figure).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from robust_helpers import Cli, cli_env, convergence_problems, make_project


def _server_with_publishes_of(seconds: float, folder: Path) -> Any:
    from featrix_iac.server.embedded import start_local_server

    env = {"FEATRIX_LOCAL_PUBLISH_SECONDS": str(seconds), "FEATRIX_LOCAL_SHADOW_SECONDS": str(seconds)}
    return start_local_server(folder, test_hooks=True, env=env)


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Publishes of 4 s: long enough for a wait limit of 1 s to trip."""
    srv = _server_with_publishes_of(4.0, tmp_path_factory.mktemp("slow-server"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def very_slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Publishes of 60 s (or FEATRIX_SLOW_PUBLISH_SECONDS), for the slow case only."""
    seconds = float(os.environ.get("FEATRIX_SLOW_PUBLISH_SECONDS", "60"))
    srv = _server_with_publishes_of(seconds, tmp_path_factory.mktemp("very-slow-server"))
    try:
        yield srv
    finally:
        srv.stop()


def _project(server: Any, tmp_path: Path, name: str, server_block: str = "") -> Cli:
    root = make_project(tmp_path / name, server.url, name=name, fm_epochs=3, predictor_epochs=3)
    if server_block:
        manifest = root / "featrix.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace(f"  url: {server.url}\n", f"  url: {server.url}\n{server_block}"), "utf-8")
    return Cli(root, cli_env(server.api_key))


def test_wait_limits_from_the_manifest_and_the_flag(slow_server: Any, tmp_path: Path) -> None:
    cli = _project(slow_server, tmp_path, "timeouts", "  timeouts:\n    publish: {total: 1}\n")
    r = cli("apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "not done after 1s" in r.stdout + r.stderr  # the manifest's total limit of a publish
    bad = cli("apply", "--auto-approve", "--timeout", "publish.soon=3")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: invalid --timeout"), bad.stderr
    assert "Traceback" not in bad.stderr
    r = cli("apply", "--auto-approve", "--timeout", "publish.total=600")  # the flag wins for this run
    assert r.returncode == 0, r.stdout + r.stderr
    assert "publish" in r.stdout
    problems = convergence_problems(cli, slow_server.url, slow_server.api_key, "timeouts")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_data_change_behind_an_endpoint_with_slow_publishes(very_slow_server: Any, tmp_path: Path) -> None:
    slow_server = very_slow_server
    cli = _project(slow_server, tmp_path, "slow-publish")
    cli.ok("apply", "--auto-approve")
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    url = cli.ok("output", "endpoint.species_api.predict_url").stdout.strip()
    data = cli.project / "data" / "penguins.csv"
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text("".join(lines[:-5]), encoding="utf-8")  # a data change: the foundational model is replaced
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli.ok("output", "endpoint.species_api.api_key").stdout.strip() == key
    assert cli.ok("output", "endpoint.species_api.predict_url").stdout.strip() == url
    problems = convergence_problems(cli, slow_server.url, slow_server.api_key, "slow-publish")
    assert not problems, r.stdout + r.stderr + "\n".join(problems)
