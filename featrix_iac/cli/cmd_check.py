"""`featrix check`: the endpoints' smoke checks alone (nightly CI), and their report after every apply."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from featrix_iac.cli.errors import EXIT_ERROR, CommandExit
from featrix_iac.cli.output import err, out

if TYPE_CHECKING:
    from featrix_iac.operations import CheckResult


def report_checks(results: list[CheckResult], *, after_apply: bool = False, as_json: bool = False) -> None:
    """Print each check's outcome; exit 1 when one failed."""
    if as_json:
        out(json.dumps([asdict(r) for r in results], indent=2, sort_keys=True))
    elif results:
        out("\nSmoke checks:" if after_apply else "Smoke checks:")
        for r in results:
            mark = "ok  " if r.passed else "FAIL"
            tail = "" if r.passed else f" (expected {r.expected})"
            out(f"  {mark} {r.address} {r.name}: {r.got}{tail}")
        for address, what in sorted({(r.address, r.rolled_back) for r in results if r.rolled_back}):
            out(f"  {address}: {what}")
        failed = sum(not r.passed for r in results)
        out(f"Checks: {len(results) - failed} passed, {failed} failed.")
    fail_on_failed_checks(results)


def fail_on_failed_checks(results: list[CheckResult]) -> None:
    """Exit 1 with an error line when a check failed."""
    if any(not r.passed for r in results):
        err("Error: smoke checks failed; the results are recorded in the lockfile (featrix state show ADDRESS)")
        raise CommandExit(EXIT_ERROR)


@click.command("check")
@click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay (default: none).")
@click.argument("addresses", nargs=-1, metavar="[ENDPOINT...]")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check_cmd(env: str | None, addresses: tuple[str, ...], as_json: bool) -> None:
    """Run the smoke checks declared on endpoints (all, or the ENDPOINT addresses given) through each
    endpoint's URL with its own key; record the results in the lockfile; exit 1 if one fails."""
    from featrix_iac import operations

    results = operations.run_checks(operations.find_project_root(), env, addresses)
    if not results and not as_json:
        out("No smoke checks declared (add checks: to an endpoint).")
        return
    report_checks(results, as_json=as_json)
