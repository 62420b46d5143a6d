"""SIGKILL `featrix apply` at a chosen moment, re-run it, and check the invariants (used by tests and bench/)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robust_helpers import Cli, cli_env, convergence_problems, lockfile_problem, make_project


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
    problems: list[str] = field(default_factory=list)


def _sigkill(proc: Any) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)


def kill_at(proc: Any, point: KillPoint) -> tuple[bool, str]:
    """Read apply's output until the kill point, SIGKILL it; (killed, output seen)."""
    seen: list[str] = []
    pattern = re.compile(point.pattern) if point.pattern else None
    timer = threading.Timer(point.delay, _sigkill, (proc,)) if pattern is None else None
    if timer is not None:
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
    if timer is not None:
        timer.cancel()
    return code == -signal.SIGKILL, "".join(seen)


def crash_and_recover(
    server: Any, workdir: Path, point: KillPoint, *, fm_epochs: int = 30, replacement: bool = False
) -> CrashOutcome:
    """One scenario: fresh project, apply killed at `point`, lockfile check, re-run apply, re-plan, inventory.

    With `replacement`, the project is applied first and its foundational model's epochs changed, so the
    killed apply is a replacement cascade (new model, predictors retrained, endpoint moved by shadow/promote).
    """
    name = "crash-" + re.sub(r"[^a-z0-9]+", "-", point.name.lower()).strip("-")
    root = make_project(workdir / name, server.url, name=name, fm_epochs=fm_epochs)
    cli = Cli(root, cli_env(server.api_key))
    if replacement:
        cli.ok("apply", "--auto-approve")
        manifest = root / "featrix.yaml"
        manifest.write_text(manifest.read_text().replace(f"fm_epochs: {fm_epochs}", f"fm_epochs: {fm_epochs + 1}"))
    killed, seen = kill_at(cli.popen("apply", "--auto-approve"), point)
    outcome = CrashOutcome(point, killed, seen)
    if problem := lockfile_problem(root):
        outcome.problems.append(f"lockfile invalid right after the kill: {problem}")
    rerun = cli("apply", "--auto-approve")
    if rerun.returncode != 0:
        outcome.problems.append(f"re-run of apply failed ({rerun.returncode}):\n{rerun.stdout}\n{rerun.stderr}")
    outcome.problems.extend(convergence_problems(cli, server.url, server.api_key, name))
    return outcome
