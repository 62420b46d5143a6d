"""`featrix plan`, `featrix apply` and `featrix destroy`: show what would change, then converge the server."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from featrix_iac.cli.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_QUALITY, CommandExit
from featrix_iac.cli.output import color_enabled, err, out
from featrix_iac.diagnostics import fail

if TYPE_CHECKING:
    from featrix_iac.operations import CheckResult, PlanResult, QualityResult, RetryEvent
    from featrix_iac.operations.applying import ApplyOutcome, Interrupt
    from featrix_iac.operations.views import Plan

ENV_OPTION = click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay (default: none).")
TARGET_OPTION = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Only ADDRESS, what it depends on, and what must go with it: the dependents of a replacement, what uses "
    "a resource being removed (repeatable).",
)
PROMOTE_OPTION = click.option(
    "--promote-from",
    "promote_from",
    metavar="ENV",
    help="Take ENV's trained foundational models and predictors (same server) where configuration and data "
    "equal what ENV's lockfile records, instead of training (plan action `promote`).",
)
ALLOW_EMPTY_OPTION = click.option(
    "--allow-empty", is_flag=True, help="Allow a manifest with no resources to delete everything the lockfile records."
)


def _root() -> Path:
    from featrix_iac import operations

    return operations.find_project_root()


def _color() -> bool:
    return color_enabled() and sys.stdout.isatty()


def _on_retry(event: RetryEvent) -> None:
    """The server asked us to wait (full queue, node upgrading, 5xx on a safe read): say so, once per wait."""
    status = f" (HTTP {event.status})" if event.status else ""
    err(
        f"Waiting {event.delay:.0f}s before retrying {event.method} {event.path}: "
        f"{event.rule.replace('_', ' ')}{status}, attempt {event.attempt}"
    )


# -- plan ------------------------------------------------------------------------------------------------


@click.command("plan")
@ENV_OPTION
@TARGET_OPTION
@click.option("--destroy", is_flag=True, help="Plan the deletion of everything the lockfile records.")
@click.option("--refresh-only", is_flag=True, help="Only report drift: what changed on the server outside featrix.")
@click.option(
    "--quality",
    is_flag=True,
    help="With --refresh-only: also compare each endpoint's live figures with its training metrics "
    "(exit 3 when one degraded, with --detailed-exitcode).",
)
@click.option(
    "--quality-tolerance",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    metavar="FRACTION",
    help="How much worse than training (relative) a live figure may be before it counts as degraded.",
)
@click.option(
    "--quality-min-paired",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    metavar="N",
    help="Labelled requests a shadow comparison needs before its figure is judged (fewer: unknown).",
)
@ALLOW_EMPTY_OPTION
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0: none, 1: error).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (schemas/plan.schema.json).")
@click.option("--markdown", is_flag=True, help="Print the plan as a Markdown pull-request comment.")
@click.option("-out", "--out", "out_file", metavar="FILE", help="Save the plan to FILE for `featrix apply FILE`.")
@click.option(
    "--max-training-minutes",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="Fail when the estimated critical path of the plan's trainings exceeds N minutes (default: budget:).",
)
@click.option(
    "--compact/--no-compact",
    default=None,
    help="Summary first, and cascades that change nothing of their own folded by what they follow "
    "(default: on above 100 changes).",
)
@PROMOTE_OPTION
def plan_cmd(
    env: str | None,
    targets: tuple[str, ...],
    destroy: bool,
    refresh_only: bool,
    quality: bool,
    quality_tolerance: float,
    quality_min_paired: int,
    allow_empty: bool,
    detailed_exitcode: bool,
    as_json: bool,
    markdown: bool,
    out_file: str | None,
    max_training_minutes: float | None,
    compact: bool | None,
    promote_from: str | None,
) -> None:
    """Show what apply would change on the server, and why (reads the server; changes nothing)."""
    from featrix_iac import operations

    if as_json and markdown:
        raise click.UsageError("--json and --markdown exclude each other")
    if quality and not refresh_only:
        raise click.UsageError("--quality needs --refresh-only")
    options = operations.PlanOptions(
        targets=targets,
        destroy=destroy,
        refresh_only=refresh_only,
        allow_empty=allow_empty,
        max_training_minutes=max_training_minutes,
        promote_from=promote_from,
    )
    result = operations.plan(_root(), env, options, on_retry=_on_retry)
    degraded = False
    if quality:
        assessed = operations.assess_quality(
            _root(), env, tolerance=quality_tolerance, min_paired=quality_min_paired, on_retry=_on_retry
        )
        degraded = any(r.verdict == "degraded" for r in assessed)
        _print_plan(result, as_json=as_json, markdown=markdown, compact=compact, quality=assessed)
    else:
        _print_plan(result, as_json=as_json, markdown=markdown, compact=compact)
    if out_file:
        _save(result, Path(out_file))
    if detailed_exitcode and degraded:
        raise CommandExit(EXIT_QUALITY)
    if detailed_exitcode and result.plan.has_changes():
        raise CommandExit(EXIT_CHANGES)


def _print_plan(
    result: PlanResult,
    *,
    as_json: bool,
    markdown: bool,
    compact: bool | None = None,
    quality: list[QualityResult] | None = None,
) -> None:
    from featrix_iac.cli import quality_view
    from featrix_iac.cli.views import show_plan, show_warnings

    plan = result.plan
    if as_json:
        from featrix_iac.operations.views import plan_json

        text = plan_json(plan)
        if quality is not None:
            import json

            doc = json.loads(text)
            doc["model_quality"] = quality_view.quality_json(quality)
            text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        out(text, nl=False)
        return
    if markdown:
        from featrix_iac.operations.views import checks_markdown, render_markdown

        text = render_markdown(plan) + checks_markdown(result.lockfile)
        out(text + (quality_view.quality_markdown(quality) if quality is not None else ""), nl=False)
        return
    show_warnings(result.warnings)
    show_plan(plan, color=_color(), compact=compact)
    if quality is not None:
        out(quality_view.quality_text(quality))


def _save(result: PlanResult, path: Path) -> None:
    from featrix_iac.operations.saved import save_plan

    save_plan(result, path)
    err(f"Saved the plan to {path}. Apply exactly it with: featrix apply {path}")


# -- apply / destroy -------------------------------------------------------------------------------------


class Arming:
    """Ctrl-C is an ordinary interrupt (KeyboardInterrupt) until apply starts; then it is two-stage."""

    def __init__(self) -> None:
        self.armed = False

    def arm(self) -> None:
        self.armed = True


@contextmanager
def two_stage_interrupt(interrupt: Interrupt) -> Iterator[Arming]:
    """Once armed, the first Ctrl-C starts nothing new and lets in-flight steps be recorded; a second exits
    at once (130). Before (planning, the approval prompt) Ctrl-C simply aborts."""
    presses = 0
    arming = Arming()

    def handler(signum: int, frame: Any) -> None:
        nonlocal presses
        if not arming.armed:
            raise KeyboardInterrupt
        presses += 1
        if presses == 1:
            interrupt.set()
            err(
                "\nInterrupt: nothing new is started; steps in flight are finished or recorded in the lockfile. "
                "Press Ctrl-C again to exit at once."
            )
            return
        err("\nSecond interrupt: exiting now. Run `featrix apply` again: it re-attaches to work in flight.")
        os._exit(130)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (e.g. in some test runners): no handler
        yield arming
        return
    try:
        yield arming
    finally:
        signal.signal(signal.SIGINT, previous)


def _confirm(auto_approve: bool, destroy: bool, arming: Arming, as_json: bool = False) -> Callable[[PlanResult], bool]:
    def confirm(result: PlanResult) -> bool:
        if as_json:  # --json implies --auto-approve was given; stdout carries only the JSON document
            arming.arm()
            return True
        approved = _ask(result)
        if approved:
            arming.arm()
            out("")
        return approved

    def _ask(result: PlanResult) -> bool:
        from featrix_iac.cli.views import show_plan, show_warnings

        show_warnings(result.warnings)
        show_plan(result.plan, color=_color())
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise fail(
                "no terminal to ask for approval",
                "stdin is not a terminal: review the plan above, then run again with --auto-approve",
            )
        what = "destroy these resources" if destroy else "perform these actions"
        answer = click.prompt(f"\nDo you want to {what}? Only 'yes' will be accepted", default="", show_default=False)
        if answer.strip() != "yes":
            err("Apply cancelled." if not destroy else "Destroy cancelled.")
            return False
        return True

    return confirm


def _run_apply(
    env: str | None,
    *,
    auto_approve: bool,
    parallelism: int,
    targets: tuple[str, ...],
    destroy: bool,
    allow_empty: bool,
    as_json: bool = False,
    timeouts: tuple[str, ...] = (),
    promote_from: str | None = None,
    skip_gates: tuple[str, ...] = (),
) -> None:
    from featrix_iac.cli.views import make_observer
    from featrix_iac.operations import applying

    if as_json and not auto_approve:
        raise click.UsageError("--json needs --auto-approve (there is no prompt in JSON mode)")
    interrupt = applying.Interrupt()
    observer = make_observer(as_json=as_json)
    with two_stage_interrupt(interrupt) as arming:
        try:
            outcome = applying.apply(
                _root(),
                env,
                applying.PlanOptions(
                    targets=targets, destroy=destroy, allow_empty=allow_empty, promote_from=promote_from
                ),
                confirm=_confirm(auto_approve, destroy, arming, as_json),
                observer=observer,
                parallelism=parallelism,
                interrupt=interrupt,
                on_retry=_on_retry,
                timeouts=timeouts,
                skip_gates=skip_gates,
            )
        finally:
            observer.close()
        interrupted = interrupt.is_set()
        if not as_json:
            _finish(outcome, destroy=destroy, interrupted=interrupted)
    _after_apply(outcome, destroy=destroy, interrupted=interrupted, as_json=as_json)


def _after_apply(outcome: ApplyOutcome, *, destroy: bool, interrupted: bool, as_json: bool) -> None:
    """The endpoints' smoke checks after an apply that went through (or had nothing to do), never after a
    destroy: listed after the summary, or in the JSON document (`apply --json`, printed here); exit 1 if one
    failed."""
    from featrix_iac import operations
    from featrix_iac.cli.cmd_check import report_checks

    went_through = outcome.result.ok if outcome.result is not None else not outcome.planned.plan.has_changes()
    due = went_through and not destroy and not interrupted
    if not as_json:
        if due:
            report_checks(
                operations.run_checks(_root(), outcome.env, before=outcome.ids_before, session=outcome.session),
                after_apply=True,
            )
        return
    checks = None
    try:
        if due:
            checks = operations.run_checks(_root(), outcome.env, before=outcome.ids_before, session=outcome.session)
    finally:  # the document is printed even when the checks could not run (their error follows it)
        _finish(outcome, destroy=destroy, interrupted=interrupted, as_json=True, checks=checks)


def _finish(
    outcome: ApplyOutcome,
    *,
    destroy: bool,
    interrupted: bool,
    as_json: bool = False,
    checks: list[CheckResult] | None = None,
) -> None:
    from featrix_iac.cli.cmd_check import fail_on_failed_checks
    from featrix_iac.cli.views import apply_json, apply_summary, show_plan

    plan = outcome.planned.plan
    if as_json:
        out(apply_json(plan, outcome.result, destroy=destroy, checks=checks))
        failed = outcome.result is not None and not outcome.result.ok
        if failed or interrupted:
            raise CommandExit(EXIT_ERROR)
        fail_on_failed_checks(checks or [])
        return
    if not plan.has_changes():
        if not outcome.approved:
            show_plan(plan, color=_color())
        return
    if outcome.result is None:
        raise CommandExit(EXIT_ERROR)  # not approved
    out("")
    out(apply_summary(plan, outcome.result, destroy=destroy))
    if interrupted:
        err("Interrupted: run `featrix apply` again to finish.")
    if not outcome.result.ok or interrupted:
        raise CommandExit(EXIT_ERROR)


@click.command("apply")
@ENV_OPTION
@click.argument("plan_file", required=False, metavar="[PLAN_FILE]")
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required without a terminal).")
@click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 64), help="Steps run at once.")
@TARGET_OPTION
@ALLOW_EMPTY_OPTION
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the plan and the outcome as JSON (needs --auto-approve, unless PLAN_FILE is given).",
)
@click.option(
    "--timeout",
    "timeouts",
    multiple=True,
    metavar="WAIT.LIMIT=SECONDS",
    help="Override one wait limit for this run, e.g. publish.stall=1200 (WAIT: training, queued, publish; "
    "LIMIT: stall, total). Repeatable.",
)
@PROMOTE_OPTION
@click.option(
    "--skip-gate",
    "skip_gates",
    multiple=True,
    metavar="ADDRESS",
    help="Waive the quality gates of ADDRESS (e.g. predictor.species) for this apply; the waiver and the "
    "metrics are recorded in its lockfile entry. Repeatable.",
)
def apply_cmd(
    env: str | None,
    plan_file: str | None,
    auto_approve: bool,
    parallelism: int,
    targets: tuple[str, ...],
    allow_empty: bool,
    as_json: bool,
    timeouts: tuple[str, ...],
    promote_from: str | None,
    skip_gates: tuple[str, ...],
) -> None:
    """Plan, ask, and converge the server to the manifests (or apply a saved PLAN_FILE exactly)."""
    if plan_file:
        if targets or allow_empty or promote_from:
            raise click.UsageError(
                "--target, --allow-empty and --promote-from belong to `featrix plan -out` when applying a plan file"
            )
        _apply_saved(env, Path(plan_file), parallelism, timeouts, skip_gates, as_json=as_json)
        return
    _run_apply(
        env,
        auto_approve=auto_approve,
        parallelism=parallelism,
        targets=targets,
        destroy=False,
        allow_empty=allow_empty,
        as_json=as_json,
        timeouts=timeouts,
        promote_from=promote_from,
        skip_gates=skip_gates,
    )


@click.command("destroy")
@ENV_OPTION
@click.option("--auto-approve", is_flag=True, help="Destroy without asking (required without a terminal).")
@click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 64), help="Steps run at once.")
@TARGET_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the plan and the outcome as JSON (needs --auto-approve).")
def destroy_cmd(env: str | None, auto_approve: bool, parallelism: int, targets: tuple[str, ...], as_json: bool) -> None:
    """Delete everything the lockfile records (predictors are retired: the API cannot delete them)."""
    _run_apply(
        env,
        auto_approve=auto_approve,
        parallelism=parallelism,
        targets=targets,
        destroy=True,
        allow_empty=True,
        as_json=as_json,
    )


def _apply_saved(
    env: str | None,
    path: Path,
    parallelism: int,
    timeouts: tuple[str, ...] = (),
    skip_gates: tuple[str, ...] = (),
    *,
    as_json: bool = False,
) -> None:
    """`apply PLAN_FILE`: the saved plan was the approval (no prompt); with `as_json`, stdout is the JSON document."""
    from featrix_iac.cli.views import make_observer, show_plan
    from featrix_iac.operations import applying, saved

    plan_file = saved.read_saved(path)

    def checked(plan: Plan) -> None:
        if not as_json:
            show_plan(plan, color=_color())
        arming.arm()

    interrupt = applying.Interrupt()
    observer = make_observer(as_json=as_json)
    with two_stage_interrupt(interrupt) as arming:
        try:
            outcome = saved.apply_saved(
                _root(),
                env,
                plan_file,
                on_checked=checked,
                observer=observer,
                parallelism=parallelism,
                interrupt=interrupt,
                timeouts=timeouts,
                skip_gates=skip_gates,
            )
        finally:
            observer.close()
        interrupted = interrupt.is_set()
        if not as_json:
            _finish(outcome, destroy=False, interrupted=interrupted)
    _after_apply(outcome, destroy=False, interrupted=interrupted, as_json=as_json)
