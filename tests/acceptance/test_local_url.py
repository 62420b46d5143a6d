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


def test_a_lost_embedded_server_fails_the_apply_within_seconds(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    root = tmp_path / "lost"
    (root / "data").mkdir(parents=True)
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    cli = Cli(root, {**cli_env(None), "FEATRIX_LOCAL_PUBLISH_SECONDS": "120"})  # the apply waits on the publish
    cli.write(manifest("local", vector_database=False, endpoint=False))
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server_file = root / ".featrix" / "local" / "server.json"
    try:
        deadline = time.monotonic() + 120
        while not (server_file.is_file() and (root / "featrix.lock").is_file()):
            assert proc.poll() is None and time.monotonic() < deadline, "the apply ended before its server was up"
            time.sleep(0.1)
        time.sleep(2)
        os.kill(json.loads(server_file.read_text())["pid"], signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - killed < 30, "the apply kept retrying a server that is gone"
    assert proc.returncode == 1, stdout + stderr
    assert "stopped while in use" in stdout + stderr and "Traceback" not in stdout + stderr, stdout + stderr
    again = Cli(root, cli_env(None))("apply", "--auto-approve")  # the environment lock was released
    assert again.returncode == 0, again.stdout + again.stderr
