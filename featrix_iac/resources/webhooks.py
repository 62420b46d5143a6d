"""Webhooks: a field group of the predictor handler (address `predictor.<key>`), not a kind of its own.

Webhooks belong to one predictor and have no id, no lifecycle and no lockfile entry of their own, so
they are two fields of the predictor — `webhooks` (event → URL) and `webhook_secret` (write-only,
compared by a salted hash) — changed in place by the steps below: one `disable_webhook` per removed
event, then one `configure_webhooks` with the full set (whether configure merges is uncertain, §4.2).
When they are shown on their own (e.g. in the plan) their address reads `webhooks.<predictor key>`.
"""

from __future__ import annotations

from typing import Any

from featrix_iac.client import FeatrixClient
from featrix_iac.resources.base import Change, FieldRule, Operation, SetOnly
from featrix_iac.state import hash_write_only

ROUTE = "configure_webhooks+disable_webhook"
# Predictor.configure_webhooks sends webhook_secret only when it is non-empty (REST contract §4.2, §9.4)
SECRET_SET_ONLY = SetOnly(
    why="the Featrix API cannot clear a webhook secret (the official client's Predictor.configure_webhooks "
    "sends webhook_secret only when it is non-empty), so deliveries stay signed with it",
    way_out="keep webhooks.webhook_secret in the manifest, or set a new one (apply configures it), "
    "or add webhooks to lifecycle.ignore_changes to stop managing them",
    path=("webhooks", "webhook_secret"),
)
RULES = (
    FieldRule("webhooks", Change.IN_PLACE, route=ROUTE),  # read back by GET .../webhooks (predictor._read_back)
    FieldRule(
        "webhook_secret",
        Change.IN_PLACE,
        sensitive=True,
        write_only=True,
        live=False,
        route=ROUTE,
        set_only=SECRET_SET_ONLY,
    ),
)
FIELDS = tuple(r.name for r in RULES)


def address_of(predictor_key: str) -> str:
    return f"webhooks.{predictor_key}"


def desired(address: str, hooks: Any) -> dict[str, Any]:
    """{"webhooks": {event: url}, "webhook_secret": "sha256:..." | None} of a predictor's `webhooks` block."""
    if hooks is None:
        return {"webhooks": {}, "webhook_secret": None}
    secret = hooks.webhook_secret
    return {
        "webhooks": dict(sorted(hooks.events().items())),
        "webhook_secret": hash_write_only(address, "webhook_secret", secret) if secret else None,
    }


def creation_body(hooks: Any) -> dict[str, str]:
    """The `webhooks` object of the train_predictor body (events and, when set, the plaintext secret)."""
    if hooks is None:
        return {}
    body = dict(hooks.events())
    if hooks.webhook_secret:
        body["webhook_secret"] = hooks.webhook_secret
    return body


def steps(desired: dict[str, Any], applied: dict[str, Any], drifted: bool = False) -> list[str]:
    """disable_webhook:<event> for each removed event, then configure_webhooks when anything remains to set
    (or when the server's events drifted from what was applied: configure puts the manifest's set back)."""
    old, new = applied.get("webhooks") or {}, desired.get("webhooks") or {}
    out = [f"disable_webhook:{event}" for event in sorted(old) if event not in new]
    secret_changed = desired.get("webhook_secret") != applied.get("webhook_secret")
    changed = new != {k: v for k, v in old.items() if k in new} or set(new) - set(old) or secret_changed
    if changed or (drifted and new and not out):
        out.append("configure_webhooks")
    return out


def apply_step(client: FeatrixClient, op: Operation, step: str) -> None:
    """One call: disable one event, or configure the full set (with the plaintext secret from the manifest)."""
    sid, pid = op.ids["session_id"], op.ids["predictor_id"]
    if step.startswith("disable_webhook:"):
        event = step.split(":", 1)[1]
        client.post(f"/session/{sid}/disable_webhook", {"event_type": event, "predictor_id": pid})
        return
    hooks = op.resource.webhooks if op.resource is not None else None
    body = creation_body(hooks)  # never an empty secret: the plan refuses to clear one (SECRET_SET_ONLY)
    client.post(f"/session/{sid}/configure_webhooks", {"webhooks": body, "predictor_id": pid})
