"""Where the server URL and key come from, and a wrong URL: the real CLI against the real local server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from robust_helpers import Cli, cli_env, make_project


def _lock(root: Path) -> dict[str, Any]:
    return json.loads((root / "featrix.lock").read_text()) if (root / "featrix.lock").exists() else {"resources": {}}


def test_https_to_a_plain_http_server_fails_at_once_naming_server_url(tmp_path: Path, server: Any) -> None:
    """TLS cannot work against a plain-http port: no retries, the error names server.url and its position,
    and the lockfile keeps no 'creating' attempt (nothing reached a server, so nothing was created)."""
    wrong = server.url.replace("http://", "https://")
    root = make_project(tmp_path / "p", wrong)
    cli = Cli(root, cli_env(server.api_key))
    r = cli("apply", "--auto-approve", timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(n for n, text in enumerate((root / "featrix.yaml").read_text().splitlines(), 1) if wrong in text)
    assert re.search(rf"server\.url in featrix\.yaml:{line}:\d+", r.stdout + r.stderr), r.stdout + r.stderr
    assert "Waiting" not in r.stdout + r.stderr  # not retried
    assert "Traceback" not in r.stderr
    assert all(e["status"] != "creating" for e in _lock(root)["resources"].values()), _lock(root)


def test_a_missing_key_names_the_manifests_api_key_env_and_its_position(tmp_path: Path, server: Any) -> None:
    root = make_project(tmp_path / "p", server.url)
    manifest = root / "featrix.yaml"
    manifest.write_text(
        manifest.read_text().replace(f"url: {server.url}", f"url: {server.url}\n  api_key_env: ACME_KEY")
    )
    env = cli_env(server.api_key, HOME=str(tmp_path), FEATRIX_KEY_FILE=str(tmp_path / "none"))
    del env["FEATRIX_API_KEY"]
    r = Cli(root, env)("plan")
    assert r.returncode == 1
    line = next(n for n, text in enumerate(manifest.read_text().splitlines(), 1) if "api_key_env" in text)
    assert f"in featrix.yaml:{line}:" in r.stderr and "ACME_KEY" in r.stderr, r.stderr
    assert "FEATRIX_API_KEY" not in r.stderr, r.stderr


def test_a_url_with_an_extra_path_names_server_url(tmp_path: Path, server: Any) -> None:
    """Every route answers 404 under a wrong path: the plan stops naming server.url, not "down or overloaded"."""
    wrong = server.url + "/api/v2"
    root = make_project(tmp_path / "p", wrong)
    r = Cli(root, cli_env(server.api_key))("plan", timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    line = next(n for n, text in enumerate((root / "featrix.yaml").read_text().splitlines(), 1) if wrong in text)
    assert re.search(rf"server\.url in featrix\.yaml:{line}:\d+", r.stderr), r.stderr
    assert "overloaded" not in r.stderr, r.stderr
