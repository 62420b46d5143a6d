"""A second apply while the first waits for approval is refused, naming the holder.

The rest of the plan/apply workflow is golden transcripts (tests/acceptance/workflow_*); this one needs two
`featrix` processes at once and a terminal for the first one's prompt, which a transcript cannot express.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from typing import Any

from acceptance_helpers import manifest


def test_second_concurrent_apply_is_refused_naming_the_holder(cli: Any, server: Any) -> None:
    cli.write(
        manifest(server.url, published=False, vdb_records=3, species_epochs=6, endpoint=True, prevent_destroy=True)
    )
    master, slave = pty.openpty()
    first = cli.popen("apply", stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        assert _wait_for(first, "Only 'yes' will be accepted"), "the first apply never asked for approval"
        second = cli("apply", "--auto-approve")
        assert second.returncode == 1
        assert "state is locked" in second.stderr and f"pid {first.pid}" in second.stderr
        os.write(master, b"no\n")
        rest_out, rest_err = first.communicate(timeout=60)
        cli.transcript.extend([rest_out, rest_err])
        assert first.returncode == 1 and "Apply cancelled." in rest_err
    finally:
        if first.poll() is None:
            first.kill()
        os.close(master)


def _wait_for(proc: Any, text: str, timeout: float = 60.0) -> bool:
    seen = ""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536).decode("utf-8", "replace")
            seen += chunk
            if text in seen:
                return True
    return False
