"""A plan while an apply holds the environment's lock says so (it reads a half-applied state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robust_helpers import Cli, cli_env, make_project

from featrix_iac.state import StateStore


def test_a_plan_during_an_apply_says_that_an_apply_holds_the_lock(tmp_path: Path, server: Any) -> None:
    root = make_project(tmp_path / "p", server.url)
    cli = Cli(root, cli_env(server.api_key))
    r = cli.ok("plan")
    assert "holds the lock" not in r.stdout + r.stderr
    store = StateStore(root, "default", project="penguins-quickstart")
    with store.lock("apply"):  # this process stands for the running apply
        r = cli.ok("plan")
        assert "apply (pid" in r.stderr and "holds the lock of environment 'default'" in r.stderr, r.stderr
        r = cli.ok("plan", "--markdown")
        assert "holds the lock" in r.stdout
