"""Tests copy the examples by git's file list: what the README's main command leaves behind never leaks in."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from repo_files import copy_project

TESTS = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_a_copy_leaves_out_what_git_ignores(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git not available")
    repo = tmp_path / "repo"
    project = repo / "examples" / "quickstart"
    (project / "data").mkdir(parents=True)
    (repo / ".gitignore").write_text(".featrix/\n/examples/*/featrix*.lock\n")
    (project / "featrix.yaml").write_text("version: 1\nproject: p\n")
    (project / "data" / "t.csv").write_text("a,b\n1,2\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    # what the README's main command leaves: a lock key, local server data, a lockfile; and a new, untracked file
    (project / ".featrix" / "local").mkdir(parents=True)
    (project / ".featrix" / "lock.key").write_text("secret")
    (project / "featrix.lock").write_text("{}")
    (project / "featrix.prod.lock").write_text("{}")
    (project / "notes.yaml").write_text("a: 1\n")
    dst = copy_project(project, tmp_path / "copy")
    found = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert found == ["data/t.csv", "featrix.yaml", "notes.yaml"]


def test_without_git_the_ignored_files_are_still_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".featrix").mkdir(parents=True)
    (project / ".featrix" / "lock.key").write_text("secret")
    (project / "featrix.lock").write_text("{}")
    (project / "featrix.yaml").write_text("version: 1\nproject: p\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))
    dst = copy_project(project, tmp_path / "copy")
    assert sorted(p.name for p in dst.rglob("*")) == ["featrix.yaml"]


def test_no_test_copies_an_example_folder_with_copytree() -> None:
    """`shutil.copytree` of an example would carry its git-ignored `.featrix/` and lockfile into the test."""
    offenders = []
    for path in TESTS.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"copytree\(\s*[^,]*(EXAMPLES|QUICKSTART|MULTI_ENV|examples)", line):
                offenders.append(f"{path.relative_to(TESTS)}:{n}: {line.strip()}")
    assert not offenders, "copy examples with repo_files.copy_project:\n" + "\n".join(offenders)
