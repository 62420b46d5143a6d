"""Shared test configuration."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests behave the same on a CI runner: `CI` changes lock key rules, so tests that need it set it."""
    monkeypatch.delenv("CI", raising=False)
