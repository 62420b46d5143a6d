"""Shared status reads: the trainings waiting in one session share its document's polls, and each answer wakes all.

Every training of a foundational model (its own, its predictors') is polled through the same session
document, `GET /compute/session/{id}` (the official client's wait loops read it: api/predictor.py
`wait_for_training`, api/foundational_model.py `wait_for_training`), and every poll is paced on its own.
Several trainings running in one session each sent their own GET of the same document. Here a wait
uses any answer of its document whose GET was sent after its previous look: a GET already on its
way is joined instead of sent again, and an answer another wait asked for ends this wait's pause at
once, so the end of a training is noticed at the first poll of its session, whoever sent it. A wait
never reads a document older than its previous look (or than the wait itself), as when polling alone.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featrix_iac.client import FeatrixClient


@dataclass
class _Read:
    """One GET of a document: when it was sent, and once answered its document or its error."""

    sent: float
    done: bool = False
    doc: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        """The document, or (each caller its own copy) the error the GET raised."""
        if self.error is None:
            return self.doc
        try:
            error = copy.copy(self.error)
        except Exception:  # an error type that cannot be rebuilt from its args: the shared one
            error = self.error
        raise error


class SharedReads:
    """The latest GET of each document, shared by the waits that poll it (thread-safe)."""

    def __init__(self, client: FeatrixClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self._clock = client, clock
        self._cond = threading.Condition()
        self._reads: dict[str, _Read] = {}
        self.sent = 0  # GETs sent
        self.joined = 0  # looks answered by a GET another wait sent

    def now(self) -> float:
        return self._clock()

    def read(self, path: str, after: float) -> _Read:
        """The answered read of `path`: the latest GET if it was sent after `after`, else a new one."""
        with self._cond:
            read = self._reads.get(path)
            if read is not None and read.sent > after:
                self.joined += 1
                while not read.done:
                    self._cond.wait()
                return read
            read = _Read(self._clock())
            self._reads[path] = read
            self.sent += 1
        try:
            doc = self.client.get(path)
        except BaseException as exc:
            self._answered(read, None, exc)
        else:
            self._answered(read, doc, None)
        return read

    def pause(self, path: str, after: float, seconds: float) -> None:
        """Sleep `seconds`, or less: until a GET of `path` sent after `after` is answered."""
        deadline = self._clock() + seconds
        with self._cond:
            while True:
                read = self._reads.get(path)
                if read is not None and read.done and read.sent > after:
                    return
                left = deadline - self._clock()
                if left <= 0:
                    return
                self._cond.wait(left)

    def view(self) -> SharedView:
        """A client for one wait: its GETs go through these shared reads."""
        return SharedView(self)

    def _answered(self, read: _Read, doc: Any, error: BaseException | None) -> None:
        with self._cond:
            read.doc, read.error, read.done = doc, error, True
            self._cond.notify_all()


class SharedView:
    """One wait's client: `get` reads through the shared reads, never older than this wait's previous look;
    `pause` sleeps until the next poll is due or another wait's GET brings a newer document; anything else
    goes to the real client."""

    def __init__(self, reads: SharedReads) -> None:
        self._reads = reads
        self._path = ""
        self._seen = reads.now()  # the first look needs a GET sent after the wait began

    def get(self, path: str, **kwargs: Any) -> Any:
        if kwargs:  # a read with parameters is this wait's own
            return self._reads.client.get(path, **kwargs)
        self._path = path
        read = self._reads.read(path, self._seen)
        self._seen = read.sent  # a failed GET is a look too: the next one needs a newer GET
        return read.result()

    def pause(self, seconds: float) -> None:
        if not self._path:
            time.sleep(seconds)
            return
        self._reads.pause(self._path, self._seen, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reads.client, name)
