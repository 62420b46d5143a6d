"""Plans, the lockfile and validation results as text, Markdown and JSON, for cli/ to print.

The renderers live beside the data they render (plan/); cli/ reaches them here, so that it imports
only operations. Each name is imported when first asked for (PEP 562): a text plan does not pay for the
JSON documents' models or the Markdown renderer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featrix_iac.operations import lazy_attributes

if TYPE_CHECKING:  # `X as X`: re-exported, for the type checker; at run time __getattr__ imports them
    from featrix_iac.plan.jsonformat import plan_data as plan_data
    from featrix_iac.plan.jsonformat import plan_id as plan_id
    from featrix_iac.plan.jsonformat import plan_json as plan_json
    from featrix_iac.plan.jsonformat import state_json as state_json
    from featrix_iac.plan.jsonformat import validate_json as validate_json
    from featrix_iac.plan.jsonformat import why_json as why_json
    from featrix_iac.plan.markdown import checks_markdown as checks_markdown
    from featrix_iac.plan.markdown import render_markdown as render_markdown
    from featrix_iac.plan.model import Action as Action
    from featrix_iac.plan.model import Plan as Plan
    from featrix_iac.plan.render import render_text as render_text

_HOME = {
    "Action": "featrix_iac.plan.model",
    "Plan": "featrix_iac.plan.model",
    "checks_markdown": "featrix_iac.plan.markdown",
    "plan_data": "featrix_iac.plan.jsonformat",
    "plan_id": "featrix_iac.plan.jsonformat",
    "plan_json": "featrix_iac.plan.jsonformat",
    "render_markdown": "featrix_iac.plan.markdown",
    "render_text": "featrix_iac.plan.render",
    "state_json": "featrix_iac.plan.jsonformat",
    "validate_json": "featrix_iac.plan.jsonformat",
    "why_json": "featrix_iac.plan.jsonformat",
}


__getattr__ = lazy_attributes(__name__, _HOME, globals())
