"""Secrets canary (practices R11, R12): the whole workflow with known secrets; they appear in 0 bytes anywhere.

Endpoint API keys (the first one and a rotated one) and two webhook secrets go through plan, saved
plans (fxplan, JSON, Markdown), apply, re-plan, show, state, output and a rotation. Only
`featrix output ADDRESS.api_key` may print a key. Afterwards a wrong lock key and one flipped
ciphertext byte must be clear errors that print nothing of the secret.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from robust_helpers import (
    LOCK_KEY,
    WEBHOOK_SECRET,
    WRONG_LOCK_KEY,
    Cli,
    cli_env,
    leaks,
    make_project,
    project_files,
)

ROTATED_SECRET = "whsec-CANARY-rotated-77aa99bb"
KEY_ADDRESS = "endpoint.species_api.api_key"


@pytest.fixture(scope="module")
def flow(server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the workflow once; the tests below inspect what it printed and wrote."""
    root = make_project(tmp_path_factory.mktemp("canary") / "project", server.url, name="canary", predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("validate")
    cli.ok("plan", "-out", "plan.fxplan", "--detailed-exitcode", codes=(2,))
    (root / "plan.json").write_text(cli.ok("show", "plan.fxplan", "--json").stdout)
    (root / "plan.md").write_text(cli.ok("show", "plan.fxplan", "--markdown").stdout)
    cli.ok("show", "plan.fxplan")
    cli.ok("apply", "plan.fxplan")
    cli.ok("plan", "--detailed-exitcode")
    first_key = cli.ok("output", KEY_ADDRESS).stdout.strip()

    # a webhook secret rotation and a key rotation, through a saved plan again
    cli.env["FEATRIX_WEBHOOK_SECRET"] = ROTATED_SECRET
    manifest = root / "featrix.yaml"
    manifest.write_text(
        manifest.read_text().replace("    description: Penguin", "    api_key: {rotation: 1}\n    description: Penguin")
    )
    cli.ok("plan", "-out", "rotate.fxplan", "--detailed-exitcode", codes=(2,))
    (root / "rotate.json").write_text(cli.ok("plan", "--json").stdout)
    (root / "rotate.md").write_text(cli.ok("plan", "--markdown").stdout)
    r = cli("apply", "rotate.fxplan", env={**cli.env, "FEATRIX_DEBUG": "1"})  # debug logs must not leak either
    assert r.returncode == 0, r.stdout + r.stderr
    cli.ok("plan", "--detailed-exitcode")
    second_key = cli.ok("output", KEY_ADDRESS).stdout.strip()

    for args in (("show",), ("show", "--json"), ("state", "list"), ("output",), ("output", "--json")):
        cli.ok(*args)
    cli.ok("state", "show", "endpoint.species_api")
    cli.ok("state", "show", "predictor.species")
    return {"root": root, "cli": cli, "keys": [first_key, second_key]}


def test_keys_were_issued_and_rotated(flow: dict[str, Any]) -> None:
    first, second = flow["keys"]
    assert first.startswith("fx") and second.startswith("fx") and first != second


def test_no_secret_in_any_output(flow: dict[str, Any]) -> None:
    printed = {f"output #{i}": text.encode() for i, text in enumerate(flow["cli"].transcript)}
    assert not leaks(printed, [*flow["keys"], WEBHOOK_SECRET, ROTATED_SECRET])
    assert any("(sensitive value)" in t for t in flow["cli"].transcript)  # the secrets were there, redacted


def test_no_secret_in_any_file(flow: dict[str, Any]) -> None:
    root: Path = flow["root"]
    files = project_files(root)
    assert {"plan.fxplan", "plan.json", "plan.md", "rotate.fxplan", "rotate.json", "rotate.md", "featrix.lock"} <= set(
        files
    )
    # the lock key itself is not on disk (it came from FEATRIX_LOCK_KEY), so nothing here can be decrypted
    assert not (root / ".featrix" / "lock.key").exists()
    assert not leaks(files, [*flow["keys"], WEBHOOK_SECRET, ROTATED_SECRET, LOCK_KEY])


def test_plan_files_and_lockfile_are_private(flow: dict[str, Any]) -> None:
    for name in ("plan.fxplan", "rotate.fxplan", "featrix.lock"):
        assert stat.S_IMODE((flow["root"] / name).stat().st_mode) == 0o600, name


def test_wrong_lock_key_is_a_clear_error(flow: dict[str, Any]) -> None:
    cli: Cli = flow["cli"]
    r = cli("output", KEY_ADDRESS, env={**cli.env, "FEATRIX_LOCK_KEY": WRONG_LOCK_KEY})
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("Error: ") and "lock key" in r.stderr.lower()
    assert "Traceback" not in r.stderr
    assert not leaks({"stderr": r.stderr.encode()}, flow["keys"])


def test_one_flipped_ciphertext_byte_is_a_clear_error(flow: dict[str, Any], tmp_path: Path) -> None:
    cli: Cli = flow["cli"]
    lockfile = flow["root"] / "featrix.lock"
    original = lockfile.read_bytes()
    try:
        data = json.loads(original)
        blob = data["resources"]["endpoint.species_api"]["secrets"]["api_key"]
        prefix, _, b64 = blob.rpartition(":")
        raw = bytearray(base64.b64decode(b64))
        raw[-5] ^= 0x01  # inside the ciphertext / tag, not the key id
        data["resources"]["endpoint.species_api"]["secrets"]["api_key"] = (
            f"{prefix}:{base64.b64encode(bytes(raw)).decode()}"
        )
        lockfile.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        r = cli("output", KEY_ADDRESS)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
        assert any(word in r.stderr.lower() for word in ("modified", "tampered", "authentic", "corrupt"))
        assert not leaks({"stderr": r.stderr.encode()}, flow["keys"])
    finally:
        lockfile.write_bytes(original)


def test_the_server_keeps_endpoint_keys_hashed(flow: dict[str, Any], server: Any) -> None:
    """DESIGN §9: the local server stores endpoint keys hashed; neither key is anywhere in its data folder."""
    files = project_files(server.data_dir)
    assert files, "the server's data folder is empty?"
    assert not leaks(files, flow["keys"])
