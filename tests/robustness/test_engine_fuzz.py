"""Engine invariants under random histories (issue 5 §8, practices R14), with hypothesis.

A history is a few steps of (manifest edit, fault schedule, operation) on one project, against the
local server with fault injection. After every step: no traceback, an exit code of 0/1/2 and a
valid lockfile. After the history: with the faults off, apply converges, the next plan is empty, and
nothing on the server is untracked (every object tagged with the project is in the lockfile, retired
predictors included). CI runs a couple of histories; more with FEATRIX_FUZZ_EXAMPLES=50.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from robust_helpers import (
    Cli,
    add_faults,
    clear_faults,
    cli_env,
    lockfile_problem,
    make_project,
    set_consistency,
)

TRAIN = r"POST /compute/session/[^/]+/train_predictor$"


def _sub(old: str, new: str) -> Callable[[str], str]:
    """Replace once; a no-op when already done (the edit may be drawn twice)."""
    return lambda text: text.replace(old, new, 1) if old in text and new not in text else text


EDITS: dict[str, Callable[[str], str]] = {
    "none": lambda text: text,
    "retrain the foundational model": lambda text: re.sub(
        r"fm_epochs: (\d+)", lambda m: f"fm_epochs: {int(m[1]) + 1}", text
    ),
    "replace predictor sex": _sub("    rare_label_value: female\n", "    rare_label_value: male\n"),
    "remove predictor body_mass": _sub(
        "  body_mass:\n    foundational_model: penguins\n    type: regressor\n    target_column: body_mass_g\n", ""
    ),
    "add predictor island": _sub(
        "\nendpoints:",
        "  island:\n    foundational_model: penguins\n    type: multi_classifier\n    target_column: island\n\nendpoints:",
    ),
    "rotate the endpoint key": lambda text: (
        re.sub(r"api_key: \{rotation: (\d+)\}", lambda m: f"api_key: {{rotation: {int(m[1]) + 1}}}", text)
        if "api_key:" in text
        else text.replace("    description: Penguin", "    api_key: {rotation: 1}\n    description: Penguin")
    ),
    "unpublish": _sub("    published: true\n", "    published: false\n"),
    "rename the endpoint's description": lambda text: text.replace("from measurements", "from measurements (v2)"),
}

FAULTS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "503 after training committed": [{"route": TRAIN, "status": 503, "when": "after"}],
    "dropped after endpoint create": [{"route": "POST /endpoints$", "drop_connection": True, "when": "after"}],
    "502 on status reads": [{"route": "GET /compute/session/[^/]+$", "status": 502, "count": 2}],
    "503 on upload": [{"route": "POST /compute/upload_with_new_session", "status": 503}],
    "eventual consistency": [],  # switches, below
}

OPERATIONS: dict[str, tuple[str, ...]] = {
    "apply": ("apply", "--auto-approve"),
    "plan": ("plan", "--detailed-exitcode"),
    "refresh-only": ("plan", "--refresh-only", "--detailed-exitcode"),
    "destroy": ("destroy", "--auto-approve"),
}

steps = st.tuples(st.sampled_from(sorted(EDITS)), st.sampled_from(sorted(FAULTS)), st.sampled_from(sorted(OPERATIONS)))


def _untracked(url: str, api_key: str, project: str, root: Path) -> list[str]:
    """Objects tagged with `project` on the server that the lockfile does not know (retired ones count as known)."""
    lock = json.loads((root / "featrix.lock").read_text())
    sessions, predictors, endpoints = set(), set(), set()
    for entry in lock["resources"].values():
        ids = entry.get("ids", {})
        if entry["kind"] == "foundational_model":
            sessions.add(ids.get("session_id"))
        elif entry["kind"] == "predictor":
            predictors.add(ids.get("predictor_id"))
        elif entry["kind"] == "endpoint":
            endpoints.add(ids.get("endpoint_id"))
        predictors.update(r.get("predictor_id") for r in entry.get("retired", []))
    out = []
    with httpx.Client(base_url=url, headers={"X-Api-Key": api_key}, timeout=30) as http:
        for item in http.get("/compute/sessions-for-org").json()["sessions"]:
            tag = (item.get("user_metadata") or {}).get("featrix_iac") or {}
            if tag.get("project") != project:
                continue
            if item["session_id"] not in sessions:
                out.append(f"foundational model {item['session_id']} ({tag.get('address')})")
                continue
            doc = http.get(f"/compute/session/{item['session_id']}").json()
            for job in doc.get("job_plan", []):
                pid = job.get("predictor_id")
                if job.get("job_type") == "train_single_predictor" and pid and pid not in predictors:
                    out.append(f"predictor {pid} ({job.get('name')}) on {tag.get('address')}")
        for ep in http.get("/endpoints").json()["endpoints"]:
            tag = (ep.get("user_metadata") or {}).get("featrix_iac") or {}
            if tag.get("project") == project and ep["id"] not in endpoints:
                out.append(f"endpoint {ep['id']} ({tag.get('address')})")
    return out


def _apply_faults(server: Any, name: str) -> None:
    clear_faults(server.url, server.api_key)
    if name == "eventual consistency":
        set_consistency(server.url, server.api_key, first_get_404=True, stale_list_seconds=2)
    elif FAULTS[name]:
        add_faults(server.url, server.api_key, *FAULTS[name])


COUNTER = iter(range(10**9))


@settings(
    max_examples=int(os.environ.get("FEATRIX_FUZZ_EXAMPLES", "2")),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example costs seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(steps, min_size=2, max_size=3))
def test_random_histories_keep_the_invariants(server: Any, tmp_path: Path, history: list[tuple[str, str, str]]) -> None:
    name = f"fuzz-{next(COUNTER)}"
    root = make_project(tmp_path / name, server.url, name=name, timeout=3)
    cli = Cli(root, cli_env(server.api_key))
    manifest = root / "featrix.yaml"
    log: list[str] = []
    try:
        for edit, fault, op in history:
            manifest.write_text(EDITS[edit](manifest.read_text()))
            _apply_faults(server, fault)
            r = cli(*OPERATIONS[op])
            log.append(f"{edit} / {fault} / {op} -> {r.returncode}")
            assert r.returncode in (0, 1, 2), "\n".join(log) + f"\n{r.stdout}\n{r.stderr}"
            assert "Traceback" not in r.stderr and "internal error" not in r.stderr, "\n".join(log) + r.stderr
            problem = lockfile_problem(root)
            assert not problem, "\n".join(log) + f"\nlockfile invalid: {problem}"
        clear_faults(server.url, server.api_key)
        final = cli("apply", "--auto-approve")
        assert final.returncode == 0, "\n".join(log) + f"\nfinal apply failed:\n{final.stdout}\n{final.stderr}"
        replan = cli("plan", "--detailed-exitcode")
        assert replan.returncode == 0, "\n".join(log) + f"\nplan after the final apply:\n{replan.stdout}{replan.stderr}"
        untracked = _untracked(server.url, server.api_key, name, root)
        assert not untracked, "\n".join(log) + "\nuntracked on the server:\n" + "\n".join(untracked)
    finally:
        clear_faults(server.url, server.api_key)
