"""Smoke checks: each endpoint's declared records predicted through its URL with its own key, results recorded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.diagnostics import fail
from featrix_iac.operations.reading import predict_with
from featrix_iac.operations.session import open_session

if TYPE_CHECKING:
    from featrix_iac.operations.session import Session


@dataclass(frozen=True)
class CheckResult:
    address: str
    name: str
    passed: bool
    got: str  # what the prediction showed (or why it failed)
    expected: str
    rolled_back: str = ""  # on_failure: rollback after the apply that moved the endpoint: what was done


def run_checks(
    root: Path | str,
    env: str | None,
    addresses: tuple[str, ...] = (),
    *,
    before: Mapping[str, dict[str, str]] | None = None,
    session: Session | None = None,
) -> list[CheckResult]:
    """Run the declared checks of every endpoint (or of `addresses`) and record each endpoint's results.

    `before`: each address's ids before the apply these checks follow. An endpoint that apply moved (its ids
    changed in place) and whose failed checks say `on_failure: rollback` is promoted back to what it served
    before (Handler.rollback), and the lockfile entry gets those ids back."""
    session = session or open_session(root, env)  # the apply's own, after an apply
    declared = session.loaded.project.resources()
    checked = {str(a): list(getattr(r, "checks", None) or []) for a, r in declared if getattr(r, "checks", None)}
    wanted = sorted(checked)
    unknown = [a for a in addresses if a not in wanted]
    if unknown:
        raise fail(
            f"{unknown[0]} has no smoke checks",
            f"endpoints with checks: {', '.join(wanted) or 'none (declare checks: on an endpoint)'}",
            address=unknown[0],
        )
    todo = addresses or tuple(wanted)
    if not todo:
        return []
    lock = session.store.load()  # read once: each endpoint's own key and ids
    results: list[CheckResult] = []
    for address in todo:
        checks = checked[address]
        answers = predict_with(session, lock, address, [dict(c.record) for c in checks], keep_going=True)
        mine = [
            _judge(address, c.name or f"check {n}", c.expect, a)
            for n, (c, a) in enumerate(zip(checks, answers, strict=True), 1)
        ]
        rollback = any(not r.passed and c.on_failure == "rollback" for c, r in zip(checks, mine, strict=True))
        if rollback and before is not None:
            mine = _rollback(session, address, before.get(address), mine)
        results.extend(mine)
        _record(session, address, mine)
    return results


def _rollback(
    session: Session, address: str, previous: dict[str, str] | None, results: list[CheckResult]
) -> list[CheckResult]:
    """Promote the endpoint back to its ids before the apply (when the apply moved it), recording it."""
    from featrix_iac.client import FeatrixError
    from featrix_iac.operations.session import connect
    from featrix_iac.resources.base import CreateFailed, Operation
    from featrix_iac.resources.registry import handler_for

    entry = session.store.load().entry(address)
    if entry is None or not previous or previous == entry.ids:
        done = "not rolled back: this apply did not move it (no previous predictor to go back to)"
        return [replace(r, rolled_back=done) if not r.passed else r for r in results]
    h = handler_for(entry.kind)
    op = Operation.on_entry(address, entry, dict(session.store.load().resources), session.loaded.root)
    try:
        with connect(session.loaded) as (client, _):
            moved = h.rollback(client, op, dict(previous))
    except (FeatrixError, CreateFailed) as exc:
        failed = f"rollback failed: {getattr(exc, 'message', None) or exc}"
        return [replace(r, rolled_back=failed) if not r.passed else r for r in results]
    _restore(session, address, {**entry.ids, **moved.ids}, entry.ids)
    shown = ", ".join(f"{k} {v}" for k, v in sorted(moved.ids.items()))
    done = f"rolled back: serves {shown} again"
    return [replace(r, rolled_back=done) if not r.passed else r for r in results]


def _restore(session: Session, address: str, ids: dict[str, str], failed: dict[str, str]) -> None:
    """The entry gets back the ids it had before the apply; `rolled_back` records the ids it left."""
    store = session.store
    with store.lock("check"):
        lock = store.load()
        entry = lock.entry(address)
        if entry is not None:
            at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            checks = {**entry.checks, "rolled_back": {"at": at, "from": dict(failed), "to": dict(ids)}}
            store.update(lock, address, entry.model_copy(deep=True, update={"ids": ids, "checks": checks}))


def _judge(address: str, name: str, expect: Any, answer: dict[str, Any]) -> CheckResult:
    wanted = _expected(expect)
    if "error" in answer:
        return CheckResult(address, name, False, f"no prediction: {answer['error']}", wanted)
    label, confidence, value = answer.get("predicted_class"), answer.get("confidence"), answer.get("prediction")
    problems = []
    if expect.label is not None and str(label) != expect.label:
        problems.append("label")
    if expect.min_confidence is not None and not (
        isinstance(confidence, (int, float)) and confidence >= expect.min_confidence
    ):
        problems.append("confidence")
    if expect.between is not None:
        number = value if isinstance(value, (int, float)) else None
        if number is None or not expect.between[0] <= number <= expect.between[1]:
            problems.append("value")
    got = (
        f"{label} (confidence {confidence:.2f})"
        if label is not None and isinstance(confidence, (int, float))
        else str(label if label is not None else value)
    )
    return CheckResult(address, name, not problems, got, wanted)


def _expected(expect: Any) -> str:
    parts = []
    if expect.label is not None:
        parts.append(str(expect.label))
    if expect.min_confidence is not None:
        parts.append(f"confidence ≥ {expect.min_confidence:g}")
    if expect.between is not None:
        parts.append(f"between {expect.between[0]:g} and {expect.between[1]:g}")
    return ", ".join(parts)


def _record(session: Session, address: str, results: list[CheckResult]) -> None:
    """Record the endpoint's results in its lockfile entry (under the environment's lock)."""
    store = session.store
    with store.lock("check"):
        lock = store.load()
        entry = lock.entry(address)
        if entry is None:
            return
        record: dict[str, Any] = {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "passed": all(r.passed for r in results),
            "results": [{k: v for k, v in asdict(r).items() if k != "address" and v != ""} for r in results],
        }
        if "rolled_back" in entry.checks and any(r.rolled_back.startswith("rolled back") for r in results):
            record["rolled_back"] = entry.checks["rolled_back"]
        store.update(lock, address, entry.model_copy(deep=True, update={"checks": record}))
