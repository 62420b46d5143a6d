"""Text view of `featrix show --why ADDRESS` (the data comes from operations.why)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def render_why(doc: Mapping[str, Any]) -> str:
    """One block per link of the chain, top (what serves) to bottom (what it was trained on)."""
    lines = [f"Why {doc['address']} (environment {doc['environment']}):"]
    for link in doc["chain"]:
        ids = ", ".join(f"{k} {v}" for k, v in link["ids"].items())
        lines += ["", f"{link['address']}  [{link['status']}]  {ids}".rstrip()]
        for data in link.get("data", []):
            summary = data.get("summary") or {}
            shape = f" ({summary['rows']} rows, {len(summary.get('columns') or {})} columns)" if summary else ""
            where = data.get("file") or summary.get("file") or data["field"]
            lines.append(f"  data: {where}  {data['fingerprint']}{shape}")
        if link.get("promoted"):
            lines.append("  " + _promoted(link["promoted"]))
        if link.get("provenance"):
            lines += ["  " + line for line in _built(link["provenance"])]
        if link.get("training"):
            lines.append("  training: " + _training(link["training"]))
        lines += [f"  → {ref}" for ref in link.get("refers_to", [])]
    return "\n".join(lines) + "\n"


def _who(who: Mapping[str, Any]) -> str:
    if who.get("ci_run_url"):
        return f"in CI run {who['ci_run_url']}"
    user, host = who.get("user", ""), who.get("host", "")
    return f"by {user}@{host}" if user and host else f"by {user or host or 'an unknown user'}"


def _when(p: Mapping[str, Any], at: str, who: str) -> str:
    """` by plan X at T in CI run U` (each part only when recorded): which apply did it."""
    parts = [f"by plan {p['plan']}" if p.get("plan") else "", f"at {p[at]}" if p.get(at) else ""]
    parts.append(_who(p[who]) if p.get(who) else "")
    return "".join(f" {part}" for part in parts if part)


def _promoted(p: Mapping[str, Any]) -> str:
    clone = p.get("clone") or {}
    how = f" by cloning session {clone.get('session_id', '?')} to compute cluster {clone.get('to')}" if clone else ""
    text = f"promoted from {p.get('from', '?')}{how} (its lockfile serial {p.get('serial', '?')}"
    text += f", lineage {p['lineage']})" if p.get("lineage") else ")"
    return text + _when(p, "promoted_at", "promoted_by")


def _built(p: Mapping[str, Any]) -> list[str]:
    versions = ", ".join(
        f"{name} {p[key]}"
        for name, key in (("featrix-iac", "tool_version"), ("server", "server_version"))
        if p.get(key)
    )
    head = "trained" + _when(p, "applied_at", "applied_by")
    out = [head + (f" ({versions})" if versions else "")]
    if p.get("config_hash"):
        out.append(f"configuration {p['config_hash']}")
    for address, object_id in sorted((p.get("built_on") or {}).items()):
        out.append(f"built on {address} ({object_id})")
    if p.get("metrics"):
        out.append("metrics: " + ", ".join(f"{k} {v:g}" for k, v in sorted(p["metrics"].items())))
    return out


def _training(t: Mapping[str, Any]) -> str:
    text = f"{t['seconds']} s" if "seconds" in t else ""
    shape = " × ".join(f"{t[k]} {k}" for k in ("rows", "columns", "epochs") if k in t)
    return f"{text} ({shape})" if shape and text else text or shape
