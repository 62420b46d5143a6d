"""Acceptance harness: the real `featrix` CLI (a subprocess) against the real local server over loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acceptance_helpers import PENGUINS, Cli, cli_env


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local server per test module, on a fresh data folder; with the test hooks (fault injection, the
    request log) when the module sets TEST_HOOKS = True."""
    from featrix_iac.server.embedded import start_local_server

    hooks = bool(getattr(request.module, "TEST_HOOKS", False))
    srv = start_local_server(tmp_path_factory.mktemp("server"), test_hooks=hooks)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    return root


@pytest.fixture(scope="module")
def cli(server: Any, project: Path) -> Cli:
    return Cli(project, cli_env(server.api_key))
