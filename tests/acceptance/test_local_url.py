"""`server: {url: local}`: a bundled server killed under a running apply fails it within seconds.

Apply, plan and destroy on the embedded server are the golden transcript tests/acceptance/local_url; this
case kills the server process in the middle of an apply, which a transcript cannot express.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from acceptance_helpers import PENGUINS, Cli, cli_env, manifest


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
