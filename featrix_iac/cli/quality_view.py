"""The "Model quality" section of `featrix plan --refresh-only --quality`: text, Markdown and JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featrix_iac.operations import QualityResult


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _usage(r: QualityResult) -> str:
    if r.usage_count is None:
        return ""
    return f"{r.usage_count} calls" + (f", last {r.last_used_at}" if r.last_used_at else "")


def quality_text(results: list[QualityResult]) -> str:
    """One line per endpoint: verdict, metric baseline → live, why; then the counts."""
    lines = ["", "Model quality:"]
    if not results:
        lines.append("  no endpoints recorded in the lockfile")
    for r in results:
        figures = f" {r.metric} {_figure(r.baseline)} → {_figure(r.live)}" if r.metric else ""
        paired = f", {r.paired} labelled" if r.paired else ""
        usage = f" [{_usage(r)}{paired}]" if _usage(r) or paired else ""
        lines.append(f"  {r.verdict:<8} {r.address}:{figures}{usage}: {r.why}")
        for c in r.comparisons:
            ci = c.get("delta_ci95")
            span = f", delta_ci95 [{ci[0]:.3g}, {ci[1]:.3g}]" if isinstance(ci, list) and len(ci) == 2 else ""
            lines.append(
                f"             shadow {c.get('shadow_neural_function_id')}: {c.get('verdict')} "
                f"({c.get('paired_with_ground_truth') or 0} paired{span})"
            )
    lines.append(_counts(results))
    return "\n".join(lines)


def _counts(results: list[QualityResult]) -> str:
    n = {v: sum(r.verdict == v for r in results) for v in ("ok", "degraded", "unknown")}
    return f"Quality: {n['ok']} ok, {n['degraded']} degraded, {n['unknown']} unknown."


def quality_markdown(results: list[QualityResult]) -> str:
    """A Markdown section with a table, appended to the plan's comment."""
    rows = ["", "### Model quality", "", "| endpoint | verdict | metric | training | live | labelled | why |"]
    rows.append("|---|---|---|---|---|---|---|")
    for r in results:
        rows.append(
            f"| `{r.address}` | **{r.verdict}** | {r.metric or '-'} | {_figure(r.baseline)} | {_figure(r.live)} "
            f"| {r.paired} | {r.why.replace('|', '/')} |"
        )
    rows += ["", _counts(results), ""]
    return "\n".join(rows)


def quality_json(results: list[QualityResult]) -> list[dict[str, Any]]:
    """The results as plain data, under the plan JSON's `model_quality` key."""
    return [asdict(r) for r in results]
