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


def wait_verdict(client: FeatrixClient, eid: str, pid: str, gates: dict[str, Any], waits: Waits | None) -> str:
    """Poll the endpoint until its shadow `pid` passes the gates (returns why); GateFailed when it fails or
    max_wait passes first."""
    last = ["no comparison read yet"]

    def poll() -> Progress:
        doc = client.get(f"/endpoints/{eid}")
        comps = [c for c in doc.get("comparisons") or [] if isinstance(c, dict)]
        mine = next((c for c in comps if c.get("shadow_neural_function_id") == pid), None)
        state, why = judge(gates, mine)
        last[0] = why
        if state == "passed":
            return Progress("ready", 1.0, f"shadow gate passed: {why}")
        if state == "failed":
            return Progress("failed", None, why)
        return Progress("training", None, f"shadow gate: {why}")

    seconds = float(gates.get("max_wait_seconds") or 0)
    try:
        done = wait_for(poll, what=f"the shadow verdict of {pid}", limit=Limit(seconds, seconds), waits=waits)
    except TrainingFailed as exc:
        raise GateFailed(str(exc)) from None
    except WaitTimeout:
        raise GateFailed(f"no passing verdict within max_wait {gates.get('max_wait')}: {last[0]}") from None
    return done.message


def record(gates: dict[str, Any], why: str, shadow: dict[str, str]) -> dict[str, Any]:
    """What the endpoint's lockfile entry keeps of a failed shadow gate (under `gate`)."""
    from featrix_iac.clock import iso, now

    return {
        "status": "shadow_gated_out",
        "require_verdict": gates.get("require_verdict"),
        "min_paired": gates.get("min_paired"),
        "why": why,
        "at": iso(now()),
        "ids": {k: v for k, v in shadow.items() if k in ("predictor_id", "session_id")},
    }


class GateFailed(Exception):
    """The shadow did not pass the endpoint's gates: the endpoint stays on its predictor."""
