"""Fixtures for the compatibility test: the official client in an isolated folder, a server, a webhook receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from featrix_iac.server.embedded import LocalServer, start_local_server

CLIENT = "featrixsphere==2.0.13460"
REPO = Path(__file__).resolve().parents[2]


def _vendor_dir() -> Path:
    import os

    return Path(os.environ.get("FEATRIX_COMPAT_VENDOR") or REPO / ".ci" / "vendor" / "featrixsphere-2.0.13460")


@pytest.fixture(scope="session")
def featrixsphere() -> Iterator[ModuleType]:
    """The official client, installed with --no-deps into its own folder, on sys.path only for these tests."""
    target = _vendor_dir()
    if not (target / "featrixsphere" / "__init__.py").is_file():
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), CLIENT]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.skip(f"cannot download {CLIENT} with pip (offline?): {proc.stderr.strip()[-300:]}")
    sys.path.insert(0, str(target))
    try:
        import featrixsphere

        yield featrixsphere
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m == "featrixsphere" or m.startswith("featrixsphere.")]:
            del sys.modules[name]


@pytest.fixture(scope="session")
def compat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start_local_server(tmp_path_factory.mktemp("compat-server")) as srv:
        yield srv


class Receiver:
    """A tiny HTTP server that records webhook deliveries (headers and raw body)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.calls.append(
                        {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": json.loads(raw)}
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["path"] == path]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()
