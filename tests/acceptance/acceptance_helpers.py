"""Shared pieces of the acceptance tests: the fixture project's manifest and the canary secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PENGUINS = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "data" / "penguins.csv"

LOCK_KEY = "acceptance-lock-key-5d1f0c"
WEBHOOK_SECRET = "acceptance-webhook-secret-c4n4ry"


def manifest(
    url: str,
    *,
    published: bool = True,
    species_epochs: int = 5,
    endpoint: bool = True,
    prevent_destroy: bool = False,
    fm_epochs: int = 3,
    vector_database: bool = True,
    vdb_records: int = 1,
    data: str = "data/penguins.csv",
    rotation: int = 0,
    sex_epochs: int = 5,
    protected: bool = False,
) -> str:
    """A small project: one foundational model (few epochs), two predictors, one endpoint."""
    lifecycle = "    lifecycle:\n      prevent_destroy: true\n" if prevent_destroy else ""
    if protected:
        lifecycle += "    deletion_protection: true\n"
    text = f"""\
version: 1
project: acceptance
server:
  url: {url}

foundational_models:
  penguins:
    data: {data}
    ignore_columns: [year]
    epochs: {fm_epochs}
    published: {"true" if published else "false"}
{lifecycle}
predictors:
  species:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: {species_epochs}
    webhooks:
      training_finished: http://127.0.0.1:9/hook
      webhook_secret: "{{{{ env_var('FEATRIX_WEBHOOK_SECRET') }}}}"
  sex:
    foundational_model: penguins
    type: binary_classifier
    target_column: sex
    rare_label_value: female
    epochs: {sex_epochs}
"""
    if endpoint:
        text += """
endpoints:
  species_api:
    predictor: species
    description: Penguin species from measurements
"""
    if endpoint and rotation:
        text += f"""    api_key:
      rotation: {rotation}
"""
    if vector_database:
        text += """
vector_databases:
  catalog:
    foundational_model: penguins
    records:
"""
        for i in range(vdb_records):
            text += (
                f"      - {{bill_length_mm: {40 + i}.0, bill_depth_mm: 18.0, flipper_length_mm: 190, island: Biscoe}}\n"
            )
    return text


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


def wait_line(proc: subprocess.Popen[str], text: str, timeout: float = 60.0) -> bool:
    """Read `proc`'s stdout until a line containing `text` (True), or until it ends or `timeout` passes (False)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            return False
        if text in line:
            return True
    return False
