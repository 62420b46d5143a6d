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


@pytest.fixture()
def clean(server: Any) -> Iterator[None]:
    """No fault rules and an empty request log before the test; no fault rules after it."""
    from robust_helpers import clear_faults, clear_requests_log

    clear_faults(server.url, server.api_key)
    clear_requests_log(server.url, server.api_key)
    yield
    clear_faults(server.url, server.api_key)
