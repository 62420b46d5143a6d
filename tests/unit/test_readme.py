"""The README stays true: every command is in the CLI reference, and CI runs the commands it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from featrix_iac.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_every_command_is_in_the_cli_reference() -> None:
    reference = _section("CLI reference")
    missing = [name for name in COMMANDS if f"`featrix {name}" not in reference]
    assert not missing, f"README's CLI reference lacks: {missing}"


def test_quickstart_has_the_two_commands_ci_runs() -> None:
    quickstart = _section("Quickstart")
    for marker in ("<!-- ci:main-command -->", "<!-- ci:test-command -->"):
        assert marker in quickstart
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test-command" in ci and "readme_command main-command" in ci
    main = re.search(r"<!-- ci:main-command -->\n```\n(.+)\n```", quickstart)
    assert main and "apply --auto-approve" in main.group(1) and "predict endpoint." in main.group(1)


def test_manifest_reference_names_every_resource_section() -> None:
    reference = _section("Manifest reference")
    for section in ("foundational_models", "predictors", "endpoints", "vector_databases"):
        assert f"**{section}.KEY**" in reference


def _readme_block(marker: str) -> str:
    found = re.search(rf"<!-- ci:{marker} -->\n```\n(.+)\n```", README)
    assert found, marker
    return found.group(1)


def test_ci_runs_the_readme_commands_in_the_readme_order(tmp_path: Path) -> None:
    """`.ci/run` on a checkout whose README commands only log their name: main command first, then the tests."""
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    log = tmp_path / "order.log"
    readme = README
    for marker in ("main-command", "test-command"):
        readme = readme.replace(_readme_block(marker), f"echo {marker} >> '{log}'")
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    r = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert log.read_text().split() == ["main-command", "test-command"]
    assert README.index("<!-- ci:main-command -->") < README.index("<!-- ci:test-command -->")


@pytest.mark.parametrize("marker", ["main-command", "test-command"])
def test_the_readme_commands_install_the_newest_allowed_releases(marker: str) -> None:
    """An existing .venv is upgraded to what a fresh machine would resolve, not left on older releases."""
    install = next(part for part in _readme_block(marker).split("&&") if " install " in part)
    assert "--upgrade" in install.split() and "--upgrade-strategy eager" in install, install


def test_the_development_tree_names_what_exists() -> None:
    """Every module and package the README's development tree lists under featrix_iac/ exists (deeper lines
    name what is inside the package above them)."""
    tree = _section("Development").split("```")[1]
    names: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, path) of the packages enclosing the current line
    inside = False
    for line in tree.splitlines():
        if line.startswith("featrix_iac/"):
            inside = True
            continue
        if inside and not line.startswith("  "):
            break
        if inside:
            indent = len(line) - len(line.lstrip())
            while parents and parents[-1][0] >= indent:
                parents.pop()
            base = parents[-1][1] if parents else ""
            for i, token in enumerate(line.split()):
                if not re.fullmatch(r"[\w.]+(\.py|/)", token):
                    break
                names.append(base + token)
                if i == 0 and token.endswith("/"):
                    parents.append((indent, base + token))
    assert len(names) >= 8, names
    missing = [n for n in names if not (ROOT / "featrix_iac" / n.rstrip("/")).exists()]
    assert not missing, f"README development tree names what does not exist: {missing}"
