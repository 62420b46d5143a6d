"""The collector pause: restored after the block; in a one-shot process what the block kept is frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from featrix_iac import collector


@pytest.fixture
def clean_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(collector, "_one_shot", False)
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze goes back to the collector


def test_the_collector_is_off_in_the_block_and_back_on_after(clean_gc: None) -> None:
    assert gc.isenabled()
    with collector.collector_paused():
        assert not gc.isenabled()
        with collector.collector_paused():  # nested: the inner block does not turn it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_the_block_kept_goes_to_the_oldest_generation_unscanned(clean_gc: None) -> None:
    with collector.collector_paused():
        kept = [[i] for i in range(1000)]
    assert gc.get_freeze_count() == 0  # a long-lived process still collects their cycles (full collections)
    assert gc.get_count()[0] < len(kept)  # not left young, for the next small collection to scan
    assert any(o is kept[0] for o in gc.get_objects(generation=2))


def test_objects_the_host_froze_stay_frozen(clean_gc: None) -> None:
    frozen = [[1]]
    gc.freeze()
    before = gc.get_freeze_count()  # it may drop a little: frozen objects are still freed by reference counting
    with collector.collector_paused():
        kept = [[i] for i in range(1000)]
    after = gc.get_freeze_count()
    assert before // 2 < after < before + len(kept)  # the host's stay frozen; the block's were not frozen
    assert any(o is kept[0] for o in gc.get_objects())  # (get_objects lists the generations, not the frozen)
    assert frozen


def test_a_one_shot_process_freezes_what_the_block_kept(clean_gc: None) -> None:
    collector.one_shot_process()
    with collector.collector_paused():
        kept = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)  # the next collection does not scan them again
