"""Acceptance as golden transcripts: each folder of tests/acceptance with a `script` is one independent case.

The case is copied to a temporary directory, its script runs the real `featrix` CLI against one local
server shared by every case of the session (each case makes its own objects on it), and the normalised
transcript must equal the case's `output.txt`. `UPDATE_GOLDEN=1 pytest tests/acceptance/test_golden.py`
rewrites the output.txt files instead; review their diff like code. The script format is in transcript.py.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from acceptance_helpers import LOCK_KEY, WEBHOOK_SECRET, cli_env
from transcript import REPO, run_script

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "script").is_file())
SLOW_CASES: set[str] = set()  # cases too long for the default run (pytest -m slow)


def case_env(server: Any) -> dict[str, str]:
    env = cli_env(server.api_key)
    env.update(SERVER_URL=server.url, EXAMPLES=str(REPO / "examples"), COLUMNS="120")
    assert env["FEATRIX_LOCK_KEY"] == LOCK_KEY and env["FEATRIX_WEBHOOK_SECRET"] == WEBHOOK_SECRET
    return env


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW_CASES else []) for c in CASES])
def test_golden(case: str, server: Any, tmp_path: Path) -> None:
    from transcript import normalise

    source = HERE / case
    root = tmp_path / case
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("output.txt"))
    run = run_script((source / "script").read_text(encoding="utf-8"), root, case_env(server), server)
    actual = normalise(run.lines, root=root, server_url=server.url)
    assert not run.leaks, "\n".join(run.leaks)
    expected_file = source / "output.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(actual, encoding="utf-8")
        return
    expected = expected_file.read_text(encoding="utf-8") if expected_file.is_file() else ""
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "output.txt", "this run", lineterm="", n=2
        )
        pytest.fail(f"{case}: the transcript differs (UPDATE_GOLDEN=1 rewrites it)\n" + "\n".join(diff))
