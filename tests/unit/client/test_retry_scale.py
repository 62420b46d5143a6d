"""FEATRIX_RETRY_SCALE (a knob for tests): retry sleeps shrink, the decisions and announced waits do not."""

from __future__ import annotations

import pytest

from featrix_iac.client.http import scaled_sleep


@pytest.mark.parametrize(("value", "expected"), [("0.1", 0.5), ("", 5.0), ("2", 5.0), ("0", 5.0), ("x", 5.0)])
def test_scaled_sleep(monkeypatch: pytest.MonkeyPatch, value: str, expected: float) -> None:
    monkeypatch.setenv("FEATRIX_RETRY_SCALE", value)
    slept: list[float] = []
    scaled_sleep(slept.append)(5.0)
    assert slept == [pytest.approx(expected)]
