"""From a Plan's actions to a DAG of nodes: one node per phase an action has steps in, in the plan's order.

An action's steps (plan/steps.py) say which halves it has: main (create / update / adopt / promote / the new
half of a replace) and destroy (delete / retire / the old half). Each replacement's `create_before_destroy` is
the planner's decision; it is read here, never recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from featrix_iac.plan.model import Action, ActionType, Phase


@dataclass
class Node:
    """One unit of work: the main phase (create / update / adopt / new half of a replace) or the destroy phase."""

    id: str
    address: str
    phase: Phase
    deps: set[str] = field(default_factory=set)


def node_id(address: str, phase: Phase) -> str:
    return f"{address}#{phase.value}"


def dependents_of(actions: Sequence[Action], prior_deps: dict[str, list[str]]) -> dict[str, set[str]]:
    """address -> addresses of actions that depend on it now (manifest) or did (lockfile)."""
    out: dict[str, set[str]] = {a.address: set() for a in actions}
    for a in actions:
        for dep in {*a.depends_on, *prior_deps.get(a.address, [])}:
            if dep in out and dep != a.address:
                out[dep].add(a.address)
    return out


def build_nodes(actions: Sequence[Action], prior_deps: dict[str, list[str]]) -> list[Node]:
    """The nodes of the actions' steps with their dependencies (see DESIGN §8 and the module doc)."""
    live = [a for a in actions if a.steps]
    dependents = dependents_of(live, prior_deps)
    nodes = {node_id(a.address, ph): Node(node_id(a.address, ph), a.address, ph) for a in live for ph in a.phases()}
    for a in live:
        main = nodes.get(node_id(a.address, Phase.MAIN))
        if main is not None:
            main.deps = {node_id(d, Phase.MAIN) for d in a.depends_on if node_id(d, Phase.MAIN) in nodes} - {main.id}
        destroy = nodes.get(node_id(a.address, Phase.DESTROY))
        if destroy is None:
            continue
        after_all = a.action is not ActionType.REPLACE or a.create_before_destroy
        for b in dependents[a.address]:
            for phase in (Phase.MAIN, Phase.DESTROY) if after_all else (Phase.DESTROY,):
                if node_id(b, phase) in nodes:
                    destroy.deps.add(node_id(b, phase))
        if main is not None:
            if a.create_before_destroy or a.delete_replaced:  # the old object goes after the new one
                destroy.deps.add(main.id)
            else:
                main.deps.add(destroy.id)
    return list(nodes.values())
