"""Fault tolerance (issue 5 §7, practices R3, R8, R15): applies of the quickstart against a misbehaving server.

The CI case, small and fast: the faults are grouped so that one apply meets many of them (each rule must
fire, or the test proves nothing). With the local server's fault injection on, an apply that meets 5xx
answers (also after the server committed the change), 429 with Retry-After, 409 stalled-node-busy, read
timeouts, dropped connections and eventual consistency converges with no duplicates; "once" calls are
never re-sent (no double key rotation, counted in the server's request log); a non-retryable error stops
only its branch, is reported with the server's detail, and the next apply completes.
Every scenario in isolation: test_faults_matrix.py (bench/bench_faults.py runs it).
"""

from __future__ import annotations

import json
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
    requests_log,
    set_consistency,
)

UPLOAD = "POST /compute/upload_with_new_session"
TRAIN = r"POST /compute/session/[^/]+/train_predictor$"
STATUS = "GET /compute/session/[^/]+$"
CREATE_ENDPOINT = "POST /endpoints$"
ROTATE = "POST /endpoints/[^/]+/regenerate_key$"
QUEUE_FULL = {"detail": "queue full", "quota_exceeded": True, "pending_count": 5, "queue_limit": 5}
BUSY = {"detail": "stalled-node-busy"}
RETRY_SCALE = "0.1"  # FEATRIX_RETRY_SCALE: retry sleeps x0.1 (decisions and announced waits unchanged)


def project(server: Any, tmp_path: Path, title: str) -> tuple[Cli, str]:
    """A quickstart copy (few epochs, a 2 s read timeout) and a CLI whose retry sleeps are shortened."""
    name = "fault-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
    root = make_project(tmp_path / name, server.url, name=name, timeout=2, fm_epochs=3, predictor_epochs=3)
    return Cli(root, cli_env(server.api_key, FEATRIX_RETRY_SCALE=RETRY_SCALE)), name


def sent(server: Any, route: str) -> int:
    """How many requests the server saw on `route` ("METHOD regex"), faulted or not."""
    method, _, pattern = route.partition(" ")
    return sum(
        1 for r in requests_log(server.url, server.api_key) if r["method"] == method and re.search(pattern, r["path"])
    )


def assert_all_fired(server: Any, output: str) -> None:
    hits = fault_hits(server.url, server.api_key)
    assert hits and all(hits), f"a fault never fired (hits per rule: {hits})\n{output}"


def test_transient_faults_converge_in_one_apply(server: Any, tmp_path: Path, clean: None) -> None:
    """5xx before and after commit, dropped connections, 502/409-busy/timeouts on reads, a full queue."""
    cli, name = project(server, tmp_path, "transient")
    add_faults(
        server.url,
        server.api_key,
        {"route": UPLOAD, "status": 503},  # refused before anything was made
        {"route": UPLOAD, "status": 503, "when": "after"},  # committed, then the answer is a 503
        {"route": UPLOAD, "drop_connection": True, "when": "after"},  # committed, then the connection drops
        {"route": STATUS, "status": 502, "count": 2},
        {"route": STATUS, "status": 409, "body": BUSY},
        {"route": STATUS, "drop_connection": True},
        {"route": STATUS, "hang_seconds": 4},  # longer than the manifest's 2 s timeout: a read timeout
        {"route": TRAIN, "status": 429, "retry_after": 7, "body": QUEUE_FULL},
    )
    first = cli("apply", "--auto-approve")
    assert first.returncode == 0, f"{first.stdout}\n{first.stderr}"
    assert_all_fired(server, first.stdout + first.stderr)
    # a full training queue (429 quota_exceeded) is backpressure: the training waits for a slot, never fails
    assert "training quota is full: waiting for a slot" in first.stdout + first.stderr
    assert sent(server, UPLOAD) == 4  # re-sent with its idempotency key: one session on the server
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, f"{first.stdout}\n{first.stderr}\n" + "\n".join(problems)


def test_lost_answers_of_once_calls_are_resolved_by_identity(server: Any, tmp_path: Path, clean: None) -> None:
    """train_predictor and POST /endpoints committed but answered 503 or dropped, while lists lag 3 s:
    never re-sent; each object is found by its identity (waiting out the stale list), no duplicate."""
    cli, name = project(server, tmp_path, "lost answers")
    set_consistency(server.url, server.api_key, stale_list_seconds=3)
    add_faults(
        server.url,
        server.api_key,
        {"route": TRAIN, "status": 503, "when": "after"},
        {"route": TRAIN, "drop_connection": True, "when": "after"},
        {"route": CREATE_ENDPOINT, "drop_connection": True, "when": "after"},
    )
    first = cli("apply", "--auto-approve")
    assert first.returncode == 0, f"{first.stdout}\n{first.stderr}"
    assert_all_fired(server, first.stdout + first.stderr)
    assert sent(server, TRAIN) == 3 and sent(server, CREATE_ENDPOINT) == 1  # "once" calls: never re-sent
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()  # the lost key was regenerated once
    assert key and sent(server, ROTATE) == 1
    clear_faults(server.url, server.api_key)
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, f"{first.stdout}\n{first.stderr}\n" + "\n".join(problems)


def test_eventual_consistency(server: Any, tmp_path: Path, clean: None) -> None:
    """A 404 on the first read after each create, and lists that miss new objects for 3 s: no re-creation."""
    cli, name = project(server, tmp_path, "eventual consistency")
    set_consistency(server.url, server.api_key, first_get_404=True, stale_list_seconds=3)
    first = cli("apply", "--auto-approve")
    assert first.returncode == 0, f"{first.stdout}\n{first.stderr}"
    replan = cli("plan", "--detailed-exitcode")  # still inconsistent: nothing is read as deleted
    assert replan.returncode == 0, replan.stdout + replan.stderr
    clear_faults(server.url, server.api_key)  # the lists are whole again: count what exists
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)


def test_reads_ride_out_transient_errors_and_stop_on_lasting_ones(server: Any, tmp_path: Path, clean: None) -> None:
    """R17: plan and import ride out transient read errors; a lasting 5xx or a 403 stops them with a clear
    error, nothing read as deleted and nothing recorded."""
    cli, _ = project(server, tmp_path, "read errors")
    cli.ok("apply", "--auto-approve")
    add_faults(server.url, server.api_key, {"route": "GET /compute/sessions-for-org", "status": 500, "count": 2})
    assert cli("plan", "--detailed-exitcode").returncode == 0
    for fault in (
        {"route": "GET /endpoints$", "status": 503, "count": 0},
        {"route": STATUS, "status": 403, "count": 0},
    ):
        clear_faults(server.url, server.api_key)
        add_faults(server.url, server.api_key, fault)
        plan = cli("plan", "--detailed-exitcode")
        assert_all_fired(server, plan.stdout + plan.stderr)
        assert plan.returncode == 1 and "Nothing was changed" in plan.stderr, plan.stdout + plan.stderr
        assert "will be created" not in plan.stdout and "Traceback" not in plan.stderr
    clear_faults(server.url, server.api_key)
    ids = json.loads((cli.project / "featrix.lock").read_text())["resources"]["predictor.sex"]["ids"]
    cli.ok("state", "rm", "predictor.sex")
    add_faults(server.url, server.api_key, {"route": STATUS, "status": 503, "count": 0})
    lasting = cli("import", "predictor.sex", ids["predictor_id"])
    assert lasting.returncode == 1 and "cannot read predictor" in lasting.stderr and "Traceback" not in lasting.stderr
    assert "predictor.sex" not in json.loads((cli.project / "featrix.lock").read_text())["resources"]
    clear_faults(server.url, server.api_key)
    transient = [{"route": STATUS, "status": 502}, {"route": STATUS, "drop_connection": True}]
    add_faults(server.url, server.api_key, *transient, {"route": STATUS, "status": 409, "body": BUSY})
    cli.ok("import", "predictor.sex", f"{ids['session_id']}/{ids['predictor_id']}")
    assert_all_fired(server, "")
    clear_faults(server.url, server.api_key)
    assert cli("plan", "--detailed-exitcode").returncode == 0


# (409 stalled-node-busy on training, also not re-sent for a "once" call: in test_faults_matrix.py)
REFUSALS = [
    ("400", {"status": 400, "body": {"detail": "target column has a single class (injected)"}}),
    ("permanent 409", {"status": 409, "body": {"detail": "session is locked by another training (injected)"}}),
]


@pytest.mark.parametrize(("title", "fault"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_training_stops_only_its_branch(
    server: Any, tmp_path: Path, clean: None, title: str, fault: dict[str, Any]
) -> None:
    cli, name = project(server, tmp_path, f"refused {title}")
    add_faults(server.url, server.api_key, {"route": TRAIN, **fault})
    first = cli("apply", "--auto-approve")
    assert fault_hits(server.url, server.api_key) == [1]
    assert first.returncode == 1
    shown = first.stdout + first.stderr
    assert fault["body"]["detail"] in shown and "Traceback" not in shown  # the server's detail, as is
    created = re.findall(r"^(predictor\.\w+): created", first.stdout, re.M)
    assert len(created) == 2, first.stdout  # the other predictors were trained: only that branch stopped
    assert sent(server, TRAIN) == 3  # the refused one was not re-sent
    clear_faults(server.url, server.api_key)
    again = cli("apply", "--auto-approve")
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)


def test_key_rotation_is_never_sent_twice(server: Any, tmp_path: Path, clean: None) -> None:
    """A rotation whose answer is lost (503 after commit, then a dropped connection) is sent once per apply."""
    cli, name = project(server, tmp_path, "rotation")
    cli.ok("apply", "--auto-approve")
    manifest = cli.project / "featrix.yaml"
    original = manifest.read_text()
    for rotation, fault in ((1, {"status": 503}), (2, {"drop_connection": True})):
        manifest.write_text(
            original.replace(
                "    description: Penguin", f"    api_key: {{rotation: {rotation}}}\n    description: Penguin"
            )
        )
        clear_requests_log(server.url, server.api_key)
        add_faults(server.url, server.api_key, {"route": ROTATE, "when": "after", **fault})
        first = cli("apply", "--auto-approve")
        assert sent(server, ROTATE) == 1  # the answer was lost, and the rotation was not sent again
        assert first.returncode == 1 and "Traceback" not in first.stderr
        clear_faults(server.url, server.api_key)
        again = cli("apply", "--auto-approve")  # the lost key cannot be read back: one new rotation
        assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
        assert sent(server, ROTATE) == 2
    problems = convergence_problems(cli, server.url, server.api_key, name)
    assert not problems, "\n".join(problems)
