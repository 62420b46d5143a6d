"""Issue 8: the engine against a server that works asynchronously like the real Featrix Sphere.

Publish runs as a job that the engine polls (riding out 404 / 5xx) before it deprecates or protects the
model; an endpoint's move to a retrained predictor waits on the shadow's publish job.
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
)

PUBLISH = r"POST /compute/session/[^/]+/publish$"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One training worker: the second and third predictor queue however fast the machine trains them."""
    from featrix_iac.server.embedded import start_local_server

    srv = start_local_server(tmp_path_factory.mktemp("server"), test_hooks=True, env={"FEATRIX_LOCAL_WORKERS": "1"})
    try:
        yield srv
    finally:
        srv.stop()


PUBLISH_JOB = r"GET /compute/session/[^/]+/publish_job/"
DEPRECATE = r"POST /compute/session/[^/]+/deprecate$"
PROTECT = r"POST /compute/session/[^/]+/deletion_protection$"


def _project(server: Any, tmp_path: Path, name: str, predictor_epochs: int = 3) -> Cli:
    root = make_project(tmp_path / name, server.url, name=name, fm_epochs=3, predictor_epochs=predictor_epochs)
    manifest = root / "featrix.yaml"
    text = manifest.read_text(encoding="utf-8").replace(
        "    published: true\n",
        "    published: true\n    deletion_protection: false\n"
        "    deprecation: {warning_message: retrain due, expiration_date: 2031-01-01}\n",
    )
    manifest.write_text(text, encoding="utf-8")
    return Cli(root, cli_env(server.api_key, FEATRIX_RETRY_SCALE="0.1"))


def _calls(server: Any) -> list[tuple[str, int]]:
    return [(f"{r['method']} {r['path']}", int(r["status"])) for r in requests_log(server.url, server.api_key)]


def _index(calls: list[tuple[str, int]], route: str, status: int | None = None, last: bool = False) -> int:
    found = [i for i, (c, s) in enumerate(calls) if re.fullmatch(route + ".*", c) and status in (None, s)]
    assert found, f"no {route} call in {calls}"
    return found[-1] if last else found[0]


def test_publish_job_is_polled_before_deprecate_and_protection(server: Any, tmp_path: Path, clean: None) -> None:
    cli = _project(server, tmp_path, "async-publish")
    add_faults(
        server.url,
        server.api_key,
        {"route": "GET /compute/session/[^/]+/publish_job/", "status": 503, "count": 2},
        {"route": "GET /compute/session/[^/]+/publish_job/", "status": 404, "count": 2},
    )
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(fault_hits(server.url, server.api_key)), "the polling faults never fired"
    calls = _calls(server)
    completed = _index(calls, PUBLISH_JOB, 200, last=True)
    assert _index(calls, PUBLISH) < completed < _index(calls, DEPRECATE) < _index(calls, PROTECT)
    assert "publish" in (r.stdout + r.stderr).lower()
    clear_faults(server.url, server.api_key)
    problems = convergence_problems(cli, server.url, server.api_key, "async-publish")
    assert not problems, r.stdout + r.stderr + "\n".join(problems)


def test_endpoint_moves_after_the_shadow_publish_lands(server: Any, tmp_path: Path, clean: None) -> None:
    cli = _project(server, tmp_path, "async-shadow")
    cli.ok("apply", "--auto-approve")
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    url = cli.ok("output", "endpoint.species_api.predict_url").stdout.strip()
    manifest = cli.project / "featrix.yaml"
    text = manifest.read_text(encoding="utf-8").replace(
        "    epochs: 3\n    type: multi_classifier\n", "    epochs: 4\n    type: multi_classifier\n"
    )
    manifest.write_text(text, encoding="utf-8")
    clear_requests_log(server.url, server.api_key)
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    calls = _calls(server)
    shadow = _index(calls, r"POST /endpoints/[^/]+/shadow")
    promote = _index(calls, r"POST /endpoints/[^/]+/promote")
    assert calls[promote][1] == 200  # never refused as "still publishing"
    assert any(re.fullmatch(PUBLISH_JOB + ".*", c) for c, _ in calls[shadow:promote])
    assert cli.ok("output", "endpoint.species_api.api_key").stdout.strip() == key
    assert cli.ok("output", "endpoint.species_api.predict_url").stdout.strip() == url


def test_queued_trainings_are_polled_until_they_get_an_id(server: Any, tmp_path: Path, clean: None) -> None:
    """Three predictors on two busy workers: at least one train_predictor answers {queued: true} without an id;
    the engine polls the session (riding out its 404) until the job has one, and converges with no duplicate."""
    cli = _project(server, tmp_path, "async-queued", predictor_epochs=100)  # the queued one waits a while
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "queued: waiting for a worker" in r.stdout + r.stderr
    calls = _calls(server)
    assert any(re.fullmatch(r"GET /compute/session/[^/]+", c) and s == 404 for c, s in calls)  # ridden out
    problems = convergence_problems(cli, server.url, server.api_key, "async-queued")
    assert not problems, r.stdout + r.stderr + "\n".join(problems)


def test_a_lost_answer_of_a_queued_training_is_waited_for_not_trained_twice(
    server: Any, tmp_path: Path, clean: None
) -> None:
    """Every train_predictor commits, then its answer is lost (503): the dispatched ones are found, and the
    one still queued without an id is recognised by its target and name and waited for."""
    cli = _project(server, tmp_path, "async-queued-lost", predictor_epochs=600)  # the worker stays busy a while
    train = r"POST /compute/session/[^/]+/train_predictor$"
    add_faults(server.url, server.api_key, {"route": train, "status": 503, "when": "after", "count": 0})
    r = cli("apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "queued: waiting for a worker" in r.stdout + r.stderr
    assert sum(1 for c, _ in _calls(server) if re.fullmatch(train, c)) == 3  # never re-sent
    clear_faults(server.url, server.api_key)
    problems = convergence_problems(cli, server.url, server.api_key, "async-queued-lost")
    assert not problems, r.stdout + r.stderr + "\n".join(problems)
