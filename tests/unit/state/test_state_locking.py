"""The per-environment lock, across real processes: refusal names the holder, dead holders are stale."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import StateStore

HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from featrix_iac.state import StateStore\n"
    "with StateStore(Path(sys.argv[1]), sys.argv[2]).lock('apply') as info:\n"
    "    print(info.id, flush=True)\n"
    "    time.sleep(120)\n"
)


def hold_in_child(root: Path, env: str = "prod") -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), env], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    lock_id = child.stdout.readline().strip()
    assert lock_id, "the child did not take the lock"
    return child, lock_id


def test_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    child, lock_id = hold_in_child(tmp_path)
    try:
        with pytest.raises(DiagnosticsError) as info:
            with StateStore(tmp_path, "prod").lock("plan"):
                pass
        d = info.value.diagnostics.items[0]
        assert d.summary.startswith("state is locked: environment 'prod' is held by apply")
        assert f"pid {child.pid}" in d.summary and socket.gethostname() in d.summary
        assert lock_id in d.detail and "featrix unlock" in d.detail
        with StateStore(tmp_path, "dev").lock("apply"):  # other environments are independent
            pass
    finally:
        child.kill()
        child.wait()


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over(tmp_path: Path) -> None:
    child, lock_id = hold_in_child(tmp_path)
    child.kill()
    child.wait()
    s = StateStore(tmp_path, "prod")
    assert s.lock_holder() is not None and s.lock_holder().pid == child.pid  # type: ignore[union-attr]
    with s.lock("apply") as info:
        assert info.stale is not None and info.stale.id == lock_id and info.stale.pid == child.pid
        assert info.stale.dead
        assert s.lock_holder() == info
    assert s.lock_holder() is None


def test_the_same_process_cannot_take_it_twice(tmp_path: Path) -> None:
    s = StateStore(tmp_path, "default")
    with s.lock("apply") as info:
        assert (info.pid, info.operation) == (os.getpid(), "apply")
        with pytest.raises(DiagnosticsError, match="state is locked"):
            with StateStore(tmp_path, "default").lock("destroy"):
                pass
    with s.lock("destroy"):
        pass


def test_force_unlock_needs_the_right_id(tmp_path: Path) -> None:
    child, lock_id = hold_in_child(tmp_path)
    try:
        s = StateStore(tmp_path, "prod")
        with pytest.raises(DiagnosticsError) as info:
            s.force_unlock("not-the-id")
        assert "does not match" in str(info.value) and lock_id in info.value.diagnostics.items[0].detail
        assert s.force_unlock(lock_id).pid == child.pid
        with s.lock("apply") as mine:
            assert mine.stale is None
        with pytest.raises(DiagnosticsError, match="not locked"):
            s.force_unlock(lock_id)
    finally:
        child.kill()
        child.wait()
