"""Running the server process: uvicorn on a pre-bound socket (port 0 = ephemeral), ready file, parent watch."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit this: without it, Nagle + delayed ACK add ~40 ms to every response
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def write_ready(path: Path, url: str, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"url": url, "port": port, "pid": os.getpid()}), encoding="utf-8")
    tmp.replace(path)


SERVER_FILE = "server.json"  # in the data folder while a server serves it: lets other commands attach


def _watch(
    server: Any, ready_file: Path | None, url: str, port: int, parent_pid: int | None, data_dir: Path, leased: bool
) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.02)
    if server.started:
        write_ready(data_dir / SERVER_FILE, url, port)
    if ready_file is not None and server.started:
        write_ready(ready_file, url, port)
    while not server.should_exit:
        if parent_pid is not None and os.getppid() != parent_pid:
            server.should_exit = True  # our parent died: never outlive it
            return
        if leased and _unused(data_dir):
            server.should_exit = True
            return
        time.sleep(LEASE_CHECK_SECONDS)


LEASE_CHECK_SECONDS = 0.25
GRACE_SECONDS = 2  # on SIGTERM: requests in flight get this long, trainings another 2 s (worker.stop)


def _unused(data_dir: Path) -> bool:
    """No command holds a lease any more: stop being findable (under the lease lock), then stop."""
    from featrix_iac.server import leases

    with leases.locked(data_dir):
        if leases.holders(data_dir):
            return False
        _forget(data_dir / SERVER_FILE)
        return True


def serve(
    *,
    host: str,
    port: int,
    data_dir: Path,
    api_key: str | None,
    test_hooks: bool = False,
    ready_file: Path | None = None,
    parent_pid: int | None = None,
    log_level: str = "warning",
    on_listening: Any = None,
    workers: int | None = None,
    allow_loopback_webhooks: bool = False,
    leased: bool = False,
    durations: Any = None,
) -> None:
    """Serve until SIGINT/SIGTERM, the parent's death when `parent_pid` is given, or (`leased`) the last lease."""
    import uvicorn

    from featrix_iac.server.http.app import create_app

    os.umask(0o077)  # everything the server writes (database, artifacts, its own files) is the owner's only
    app = create_app(
        data_dir,
        api_key,
        test_hooks=test_hooks,
        workers=workers,
        allow_loopback_webhooks=allow_loopback_webhooks,
        durations=durations,
    )
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    url = url_for(host, actual)
    if on_listening:
        on_listening(url)
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", access_log=False, timeout_graceful_shutdown=GRACE_SECONDS
    )
    server = uvicorn.Server(config)
    watch_args = (server, ready_file, url, actual, parent_pid, data_dir, leased)
    threading.Thread(target=_watch, args=watch_args, daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        # uvicorn re-raises a captured SIGTERM / SIGINT after its graceful shutdown; make that a clean exit 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        _forget(data_dir / SERVER_FILE)


def _forget(path: Path) -> None:
    """Remove the server file if it is still ours (a crash leaves it; attachers check the pid)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
