"""Nothing the lockfile records is lost (issue 9, items 1-2): pending deletes, retired objects and interrupted
replacements are finished by the next apply and deleted by `destroy`.

Each test drives the real CLI against the local server (test hooks on) and counts what the server holds.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from robust_helpers import Cli, add_faults, clear_faults, cli_env, convergence_problems, inventory, make_project

UPLOAD = "POST /compute/upload_with_new_session/?$"


def _replacement_pending(root: Path) -> list[dict[str, str]]:
    lock = json.loads((root / "featrix.lock").read_text())
    return [r for r in lock["resources"]["foundational_model.penguins"]["retired"] if r.get("pending_delete")]


def _retrain_foundational_model(root: Path) -> None:
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("fm_epochs: 8", "fm_epochs: 9"))


def _assert_destroyed(cli: Cli, server: Any, project: str) -> None:
    r = cli("destroy", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((cli.project / "featrix.lock").read_text())["resources"] == {}
    inv = inventory(server.url, server.api_key, project)
    assert not inv.fms and not inv.predictors and not inv.endpoints, inv
    replan = cli("plan", "--detailed-exitcode")  # nothing recorded: everything is created again, nothing adopted
    assert replan.returncode == 2 and "will be created" in replan.stdout, replan.stdout + replan.stderr


def test_destroy_deletes_a_replaced_model_left_pending(server: Any, tmp_path: Path) -> None:
    """The predictors cannot follow a new model, so the old one stays pending delete; destroy deletes both."""
    root = make_project(tmp_path / "pending", server.url, name="lost-pending", predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("apply", "--auto-approve")
    _retrain_foundational_model(root)
    route = "POST /compute/session/[^/]+/train_predictor$"
    add_faults(server.url, server.api_key, {"route": route, "status": 400, "body": {"detail": "no"}, "count": 0})
    try:
        r = cli("apply", "--auto-approve")
    finally:
        clear_faults(server.url, server.api_key)
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(_replacement_pending(root)) == 1
    assert len(inventory(server.url, server.api_key, "lost-pending").fms) == 1  # both sessions carry one address
    assert sum(inventory(server.url, server.api_key, "lost-pending").fms.values()) == 2
    _assert_destroyed(cli, server, "lost-pending")


def _kill_once_the_new_model_exists(cli: Cli, server: Any, project: str) -> None:
    """SIGKILL an apply whose upload committed on the server but whose answer is held back."""
    add_faults(server.url, server.api_key, {"route": UPLOAD, "when": "after", "hang_seconds": 120, "count": 1})
    proc = cli.popen("apply", "--auto-approve")  # prints little before the kill: the pipe never fills
    try:
        deadline = time.monotonic() + 120
        while sum(inventory(server.url, server.api_key, project).fms.values()) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the new model never appeared"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        clear_faults(server.url, server.api_key)
    lock = json.loads((cli.project / "featrix.lock").read_text())
    entry = lock["resources"]["foundational_model.penguins"]
    assert entry["status"] == "creating" and not entry["ids"], entry  # the answer never arrived
    assert len(_replacement_pending(cli.project)) == 1


@pytest.mark.parametrize("then", ["apply", "destroy"])
def test_a_replacement_killed_after_the_new_model_committed(server: Any, tmp_path: Path, then: str) -> None:
    """Re-run: the new model is adopted by its tag and the old one deleted (not 'Apply complete, 0 destroyed');
    or destroy: both models, the one recorded and the one only its creation tag tells, are deleted."""
    project = f"lost-killed-{then}"
    root = make_project(tmp_path / then, server.url, name=project, predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("apply", "--auto-approve")
    _retrain_foundational_model(root)
    _kill_once_the_new_model_exists(cli, server, project)
    if then == "destroy":
        _assert_destroyed(cli, server, project)
        return
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _replacement_pending(root) == []
    problems = convergence_problems(cli, server.url, server.api_key, project)
    assert not problems, "\n".join(problems)
