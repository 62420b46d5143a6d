"""Seed a stopped local server and a lockfile with copies of one applied unit (for benchmarks at scale).

Applying 10,000 resources from scratch trains thousands of models and rewrites the lockfile after every
step, which takes hours. Instead a benchmark applies one unit for real (a foundational model with its
predictors and endpoints, `fm0`, `p0_*`, `e0_*`), stops the server, and `replicate` copies that unit
`copies` times: through the server's own document store (`featrix_iac.server.store.Store`), with fresh
ids, creation tokens and names (`fm1`, `p1_*`, `e1_*`, ...), the trained artifacts hard-linked, and the
lockfile entries copied through the engine's `StateStore` (secrets re-encrypted for their new address).
The result is what applying the whole manifest would have left, minus the training time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from featrix_iac.server.store import Store
from featrix_iac.state import LockEntry, StateStore

HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def renamer(unit: int, session_id: str) -> Callable[[str], str]:
    """A text rewrite for copy `unit`: the session id, every 32-hex id or token, and the unit's names."""
    fresh: dict[str, str] = {}
    new_session = f"fm{unit}-{uuid.uuid4()}"

    def rename(text: str) -> str:
        text = text.replace(session_id, new_session)
        text = HEX32.sub(lambda m: fresh.setdefault(m.group(0), uuid.uuid4().hex), text)
        text = re.sub(r"\bfm0\b", f"fm{unit}", text)
        return re.sub(r"\b([pe])0_(\d+)\b", lambda m: f"{m.group(1)}{unit}_{m.group(2)}", text)

    return rename


def _copy(doc: dict[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(rename(json.dumps(doc)))
    return copied


def _unit_docs(store: Store, session_id: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(kind, id, parent, doc) of everything that belongs to the unit's session."""
    session = store.get("session", session_id)
    if session is None:
        raise SystemExit(f"seeding: no session {session_id} in the server's store")
    out: list[tuple[str, str, str | None, dict[str, Any]]] = [("session", session_id, None, session)]
    out += [("job", d["job_id"], session_id, d) for d in store.list("job", session_id)]
    out += [("predictor", d["predictor_id"], session_id, d) for d in store.list("predictor", session_id)]
    out += [("endpoint", d["id"], None, d) for d in store.list("endpoint") if d.get("session_id") == session_id]
    token = (session.get("user_metadata") or {}).get("featrix_iac", {}).get("token")
    replay = store.get("idempotency", token) if token else None  # the upload's X-Featrix-Idempotency-Key
    if replay is not None:
        out.append(("idempotency", token, None, replay))
    return out


def _link_tree(src: Path, dst: Path, rename: Callable[[str], str]) -> None:
    """Hard-link the unit's artifacts under their new ids (copy when the filesystem cannot link)."""
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / rename(str(path.relative_to(src)))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)


def replicate(server_dir: Path, root: Path, copies: int, environment: str = "default") -> int:
    """Add units 1..copies next to unit 0 (server stopped); returns the number of lockfile entries added."""
    state = StateStore(root, environment)
    lock = state.load()
    session_id = lock.resources["foundational_model.fm0"].ids["session_id"]
    template = {a: e for a, e in lock.resources.items() if re.search(r"\.(fm0|[pe]0_\d+)$", a) and e.status == "ready"}
    store = Store(server_dir / "featrix.sqlite3")
    try:
        docs = _unit_docs(store, session_id)
        for unit in range(1, copies + 1):
            rename = renamer(unit, session_id)
            with store.transaction():
                for kind, id_, parent, doc in docs:
                    store.put(kind, rename(id_), _copy(doc, rename), rename(parent) if parent else None)
            art = server_dir / "artifacts"
            _link_tree(art / session_id, art / rename(session_id), rename)
            for address, entry in template.items():
                _copy_entry(state, lock.resources, address, entry, rename)
    finally:
        store.close()
    state.save(lock)
    return copies * len(template)


def _copy_entry(
    state: StateStore, resources: dict[str, LockEntry], address: str, entry: LockEntry, rename: Callable[[str], str]
) -> None:
    data = entry.model_dump(mode="json")
    secrets = data.pop("secrets", {})
    new_address = rename(address)
    copied = LockEntry.model_validate(
        {
            **json.loads(rename(json.dumps(data))),
            "secrets": {k: state.encrypt(new_address, state.decrypt(address, v)) for k, v in secrets.items()},
        }
    )
    resources[new_address] = copied


class ServerProcess:
    """`featrix server` on a fixed loopback port, started and stopped by the benchmark (a restart keeps the URL)."""

    def __init__(self, data_dir: Path, api_key: str, port: int = 0, *options: str) -> None:
        self.data_dir, self.api_key, self.options = data_dir, api_key, options
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "featrix_iac",
            "server",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        env = {**os.environ, "FEATRIX_API_KEY": self.api_key}
        log = open(self.data_dir / "bench-server.log", "ab")  # noqa: SIM115 - closed with the process
        self._proc = subprocess.Popen([*cmd, *self.options], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SystemExit(f"the server stopped at start: see {self.data_dir / 'bench-server.log'}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"the server did not answer on {self.url} within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
