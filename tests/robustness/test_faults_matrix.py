"""Every fault scenario in isolation (issue 5 §7): one apply of the quickstart per fault rule, then the checks.

Slower than the grouped CI case (test_faults.py), so it is marked slow: it runs with `pytest -m slow`, or from
bench/bench_faults.py. Each scenario says whether the first apply must converge at once, or may fail its
branch (a "once" call refused with an unknown outcome) and converge on the next run; either way: no
traceback, the fault fired, a valid lockfile, an empty re-plan and no duplicate on the server.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from robust_helpers import (
    Cli,
    add_faults,
    clear_faults,
    clear_requests_log,
    cli_env,
    convergence_problems,
    fault_hits,
    make_project,
    set_consistency,
)

UPLOAD = "POST /compute/upload_with_new_session"
TRAIN = r"POST /compute/session/[^/]+/train_predictor$"
STATUS = "GET /compute/session/[^/]+$"
ENDPOINTS = "POST /endpoints$"
AT_ONCE, NEXT_RUN = "at once", "next run"
QUEUE_FULL = {"detail": "queue full", "quota_exceeded": True, "pending_count": 5, "queue_limit": 5}
BUSY = {"detail": "stalled-node-busy"}
Scenario = tuple[str, list[dict[str, Any]], dict[str, Any], str]  # title, faults, consistency, expectation

SCENARIOS: list[Scenario] = [
    ("503 on the upload", [{"route": UPLOAD, "status": 503}], {}, AT_ONCE),
    ("503 after the upload committed", [{"route": UPLOAD, "status": 503, "when": "after"}], {}, AT_ONCE),
    ("dropped after the upload committed", [{"route": UPLOAD, "drop_connection": True, "when": "after"}], {}, AT_ONCE),
    (
        "429 queue full on the upload",
        [{"route": UPLOAD, "status": 429, "retry_after": 2, "body": QUEUE_FULL}],
        {},
        AT_ONCE,
    ),
    ("502 on status reads", [{"route": STATUS, "status": 502, "count": 3}], {}, AT_ONCE),
    ("409 stalled-node-busy on a status read", [{"route": STATUS, "status": 409, "body": BUSY}], {}, AT_ONCE),
    ("read timeout on a status read", [{"route": STATUS, "hang_seconds": 4}], {}, AT_ONCE),
    ("dropped status reads", [{"route": STATUS, "drop_connection": True, "count": 2}], {}, AT_ONCE),
    (
        "429 queue full on training",
        [{"route": TRAIN, "status": 429, "retry_after": 2, "body": QUEUE_FULL}],
        {},
        AT_ONCE,
    ),
    ("503 after a predictor was committed", [{"route": TRAIN, "status": 503, "when": "after"}], {}, AT_ONCE),
    (
        "dropped after a predictor was committed",
        [{"route": TRAIN, "drop_connection": True, "when": "after"}],
        {},
        AT_ONCE,
    ),
    (
        "read timeout after a predictor was committed",
        [{"route": TRAIN, "hang_seconds": 4, "when": "after"}],
        {},
        AT_ONCE,
    ),
    ("409 stalled-node-busy on training", [{"route": TRAIN, "status": 409, "body": BUSY}], {}, AT_ONCE),
    ("503 on training (before commit)", [{"route": TRAIN, "status": 503}], {}, NEXT_RUN),
    ("503 on the endpoint create (before commit)", [{"route": ENDPOINTS, "status": 503}], {}, NEXT_RUN),
    ("503 after the endpoint was created", [{"route": ENDPOINTS, "status": 503, "when": "after"}], {}, AT_ONCE),
    (
        "dropped after the endpoint was created, stale lists",
        [{"route": ENDPOINTS, "drop_connection": True, "when": "after"}],
        {"stale_list_seconds": 3},
        AT_ONCE,
    ),
    (
        "dropped after the endpoint was created, lists stale 6 s",  # longer than the re-search: the next run
        [{"route": ENDPOINTS, "drop_connection": True, "when": "after"}],
        {"stale_list_seconds": 6},
        NEXT_RUN,
    ),
    ("404 on the first read after each create", [], {"first_get_404": True}, AT_ONCE),
    ("lists stale for 5 s", [], {"stale_list_seconds": 5}, AT_ONCE),
]


def run_scenario(
    server: Any, root: Path, scenario: Scenario, *, retry_scale: str = "0.1", require_fired: bool = True
) -> list[str]:
    """Apply the quickstart at `root` through the faults (and re-run when allowed); the problems found.

    `require_fired=False` for random schedules, where one fault may stop the branch another one aims at."""
    title, faults, consistency, expect = scenario
    name = "matrix-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
    make_project(root, server.url, name=name, timeout=2, fm_epochs=3, predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key, FEATRIX_RETRY_SCALE=retry_scale))
    clear_faults(server.url, server.api_key)
    clear_requests_log(server.url, server.api_key)
    if consistency:
        set_consistency(server.url, server.api_key, **consistency)
    if faults:
        add_faults(server.url, server.api_key, *faults)
    first = cli("apply", "--auto-approve")
    shown = f"{first.stdout}\n{first.stderr}"
    fired = all(fault_hits(server.url, server.api_key)) or not require_fired
    problems = [] if fired else [f"a fault never fired\n{shown}"]
    if "Traceback" in shown or "internal error" in shown:
        problems.append(f"a traceback or internal error\n{shown}")
    clear_faults(server.url, server.api_key)
    if first.returncode != 0:
        if expect == AT_ONCE:
            return [*problems, f"the first apply failed\n{shown}"]
        if consistency:  # the re-run meets the same lag (counted from each object's creation)
            set_consistency(server.url, server.api_key, **consistency)
        again = cli("apply", "--auto-approve")
        clear_faults(server.url, server.api_key)
        if again.returncode != 0:
            return [*problems, f"the re-run failed\n{again.stdout}\n{again.stderr}"]
    return problems + convergence_problems(cli, server.url, server.api_key, name)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_fault_scenario(server: Any, tmp_path: Path, scenario: Scenario) -> None:
    problems = run_scenario(server, tmp_path / "project", scenario)
    assert not problems, "\n".join(problems)


MOVES = [
    {"route": "POST /endpoints/[^/]+/shadow$", "status": 503, "when": "after"},
    {"route": "POST /endpoints/[^/]+/promote$", "status": 503, "when": "after"},
    {"route": "POST /endpoints/[^/]+/promote$", "drop_connection": True, "when": "after"},
]


@pytest.mark.slow
@pytest.mark.parametrize("fault", MOVES, ids=["503 after shadow", "503 after promote", "dropped after promote"])
def test_endpoint_move_under_faults(server: Any, tmp_path: Path, fault: dict[str, Any]) -> None:
    """An endpoint moved to another predictor (shadow → promote, "once" calls) whose answer is lost: the
    branch fails, and the next apply finishes the move on the same endpoint (same id, same key)."""
    name = "matrix-move-" + re.sub(r"[^a-z0-9]+", "-", fault["route"] + str(fault.get("status", "drop")))[-20:]
    root = make_project(tmp_path / "project", server.url, name=name, timeout=2, fm_epochs=3, predictor_epochs=3)
    cli = Cli(root, cli_env(server.api_key, FEATRIX_RETRY_SCALE="0.1"))
    clear_faults(server.url, server.api_key)
    cli.ok("apply", "--auto-approve")
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("    predictor: species\n", "    predictor: sex\n"))
    add_faults(server.url, server.api_key, fault)
    first = cli("apply", "--auto-approve")
    assert fault_hits(server.url, server.api_key) == [1] and first.returncode == 1
    assert "Traceback" not in first.stderr
    clear_faults(server.url, server.api_key)
    cli.ok("apply", "--auto-approve")
    assert cli.ok("output", "endpoint.species_api.api_key").stdout.strip() == key
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)
