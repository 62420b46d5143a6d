"""Two-stage Ctrl-C: the first sets the Interrupt (nothing new starts), the second exits at once with 130."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, signal, sys, time
from featrix_iac.apply import Interrupt
from featrix_iac.cli.cmd_plan import two_stage_interrupt

interrupt = Interrupt()
with two_stage_interrupt(interrupt) as arming:
    if sys.argv[1] == "unarmed":
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            print("aborted", flush=True)
            sys.exit(3)
    arming.arm()
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)
    print("first:", interrupt.is_set(), flush=True)
    if sys.argv[1] == "twice":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        print("still running", flush=True)
print("left normally", flush=True)
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60)


def test_first_interrupt_only_sets_the_flag() -> None:
    r = _run("once")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["first: True", "left normally"]
    assert "Press Ctrl-C again to exit at once" in r.stderr


def test_before_apply_starts_ctrl_c_simply_aborts() -> None:
    r = _run("unarmed")
    assert r.returncode == 3 and r.stdout.splitlines() == ["aborted"]


def test_second_interrupt_exits_at_once() -> None:
    r = _run("twice")
    assert r.returncode == 130
    assert r.stdout.splitlines() == ["first: True"]
    assert "Second interrupt: exiting now" in r.stderr
