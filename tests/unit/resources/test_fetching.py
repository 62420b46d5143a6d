"""fetch_each: one by one while the server answers at once, on threads once reads wait on the network."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from featrix_iac.resources import fetching


class FakeClock:
    """Wall and thread CPU clocks that only the fake reads move: a read waits `wait` seconds of wall time."""

    def __init__(self) -> None:
        self.wall = 0.0
        self._lock = threading.Lock()

    def perf_counter(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        return 0.0

    def wait(self, seconds: float) -> None:
        with self._lock:
            self.wall += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(fetching, "time", fake)
    return fake


def reader(clock: FakeClock, waits: dict[str, float]) -> tuple[Callable[[str], str], list[tuple[str, str]]]:
    """A fetch that waits waits[key] (default none) and records (key, thread name)."""
    seen: list[tuple[str, str]] = []

    def fetch(key: str) -> str:
        clock.wait(waits.get(key, 0.0))
        seen.append((key, threading.current_thread().name))
        return key.upper()

    return fetch, seen


KEYS = [f"k{i}" for i in range(10)]
HERE = threading.current_thread().name


def test_a_server_that_answers_at_once_is_read_one_by_one_on_this_thread(clock: FakeClock) -> None:
    fetch, seen = reader(clock, {k: 0.0005 for k in KEYS})
    assert fetching.fetch_each(KEYS, fetch, 8) == {k: k.upper() for k in KEYS}
    assert seen == [(k, HERE) for k in KEYS]


def test_the_first_reads_wait_is_not_held_against_the_server(clock: FakeClock) -> None:
    fetch, seen = reader(clock, {"k0": 0.05})  # opening the connection, queued behind another kind's list
    fetching.fetch_each(KEYS, fetch, 8)
    assert {name for _, name in seen} == {HERE}


def test_reads_that_wait_on_the_network_go_on_threads_from_the_first_slow_one(clock: FakeClock) -> None:
    fetch, seen = reader(clock, {k: 0.03 for k in KEYS})
    assert list(fetching.fetch_each(KEYS, fetch, 4).items()) == [(k, k.upper()) for k in KEYS]  # keys' order
    assert seen[:2] == [("k0", HERE), ("k1", HERE)]
    assert all(name != HERE for _, name in seen[2:]) and sorted(k for k, _ in seen[2:]) == KEYS[2:]


def test_a_server_slowing_down_midway_gets_threads_for_the_rest(clock: FakeClock) -> None:
    fetch, seen = reader(clock, {"k4": 0.02})
    fetching.fetch_each(KEYS, fetch, 8)
    assert seen[:5] == [(k, HERE) for k in KEYS[:5]]
    assert all(name != HERE for _, name in seen[5:])


def test_parallelism_one_never_starts_a_thread(clock: FakeClock) -> None:
    fetch, seen = reader(clock, {k: 0.05 for k in KEYS})
    fetching.fetch_each(KEYS, fetch, 1)
    assert seen == [(k, HERE) for k in KEYS]


@pytest.mark.parametrize("wait", [0.0, 0.05])
def test_the_first_failure_in_the_keys_order_is_raised(clock: FakeClock, wait: float) -> None:
    def fetch(key: str) -> str:
        clock.wait(wait)
        if key in ("k5", "k7"):
            raise ValueError(key)
        return key

    with pytest.raises(ValueError, match="k5"):
        fetching.fetch_each(KEYS, fetch, 8)


def test_no_keys_no_reads(clock: FakeClock) -> None:
    assert fetching.fetch_each([], lambda k: k, 8) == {}
