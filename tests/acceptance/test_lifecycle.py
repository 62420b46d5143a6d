"""A first Ctrl-C during an apply starts nothing new, and the next apply finishes.

The rest of the lifecycle (key rotation, new data, retrain_on, saved plans, destroy) is the golden transcript
tests/acceptance/lifecycle; this case sends SIGINT to a running apply, which a transcript cannot express.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any

from acceptance_helpers import manifest, wait_line


def test_first_ctrl_c_starts_nothing_new_and_the_next_apply_finishes(cli: Any, server: Any) -> None:
    cli.write(manifest(server.url, vector_database=False))
    cli.ok("apply", "--auto-approve")
    cli.write(manifest(server.url, vector_database=False, sex_epochs=400))  # a long retraining to interrupt
    proc = cli.popen("apply", "--auto-approve", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_line(proc, "predictor.sex: replacing"), "the apply never started the replacement"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    cli.transcript.extend([out, err])
    assert proc.returncode == 1, out + err
    assert "Interrupt: nothing new is started" in err
    r = cli.ok("apply", "--auto-approve")
    assert "Apply complete!" in r.stdout or "No changes" in r.stdout
    assert cli("plan", "--detailed-exitcode").returncode == 0
