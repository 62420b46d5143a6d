"""The import direction of DESIGN.md §4, checked on the source: lower layers never import upper ones."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "featrix_iac"

# everything above the base modules (diagnostics, addresses, kinds, clock, collector)
ABOVE_BASE = {
    "model",
    "config",
    "client",
    "graph",
    "state",
    "resources",
    "plan",
    "apply",
    "operations",
    "cli",
    "server",
}

# layer -> packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "diagnostics": ABOVE_BASE,
    "kinds": ABOVE_BASE | {"addresses"},
    "addresses": ABOVE_BASE,
    "clock": ABOVE_BASE | {"addresses", "kinds"},
    "collector": ABOVE_BASE | {"addresses", "kinds", "diagnostics", "clock"},
    "model": ABOVE_BASE - {"model"},
    "config": {"client", "graph", "state", "resources", "plan", "apply", "operations", "cli", "server"},
    "client": {"config", "graph", "state", "resources", "plan", "apply", "operations", "cli", "server"},
    "graph": {"client", "state", "resources", "plan", "apply", "operations", "cli", "server"},
    "state": {"resources", "plan", "apply", "operations", "cli", "server"},
    "resources": {"plan", "apply", "operations", "cli", "server"},
    "plan": {"apply", "operations", "cli", "server"},
    "apply": {"operations", "cli", "server"},
    "operations": {"cli"},
    "cli": set(),  # an allow-list instead: ALLOWED below
    "server": {"config", "client", "graph", "state", "resources", "plan", "apply", "operations", "cli"},
}

# layer -> the only packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    # the CLI only translates; `featrix server` runs the server; the collector is told the process is one-shot
    "cli": {"operations", "diagnostics", "server", "collector"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "featrix_iac" and node.level == 0:
            names = [f"featrix_iac.{a.name}" for a in node.names if _is_module(a.name)]  # from featrix_iac import x
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "featrix_iac" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_import_direction() -> None:
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        layer = _layer(path)
        bad = _imports(path) & FORBIDDEN.get(layer, set())
        if bad:
            problems.append(f"{path.relative_to(PKG)} imports {sorted(bad)}")
    assert not problems, "\n".join(problems)


def _is_module(name: str) -> bool:
    return (PKG / name).is_dir() or (PKG / f"{name}.py").is_file()


def test_layers_import_only_what_they_are_allowed() -> None:
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        layer = _layer(path)
        if layer in ALLOWED:
            bad = _imports(path) - ALLOWED[layer] - {layer}
            if bad:
                problems.append(f"{path.relative_to(PKG)} imports {sorted(bad)}")
    assert not problems, "\n".join(problems)


def test_from_featrix_iac_import_a_package_counts_as_importing_it(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from featrix_iac import operations, __version__\nfrom featrix_iac.plan import model\n")
    assert _imports(source) == {"operations", "plan"}


def test_only_cli_imports_click() -> None:
    offenders = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if _layer(p) not in ("cli", "server") and "click" in {n.split(".")[0] for n in _raw_imports(p)}
    ]
    assert not offenders


def _raw_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out
