"""Acceptance harness: the real `featrix` CLI (a subprocess) against the real local server over loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from acceptance_helpers import LOCK_KEY, WEBHOOK_SECRET

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "examples" / "quickstart" / "data" / "penguins.csv"


@dataclass
class Cli:
    """Runs `python -m featrix_iac -C <project> ...` and keeps every output, for the secrets canary."""

    project: Path
    env: dict[str, str]
    transcript: list[str] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [sys.executable, "-m", "featrix_iac", "-C", str(self.project), *args],
            capture_output=True,
            text=True,
            env=self.env,
            input=input,
            timeout=timeout,
        )
        if not (len(args) > 1 and args[0] == "output" and not args[1].startswith("-")):
            self.transcript.extend([r.stdout, r.stderr])  # `output ADDRESS.FIELD` prints a secret on purpose
        return r

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self(*args)
        assert r.returncode == 0, f"featrix {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def popen(self, *args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "featrix_iac", "-C", str(self.project), *args], env=self.env, text=True, **kw
        )

    def write(self, manifest: str) -> None:
        (self.project / "featrix.yaml").write_text(manifest, encoding="utf-8")


def cli_env(api_key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATRIX_")}
    env.update({"FEATRIX_LOCK_KEY": LOCK_KEY, "NO_COLOR": "1", "FEATRIX_WEBHOOK_SECRET": WEBHOOK_SECRET})
    if api_key:
        env["FEATRIX_API_KEY"] = api_key
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local server per test module, on a fresh data folder."""
    from featrix_iac.server.embedded import start_local_server

    srv = start_local_server(tmp_path_factory.mktemp("server"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    return root


@pytest.fixture(scope="module")
def cli(server: Any, project: Path) -> Cli:
    return Cli(project, cli_env(server.api_key))
