"""Starting the local server as a child process on 127.0.0.1 (ephemeral port) for `server: {url: local}`.

    from featrix_iac.server.embedded import start_local_server
    with start_local_server(project / ".featrix" / "local") as srv:
        srv.url, srv.api_key, srv.pid      # http://127.0.0.1:PORT, "fx_...", server pid
        srv.running()                      # False once the server is gone (the client then fails at once)

Every handle holds a lease on the server (leases.py): a second command attaches to the server of the
first, and the server (a detached child: its own session, so a Ctrl-C in the terminal does not reach
it) stops by itself when the last lease is released, or its holder dies. It never prints the account key.
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

from featrix_iac.server import leases
from featrix_iac.server.keys import resolve_account_key
from featrix_iac.server.serve import SERVER_FILE
from featrix_iac.server.service import DataDirBusy, data_dir_busy

START_TIMEOUT = 60.0
# the packages of the `local` extra the server imports: (import names, any of which will do; pip name)
LOCAL_EXTRA = (
    (("fastapi",), "fastapi"),
    (("uvicorn",), "uvicorn"),
    (("python_multipart", "multipart"), "python-multipart"),
    (("sklearn",), "scikit-learn"),
    (("numpy",), "numpy"),
)
INSTALL_LOCAL = "pip install 'featrix-iac[local]'"


def missing_packages() -> list[str]:
    """The pip names of the `local` extra's packages that are not installed (found without importing them)."""
    from importlib.util import find_spec

    return [pip for names, pip in LOCAL_EXTRA if not any(find_spec(n) is not None for n in names)]


@dataclass
class LocalServer:
    """A running server and this handle's lease on it; `stop()` (or leaving the `with` block) releases the lease.

    The server stops when no lease is left; `stop()` waits for that when this handle started it.
    """

    url: str
    api_key: str
    pid: int
    data_dir: Path | None = None
    _proc: Any = field(default=None, repr=False)
    _stderr: Any = field(default=None, repr=False)
    _lease: Path | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            leases.release(lease)
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._close()
            return
        if lease is not None and self.data_dir is not None and self._others(self.data_dir):
            self._close()  # another command still uses it: it stops by itself after their last lease
            return
        if lease is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._close()

    @staticmethod
    def _others(data_dir: Path) -> bool:
        with leases.locked(data_dir):
            return bool(leases.holders(data_dir))

    def running(self) -> bool:
        """Whether the server process is still there (for the client: a lost server fails at once)."""
        if self._proc is not None:
            return bool(self._proc.poll() is None)
        return leases.pid_alive(self.pid)

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
    allow_loopback_webhooks: bool = True,
) -> LocalServer:
    """Attach to the server serving `data_dir`, or start one; RuntimeError if it cannot.

    `env` adds to (or overrides) this process's environment for the child. The account key is `api_key`,
    else FEATRIX_API_KEY, else the key stored in `data_dir` (generated there, mode 0600, on first start).
    A server with test hooks is never shared. Webhooks to loopback are allowed (local development)
    unless `allow_loopback_webhooks` is False.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {})}
    explicit = api_key or child_env.get("FEATRIX_API_KEY") or None
    key, _ = resolve_account_key(data_dir, explicit)
    child_env["FEATRIX_API_KEY"] = key
    child_env["FEATRIX_LOCAL_TEST_HOOKS"] = "1" if test_hooks else "0"
    lease = leases.take(data_dir)  # before looking: a server we find stays for us
    deadline = time.monotonic() + timeout
    try:
        while True:
            running = None if test_hooks else attach_local_server(data_dir, key)
            if running is not None:
                running._lease = lease
                return running
            try:
                return _spawn(data_dir, key, child_env, lease, deadline, allow_loopback_webhooks)
            except DataDirBusy:  # another command's server holds the folder: attach to it, or outlast it
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the data folder {data_dir} stayed busy for {timeout:.0f}s") from None
                time.sleep(0.1)
    except BaseException:
        leases.release(lease)
        raise


def _spawn(
    data_dir: Path, key: str, child_env: dict[str, str], lease: Path, deadline: float, loopback: bool
) -> LocalServer:
    ready = data_dir / f"ready-{os.getpid()}-{time.monotonic_ns()}.json"
    stderr = tempfile.TemporaryFile(mode="w+b")
    cmd = [sys.executable, "-m", "featrix_iac", "server", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--data-dir", str(data_dir), "--ready-file", str(ready), "--leased"]
    cmd += ["--allow-loopback-webhooks"] if loopback else []
    proc = subprocess.Popen(
        cmd,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    server = LocalServer(url="", api_key=key, pid=proc.pid, data_dir=data_dir, _proc=proc, _stderr=stderr)
    try:
        server.url = _wait_ready(proc, ready, key, deadline, stderr)
    except RuntimeError:
        server.stop(timeout=2)
        if data_dir_busy(data_dir):  # only then is waiting worth it: another server is starting or stopping
            raise DataDirBusy(str(data_dir)) from None
        raise
    except BaseException:
        server.stop(timeout=2)
        raise
    finally:
        ready.unlink(missing_ok=True)
    server._lease = lease
    return server


def attach_local_server(data_dir: Path, key: str) -> LocalServer | None:
    """The server already serving `data_dir` (another featrix command's), if it answers with this key.

    The returned handle does not own the process, nor (until the caller gives it one) a lease.
    """
    import urllib.request

    try:
        info = json.loads((Path(data_dir) / SERVER_FILE).read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
        if not leases.pid_alive(pid):
            return None
        req = urllib.request.Request(url + "/auth/whoami", headers={"X-Api-Key": key})
        with urllib.request.urlopen(req, timeout=2) as resp:
            if resp.status != 200:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LocalServer(url=url, api_key=key, pid=pid, data_dir=Path(data_dir))


def _stderr_tail(stderr: Any, lines: int = 20) -> str:
    stderr.seek(0)
    text = stderr.read().decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _wait_ready(proc: Any, ready: Path, key: str, deadline: float, stderr: Any) -> str:
    import urllib.request

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
    raise RuntimeError(f"the local Featrix server did not become healthy in time:\n{_stderr_tail(stderr)}")
