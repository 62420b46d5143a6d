"""Endpoint gates on shadow verdicts: before promote, the new predictor must shadow the old one well enough.

The endpoint object's `comparisons[]` (api_endpoint.py:APIEndpoint.from_response; REST contract §5.1) compare
the serving predictor with each shadow on the same labelled requests: `shadow_neural_function_id`,
`paired_with_ground_truth`, `verdict` (shadow_better / shadow_worse / anything else: undecided).
"""

from __future__ import annotations

from typing import Any

from featrix_iac.client import FeatrixClient
from featrix_iac.resources.base import Progress, TrainingFailed, WaitTimeout
from featrix_iac.resources.waits import Limit, Waits, wait_for

PASSED, GATED_OUT = "passed", "shadow_gated_out"


def judge(gates: dict[str, Any], comparison: dict[str, Any] | None) -> tuple[str, str]:
    """("passed" | "failed" | "waiting", why) for one shadow's comparison (None: none reported yet)."""
    wanted, need = gates["require_verdict"], int(gates.get("min_paired") or 0)
    if comparison is None:
        return "waiting", f"no comparison yet (0 of {need} paired)"
    paired = int(comparison.get("paired_with_ground_truth") or 0)
    verdict = str(comparison.get("verdict") or "undecided")
    said = f"verdict {verdict} on {paired} paired"
    if paired < need:
        return "waiting", f"{said} (min_paired {need})"
    if verdict == "shadow_worse":
        return "failed", f"{said}: the new predictor does worse (require_verdict {wanted})"
    if wanted == "shadow_better" and verdict != "shadow_better":
        return "waiting", f"{said} (require_verdict shadow_better)"
    return "passed", f"{said} (require_verdict {wanted})"


def figures(gates: dict[str, Any], comparison: dict[str, Any] | None) -> dict[str, Any]:
    """The judged comparison's figures: {state, why, verdict, paired} (verdict None: no comparison yet)."""
    state, why = judge(gates, comparison)
    if comparison is None:
        return {"state": state, "why": why, "verdict": None, "paired": 0}
    verdict = str(comparison.get("verdict") or "undecided")
    return {
        "state": state,
        "why": why,
        "verdict": verdict,
        "paired": int(comparison.get("paired_with_ground_truth") or 0),
    }


def wait_verdict(
    client: FeatrixClient, eid: str, pid: str, gates: dict[str, Any], waits: Waits | None
) -> dict[str, Any]:
    """Poll the endpoint until its shadow `pid` passes the gates (returns the figures it passed with: `figures`);
    GateFailed (with the last figures read) when it fails or max_wait passes first."""
    last: dict[str, Any] = {"why": "no comparison read yet", "verdict": None, "paired": 0}

    def poll() -> Progress:
        doc = client.get(f"/endpoints/{eid}")
        comps = [c for c in doc.get("comparisons") or [] if isinstance(c, dict)]
        mine = next((c for c in comps if c.get("shadow_neural_function_id") == pid), None)
        last.update(figures(gates, mine))
        if last["state"] == "passed":
            return Progress("ready", 1.0, f"shadow gate passed: {last['why']}")
        if last["state"] == "failed":
            return Progress("failed", None, last["why"])
        return Progress("training", None, f"shadow gate: {last['why']}")

    seconds = float(gates.get("max_wait_seconds") or 0)
    try:
        wait_for(poll, what=f"the shadow verdict of {pid}", limit=Limit(seconds, seconds), waits=waits)
    except TrainingFailed:
        raise GateFailed(last["why"], last) from None
    except WaitTimeout:
        why = f"no passing verdict within max_wait {gates.get('max_wait')}: {last['why']}"
        raise GateFailed(why, {**last, "why": why}) from None
    return last


def record(gates: dict[str, Any], status: str, found: dict[str, Any], shadow: dict[str, str]) -> dict[str, Any]:
    """A shadow gate's record (passed, or shadow_gated_out: what the endpoint's lockfile entry keeps under `gate`):
    the gates, the verdict and paired count last read, why, when, and the shadow's ids."""
    from featrix_iac.clock import iso, now

    return {
        "status": status,
        "require_verdict": gates.get("require_verdict"),
        "min_paired": gates.get("min_paired"),
        "max_wait": gates.get("max_wait"),
        "verdict": found.get("verdict"),
        "paired": found.get("paired", 0),
        "why": found.get("why", ""),
        "at": iso(now()),
        "ids": {k: v for k, v in shadow.items() if k in ("predictor_id", "session_id")},
    }


class GateFailed(Exception):
    """The shadow did not pass the endpoint's gates: the endpoint stays on its predictor. `found`: the figures."""

    def __init__(self, message: str, found: dict[str, Any]):
        super().__init__(message)
        self.found = found
