"""Shared status reads: waits on one session document share its GETs, and an answer wakes every wait on it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from featrix_iac.apply.reads import SharedReads, SharedView
from featrix_iac.client import NotFoundError
from featrix_iac.resources.base import Progress
from featrix_iac.resources.registry import HANDLERS

PATH = "/compute/session/s1"


class Gets:
    """A client whose GETs are counted; `hold` keeps each GET on its way until `go` is set."""

    def __init__(self, answer: Any = None) -> None:
        self.count, self.lock = 0, threading.Lock()
        self.hold, self.go, self.sent = False, threading.Event(), threading.Event()
        self.answer = answer if answer is not None else (lambda n: {"n": n})

    def get(self, path: str, **kwargs: Any) -> Any:
        with self.lock:
            self.count += 1
            n = self.count
        self.sent.set()
        if self.hold:
            assert self.go.wait(30)
        result = self.answer(n)
        if isinstance(result, BaseException):
            raise result
        return result


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def joined(reads: SharedReads) -> None:
    """Until a look has joined the GET on its way (at most 30 s)."""
    done = threading.Event()
    for _ in range(3000):
        if reads.joined or done.wait(0.01):
            return


def two_looks_during_one_get(client: Gets) -> tuple[SharedReads, list[Any], list[Any]]:
    """Two waits begun together; the second looks while the first one's GET is on its way."""
    client.hold = True
    reads = SharedReads(client)  # type: ignore[arg-type]
    first, second = reads.view(), reads.view()
    t1, out1 = in_thread(lambda: first.get(PATH))
    assert client.sent.wait(10)
    t2, out2 = in_thread(lambda: second.get(PATH))
    joined(reads)
    client.go.set()
    t1.join(10)
    t2.join(10)
    return reads, out1, out2


def test_a_look_joins_the_get_already_on_its_way() -> None:
    client = Gets()
    reads, out1, out2 = two_looks_during_one_get(client)
    assert out1 == out2 == [{"n": 1}]
    assert client.count == 1 and reads.sent == 1 and reads.joined == 1


def test_a_look_never_reads_a_document_older_than_the_previous_one() -> None:
    client = Gets()
    reads = SharedReads(client)  # type: ignore[arg-type]
    assert reads.view().get(PATH) == {"n": 1}
    late = reads.view()  # began after that GET was answered: it needs a GET of its own
    assert late.get(PATH) == {"n": 2}
    assert late.get(PATH) == {"n": 3}  # and every look after it one sent after its previous look
    assert client.count == 3 and reads.joined == 0


def test_an_answer_another_wait_asked_for_ends_a_pause() -> None:
    client = Gets()
    reads = SharedReads(client)  # type: ignore[arg-type]
    waiting = reads.view()
    assert waiting.get(PATH) == {"n": 1}
    paused, _ = in_thread(lambda: waiting.pause(600))
    assert reads.view().get(PATH) == {"n": 2}
    paused.join(30)
    assert not paused.is_alive()  # woken by the other wait's answer, long before its 600 s
    assert waiting.get(PATH) == {"n": 2}  # that answer, without a GET of its own
    assert client.count == 2


def test_a_pause_is_not_ended_by_another_document() -> None:
    reads = SharedReads(Gets())  # type: ignore[arg-type]
    waiting = reads.view()
    waiting.get(PATH)
    paused, _ = in_thread(lambda: waiting.pause(0.3))
    reads.view().get("/compute/session/other")
    paused.join(30)
    assert not paused.is_alive()
    assert waiting.get(PATH) == {"n": 3}  # no newer answer of its own document: it sends a GET


def test_a_shared_get_that_fails_fails_every_look_that_joined_it() -> None:
    client = Gets(answer=lambda n: NotFoundError("not found", status=404))
    _, out1, out2 = two_looks_during_one_get(client)
    assert isinstance(out1[0], NotFoundError) and isinstance(out2[0], NotFoundError)
    assert out1[0] is not out2[0] and client.count == 1


def test_a_failed_get_is_a_look_and_the_next_one_sends_a_new_get() -> None:
    """A 404 while polling (a fresh session on the real service) is ridden out by polling again: the next look
    must not be answered by the same failed GET (the wait would spin on it until counted as gone)."""
    client = Gets(answer=lambda n: NotFoundError("not found", status=404) if n == 1 else {"n": n})
    reads = SharedReads(client)  # type: ignore[arg-type]
    view = reads.view()
    with pytest.raises(NotFoundError):
        view.get(PATH)
    paused, _ = in_thread(lambda: view.pause(0.2))
    paused.join(30)
    assert view.get(PATH) == {"n": 2} and client.count == 2


class SessionTrainings(type(HANDLERS["foundational_model"])):  # type: ignore[misc]
    """A kind whose trainings are all read from one session document: `done` once the GET count reaches `ends`."""

    def poll(self, client: Any, ids: dict[str, str]) -> Progress:
        doc = client.get(f"/compute/session/{ids['session_id']}")
        return Progress("ready") if doc["done"] else Progress("training", None, f"poll {doc['n']}")


@pytest.mark.parametrize("waits", [2, 5])
def test_trainings_in_one_session_notice_its_end_from_one_get(waits: int) -> None:
    """Every training of the session ends at the `ends`-th GET: that one answer ends every wait (polling alone,
    each wait would need a GET of its own to see it)."""
    ends = 4
    client = Gets(answer=lambda n: {"n": n, "done": n >= ends})
    reads, handler = SharedReads(client), SessionTrainings()  # type: ignore[arg-type]

    def wait(view: SharedView) -> Progress:
        progress: Progress = handler.wait_ready(view, {"session_id": "s1"}, timeout=600, pause=view.pause)
        return progress

    views = [reads.view() for _ in range(waits)]  # all waits begin before the first GET
    threads = [in_thread(lambda view=view: wait(view)) for view in views]
    for thread, _ in threads:
        thread.join(60)
    assert [out[0].state for _, out in threads] == ["ready"] * waits
    assert client.count == ends
