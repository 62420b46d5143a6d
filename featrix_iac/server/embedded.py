"""Starting the local server as a child process on 127.0.0.1 (ephemeral port) for `server: {url: local}`.

    from featrix_iac.server.embedded import start_local_server
    with start_local_server(project / ".featrix" / "local") as srv:
        srv.url, srv.api_key, srv.pid      # http://127.0.0.1:PORT, "fx_...", child pid

The child runs `python -m featrix_iac server --host 127.0.0.1 --port 0 --data-dir DIR --ready-file F
--parent-pid PID`, exits by itself when this process dies, and never prints the account key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featrix_iac.server.keys import resolve_account_key
from featrix_iac.server.serve import SERVER_FILE

START_TIMEOUT = 60.0


@dataclass
class LocalServer:
    """A running child server; `stop()` (or leaving the `with` block) terminates it if this process started it."""

    url: str
    api_key: str
    pid: int
    data_dir: Path | None = None
    _proc: Any = field(default=None, repr=False)
    _stderr: Any = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._close()
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        self._close()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _close(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_server(
    data_dir: Path,
    *,
    api_key: str | None = None,
    test_hooks: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> LocalServer:
    """Start the server as a child process and wait until /health answers; RuntimeError if it does not.

    `env` adds to (or overrides) this process's environment for the child. The account key is `api_key`,
    else FEATRIX_API_KEY, else the key stored in `data_dir` (generated there, mode 0600, on first start).
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {})}
    explicit = api_key or child_env.get("FEATRIX_API_KEY") or None
    key, _ = resolve_account_key(data_dir, explicit)
    running = attach_local_server(data_dir, key) if not test_hooks else None
    if running is not None:
        return running
    child_env["FEATRIX_API_KEY"] = key
    child_env["FEATRIX_LOCAL_TEST_HOOKS"] = "1" if test_hooks else "0"
    ready = data_dir / f"ready-{os.getpid()}-{time.monotonic_ns()}.json"
    stderr = tempfile.TemporaryFile(mode="w+b")
    cmd = [sys.executable, "-m", "featrix_iac", "server", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--data-dir", str(data_dir), "--ready-file", str(ready), "--parent-pid", str(os.getpid())]
    proc = subprocess.Popen(cmd, env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    server = LocalServer(url="", api_key=key, pid=proc.pid, data_dir=data_dir, _proc=proc, _stderr=stderr)
    try:
        server.url = _wait_ready(proc, ready, key, timeout, stderr)
    except RuntimeError:
        server.stop(timeout=2)
        # another command may have started a server on this folder at the same moment: use that one
        running = _attach_soon(data_dir, key) if not test_hooks else None
        if running is None:
            raise
        return running
    except BaseException:
        server.stop(timeout=2)
        raise
    finally:
        ready.unlink(missing_ok=True)
    return server


def attach_local_server(data_dir: Path, key: str) -> LocalServer | None:
    """The server already serving `data_dir` (another featrix command's), if it answers with this key.

    The returned handle does not own the process: `stop()` leaves it running for its owner.
    """
    import urllib.request

    try:
        info = json.loads((Path(data_dir) / SERVER_FILE).read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
        os.kill(pid, 0)
        req = urllib.request.Request(url + "/auth/whoami", headers={"X-Api-Key": key})
        with urllib.request.urlopen(req, timeout=2) as resp:
            if resp.status != 200:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LocalServer(url=url, api_key=key, pid=pid, data_dir=Path(data_dir))


def _attach_soon(data_dir: Path, key: str, wait: float = 10.0) -> LocalServer | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        running = attach_local_server(data_dir, key)
        if running is not None:
            return running
        time.sleep(0.1)
    return None


def _stderr_tail(stderr: Any, lines: int = 20) -> str:
    stderr.seek(0)
    text = stderr.read().decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _wait_ready(proc: Any, ready: Path, key: str, timeout: float, stderr: Any) -> str:
    import urllib.request

    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the local Featrix server exited with code {proc.returncode} while starting:\n{_stderr_tail(stderr)}"
            )
        if url is None and ready.is_file():
            url = json.loads(ready.read_text(encoding="utf-8"))["url"]
        if url is not None:
            try:
                req = urllib.request.Request(url + "/health", headers={"X-Api-Key": key})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return str(url)
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(
        f"the local Featrix server did not become healthy within {timeout:.0f}s:\n{_stderr_tail(stderr)}"
    )
