"""Per-action bookkeeping of an apply: observer events (serialised) and the ApplyResult, from node outcomes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from featrix_iac.apply.events import Observer
from featrix_iac.apply.executor import Outcome, State
from featrix_iac.apply.schedule import Node
from featrix_iac.plan.model import Action, Phase
from featrix_iac.state import Lockfile


@dataclass
class ApplyResult:
    """Per address: done, failed (with the error) or skipped (with the reason); outputs of what is done."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False  # Ctrl-C stopped the run: what is skipped was not started (or left half-done)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)  # per address, its gate record (this run)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


class Tracker:
    """An action may have two nodes (the halves of a replacement): it starts with its first node and ends
    with its last. Observer calls are made one at a time, whatever thread they come from."""

    def __init__(self, observer: Observer, actions: dict[str, Action], lock: Lockfile, nodes: list[Node]) -> None:
        self.observer, self.actions, self.lock = observer, actions, lock
        self._mutex = threading.Lock()
        self._started: set[str] = set()
        self._ended: dict[str, list[Outcome]] = {}
        self._nodes_of: dict[str, list[Node]] = {}  # per address, its nodes in order (looked up, not scanned)
        for n in nodes:
            self._nodes_of.setdefault(n.address, []).append(n)
        self._remaining = {address: len(mine) for address, mine in self._nodes_of.items()}

    def progress(self, address: str, message: str, fraction: float | None = None) -> None:
        with self._mutex:
            self.observer.on_progress(address, message, fraction)

    def started(self, node: Node) -> None:
        with self._mutex:
            first = node.address not in self._started
            self._started.add(node.address)
            if first:
                self.observer.on_start(self.actions[node.address])

    def finished(self, node: Node, outcome: Outcome) -> None:
        with self._mutex:
            self._ended.setdefault(node.address, []).append(outcome)
            self._remaining[node.address] -= 1
            if self._remaining[node.address]:
                return
            outs = list(self._ended[node.address])
        action = self.actions[node.address]
        phases = [n.phase for n in self._nodes_of[node.address]]
        state, message = _verdict(outs, phases)
        entry = self.lock.entry(node.address) if state is State.DONE else None
        with self._mutex:
            if state is State.FAILED:
                self.observer.on_failed(action, message)
            elif state is State.SKIPPED:
                self.observer.on_skipped(action, message)
            else:
                self.observer.on_done(action, dict(entry.outputs) if entry else {})

    def result(self, outcomes: dict[str, Outcome]) -> ApplyResult:
        res = ApplyResult()
        for address in sorted(self._nodes_of):
            mine = [n for n in self._nodes_of[address] if n.id in outcomes]
            state, message = _verdict([outcomes[n.id] for n in mine], [n.phase for n in mine])
            if state is State.FAILED:
                res.failed[address] = message
            elif state is State.SKIPPED:
                res.skipped[address] = message
            else:
                res.done.append(address)
                entry = self.lock.entry(address)
                if entry is not None and entry.outputs:
                    res.outputs[address] = dict(entry.outputs)
        return res


PHASE_DONE = {  # what a finished node of a two-node action (a replacement) did, for a partial verdict
    Phase.MAIN: "the new object was created and recorded in the lockfile",
    Phase.DESTROY: "the object it replaces was deleted",
}


def _verdict(outs: list[Outcome], phases: list[Phase] | None = None) -> tuple[State, str]:
    """failed if any node failed, else skipped if any was skipped, else done; with the first message. When a
    node of the action finished before another was skipped (an interrupt between the halves of a
    replacement), the message says what was done, so the report never hides a recorded change."""
    for state in (State.FAILED, State.SKIPPED):
        messages = [o.message for o in outs if o.state is state]
        if messages:
            done = [PHASE_DONE[ph] for o, ph in zip(outs, phases or [], strict=False) if o.state is State.DONE]
            if done:
                return state, f"partly applied: {'; '.join(done)}; then {messages[0]}. The next apply completes it"
            return state, messages[0]
    return State.DONE, ""
