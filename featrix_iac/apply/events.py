"""The applier's events: an Observer protocol (the core never prints; the CLI renders) and the Interrupt flag."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from featrix_iac.plan.model import Action


class Observer(Protocol):
    """Told about every action as apply runs. Calls come from worker threads but never concurrently."""

    def on_start(self, action: Action) -> None: ...

    def on_progress(self, address: str, message: str, fraction: float | None) -> None: ...

    def on_done(self, action: Action, outputs: dict[str, Any]) -> None: ...

    def on_failed(self, action: Action, message: str) -> None: ...

    def on_skipped(self, action: Action, reason: str) -> None: ...


class NullObserver:
    """An observer that ignores everything."""

    def on_start(self, action: Action) -> None:
        pass

    def on_progress(self, address: str, message: str, fraction: float | None) -> None:
        pass

    def on_done(self, action: Action, outputs: dict[str, Any]) -> None:
        pass

    def on_failed(self, action: Action, message: str) -> None:
        pass

    def on_skipped(self, action: Action, reason: str) -> None:
        pass


class RecordingObserver(NullObserver):
    """Keeps every event as a tuple (name, address, detail): for tests and JSON output."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()

    def _add(self, name: str, address: str, detail: Any = None) -> None:
        with self._lock:
            self.events.append((name, address, detail))

    def on_start(self, action: Action) -> None:
        self._add("start", action.address)

    def on_progress(self, address: str, message: str, fraction: float | None) -> None:
        self._add("progress", address, (message, fraction))

    def on_done(self, action: Action, outputs: dict[str, Any]) -> None:
        self._add("done", action.address, outputs)

    def on_failed(self, action: Action, message: str) -> None:
        self._add("failed", action.address, message)

    def on_skipped(self, action: Action, reason: str) -> None:
        self._add("skipped", action.address, reason)

    def names(self, address: str) -> list[str]:
        return [n for n, a, _ in self.events if a == address]


class Interrupt:
    """Set by the CLI on the first Ctrl-C: nothing new starts, in-flight steps finish or are recorded."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)
