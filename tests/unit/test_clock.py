"""The one clock: FEATRIX_NOW stands for now (testing only); times are UTC."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from featrix_iac import clock
from featrix_iac.diagnostics import DiagnosticsError


def test_featrix_now_overrides_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.NOW_ENV, "2030-02-03T04:05:06Z")
    assert clock.now() == datetime(2030, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    monkeypatch.setenv(clock.NOW_ENV, "2030-02-03")  # a date is its 00:00 UTC
    assert clock.iso(clock.now()) == "2030-02-03T00:00:00Z"
    monkeypatch.delenv(clock.NOW_ENV)
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 60


def test_times_are_read_as_utc() -> None:
    assert clock.parse_time("2030-01-01T00:00:00") == datetime(2030, 1, 1, tzinfo=timezone.utc)  # no Z: UTC
    assert clock.iso(clock.parse_time("2030-01-01T02:00:00+02:00")) == "2030-01-01T00:00:00Z"


def test_a_malformed_featrix_now_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.NOW_ENV, "next tuesday")
    with pytest.raises(DiagnosticsError):
        clock.now()
