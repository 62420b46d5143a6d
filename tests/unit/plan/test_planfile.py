"""Saved plan files: round trip, mode 0600, no secrets, and every refusal (stale, other env, tampered)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from repo_files import copy_project

from featrix_iac.config import load_project
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.plan.model import Action, ActionType, FieldChange, Plan
from featrix_iac.plan.planfile import SavedPlan, check_fresh, manifest_digest, read_planfile, write_planfile
from featrix_iac.state.lockfile import Lockfile

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
SECRET = "whsec_CANARY_planfile_91e2"
LINEAGE = "11111111-2222-4333-8444-555555555555"
FPS = {"foundational_model.penguins": "sha256:aaaa"}


def _plan(serial: int = 4) -> Plan:
    return Plan(
        tool_version="0.1.0",
        project="penguins",
        environment="staging",
        server_url="http://127.0.0.1:8080",
        lineage=LINEAGE,
        serial=serial,
        actions=[
            Action(
                address="predictor.species",
                kind="predictor",
                action=ActionType.UPDATE,
                reasons=["webhook secret changed"],
                # a careless planner left the plaintext in: the plan file must redact it anyway
                changes=[FieldChange(field="webhooks.webhook_secret", old=SECRET, new=SECRET + "2", sensitive=True)],
            )
        ],
    )


def _write(path: Path, serial: int = 4, **kw: object) -> Path:
    args: dict[str, object] = {
        "manifest_digest": "sha256:m1",
        "data_fingerprints": FPS,
        "environment": "staging",
        "server_url": "http://127.0.0.1:8080",
        "lineage": LINEAGE,
        "serial": serial,
    }
    args.update(kw)
    return write_planfile(path, _plan(serial), **args)  # type: ignore[arg-type]


def _lock(serial: int = 4, lineage: str = LINEAGE) -> Lockfile:
    return Lockfile(lineage=lineage, serial=serial, environment="staging", project="penguins")


def _check(saved: SavedPlan, **kw: object) -> None:
    args: dict[str, object] = {
        "lockfile": _lock(),
        "manifest_digest": "sha256:m1",
        "data_fingerprints": FPS,
        "environment": "staging",
        "server_url": "http://127.0.0.1:8080",
    }
    args.update(kw)
    check_fresh(saved, **args)  # type: ignore[arg-type]


def _error(exc: pytest.ExceptionInfo[DiagnosticsError]) -> str:
    return "\n".join(f"{d.summary} {d.detail}" for d in exc.value.diagnostics)


def test_round_trip_mode_and_no_secret(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.fxplan")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET.encode() not in path.read_bytes()
    saved = read_planfile(path)
    assert saved.environment == "staging" and saved.serial == 4 and saved.lineage == LINEAGE
    assert saved.data_fingerprints == FPS and saved.manifest_digest == "sha256:m1"
    assert saved.plan.actions[0].address == "predictor.species"
    assert saved.plan.actions[0].changes[0].new == "(sensitive value)"
    doc = json.loads(path.read_text())
    assert doc["format"] == "featrix-plan" and doc["format_version"] == 1
    assert doc["checksum"].startswith("sha256:") and doc["created_at"].endswith("Z")
    _check(saved)  # fresh: no error


def test_stale_when_the_lockfile_moved_on(tmp_path: Path) -> None:
    saved = read_planfile(_write(tmp_path / "p.fxplan"))
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, lockfile=_lock(serial=5))
    assert "plan is stale: the lockfile moved on (serial 4 → 5)" in _error(exc)


def test_stale_when_the_lockfile_is_another_one(tmp_path: Path) -> None:
    saved = read_planfile(_write(tmp_path / "p.fxplan"))
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, lockfile=_lock(lineage="99999999-2222-4333-8444-555555555555"))
    assert "belongs to another lockfile" in _error(exc)


def test_a_plan_made_before_the_first_lockfile_matches_a_still_missing_lockfile(tmp_path: Path) -> None:
    saved = read_planfile(_write(tmp_path / "p.fxplan", serial=0))
    _check(saved, lockfile=Lockfile(environment="staging"))  # fresh lineage, serial 0: accepted
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, lockfile=_lock(serial=3, lineage="99999999-2222-4333-8444-555555555555"))
    assert "plan is stale: the lockfile moved on (serial 0 → 3)" in _error(exc)


def test_refused_for_another_environment_or_server(tmp_path: Path) -> None:
    saved = read_planfile(_write(tmp_path / "p.fxplan"))
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, environment="prod", server_url="https://sphere-api.featrix.com")
    text = _error(exc)
    assert "was made for environment 'staging', not 'prod'" in text
    assert "was made for server http://127.0.0.1:8080" in text


def test_stale_when_manifests_or_data_changed(tmp_path: Path) -> None:
    saved = read_planfile(_write(tmp_path / "p.fxplan"))
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, manifest_digest="sha256:m2")
    assert "the manifests changed since" in _error(exc)
    with pytest.raises(DiagnosticsError) as exc:
        _check(saved, data_fingerprints={"foundational_model.penguins": "sha256:bbbb"})
    assert "data changed since" in _error(exc) and "foundational_model.penguins" in _error(exc)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["body"]["plan"]["actions"][0].update(action="delete"),
        lambda d: d["body"].update(serial=5),
        lambda d: d["body"].update(environment="prod"),
        lambda d: d.update(created_at="2020-01-01T00:00:00Z"),
    ],
)
def test_tampered_file_is_refused(tmp_path: Path, edit: object) -> None:
    path = _write(tmp_path / "p.fxplan")
    doc = json.loads(path.read_text())
    edit(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(path)
    assert "tampered with: checksum mismatch" in _error(exc)


def test_one_flipped_byte_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.fxplan")
    raw = bytearray(path.read_bytes())
    i = raw.index(b"webhook secret changed")
    raw[i] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(path)
    assert "checksum mismatch" in _error(exc)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("not json", "is not a featrix plan file"),
        ('{"format": "terraform"}', "is not a featrix plan file"),
        ("[]", "is not a featrix plan file"),
    ],
)
def test_not_a_plan_file(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "p.fxplan"
    path.write_text(content)
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(path)
    assert needle in _error(exc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(tmp_path / "nope.fxplan")
    assert "not found" in _error(exc)


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.fxplan")
    doc = json.loads(path.read_text())
    doc["format_version"] = 99
    from featrix_iac.plan.planfile import _checksum

    doc["checksum"] = _checksum(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(path)
    assert "newer featrix-iac" in _error(exc)


def test_a_plan_of_the_previous_plan_format_is_refused_with_re_plan(tmp_path: Path) -> None:
    """Format 1 plans had reasons as plain text and no steps: apply refuses them rather than guess."""
    path = _write(tmp_path / "p.fxplan")
    doc = json.loads(path.read_text())
    plan = doc["body"]["plan"]
    plan["format_version"] = 1
    for action in plan["actions"]:
        action["reasons"] = [r["text"] for r in action["reasons"]]
        action.pop("steps", None)
    from featrix_iac.plan.planfile import _checksum

    doc["checksum"] = _checksum(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DiagnosticsError) as exc:
        read_planfile(path)
    assert "older featrix-iac" in _error(exc) and "featrix plan -out FILE` again" in _error(exc)


def test_manifest_digest_tracks_content_and_secrets_without_revealing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "qs"
    copy_project(QUICKSTART, root)
    monkeypatch.setenv("FEATRIX_WEBHOOK_SECRET", SECRET)
    first = manifest_digest(load_project(root))
    assert first == manifest_digest(load_project(root))
    assert SECRET not in first
    monkeypatch.setenv("FEATRIX_WEBHOOK_SECRET", SECRET + "-rotated")
    assert manifest_digest(load_project(root)) != first
    monkeypatch.setenv("FEATRIX_WEBHOOK_SECRET", SECRET)
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("Penguin species from", "Species from"))
    assert manifest_digest(load_project(root)) != first
