"""How plans and applies look on screen: the plan text, apply progress (rich bars or plain lines), summaries."""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from featrix_iac.cli.output import err, out

if TYPE_CHECKING:
    from featrix_iac.operations import CheckResult
    from featrix_iac.operations.applying import ApplyResult
    from featrix_iac.operations.views import Action, Plan

VERBS_ING = {
    "create": "creating",
    "adopt": "adopting",
    "promote": "promoting",
    "update": "updating",
    "replace": "replacing",
    "delete": "deleting",
    "retire": "retiring",
}
VERBS_DONE = {
    "create": "created",
    "adopt": "adopted",
    "promote": "promoted",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "retire": "retired",
}


def show_plan(plan: Plan, *, color: bool, compact: bool | None = None) -> None:
    """The text plan; `compact` None: compact above COMPACT_ABOVE changes (plan/compact.py)."""
    from featrix_iac.operations.views import render_text

    out(render_text(plan, color=color, compact=compact), nl=False)


# -- apply progress --------------------------------------------------------------------------------------


class LineObserver:
    """One line per event (CI logs): start, progress when its message changes, done / failed / skipped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}
        self._started: dict[str, float] = {}

    def _line(self, text: str) -> None:
        with self._lock:
            out(text)

    def on_start(self, action: Action) -> None:
        self._started[action.address] = time.monotonic()
        self._line(f"{action.address}: {VERBS_ING.get(action.action.value, action.action.value)}...")

    def on_progress(self, address: str, message: str, fraction: float | None) -> None:
        """A line when the stage changes, every 10% of progress, or every 30 s: CI logs stay short."""
        text = message + (f" ({fraction:.0%})" if fraction is not None else "")
        bucket = f"{re.sub(r'[0-9]+', '#', message)}|{int((fraction or 0) * 10)}"
        now = time.monotonic()
        last_bucket, last_time = self._last.get(address, ("", 0.0))
        if bucket == last_bucket and now - last_time < 30:
            return
        self._last[address] = (bucket, now)
        self._line(f"{address}: {text}")

    def on_done(self, action: Action, outputs: dict[str, Any]) -> None:
        self._line(f"{action.address}: {VERBS_DONE.get(action.action.value, 'done')} {self._elapsed(action.address)}")

    def on_failed(self, action: Action, message: str) -> None:
        self._line(f"{action.address}: FAILED: {message}")

    def on_skipped(self, action: Action, reason: str) -> None:
        self._line(f"{action.address}: skipped: {reason}")

    def _elapsed(self, address: str) -> str:
        start = self._started.get(address)
        return f"[{time.monotonic() - start:.1f}s]" if start is not None else ""

    def close(self) -> None:
        return None


class RichObserver(LineObserver):
    """rich progress bars on a terminal, one per address; finished lines are printed above them."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=sys.stdout)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[address]}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}
        self._running = False  # started on the first event, so the plan and the prompt print undisturbed

    def _line(self, text: str) -> None:
        with self._lock:
            self.progress.console.print(text, markup=False, highlight=False)

    def on_start(self, action: Action) -> None:
        self._started[action.address] = time.monotonic()
        verb = VERBS_ING.get(action.action.value, action.action.value)
        with self._lock:
            if not self._running:
                self.progress.start()
                self._running = True
            self.tasks[action.address] = self.progress.add_task(verb, total=None, address=action.address)

    def on_progress(self, address: str, message: str, fraction: float | None) -> None:
        task = self.tasks.get(address)
        if task is None:
            return
        with self._lock:
            if fraction is not None:
                self.progress.update(task, description=message, total=1.0, completed=fraction)
            else:
                self.progress.update(task, description=message)

    def _finish(self, address: str) -> None:
        task = self.tasks.pop(address, None)
        if task is not None:
            with self._lock:
                self.progress.remove_task(task)

    def on_done(self, action: Action, outputs: dict[str, Any]) -> None:
        self._finish(action.address)
        super().on_done(action, outputs)

    def on_failed(self, action: Action, message: str) -> None:
        self._finish(action.address)
        super().on_failed(action, message)

    def on_skipped(self, action: Action, reason: str) -> None:
        self._finish(action.address)
        super().on_skipped(action, reason)

    def close(self) -> None:
        if self._running:
            self.progress.stop()
            self._running = False


class StderrLineObserver(LineObserver):
    """Progress lines on stderr, so that stdout carries only the JSON document (`--json`)."""

    def _line(self, text: str) -> None:
        with self._lock:
            err(text)


def make_observer(*, as_json: bool = False) -> LineObserver:
    """Bars on a terminal, plain lines otherwise (CI, pipes); on stderr when stdout is JSON."""
    if as_json:
        return StderrLineObserver()
    return RichObserver() if sys.stdout.isatty() else LineObserver()


# -- closing summaries -----------------------------------------------------------------------------------


def apply_summary(plan: Plan, result: ApplyResult, *, destroy: bool = False) -> str:
    """ "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." or the done / failed / skipped lists.

    Counted by action, as the plan's summary line counts them (Plan.summary_line): what the plan called
    "1 to replace" is "1 replaced" here, never "1 added, 1 destroyed" (or retired, for a predictor). Then the
    plan's id (what the lockfile's provenance records), the lists, and the gates."""
    from featrix_iac.operations.views import plan_id

    kinds: dict[str, str] = {a.address: a.action.value for a in plan.changes()}
    done = [a for a in result.done if a in kinds]
    n = {v: sum(1 for a in done if kinds[a] == v) for v in set(kinds.values())}
    added = n.get("create", 0) + n.get("adopt", 0) + n.get("promote", 0)
    replaced = f", {n['replace']} replaced" if n.get("replace") else ""
    retired = f", {n['retire']} retired" if n.get("retire") else ""
    counts = (
        f"Resources: {added} added, {n.get('update', 0)} changed{replaced}, {n.get('delete', 0)} destroyed{retired}."
    )
    what = "Destroy" if destroy else "Apply"
    applied = [f"Plan id: {plan_id(plan)}"] if plan.applicable() else []  # as the lockfile's provenance says
    if result.ok:
        return "\n".join([f"{what} complete! {counts}", *applied, *_gate_lines(result)])
    lines = [f"{what} {'interrupted' if result.interrupted and not result.failed else 'failed'}. {counts}", *applied]
    if done:
        lines.append("Done:")
        lines.extend(f"  {a}" for a in done)
    if result.failed:
        lines.append("Failed:")
        lines.extend(f"  {a}: {msg}" for a, msg in sorted(result.failed.items()))
    if result.skipped:
        lines.append("Skipped:")
        lines.extend(f"  {a}: {msg}" for a, msg in sorted(result.skipped.items()))
    return "\n".join([*lines, *_gate_lines(result)])


def _gate_lines(result: ApplyResult) -> list[str]:
    """`Gates:` then one line per gated address: its verdict, then each metric against its threshold (a
    predictor) or the shadow's verdict and paired count against the gates (an endpoint)."""
    from featrix_iac.operations import gate_details

    if not result.gates:
        return []
    lines = ["Gates:"]
    for address, record in sorted(result.gates.items()):
        lines.append(f"  {address}: {str(record['status']).replace('_', ' ')}")
        lines.extend(f"    {line}" for line in gate_details(record))
    return lines


APPLY_FORMAT_VERSION = 1


def apply_json(
    plan: Plan, result: ApplyResult | None, *, destroy: bool = False, checks: list[CheckResult] | None = None
) -> str:
    """`apply --json`: the plan (as `plan --json`), what happened per address, the summary line, and the smoke
    checks run after it (`checks`, when they ran; a failed one makes `ok` false)."""
    import json
    from dataclasses import asdict

    from featrix_iac.operations.views import plan_data

    doc: dict[str, Any] = {
        "format": "featrix-apply",
        "format_version": APPLY_FORMAT_VERSION,
        "operation": "destroy" if destroy else "apply",
        "plan": plan_data(plan),
        "applied": result is not None,
    }
    if result is not None:
        doc.update(
            ok=result.ok,
            summary=apply_summary(plan, result, destroy=destroy).splitlines()[0],
            done=sorted(a for a in result.done if a in {x.address for x in plan.changes()}),
            failed=dict(sorted(result.failed.items())),
            skipped=dict(sorted(result.skipped.items())),
            gates=result.gates,
        )
    else:
        doc.update(ok=not plan.has_changes(), summary="No changes." if not plan.has_changes() else "Not applied.")
    if checks is not None:
        doc.update(checks=[asdict(c) for c in checks], ok=doc["ok"] and all(c.passed for c in checks))
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def show_warnings(warnings: list[str]) -> None:
    for w in warnings:
        err(f"Warning: {w}")
