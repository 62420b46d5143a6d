"""A parallel DAG walk: a thread pool runs ready nodes; a failure skips only what depends on it; interrupts stop starts."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import Enum

from featrix_iac.apply.events import Interrupt
from featrix_iac.apply.schedule import Node

INTERRUPTED = "interrupted before it started (Ctrl-C)"


class State(str, Enum):
    """How a node ended (pending: not yet)."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    """How one node ended; `message` is the error or the skip reason."""

    state: State
    message: str = ""


class NodeSkipped(Exception):
    """Raised by a node to end as "skipped" (e.g. interrupted while waiting), with the reason as message."""


class CycleError(Exception):
    """The nodes' dependencies form a cycle (a planner bug: the plan cannot be executed)."""


def critical_path(nodes: dict[str, Node]) -> dict[str, int]:
    """Longest chain of dependents below each node (itself included): start the critical path first."""
    below: dict[str, list[str]] = {n: [] for n in nodes}
    for n in nodes.values():
        for d in n.deps:
            if d in below:
                below[d].append(n.id)
    depth: dict[str, int] = {}

    def visit(nid: str, stack: frozenset[str]) -> int:
        if nid in depth:
            return depth[nid]
        if nid in stack:
            raise CycleError(f"dependency cycle through {nodes[nid].address}")
        depth[nid] = 1 + max((visit(c, stack | {nid}) for c in below[nid]), default=0)
        return depth[nid]

    for nid in nodes:
        visit(nid, frozenset())
    return depth


def run_dag(
    nodes: list[Node],
    run: Callable[[Node], None],
    *,
    parallelism: int = 8,
    interrupt: Interrupt | None = None,
    on_outcome: Callable[[Node, Outcome], None] | None = None,
) -> dict[str, Outcome]:
    """Run every node once its deps are done. Exceptions become failed; dependents are skipped."""
    by_id = {n.id: n for n in nodes}
    depth = critical_path(by_id)
    outcomes: dict[str, Outcome] = {}
    pending = dict(by_id)
    running: dict[Future[None], Node] = {}
    # kept as nodes finish, so that each step looks at what can start, not at every pending node (at 1,000
    # predictors that scan and sort after every finish was most of the scheduler's CPU): the deps not yet
    # done of each node, who waits on whom, a heap of the nodes whose deps are all done (deepest chain first,
    # then by id), and whether anything ended other than done
    below: dict[str, list[str]] = {nid: [] for nid in by_id}
    missing: dict[str, int] = {}
    for n in nodes:
        deps = {d for d in n.deps if d in by_id}
        missing[n.id] = len(deps)
        for d in deps:
            below[d].append(n.id)
    startable = [(-depth[nid], nid) for nid, count in missing.items() if not count]
    heapq.heapify(startable)
    unsuccessful = False

    def finish(node: Node, outcome: Outcome) -> None:
        nonlocal unsuccessful
        outcomes[node.id] = outcome
        pending.pop(node.id, None)
        if outcome.state is State.DONE:
            for child in below[node.id]:
                missing[child] -= 1
                if not missing[child] and child in pending:
                    heapq.heappush(startable, (-depth[child], child))
        else:
            unsuccessful = True
        if on_outcome is not None:
            on_outcome(node, outcome)

    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="featrix-apply") as pool:
        while pending or running:
            if unsuccessful:  # only a failed or skipped node can block others
                _skip_blocked(pending, outcomes, by_id, finish)
            busy = {n.id for n in running.values()}
            if interrupt is not None and interrupt.is_set():
                for node in [n for n in pending.values() if n.id not in busy]:
                    finish(node, Outcome(State.SKIPPED, INTERRUPTED))
            slots = max(0, parallelism - len(running))
            while startable and slots:
                _, nid = heapq.heappop(startable)
                if nid in pending and nid not in busy:  # else it ended unstarted (skipped, interrupted)
                    running[pool.submit(run, pending[nid])] = pending[nid]
                    slots -= 1
            if not running:
                if pending and not startable:
                    raise CycleError("no node can start: " + ", ".join(sorted(pending)))
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                node = running.pop(fut)
                exc = fut.exception()
                if exc is None:
                    finish(node, Outcome(State.DONE))
                else:
                    state = State.SKIPPED if isinstance(exc, NodeSkipped) else State.FAILED
                    finish(node, Outcome(state, _message(exc)))
    return outcomes


def _skip_blocked(
    pending: dict[str, Node],
    outcomes: dict[str, Outcome],
    by_id: dict[str, Node],
    finish: Callable[[Node, Outcome], None],
) -> None:
    """Skip (transitively) every pending node with a failed or skipped dependency, naming the root cause."""
    changed = True
    while changed:
        changed = False
        for node in list(pending.values()):
            for dep in sorted(node.deps):
                out = outcomes.get(dep)
                if out is None or out.state is State.DONE:
                    continue
                if out.state is State.FAILED:
                    reason = f"upstream {by_id[dep].address} failed"
                else:
                    reason = out.message
                finish(node, Outcome(State.SKIPPED, reason))
                changed = True
                break


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
