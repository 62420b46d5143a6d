"""Golden tests: each folder here is a broken project; `expected.txt` is the exact stderr of `featrix validate`.

Rewrite the expectations after an intended change with `UPDATE_GOLDEN=1 pytest tests/golden/diagnostics`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from featrix_iac.cli.errors import run
from featrix_iac.cli.main import cli

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "featrix.yaml").is_file())
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")
SUBPROCESS_CASES = {"yaml_syntax", "cycle", "many_problems"}


def _args(case: Path) -> list[str]:
    extra = case / "args.txt"
    return extra.read_text(encoding="utf-8").split() if extra.exists() else []


def _validate_in_process(case: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    cwd = os.getcwd()
    try:
        code = run(cli, ["-C", str(case), "validate", *_args(case)])
    finally:
        os.chdir(cwd)
    return code, capsys.readouterr().err


def _validate_subprocess(case: Path) -> tuple[int, str]:
    r = subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(case), "validate", *_args(case)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "FEATRIX_GOLDEN_UNSET_SECRET"} | {"NO_COLOR": "1"},
    )
    return r.returncode, r.stderr


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", CASES)
def test_diagnostics_golden(name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATRIX_GOLDEN_UNSET_SECRET", raising=False)
    case = HERE / name
    if name in SUBPROCESS_CASES:
        code, stderr = _validate_subprocess(case)
    else:
        code, stderr = _validate_in_process(case, capsys)
    assert code == 1
    assert "Traceback" not in stderr
    assert stderr.startswith("Error: ")
    expected = case / "expected.txt"
    if UPDATE:
        expected.write_text(stderr, encoding="utf-8")
    assert expected.exists(), f"no expected.txt for {name}: run with UPDATE_GOLDEN=1"
    assert stderr == expected.read_text(encoding="utf-8")
