"""The dependency graph of a project: references and depends_on as edges, topological order, cycle finding."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featrix_iac.addresses import KEY_RE, SECTION_OF_KIND, SECTIONS, Address, a_kind
from featrix_iac.diagnostics import Diagnostics, fail
from featrix_iac.kinds import FACTS
from featrix_iac.model import Project

if TYPE_CHECKING:
    from featrix_iac.config.yaml_source import SourceMap

FieldPath = tuple[str | int, ...]


def reference_fields(kind: str) -> tuple[tuple[str, str], ...]:
    """(field, kind it names by key) of each reference field of `kind` (its registered facts)."""
    facts = FACTS.get(kind)
    return facts.references if facts is not None else ()


@dataclass(frozen=True)
class Edge:
    """`source` needs `target`; `path` is the manifest path of the value that says so."""

    source: Address
    target: str
    path: FieldPath


@dataclass(frozen=True)
class GraphProblem:
    """An unknown reference, a malformed address or a cycle; the loader positions it at `path`."""

    kind: str  # "unknown_reference" | "bad_address" | "cycle"
    address: str
    path: FieldPath
    summary: str
    detail: str


def _get(res: Any, name: str) -> Any:
    return res.get(name) if isinstance(res, dict) else getattr(res, name, None)


def _ref_edges(address: Address, res: Any) -> list[tuple[str, FieldPath]]:
    section = SECTION_OF_KIND[address.kind]
    base: FieldPath = (section, address.key)
    out: list[tuple[str, FieldPath]] = []
    for name, kind in reference_fields(address.kind):
        target = _get(res, name)
        if isinstance(target, str):
            out.append((f"{kind}.{target}", (*base, name)))
    deps = _get(res, "depends_on")
    for i, dep in enumerate(deps if isinstance(deps, list) else []):
        if isinstance(dep, str):
            out.append((dep, (*base, "depends_on", i)))
    return out


def _resources(project: Project | dict[str, Any]) -> list[tuple[Address, Any]]:
    """Resources of a validated Project, or of raw manifest data (to report references even when invalid)."""
    if isinstance(project, Project):
        return project.resources()
    out: list[tuple[Address, Any]] = []
    for section, kind in SECTIONS.items():
        items = project.get(section)
        if isinstance(items, dict):
            out.extend(
                (Address(kind, key), items[key])
                for key in sorted(items)
                if isinstance(key, str) and KEY_RE.match(key) and isinstance(items[key], dict)
            )
    return out


def edges_of(project: Project | dict[str, Any]) -> tuple[list[Edge], list[GraphProblem]]:
    """All edges between declared resources, and the references that name nothing."""
    return _edges(_resources(project))


def _edges(resources: list[tuple[Address, Any]]) -> tuple[list[Edge], list[GraphProblem]]:
    declared = {a for a, _ in resources}
    edges: list[Edge] = []
    problems: list[GraphProblem] = []
    for address, res in resources:
        src = address
        for target, path in _ref_edges(address, res):
            problem = _check_target(src, target, path, declared)
            if problem:
                problems.append(problem)
            else:
                edges.append(Edge(src, target, path))
    return edges, problems


def _check_target(src: Address, target: str, path: FieldPath, declared: set[Address]) -> GraphProblem | None:
    if target in declared:
        return None
    import difflib

    try:
        addr = Address.parse(target)
    except ValueError as exc:
        return GraphProblem("bad_address", src, path, "Invalid address in depends_on", str(exc))
    field_name = path[2]
    if field_name == "depends_on":
        what, shown = "depends_on", target
        choices: list[str] = sorted(declared)
    else:
        what, shown = str(field_name), addr.key
        choices = sorted(a.key for a in declared if a.kind == addr.kind)
    close = difflib.get_close_matches(shown, choices, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    kind_name = addr.kind.replace("_", " ")
    other = sorted(a.kind for a in declared if a.key == addr.key and a != target)
    if field_name != "depends_on" and other and not close:  # the key exists, as another kind
        hint = f' "{addr.key}" is {a_kind(other[0])}; the {what} field of {a_kind(src.kind)} names {a_kind(addr.kind)}.'
    return GraphProblem(
        "unknown_reference",
        src,
        path,
        f'Reference to undeclared {kind_name} "{addr.key}"',
        f"{what} names {target}, which is not declared.{hint}",
    )


def find_cycles(nodes: Sequence[str], edges: list[Edge]) -> list[list[Edge]]:
    """Each elementary cycle found by depth-first search, as the edges that form it (once per cycle)."""
    out_edges: dict[str, list[Edge]] = {n: [] for n in nodes}
    for e in sorted(edges, key=lambda e: (e.source, e.target)):
        out_edges.setdefault(e.source, []).append(e)
    color: dict[str, int] = {}
    stack: list[Edge] = []
    cycles: list[list[Edge]] = []
    seen: set[frozenset[str]] = set()

    def visit(n: str) -> None:
        color[n] = 1
        for e in out_edges.get(n, []):
            if color.get(e.target) == 1:
                start = next((i for i, s in enumerate(stack) if s.source == e.target), len(stack))
                cyc = [*stack[start:], e]
                members = frozenset(x.source for x in cyc)
                if members not in seen:
                    seen.add(members)
                    cycles.append(cyc)
            elif color.get(e.target) is None:
                stack.append(e)
                visit(e.target)
                stack.pop()
        color[n] = 2

    for n in sorted(nodes):
        if n not in color:
            visit(n)
    return cycles


def cycle_problem(cycle: list[Edge]) -> GraphProblem:
    chain = " -> ".join([cycle[0].source, *(e.target for e in cycle)])
    first = min(cycle, key=lambda e: (e.path[2] != "depends_on", e.source))
    return GraphProblem(
        "cycle",
        first.source,
        first.path,
        "Dependency cycle",
        f"{chain}\nResources cannot depend on each other in a loop; remove one of these references.",
    )


def check_graph(project: Project | dict[str, Any]) -> list[GraphProblem]:
    """Unknown references, malformed addresses and cycles, for the loader to report with positions.

    Accepts a validated Project, or the raw manifest data when validation failed (so every problem
    is still reported in one run).
    """
    return GraphCheck().problems(project)


class GraphCheck:
    """check_graph as a check for `load_project(checks=...)`, keeping the graph of a valid project: a session
    builds the graph once, here, not again after loading (each build walks every resource's references)."""

    def __init__(self) -> None:
        self.graph: ResourceGraph | None = None  # set when the project validated and its graph has no problem

    def __call__(self, project: Project | dict[str, Any], sources: SourceMap, diags: Diagnostics) -> None:
        for p in self.problems(project):
            diags.error(p.summary, p.detail, address=p.address, source=sources.value(p.path))

    def problems(self, project: Project | dict[str, Any]) -> list[GraphProblem]:
        resources = _resources(project)
        edges, problems = _edges(resources)
        nodes = [a for a, _ in resources]
        graph = _graph(nodes, edges)
        if graph is None:  # only a graph that cannot be ordered has cycles to look for
            problems.extend(cycle_problem(c) for c in find_cycles([str(n) for n in nodes], edges))
        elif isinstance(project, Project) and not problems:
            self.graph = graph
        return problems


def diagnose_references(project: Project | dict[str, Any], sources: SourceMap, diags: Diagnostics) -> None:
    """check_graph's problems as diagnostics at their manifest positions: a check for `load_project(checks=...)`."""
    GraphCheck()(project, sources, diags)


@dataclass
class ResourceGraph:
    """Resources (by address) and their dependencies; `order` lists dependencies first, ties by address."""

    order: list[Address]
    _deps: dict[str, set[str]] = field(repr=False)
    _rdeps: dict[str, set[str]] = field(repr=False)

    def dependencies(self, address: str) -> set[str]:
        return set(self._deps.get(str(address), set()))

    def dependents(self, address: str) -> set[str]:
        return set(self._rdeps.get(str(address), set()))

    def transitive_dependents(self, address: str) -> set[str]:
        out: set[str] = set()
        todo = [str(address)]
        while todo:
            for d in self._rdeps.get(todo.pop(), set()):
                if d not in out:
                    out.add(d)
                    todo.append(d)
        return out


def build_graph(project: Project) -> ResourceGraph:
    """The graph of a valid project (unknown references are ignored; a cycle is a DiagnosticsError)."""
    resources = project.resources()
    edges, _ = _edges(resources)
    nodes = [a for a, _ in resources]
    graph = _graph(nodes, edges)
    if graph is None:
        cycles = find_cycles([str(n) for n in nodes], edges)
        p = cycle_problem(cycles[0]) if cycles else None
        raise fail("Dependency cycle", p.detail if p else "", address=p.address if p else "")
    return graph


def _graph(nodes: list[Address], edges: list[Edge]) -> ResourceGraph | None:
    """The nodes in dependency order (ties by address) with their edges, or None when a cycle prevents an order."""
    deps: dict[str, set[str]] = {n: set() for n in nodes}
    rdeps: dict[str, set[str]] = {n: set() for n in nodes}
    for e in edges:
        deps[e.source].add(e.target)
        rdeps[e.target].add(e.source)
    missing: dict[str, int] = {n: len(deps[n]) for n in nodes}
    ready: list[str] = [n for n in nodes if not missing[n]]
    heapq.heapify(ready)
    order: list[Address] = []
    while ready:
        n = heapq.heappop(ready)
        order.append(Address.parse(n))  # the nodes and edge sources are Addresses: parse returns them as they are
        for d in rdeps[n]:
            missing[d] -= 1
            if not missing[d]:
                heapq.heappush(ready, d)
    return ResourceGraph(order, deps, rdeps) if len(order) == len(nodes) else None


__all__ = [
    "Edge",
    "GraphCheck",
    "GraphProblem",
    "ResourceGraph",
    "build_graph",
    "check_graph",
    "edges_of",
    "find_cycles",
    "reference_fields",
]
