"""SIGKILL `featrix apply` at a chosen moment, re-run it, and check the invariants (used by tests and bench/)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from robust_helpers import (
    LOCK_KEY,
    Cli,
    add_faults,
    clear_faults,
    cli_env,
    convergence_problems,
    inventory,
    lockfile_problem,
    make_project,
    tag_of,
)

from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.state import StateStore


@dataclass
class KillPoint:
    """Kill when a line of apply's output matches `pattern` (then after `delay` s), or after `delay` s alone."""

    name: str
    pattern: str | None
    delay: float = 0.0


@dataclass
class CrashOutcome:
    point: KillPoint
    killed: bool  # False: apply finished before the kill point was reached
    output_before_kill: str
    problems: list[str] = field(default_factory=list)


def _sigkill(proc: Any) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)


def kill_at(proc: Any, point: KillPoint) -> tuple[bool, str]:
    """Read apply's output until the kill point, SIGKILL it; (killed, output seen)."""
    seen: list[str] = []
    pattern = re.compile(point.pattern) if point.pattern else None
    timer = threading.Timer(point.delay, _sigkill, (proc,)) if pattern is None else None
    if timer is not None:
        timer.start()
    for line in proc.stdout:
        seen.append(line)
        if pattern is not None and pattern.search(line):
            if point.delay:
                time.sleep(point.delay)
            _sigkill(proc)
            break
    proc.stdout.read()  # drain until the pipe closes
    code = proc.wait()
    if timer is not None:
        timer.cancel()
    return code == -signal.SIGKILL, "".join(seen)


def crash_and_recover(
    server: Any, workdir: Path, point: KillPoint, *, fm_epochs: int = 30, replacement: bool = False
) -> CrashOutcome:
    """One scenario: fresh project, apply killed at `point`, lockfile check, re-run apply, re-plan, inventory.

    With `replacement`, the project is applied first and its foundational model's epochs changed, so the
    killed apply is a replacement cascade (new model, predictors retrained, endpoint moved by shadow/promote).
    """
    name = "crash-" + re.sub(r"[^a-z0-9]+", "-", point.name.lower()).strip("-")
    root = make_project(workdir / name, server.url, name=name, fm_epochs=fm_epochs)
    cli = Cli(root, cli_env(server.api_key))
    if replacement:
        cli.ok("apply", "--auto-approve")
        manifest = root / "featrix.yaml"
        manifest.write_text(manifest.read_text().replace(f"fm_epochs: {fm_epochs}", f"fm_epochs: {fm_epochs + 1}"))
    killed, seen = kill_at(cli.popen("apply", "--auto-approve"), point)
    outcome = CrashOutcome(point, killed, seen)
    if problem := lockfile_problem(root):
        outcome.problems.append(f"lockfile invalid right after the kill: {problem}")
    rerun = cli("apply", "--auto-approve")
    if rerun.returncode != 0:
        outcome.problems.append(f"re-run of apply failed ({rerun.returncode}):\n{rerun.stdout}\n{rerun.stderr}")
    outcome.problems.extend(convergence_problems(cli, server.url, server.api_key, name))
    return outcome


# -- scenarios for bench/bench_crash.py: create / replace / rotate / destroy, each killed at a random moment --

SCENARIOS = ("create", "replace", "rotate", "destroy")
PREDICT_RECORD = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "island": "Torgersen"}


@dataclass
class ScenarioOutcome:
    """One killed run and its recovery, in the figures the bench reports."""

    scenario: str
    killed: bool
    converged: bool
    leaks: list[str] = field(default_factory=list)  # objects of the project on the server the lockfile lacks
    duplicates: list[str] = field(default_factory=list)
    unreadable_keys: list[str] = field(default_factory=list)  # secrets that do not decrypt, or keys refused
    problems: list[str] = field(default_factory=list)
    output_before_kill: str = ""


def kill_point(scenario: str, rng: Any, max_delay: float) -> KillPoint:
    """A random moment of the scenario's command, counted from its first step (a line `ADDRESS: verb...`), so
    that slow start-up on a busy machine does not move the kill before the command does anything: up to
    `max_delay` s for create and replace (upload, training waits, lockfile writes), less for the quick
    rotation (slowed to 300 ms) and destroy (each delete slowed to 150 ms)."""
    first_step = r"^\w+\.\w+: \w+\.\.\."
    if scenario == "rotate":
        return KillPoint("rotate", r"^endpoint\.species_api: \w+\.\.\.", round(rng.uniform(0.0, 0.5), 3))
    if scenario == "destroy":
        return KillPoint("destroy", first_step, round(rng.uniform(0.0, 0.6), 3))
    return KillPoint(scenario, first_step, round(rng.uniform(0.0, max_delay), 3))


def run_scenario(
    server: Any, workdir: Path, scenario: str, point: KillPoint, *, fm_epochs: int = 30
) -> ScenarioOutcome:
    """Prepare the scenario, run its command (apply, or destroy) killed at `point`, run it again, and measure."""
    name = f"bench-{scenario}-{re.sub(r'[^a-z0-9]+', '-', point.name.lower()).strip('-')}"
    root = make_project(workdir / name, server.url, name=name, fm_epochs=fm_epochs)
    cli = Cli(root, cli_env(server.api_key))
    manifest = root / "featrix.yaml"
    if scenario != "create":
        cli.ok("apply", "--auto-approve")
    if scenario == "replace":
        manifest.write_text(manifest.read_text().replace(f"fm_epochs: {fm_epochs}", f"fm_epochs: {fm_epochs + 1}"))
    if scenario == "rotate":  # slowed down so that a kill can land while the rotation is in flight
        manifest.write_text(
            manifest.read_text().replace("    description: Pen", "    api_key: {rotation: 1}\n    description: Pen")
        )
        add_faults(
            server.url,
            server.api_key,
            {"route": "POST /endpoints/[^/]+/regenerate_key$", "latency_ms": 300, "count": 0},
        )
    if scenario == "destroy":  # each delete slowed down a little, so that kills land between them
        add_faults(
            server.url,
            server.api_key,
            {"route": "POST (deletion_protection|mark_for_deletion)$", "latency_ms": 150, "count": 0},
            {"route": "DELETE /endpoints/", "latency_ms": 150, "count": 0},
        )
    command = "destroy" if scenario == "destroy" else "apply"
    try:
        killed, seen = kill_at(cli.popen(command, "--auto-approve"), point)
    finally:
        clear_faults(server.url, server.api_key)
    out = ScenarioOutcome(scenario, killed, converged=False, output_before_kill=seen)
    if problem := lockfile_problem(root):
        out.problems.append(f"lockfile invalid right after the kill: {problem}")
    rerun = cli(command, "--auto-approve")
    if rerun.returncode != 0:
        out.problems.append(f"re-run of {command} failed ({rerun.returncode}):\n{rerun.stdout}\n{rerun.stderr}")
    if scenario == "destroy":
        left = _recorded(root)
        if left:
            out.problems.append(f"lockfile not empty after destroy: {sorted(left)}")
    else:
        out.problems.extend(convergence_problems(cli, server.url, server.api_key, name))
    out.converged = not out.problems
    live = server_objects(server.url, server.api_key, name)
    recorded = set() if scenario == "destroy" else _recorded(root)
    out.leaks = sorted(f"{kind} {oid}" for kind, oid in live - recorded)
    out.duplicates = inventory(server.url, server.api_key, name).duplicates()
    out.unreadable_keys = unreadable_keys(root, server.url)
    return out


def server_objects(url: str, api_key: str, project: str) -> set[tuple[str, str]]:
    """(kind, id) of every live object of `project`: its tagged sessions, their predictors, the endpoints serving them."""
    out: set[tuple[str, str]] = set()
    with httpx.Client(base_url=url, headers={"X-Api-Key": api_key}, timeout=30) as http:
        for item in http.get("/compute/sessions-for-org").json()["sessions"]:
            sid = item["session_id"] if isinstance(item, dict) else item
            doc = http.get(f"/compute/session/{sid}").json()
            if tag_of(doc["session"].get("user_metadata")).get("project") != project:
                continue
            out.add(("session", str(sid)))
            plan = doc.get("job_plan") or doc["session"].get("job_plan") or []
            out |= {("predictor", str(j["predictor_id"])) for j in plan if j.get("predictor_id")}
        ours = {oid for kind, oid in out if kind == "predictor"}
        for ep in http.get("/endpoints").json()["endpoints"]:  # endpoints carry no tag: by their predictor
            if str(ep.get("serving_predictor_id")) in ours:
                out.add(("endpoint", str(ep["id"])))
    return out


def _recorded(root: Path) -> set[tuple[str, str]]:
    """(kind, id) of every object the lockfile records: entries and their retired records."""
    path = root / "featrix.lock"
    if not path.exists():
        return set()
    out: set[tuple[str, str]] = set()
    names = {"session_id": "session", "predictor_id": "predictor", "endpoint_id": "endpoint"}
    for entry in json.loads(path.read_text())["resources"].values():
        for ids in (entry["ids"], *entry.get("retired", [])):
            out |= {(names[k], str(v)) for k, v in ids.items() if k in names and v}
    return out


def unreadable_keys(root: Path, url: str) -> list[str]:
    """Lockfile secrets that the project's lock key does not open, and endpoint keys the server refuses."""
    if not (root / "featrix.lock").exists():
        return []
    store = StateStore(root, "default", lock_key=base64.b64decode(LOCK_KEY))
    lock = store.load()
    bad: list[str] = []
    secrets = [
        (address, name, blob) for address, e in sorted(lock.resources.items()) for name, blob in e.secrets.items()
    ]
    for address, name, blob in secrets:
        try:
            key = store.decrypt(address, blob)
        except DiagnosticsError as exc:
            bad.append(f"{address}.{name}: {exc}")
            continue
        eid = lock.resources[address].ids.get("endpoint_id")
        if name == "api_key" and eid:
            r = httpx.post(
                f"{url}/endpoint/{eid}/predict",
                json={"query_record": PREDICT_RECORD},
                headers={"X-API-Key": key},
                timeout=30,
            )
            if r.status_code != 200:
                bad.append(f"{address}.{name}: the endpoint refuses it (HTTP {r.status_code})")
    return bad
