"""`server: {url: local}`: every command starts the bundled server on <project>/.featrix/local by itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from acceptance_helpers import PENGUINS, Cli, cli_env, manifest


@pytest.fixture(scope="module")
def local_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("local")
    (root / "data").mkdir()
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    return Cli(root, cli_env(None))


def test_apply_plan_destroy_on_the_embedded_server(local_cli: Cli) -> None:
    local_cli.write(manifest("local", vector_database=False, endpoint=True))
    r = local_cli.ok("apply", "--auto-approve")
    assert "Apply complete! Resources: 4 added, 0 changed, 0 destroyed." in r.stdout
    lock = json.loads((local_cli.project / "featrix.lock").read_text())
    assert {e["status"] for e in lock["resources"].values()} == {"ready"}
    assert lock["server_url"] == "local"  # not the ephemeral port of one run
    assert (local_cli.project / ".featrix" / "local").is_dir()
    r = local_cli("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes." in r.stdout
    r = local_cli.ok("destroy", "--auto-approve")
    assert "Destroy complete!" in r.stdout
    assert json.loads((local_cli.project / "featrix.lock").read_text())["resources"] == {}


def test_apply_without_a_terminal_needs_auto_approve(local_cli: Cli) -> None:
    r = local_cli("apply")
    assert r.returncode == 1
    assert "Error: no terminal to ask for approval" in r.stderr and "--auto-approve" in r.stderr
    lock = json.loads((local_cli.project / "featrix.lock").read_text())
    assert lock["resources"] == {}
    assert Path(local_cli.project / "featrix.lock").stat().st_mode & 0o777 == 0o600
