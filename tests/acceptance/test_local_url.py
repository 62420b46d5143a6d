"""`server: {url: local}`: a bundled server killed under a running apply fails it within seconds.

Apply, plan and destroy on the embedded server are the golden transcript tests/acceptance/local_url; this
case kills the server process in the middle of an apply, which a transcript cannot express.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from acceptance_helpers import PENGUINS, Cli, cli_env, manifest, wait_line


def test_a_lost_embedded_server_fails_the_apply_within_seconds(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    root = tmp_path / "lost"
    (root / "data").mkdir(parents=True)
    shutil.copy(PENGUINS, root / "data" / "penguins.csv")
    cli = Cli(root, cli_env(None))
    cli.write(manifest("local", vector_database=False, endpoint=False))
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # killed while the apply polls the model's training: the restarted server re-runs that training,
        # so the next apply is short (killed during a publish, it would wait out the publish's full duration)
        assert wait_line(proc, "foundational_model.penguins: waiting for training", timeout=120), "no training wait"
        os.kill(json.loads((root / ".featrix" / "local" / "server.json").read_text())["pid"], signal.SIGKILL)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - killed < 30, "the apply kept retrying a server that is gone"
    assert proc.returncode == 1, output
    assert "stopped while in use" in output and "Traceback" not in output, output
    again = Cli(root, cli_env(None))("apply", "--auto-approve")  # the environment lock was released
    assert again.returncode == 0, again.stdout + again.stderr
