"""SIGKILL `featrix apply` at a chosen moment, re-run it, and check the invariants (used by tests and bench/)."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robust_helpers import Cli, Inventory, cli_env, inventory, make_project

EXPECTED = {
    "fms": {"foundational_model.penguins": 1},
    "predictors": {"species", "sex", "body_mass"},
    "endpoints": {"endpoint.species_api": 1},
}


@dataclass
class KillPoint:
    """Kill when a line of apply's output matches `pattern` (then after `delay` s), or after `delay` s alone."""

    name: str
    pattern: str | None
    delay: float = 0.0


@dataclass
class CrashOutcome:
    point: KillPoint
    killed: bool  # False: apply finished before the kill point was reached
    output_before_kill: str
    rerun: Any  # CompletedProcess of the re-run
    replan_code: int
    replan_output: str
    lockfile_ok: bool
    lockfile_error: str
    inventory: Inventory

    def problems(self) -> list[str]:
        out: list[str] = []
        if not self.lockfile_ok:
            out.append(f"lockfile invalid after the kill: {self.lockfile_error}")
        if self.rerun.returncode != 0:
            out.append(f"re-run of apply failed ({self.rerun.returncode}):\n{self.rerun.stdout}\n{self.rerun.stderr}")
        if self.replan_code != 0:
            out.append(f"plan after the re-run is not empty ({self.replan_code}):\n{self.replan_output}")
        out.extend(f"duplicate on the server: {d}" for d in self.inventory.duplicates())
        inv = self.inventory
        if dict(inv.fms) != EXPECTED["fms"]:
            out.append(f"foundational models on the server: {dict(inv.fms)}")
        if {p for (_, p) in inv.predictors} != EXPECTED["predictors"]:
            out.append(f"predictors on the server: {dict(inv.predictors)}")
        if dict(inv.endpoints) != EXPECTED["endpoints"]:
            out.append(f"endpoints on the server: {dict(inv.endpoints)}")
        return out


def _kill_at(proc: Any, point: KillPoint) -> tuple[bool, str]:
    """Read apply's output until the kill point, SIGKILL it; (killed, output seen)."""
    seen: list[str] = []
    pattern = re.compile(point.pattern) if point.pattern else None
    if pattern is None:
        timer = threading.Timer(point.delay, lambda: _sigkill(proc))
        timer.start()
    for line in proc.stdout:
        seen.append(line)
        if pattern is not None and pattern.search(line):
            if point.delay:
                time.sleep(point.delay)
            _sigkill(proc)
            break
    proc.stdout.read()  # drain until the pipe closes
    code = proc.wait()
    if pattern is None:
        timer.cancel()
    return code == -signal.SIGKILL, "".join(seen)


def _sigkill(proc: Any) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)


def _check_lockfile(root: Path) -> tuple[bool, str]:
    from featrix_iac.diagnostics import DiagnosticsError
    from featrix_iac.state import StateStore

    if not (root / "featrix.lock").exists():
        return True, ""
    try:
        StateStore(root, "default").load()
    except DiagnosticsError as exc:
        return False, str(exc)
    try:
        json.loads((root / "featrix.lock").read_text())
    except ValueError as exc:
        return False, str(exc)
    return True, ""


def crash_and_recover(server: Any, workdir: Path, point: KillPoint, *, fm_epochs: int = 30) -> CrashOutcome:
    """One scenario: fresh project, apply killed at `point`, lockfile check, re-run apply, re-plan, inventory."""
    name = "crash-" + re.sub(r"[^a-z0-9]+", "-", point.name.lower()).strip("-")
    root = make_project(workdir / name, server.url, name=name, fm_epochs=fm_epochs)
    cli = Cli(root, cli_env(server.api_key))
    proc = cli.popen("apply", "--auto-approve")
    killed, seen = _kill_at(proc, point)
    ok, error = _check_lockfile(root)
    rerun = cli("apply", "--auto-approve")
    replan = cli("plan", "--detailed-exitcode")
    return CrashOutcome(
        point,
        killed,
        seen,
        rerun,
        replan.returncode,
        replan.stdout + replan.stderr,
        ok,
        error,
        inventory(server.url, server.api_key, name),
    )
