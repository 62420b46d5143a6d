"""An endpoint's shadow-verdict gate passing end to end: labelled traffic reaches the endpoint while the retrained
predictor shadows the old one, the verdict is reached on enough pairs, the endpoint is promoted, and the apply
reports the gate (text summary and `apply --json`) with its verdict and paired count.

A Python test, not a golden transcript: the labelled requests are sent while `featrix apply` waits for the verdict.
(The failing path is the golden case tests/acceptance/shadow_gate.)
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from acceptance_helpers import PENGUINS, Cli, manifest

MIN_PAIRED = 12

GATES = f"    gates: {{require_verdict: not_worse, min_paired: {MIN_PAIRED}, max_wait: 2m}}\n"


def _manifest(server: Any, epochs: int) -> str:
    """The shared acceptance project, its endpoint gated on the shadow verdict."""
    described = "    description: Penguin species from measurements\n"
    return manifest(server.url, vector_database=False, species_epochs=epochs).replace(described, described + GATES)


def _ids(project: Path, address: str) -> dict[str, str]:
    ids: dict[str, str] = json.loads((project / "featrix.lock").read_text())["resources"][address]["ids"]
    return ids


def _labelled_traffic(server: Any, eid: str, key: str, stop: threading.Event) -> None:
    """Once the endpoint has a shadow, send labelled predictions (the penguins' true species as ground truth)."""
    rows = [r for r in csv.DictReader(PENGUINS.open()) if "NA" not in r.values()][: MIN_PAIRED + 4]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        while not stop.is_set() and not http.get(f"/endpoints/{eid}").json()["plan"]["shadows"]:
            time.sleep(0.1)
        for row in rows:
            if stop.is_set():
                return
            record = {k: v for k, v in row.items() if k not in ("species", "year")}
            answer = http.post(
                f"/endpoint/{eid}/predict", json={"query_record": record}, headers={"X-Api-Key": key}
            ).json()
            http.post(
                f"/compute/session/{answer['session_id']}/predict/{answer['prediction_uuid']}/feedback",
                json={"ground_truth": row["species"]},
            ).raise_for_status()


def _apply_with_traffic(cli: Cli, server: Any, project: Path, *args: str) -> tuple[int, str, str]:
    eid = _ids(project, "endpoint.species_api")["endpoint_id"]
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    stop = threading.Event()
    sender = threading.Thread(target=_labelled_traffic, args=(server, eid, key, stop))
    proc = cli.popen("apply", "--auto-approve", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sender.start()
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        stop.set()
        sender.join(timeout=30)
    cli.transcript.extend([out, err])
    return proc.returncode, out, err


def test_a_passing_shadow_gate_promotes_and_is_reported(cli: Cli, server: Any, project: Path) -> None:
    cli.write(_manifest(server, 2))
    cli.ok("apply", "--auto-approve")
    old = _ids(project, "predictor.species")["predictor_id"]

    cli.write(_manifest(server, 3))
    code, out, err = _apply_with_traffic(cli, server, project)
    assert code == 0, out + err
    new = _ids(project, "predictor.species")["predictor_id"]
    assert new != old and _ids(project, "endpoint.species_api")["predictor_id"] == new
    gates = out[out.index("\nGates:\n") :].splitlines()
    assert gates[2] == "  endpoint.species_api: passed", out
    figures = re.fullmatch(r"    verdict (\w+) on (\d+) paired \(require_verdict not_worse\)", gates[3])
    assert figures and figures[1] != "shadow_worse" and int(figures[2]) >= MIN_PAIRED, out

    cli.write(_manifest(server, 4))
    code, out, err = _apply_with_traffic(cli, server, project, "--json")
    assert code == 0, out + err
    gate = json.loads(out)["gates"]["endpoint.species_api"]
    assert gate["status"] == "passed" and gate["step"] == "shadow_gate", gate
    assert gate["paired"] >= MIN_PAIRED and gate["verdict"] != "shadow_worse", gate
    assert gate["ids"]["predictor_id"] == _ids(project, "predictor.species")["predictor_id"] != new
    assert gate["require_verdict"] == "not_worse" and gate["min_paired"] == MIN_PAIRED
    key = cli.ok("output", "endpoint.species_api.api_key").stdout.strip()
    assert not [text for text in cli.transcript if key in text or server.api_key in text]
