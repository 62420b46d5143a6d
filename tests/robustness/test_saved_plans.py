"""Saved plans end to end (issue 5 §1, practices R6, R12): `plan -out`, `apply FILE`, `show FILE`, and every refusal.

`featrix apply FILE` applies exactly the saved plan, or refuses it, changing nothing, when the
lockfile moved on, the manifests or the data changed, it was made for another environment, or the file
was tampered with.
"""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest
from robust_helpers import Cli, cli_env, make_project

from featrix_iac.plan.model import PLAN_FORMAT_VERSION


@pytest.fixture(scope="module")
def cli(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = make_project(
        tmp_path_factory.mktemp("saved") / "project", server.url, name="saved-plans", predictor_epochs=3
    )
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text() + "\nenvironments:\n  staging: {}\n")
    return Cli(root, cli_env(server.api_key))


def _edit(cli: Cli, old: str, new: str) -> None:
    manifest = cli.project / "featrix.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))


def _refused(cli: Cli, *args: str) -> str:
    """Run a command that must be refused without touching the lockfile; its stderr."""
    lockfile = cli.project / "featrix.lock"
    before = lockfile.read_bytes() if lockfile.exists() else b""
    r = cli(*args)
    assert r.returncode == 1, f"{args} was not refused:\n{r.stdout}\n{r.stderr}"
    assert "Apply complete" not in r.stdout and "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: ")
    assert (lockfile.read_bytes() if lockfile.exists() else b"") == before
    return r.stderr


def test_plan_out_then_apply_exactly_it(cli: Cli) -> None:
    r = cli.ok("plan", "-out", "first.fxplan", "--detailed-exitcode", codes=(2,))
    assert "Saved the plan to first.fxplan" in r.stderr
    path = cli.project / "first.fxplan"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = cli.ok("show", "first.fxplan").stdout
    assert "5 to add" in shown
    applied = cli.ok("apply", "first.fxplan")
    assert "Apply complete! Resources: 5 added" in applied.stdout
    cli.ok("plan", "--detailed-exitcode")  # converged
    assert stat.S_IMODE((cli.project / "featrix.lock").stat().st_mode) == 0o600


def test_refused_when_the_lockfile_moved_on(cli: Cli) -> None:
    _edit(cli, "    published: true\n", "    published: false\n")
    cli.ok("plan", "-out", "unpublish.fxplan", "--detailed-exitcode", codes=(2,))
    serial = json.loads((cli.project / "featrix.lock").read_text())["serial"]
    cli.ok("apply", "--auto-approve")  # someone applied in between
    now = json.loads((cli.project / "featrix.lock").read_text())["serial"]
    err = _refused(cli, "apply", "unpublish.fxplan")
    assert f"plan is stale: the lockfile moved on (serial {serial} → {now})" in err


def test_refused_when_the_manifests_changed_and_accepted_once_they_are_back(cli: Cli) -> None:
    _edit(cli, "    published: false\n", "    published: true\n")
    cli.ok("plan", "-out", "publish.fxplan", "--detailed-exitcode", codes=(2,))
    _edit(cli, "from measurements", "from measurements, edited")
    assert "the manifests changed since" in _refused(cli, "apply", "publish.fxplan")
    _edit(cli, "from measurements, edited", "from measurements")
    cli.ok("apply", "publish.fxplan")
    cli.ok("plan", "--detailed-exitcode")


def test_refused_when_the_data_changed(cli: Cli) -> None:
    _edit(cli, "    published: true\n", "    published: false\n")
    cli.ok("plan", "-out", "data.fxplan", "--detailed-exitcode", codes=(2,))
    data = cli.project / "data" / "penguins.csv"
    original = data.read_bytes()
    try:
        data.write_bytes(original + original.splitlines(keepends=True)[1])
        err = _refused(cli, "apply", "data.fxplan")
        assert "data changed since" in err and "foundational_model.penguins" in err
    finally:
        data.write_bytes(original)


def test_refused_for_another_environment(cli: Cli) -> None:
    err = _refused(cli, "apply", "-e", "staging", "data.fxplan")
    assert "was made for environment 'default', not 'staging'" in err


def test_refused_when_tampered_with(cli: Cli) -> None:
    path = cli.project / "data.fxplan"
    original = path.read_text()
    try:
        doc = json.loads(original)
        doc["body"]["plan"]["actions"][0]["action"] = "delete"
        path.write_text(json.dumps(doc, indent=2))
        assert "tampered with: checksum mismatch" in _refused(cli, "apply", "data.fxplan")
        assert "tampered with: checksum mismatch" in _refused(cli, "show", "data.fxplan")
    finally:
        path.write_text(original)
    cli.ok("apply", "data.fxplan")  # the intact file is still fresh and applies
    cli.ok("plan", "--detailed-exitcode")


def test_show_json_and_markdown_of_a_saved_plan(cli: Cli) -> None:
    _edit(cli, "    published: false\n", "    published: true\n")
    cli.ok("plan", "-out", "last.fxplan", "--detailed-exitcode", codes=(2,))
    data = json.loads(cli.ok("show", "last.fxplan", "--json").stdout)
    assert data["format_version"] == PLAN_FORMAT_VERSION and any(a["action"] == "update" for a in data["actions"])
    md = cli.ok("show", "last.fxplan", "--markdown", "--json-artifact", "artifacts/plan.json").stdout
    assert md.startswith("<!-- featrix-plan: saved-plans/default -->")
    assert "`foundational_model.penguins`" in md and "0 to add, 1 to change" in md


def test_refresh_only_ignores_manifest_edits_and_reports_no_drift(cli: Cli) -> None:
    # the manifest says published: true, the server has published: false: a normal plan, not drift
    r = cli("plan", "--refresh-only", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli("plan", "--detailed-exitcode").returncode == 2


def test_drift_check_markdown_exits_2_and_apply_converges(cli: Cli, server: Any) -> None:
    import httpx

    lock = json.loads((cli.project / "featrix.lock").read_text())
    eid = lock["resources"]["endpoint.species_api"]["ids"]["endpoint_id"]
    httpx.delete(f"{server.url}/endpoints/{eid}", headers={"X-Api-Key": server.api_key}, timeout=30).raise_for_status()
    r = cli("plan", "--refresh-only", "--detailed-exitcode", "--markdown")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "### featrix drift check" in r.stdout and "`endpoint.species_api`: deleted outside featrix" in r.stdout
    cli.ok("apply", "--auto-approve")
    cli.ok("plan", "--refresh-only", "--detailed-exitcode")
