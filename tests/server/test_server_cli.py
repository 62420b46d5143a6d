"""`featrix server`: prints a generated account key once, honours FEATRIX_API_KEY, refuses a bad one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests


def _start(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    ready = data_dir.parent / f"ready-{time.monotonic_ns()}.json"
    cmd = [
        sys.executable,
        "-m",
        "featrix_iac",
        "server",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["url"]


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return out, err


def test_generated_key_is_printed_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FEATRIX_API_KEY", "FEATRIX_LOCAL_TEST_HOOKS")}
    data = tmp_path / "data"
    proc, url = _start(data, env)
    key = (data / "account.key").read_text().strip()
    assert requests.get(url + "/auth/whoami", headers={"X-Api-Key": key}, timeout=10).status_code == 200
    out, err = _stop(proc)
    assert out.count(key) == 1 and "shown once" in out
    assert "listening on http://127.0.0.1:" in err and key not in err
    proc, _ = _start(data, env)
    out, err = _stop(proc, signal.SIGINT)  # Ctrl-C: a quiet, clean exit
    assert key not in out and "Error" not in err


def test_env_key_is_used_and_never_printed(tmp_path: Path) -> None:
    env = dict(os.environ, FEATRIX_API_KEY="fx_from_env_123")
    proc, url = _start(tmp_path / "data", env)
    assert requests.get(url + "/auth/whoami", headers={"X-Api-Key": "fx_from_env_123"}, timeout=10).status_code == 200
    out, err = _stop(proc)
    assert "fx_from_env_123" not in out + err
    assert not (tmp_path / "data" / "account.key").exists()


def test_bad_env_key_is_an_error(tmp_path: Path) -> None:
    env = dict(os.environ, FEATRIX_API_KEY="sk_not_featrix")
    cmd = [sys.executable, "-m", "featrix_iac", "server", "--port", "0", "--data-dir", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "Error: cannot set up the account API key" in proc.stderr and "fx_" in proc.stderr
    assert "Traceback" not in proc.stderr
