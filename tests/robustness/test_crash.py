"""Crash tolerance (issue 5 §6, practices R2-R4): SIGKILL `featrix apply` of the quickstart, re-run it.

Each time: the lockfile is valid, the re-run converges (the next plan is empty), and the server holds
exactly one foundational model, one predictor per declared predictor and one endpoint. A small set of
kill points runs here; bench/bench_crash.py runs many more (random moments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crash import KillPoint, crash_and_recover

POINTS = [
    KillPoint("during upload", r"foundational_model\.penguins: creating"),
    KillPoint("during foundational model training", r"foundational_model\.penguins: .*training", delay=0.2),
    KillPoint("during predictor training", r"predictor\.\w+: .*training"),
    KillPoint("between lockfile writes", r"predictor\.\w+: created"),
    KillPoint("while the endpoint is created", r"endpoint\.species_api: creating"),
    # issue 8: the service's asynchronous work (a training queued without an id, a publish job)
    KillPoint("during a queued training", r"predictor\.\w+: queued: waiting for a worker"),
    KillPoint("during the publish job", r"foundational_model\.penguins: publish"),
]


@pytest.mark.parametrize("point", POINTS, ids=[p.name for p in POINTS])
def test_kill_and_rerun_converges_without_duplicates(server: Any, tmp_path: Path, point: KillPoint) -> None:
    outcome = crash_and_recover(server, tmp_path, point)
    assert outcome.killed, f"apply finished before the kill point {point.pattern!r}:\n{outcome.output_before_kill}"
    assert not outcome.problems, f"killed {point.name}; output before the kill:\n{outcome.output_before_kill}\n" + (
        "\n".join(outcome.problems)
    )


# one point in CI; bench/bench_crash.py --replacement kills replacements at random moments
REPLACEMENT_POINTS = [
    pytest.param(KillPoint("replacing the foundational model", r"foundational_model\.penguins: .*training", delay=0.2)),
    pytest.param(KillPoint("retraining the predictors", r"predictor\.\w+: .*training")),
    pytest.param(KillPoint("publishing the endpoint's shadow", r"endpoint\.species_api: shadow publish")),
]


# A kill in the middle of a foundational model replacement: the re-run finishes the cascade (predictors and
# endpoint follow the new model) and deletes the old model (its pending_delete record).
@pytest.mark.parametrize("point", REPLACEMENT_POINTS, ids=[p.values[0].name for p in REPLACEMENT_POINTS])
def test_kill_during_a_replacement_cascade(server: Any, tmp_path: Path, point: KillPoint) -> None:
    outcome = crash_and_recover(server, tmp_path, point, replacement=True)
    assert outcome.killed, f"apply finished before the kill point {point.pattern!r}:\n{outcome.output_before_kill}"
    assert not outcome.problems, f"killed {point.name}; output before the kill:\n{outcome.output_before_kill}\n" + (
        "\n".join(outcome.problems)
    )


def test_kill_during_destroy_and_rerun_leaves_nothing(server: Any, tmp_path: Path) -> None:
    import json

    from crash import kill_at
    from robust_helpers import Cli, cli_env, inventory, lockfile_problem, make_project

    root = make_project(tmp_path / "destroy", server.url, name="crash-destroy", predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("apply", "--auto-approve")
    killed, seen = kill_at(cli.popen("destroy", "--auto-approve"), KillPoint("destroy", r"predictor\.\w+: retiring"))
    assert killed, seen
    assert not lockfile_problem(root)
    cli.ok("destroy", "--auto-approve")
    assert json.loads((root / "featrix.lock").read_text())["resources"] == {}
    inv = inventory(server.url, server.api_key, "crash-destroy")
    assert not inv.fms and not inv.endpoints, inv  # retired predictors go with their deleted model
    cli.ok("plan", "--destroy", "--detailed-exitcode")


def test_a_saved_plan_killed_midway_is_stale_afterwards_and_a_fresh_apply_converges(
    server: Any, tmp_path: Path
) -> None:
    from crash import kill_at
    from robust_helpers import Cli, cli_env, convergence_problems, make_project

    root = make_project(tmp_path / "saved", server.url, name="crash-saved", fm_epochs=30)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("plan", "-out", "plan.fxplan", "--detailed-exitcode", codes=(2,))
    killed, seen = kill_at(cli.popen("apply", "plan.fxplan"), KillPoint("saved", r"predictor\.\w+: .*training"))
    assert killed, seen
    replay = cli("apply", "plan.fxplan")  # part of it was applied: replaying it would be wrong
    assert replay.returncode == 1 and "plan is stale: the lockfile moved on" in replay.stderr, replay.stderr
    cli.ok("apply", "--auto-approve")
    problems = convergence_problems(cli, server.url, server.api_key, "crash-saved")
    assert not problems, "\n".join(problems)


def test_a_key_rotation_killed_midway_ends_with_a_recorded_key_that_works(server: Any, tmp_path: Path) -> None:
    import json

    import httpx
    from crash import kill_at
    from robust_helpers import Cli, add_faults, clear_faults, cli_env, make_project

    record = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}
    root = make_project(tmp_path / "rotate", server.url, name="crash-rotate", predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key))
    cli.ok("apply", "--auto-approve")
    manifest = root / "featrix.yaml"
    manifest.write_text(
        manifest.read_text().replace("    description: Pen", "    api_key: {rotation: 1}\n    description: Pen")
    )
    # slow the rotation down so that the kill lands while it is in flight
    add_faults(
        server.url, server.api_key, {"route": "POST /endpoints/[^/]+/regenerate_key$", "latency_ms": 300, "count": 0}
    )
    try:
        killed, seen = kill_at(
            cli.popen("apply", "--auto-approve"), KillPoint("rotate", r"endpoint\.species_api: ", 0.2)
        )
    finally:
        clear_faults(server.url, server.api_key)
    assert killed, seen
    cli.ok("apply", "--auto-approve")
    cli.ok("plan", "--detailed-exitcode")
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    eid = json.loads((root / "featrix.lock").read_text())["resources"]["endpoint.species_api"]["ids"]["endpoint_id"]
    resp = httpx.post(
        f"{server.url}/endpoint/{eid}/predict", json={"query_record": record}, headers={"X-API-Key": key}, timeout=30
    )
    assert resp.status_code == 200, resp.text
