"""The code stays ruff-clean, formatted, and mypy-clean (DESIGN §11.7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_check_and_format() -> None:
    check = _run("ruff", "check", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_on_the_package() -> None:
    """--strict on the whole package (pyproject.toml sets it too, so a plain `mypy featrix_iac` agrees)."""
    r = _run("mypy", "--strict", "featrix_iac")
    assert r.returncode == 0, r.stdout + r.stderr
