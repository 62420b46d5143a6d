"""Robustness tests: one local server (test hooks on) per module, and a fresh quickstart-like project per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from featrix_iac.server.embedded import start_local_server

    srv = start_local_server(tmp_path_factory.mktemp("server"), test_hooks=True)
    try:
        yield srv
    finally:
        srv.stop()
