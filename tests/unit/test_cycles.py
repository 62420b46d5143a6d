"""No import cycle anywhere in the package: a module graph built from the source (ast), every import counted.

Imports inside functions and under `if TYPE_CHECKING:` count too: a lazy import hides a cycle from the
interpreter, not from the design (DESIGN.md §4: layers import downwards only).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "featrix_iac"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root` (a package is its __init__)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules one import statement loads (`from X import n`: X.n when a module, else X)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names} & modules
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join([*here, *([node.module] if node.module else [])])
    submodules = {f"{base}.{a.name}" for a in node.names} & modules
    if len(submodules) < len(node.names) and base in modules:
        submodules.add(base)  # a name defined in X itself
    return submodules


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its body)."""
    modules = module_names(root)
    names = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            deps |= _imported(node, name, path.name == "__init__.py", names)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module, each as a closed path through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = stack[stack.index(v) :]
            del stack[stack.index(v) :]
            if len(component) > 1:
                found.append(_path(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A cycle through the component's first module, for the message (breadth-first, so the shortest)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return sorted(component)  # pragma: no cover - a component always has a cycle through each member


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph(PKG))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_lazy_relative_and_type_only_imports_are_seen(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n")
    (pkg / "d.py").write_text("import pkg.a\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]]
    (pkg / "sub" / "c.py").write_text("x = 1\n")
    assert cycles(import_graph(pkg)) == []


SERVER = "featrix_iac.server"
ENTRY = {f"{SERVER}.serve", f"{SERVER}.embedded"}  # the process: may use every part
# the server's parts, lowest first: a part imports only from itself and the parts before it
SERVER_PARTS = ("shared", "ml", "jobs", "http", "entry")


def _server_part(module: str) -> str:
    if module in ENTRY:
        return "entry"
    rest = module.removeprefix(SERVER + ".").split(".")
    return rest[0] if len(rest) > 1 or rest[0] in ("ml", "jobs", "http") else "shared"


def test_inside_the_server_imports_go_one_way() -> None:
    graph = import_graph(PKG)
    rank = {part: i for i, part in enumerate(SERVER_PARTS)}
    problems = []
    for module, deps in sorted(graph.items()):
        if not module.startswith(SERVER + "."):
            continue
        mine = _server_part(module)
        for dep in sorted(d for d in deps if d.startswith(SERVER + ".")):
            if rank[_server_part(dep)] > rank[mine]:
                problems.append(f"{module} ({mine}) imports {dep} ({_server_part(dep)})")
    assert not problems, "server parts import upwards:\n" + "\n".join(problems)
