"""From a Plan's actions to a DAG of nodes: create-side and destroy-side nodes, in the order the plan decided.

Each replacement's `create_before_destroy` is the planner's decision (plan/planner.py); it is read here, never
recomputed."""

from __future__ import annotations

from dataclasses import dataclass, field

from featrix_iac.plan.model import Action, ActionType, Phase

CREATE_SIDE = {ActionType.CREATE, ActionType.UPDATE, ActionType.ADOPT, ActionType.REPLACE, ActionType.PROMOTE}
DESTROY_SIDE = {ActionType.DELETE, ActionType.RETIRE, ActionType.REPLACE}


@dataclass
class Node:
    """One unit of work: the main phase (create / update / adopt / new half of a replace) or the destroy phase."""

    id: str
    address: str
    phase: Phase
    deps: set[str] = field(default_factory=set)


def node_id(address: str, phase: Phase) -> str:
    return f"{address}#{phase.value}"


def dependents_of(actions: list[Action], prior_deps: dict[str, list[str]]) -> dict[str, set[str]]:
    """address -> addresses of actions that depend on it now (manifest) or did (lockfile)."""
    out: dict[str, set[str]] = {a.address: set() for a in actions}
    for a in actions:
        for dep in {*a.depends_on, *prior_deps.get(a.address, [])}:
            if dep in out and dep != a.address:
                out[dep].add(a.address)
    return out


def build_nodes(actions: list[Action], prior_deps: dict[str, list[str]]) -> list[Node]:
    """The nodes of every non-no-op action with their dependencies (see DESIGN §8 and the module doc)."""
    live = [a for a in actions if a.action is not ActionType.NOOP]
    by_addr = {a.address: a for a in live}
    dependents = dependents_of(live, prior_deps)
    nodes: dict[str, Node] = {}
    for a in live:
        if a.action in CREATE_SIDE:
            deps = {node_id(d, Phase.MAIN) for d in a.depends_on if d in by_addr and by_addr[d].action in CREATE_SIDE}
            nodes[node_id(a.address, Phase.MAIN)] = Node(node_id(a.address, Phase.MAIN), a.address, Phase.MAIN, deps)
        if a.action in DESTROY_SIDE or a.delete_replaced:
            nodes[node_id(a.address, Phase.DESTROY)] = Node(node_id(a.address, Phase.DESTROY), a.address, Phase.DESTROY)
    for a in live:
        destroy = nodes.get(node_id(a.address, Phase.DESTROY))
        if destroy is None:
            continue
        after_all = a.action is not ActionType.REPLACE or a.create_before_destroy
        for b in dependents[a.address]:
            for phase in (Phase.MAIN, Phase.DESTROY) if after_all else (Phase.DESTROY,):
                if node_id(b, phase) in nodes:
                    destroy.deps.add(node_id(b, phase))
        main = nodes.get(node_id(a.address, Phase.MAIN))
        if main is not None:
            if a.create_before_destroy or a.delete_replaced:  # the old object goes after the new one
                destroy.deps.add(main.id)
            else:
                main.deps.add(destroy.id)
    return list(nodes.values())
