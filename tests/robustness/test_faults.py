"""Fault tolerance (issue 5 §7, practices R3, R8, R15): applies of the quickstart against a misbehaving server.

With the local server's fault injection on, an apply that meets 5xx answers (also after the server
committed the change), 429 with Retry-After, 409 stalled-node-busy, read timeouts, dropped connections
and eventual consistency converges (at once, or on the next run for ambiguous "once" calls) with no
duplicates; key rotation is never sent twice; a non-retryable error stops only its branch and is
reported with the server's detail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    requests_log,
    set_consistency,
)

TRAIN = r"POST /compute/session/[^/]+/train_predictor$"
STATUS = "GET /compute/session/[^/]+$"
ALWAYS, NEXT_RUN = "converges at once", "converges on the next run"
QUEUE_FULL = {"detail": "queue full", "quota_exceeded": True, "pending_count": 5, "queue_limit": 5}
BUSY = {"detail": "stalled-node-busy"}

SCENARIOS: list[tuple[str, list[dict[str, Any]], str]] = [
    ("503 on the upload", [{"route": "POST /compute/upload_with_new_session", "status": 503}], ALWAYS),
    (
        "503 after the upload committed",
        [{"route": "POST /compute/upload_with_new_session", "status": 503, "when": "after"}],
        ALWAYS,
    ),
    ("502 on status reads", [{"route": STATUS, "status": 502, "count": 2}], ALWAYS),
    ("409 stalled-node-busy on a status read", [{"route": STATUS, "status": 409, "body": BUSY}], ALWAYS),
    ("read timeout on a status read", [{"route": STATUS, "hang_seconds": 4}], ALWAYS),
    (
        "429 queue full with Retry-After on training",
        [{"route": TRAIN, "status": 429, "retry_after": 1, "body": QUEUE_FULL, "count": 2}],
        ALWAYS,
    ),
    # train_predictor is a "once" call: as in the official client it is not re-sent after a 409 or a 5xx,
    # so that branch fails with the server's detail (or "cannot determine") and the next run finishes it
    ("409 stalled-node-busy on training", [{"route": TRAIN, "status": 409, "body": BUSY}], NEXT_RUN),
    ("503 after a predictor was committed", [{"route": TRAIN, "status": 503, "when": "after"}], NEXT_RUN),
    (
        "connection dropped after a predictor was committed",
        [{"route": TRAIN, "drop_connection": True, "when": "after"}],
        NEXT_RUN,
    ),
    ("503 after the endpoint was created", [{"route": "POST /endpoints$", "status": 503, "when": "after"}], NEXT_RUN),
    (
        "connection dropped after the endpoint was created",
        [{"route": "POST /endpoints$", "drop_connection": True, "when": "after"}],
        NEXT_RUN,
    ),
]


@pytest.fixture()
def clean(server: Any) -> Iterator[None]:
    clear_faults(server.url, server.api_key)
    yield
    clear_faults(server.url, server.api_key)


def _project(server: Any, tmp_path: Path, title: str) -> tuple[Cli, str]:
    name = "fault-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
    root = make_project(tmp_path / name, server.url, name=name, timeout=2)
    return Cli(root, cli_env(server.api_key)), name


@pytest.mark.parametrize(("title", "faults", "expect"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_apply_converges_without_duplicates(
    server: Any, tmp_path: Path, clean: None, title: str, faults: list[dict[str, Any]], expect: str
) -> None:
    cli, name = _project(server, tmp_path, title)
    add_faults(server.url, server.api_key, *faults)
    first = cli("apply", "--auto-approve")
    hits = fault_hits(server.url, server.api_key)
    assert hits and all(hits), f"{title}: the fault never fired\n{first.stdout}"
    if expect == ALWAYS:
        assert first.returncode == 0, f"{title}: apply failed\n{first.stdout}\n{first.stderr}"
    else:
        assert first.returncode in (0, 1)
        assert "Traceback" not in first.stderr and "internal error" not in first.stderr, first.stderr
        clear_faults(server.url, server.api_key)
        again = cli("apply", "--auto-approve")
        assert again.returncode == 0, f"{title}: re-run failed\n{again.stdout}\n{again.stderr}"
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, f"{title}:\n{first.stdout}\n{first.stderr}\n" + "\n".join(problems)


def test_eventual_consistency(server: Any, tmp_path: Path, clean: None) -> None:
    """A 404 on the first read after each create, and lists that miss new objects for 3 s: no re-creation."""
    cli, name = _project(server, tmp_path, "eventual consistency")
    set_consistency(server.url, server.api_key, first_get_404=True, stale_list_seconds=3)
    first = cli("apply", "--auto-approve")
    assert first.returncode == 0, f"{first.stdout}\n{first.stderr}"
    replan = cli("plan", "--detailed-exitcode")  # still inconsistent: nothing is read as deleted
    assert replan.returncode == 0, replan.stdout + replan.stderr
    clear_faults(server.url, server.api_key)  # the lists are whole again: count what exists
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)


def test_a_non_retryable_error_stops_only_its_branch(server: Any, tmp_path: Path, clean: None) -> None:
    cli, name = _project(server, tmp_path, "non-retryable")
    detail = "target column has a single class (injected)"
    add_faults(server.url, server.api_key, {"route": TRAIN, "status": 400, "body": {"detail": detail}})
    first = cli("apply", "--auto-approve")
    assert fault_hits(server.url, server.api_key) == [1]
    assert first.returncode == 1
    shown = first.stdout + first.stderr
    assert detail in shown and "Traceback" not in shown
    # the other predictors were created: only the failed branch (and what needs it) stopped
    created = re.findall(r"^(predictor\.\w+): created", first.stdout, re.M)
    assert len(created) == 2, first.stdout
    clear_faults(server.url, server.api_key)
    again = cli("apply", "--auto-approve")
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)


def test_key_rotation_is_never_sent_twice(server: Any, tmp_path: Path, clean: None) -> None:
    cli, name = _project(server, tmp_path, "rotation")
    cli.ok("apply", "--auto-approve")
    manifest = cli.project / "featrix.yaml"
    manifest.write_text(
        manifest.read_text().replace("    description: Penguin", "    api_key: {rotation: 1}\n    description: Penguin")
    )
    clear_requests_log(server.url, server.api_key)
    add_faults(
        server.url, server.api_key, {"route": "POST /endpoints/[^/]+/regenerate_key$", "status": 503, "when": "after"}
    )
    first = cli("apply", "--auto-approve")
    sent = [r for r in requests_log(server.url, server.api_key) if r["path"].endswith("/regenerate_key")]
    assert len(sent) == 1, sent  # the answer was lost, and the rotation was not sent again
    assert first.returncode == 1 and "Traceback" not in first.stderr
    clear_faults(server.url, server.api_key)
    again = cli("apply", "--auto-approve")
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)
