"""SIGKILL a process that saves the lockfile in a loop, at random moments: the file always parses whole."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from featrix_iac.state import StateStore

WRITER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from featrix_iac.state import LockEntry, StateStore\n"
    "s = StateStore(Path(sys.argv[1]), 'default', lock_key=b'k' * 32)\n"
    "lock = s.load()\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    n = lock.serial + 1\n"
    "    entry = LockEntry(kind='predictor', status='ready', outputs={'n': n, 'pad': 'x' * 20000})\n"
    "    s.update(lock, f'predictor.p{n % 50}', entry)\n"
)


def test_killed_writers_never_leave_a_torn_lockfile(tmp_path: Path) -> None:
    rng = random.Random(7)
    last_serial = 0
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.15))
        child.send_signal(signal.SIGKILL)
        child.wait()
        lock = StateStore(tmp_path, "default").load()  # parses and validates, or raises
        assert lock.serial >= last_serial
        newest = max((e.outputs["n"] for e in lock.resources.values()), default=0)
        assert newest == lock.serial  # the file is exactly one complete write
        last_serial = lock.serial
    assert last_serial > 0
