"""Plans, the lockfile and validation results as text, Markdown and JSON, for cli/ to print.

The renderers live beside the data they render (plan/); cli/ reaches them here, so that it imports
only operations. Imported by its module name, only by the commands that render.
"""

from __future__ import annotations

from featrix_iac.plan.jsonformat import plan_data, plan_id, plan_json, state_json, validate_json, why_json
from featrix_iac.plan.markdown import checks_markdown, render_markdown
from featrix_iac.plan.model import Action, Plan
from featrix_iac.plan.render import render_text

__all__ = [
    "Action",
    "Plan",
    "checks_markdown",
    "plan_data",
    "plan_id",
    "plan_json",
    "render_markdown",
    "render_text",
    "state_json",
    "validate_json",
    "why_json",
]
