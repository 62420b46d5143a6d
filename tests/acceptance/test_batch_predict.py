"""`featrix predict ADDRESS --csv`: every row through the endpoint with its key, failures reported, none stopping.

A Python test, not a golden transcript: the failing row is made by the server's fault injection (test hooks).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
from acceptance_helpers import PENGUINS, Cli, manifest

TEST_HOOKS = True  # the shared server fixture starts with fault injection (conftest)


def test_a_csv_batch_predicts_every_row_and_reports_the_ones_that_fail(
    cli: Cli, server: Any, project: Path, tmp_path: Path
) -> None:
    cli.write(manifest(server.url, vector_database=False))
    cli.ok("apply", "--auto-approve")
    rows = list(csv.DictReader(PENGUINS.open()))[:8]
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["island", "bill_length_mm", "flipper_length_mm", "species"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in writer.fieldnames} for r in rows)
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30) as http:
        # the server refuses the first row's prediction: the batch goes on without it
        http.post("/__test__/faults", json={"route": "POST /endpoint/.*/predict$", "status": 400, "count": 1})
        try:
            r = cli("predict", "endpoint.species_api", "--csv", str(source), "-o", str(tmp_path / "out.csv"))
        finally:
            http.delete("/__test__/faults")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Predicted 7 of 8 rows" in r.stderr and "1 failed" in r.stderr and "Warning: row 1 failed" in r.stderr
    assert "predict: 8/8 rows" in r.stderr and "Traceback" not in r.stderr
    out = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [o["island"] for o in out] == [r["island"] for r in rows]  # every row, in order, input kept
    assert out[0]["error"] and not out[0]["prediction"]
    assert all(o["prediction"] in ("Adelie", "Chinstrap", "Gentoo") and not o["error"] for o in out[1:])
    assert "featrix_species" not in out[0] and "species" in out[0]  # no clash: the input column stays
    assert all(0 < float(o["confidence"]) <= 1 for o in out[1:])
    whole = cli.ok("predict", "endpoint.species_api", "--csv", str(source))  # to stdout
    printed = list(csv.DictReader(whole.stdout.splitlines()))
    assert len(printed) == 8 and all(p["prediction"] for p in printed)


CHECKS = """    checks:
      - name: a gentoo
        record: {island: Biscoe, bill_length_mm: 48.6, bill_depth_mm: 16.0, flipper_length_mm: 230, body_mass_g: 5800}
        expect: {label: Gentoo}
      - name: impossible
        record: {island: Biscoe, bill_length_mm: 48.6, bill_depth_mm: 16.0, flipper_length_mm: 230, body_mass_g: 5800}
        expect: {label: Adelie, min_confidence: 0.99}
"""


def test_smoke_checks_run_after_apply_and_alone_and_are_recorded(cli: Cli, server: Any, project: Path) -> None:
    text = manifest(server.url, vector_database=False)
    cli.write(
        text.replace(
            "    description: Penguin species from measurements\n",
            "    description: Penguin species from measurements\n" + CHECKS,
        )
    )
    r = cli("check")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ok   endpoint.species_api a gentoo: Gentoo" in r.stdout
    assert "FAIL endpoint.species_api impossible" in r.stdout and "(expected Adelie, confidence ≥ 0.99)" in r.stdout
    assert "Checks: 1 passed, 1 failed." in r.stdout and "Traceback" not in r.stderr
    recorded = json.loads((project / "featrix.lock").read_text())["resources"]["endpoint.species_api"]["checks"]
    assert recorded["passed"] is False and [c["passed"] for c in recorded["results"]] == [True, False]
    after_apply = cli("apply", "--auto-approve")  # nothing to change: the checks still run, and fail it
    assert after_apply.returncode == 1 and "Smoke checks:" in after_apply.stdout
    cli.write(
        text.replace(
            "    description: Penguin species from measurements\n",
            "    description: Penguin species from measurements\n" + CHECKS.split("      - name: impossible")[0],
        )
    )
    ok = cli.ok("check", "endpoint.species_api")
    assert "Checks: 1 passed, 0 failed." in ok.stdout
    assert cli.ok("plan", "--detailed-exitcode").returncode == 0  # checks are never a change
    unknown = cli("check", "endpoint.nope")
    assert unknown.returncode == 1 and "endpoint.nope has no smoke checks" in unknown.stderr


def _with_checks(server: Any, checks: str, **kw: Any) -> str:
    text = manifest(server.url, vector_database=False, **kw)
    described = "    description: Penguin species from measurements\n"
    return text.replace(described, described + checks)


def test_apply_json_and_a_saved_plan_apply_run_the_smoke_checks(cli: Cli, server: Any, project: Path) -> None:
    cli.write(_with_checks(server, CHECKS))
    r = cli("apply", "--auto-approve", "--json")
    assert r.returncode == 1, r.stdout + r.stderr  # a failing check fails the apply, as in text
    doc = json.loads(r.stdout)  # stdout is the JSON document alone
    assert [(c["address"], c["name"], c["passed"]) for c in doc["checks"]] == [
        ("endpoint.species_api", "a gentoo", True),
        ("endpoint.species_api", "impossible", False),
    ]
    assert doc["checks"][1]["expected"] == "Adelie, confidence ≥ 0.99" and doc["ok"] is False
    assert "Error: smoke checks failed" in r.stderr and "Traceback" not in r.stderr
    recorded = json.loads((project / "featrix.lock").read_text())["resources"]["endpoint.species_api"]["checks"]
    assert [c["passed"] for c in recorded["results"]] == [True, False]

    cli.write(_with_checks(server, CHECKS.split("      - name: impossible")[0]))
    doc = json.loads(cli.ok("apply", "--auto-approve", "--json").stdout)
    assert [c["passed"] for c in doc["checks"]] == [True] and doc["ok"] is True

    cli.write(_with_checks(server, CHECKS, rotation=1))  # a change, applied from a saved plan
    cli.ok("plan", "-out", "rotate.fxplan")
    saved = cli("apply", "rotate.fxplan")
    assert saved.returncode == 1, saved.stdout + saved.stderr
    assert "Apply complete!" in saved.stdout and "FAIL endpoint.species_api impossible" in saved.stdout
    assert "Checks: 1 passed, 1 failed." in saved.stdout and "Error: smoke checks failed" in saved.stderr

    cli.write(_with_checks(server, CHECKS, rotation=2))  # a saved plan applied with --json: the document alone
    cli.ok("plan", "-out", "rotate2.fxplan")
    saved = cli("apply", "rotate2.fxplan", "--json")
    assert saved.returncode == 1, saved.stdout + saved.stderr
    doc = json.loads(saved.stdout)
    assert doc["applied"] is True and doc["done"] == ["endpoint.species_api"] and doc["ok"] is False
    assert doc["summary"].startswith("Apply complete!") and [c["passed"] for c in doc["checks"]] == [True, False]
    assert doc["plan"]["plan_id"] in (project / "rotate2.fxplan").read_text()
