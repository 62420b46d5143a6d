"""The last smoke checks the lockfile records, as a section of the plan's Markdown comment."""

from __future__ import annotations

from featrix_iac.plan.markdown import checks_markdown
from featrix_iac.state import LockEntry, Lockfile


def test_the_comment_shows_each_checks_result_and_a_rollback() -> None:
    lock = Lockfile(project="unit")
    lock.resources["endpoint.e"] = LockEntry(
        kind="endpoint",
        status="ready",
        checks={
            "at": "2030-01-01T00:00:00+00:00",
            "passed": False,
            "results": [
                {"name": "adelie", "passed": True, "got": "Adelie (confidence 0.91)", "expected": "Adelie"},
                {"name": "odd | one", "passed": False, "got": "Gentoo", "expected": "Chinstrap"},
            ],
            "rolled_back": {
                "at": "2030-01-01T00:00:01+00:00",
                "from": {"predictor_id": "p2"},
                "to": {"predictor_id": "p1"},
            },
        },
    )
    lock.resources["endpoint.quiet"] = LockEntry(kind="endpoint", status="ready")
    text = checks_markdown(lock)
    assert "### Smoke checks (last run)" in text
    assert "| `endpoint.e` | adelie | ✅ ok | Adelie (confidence 0.91) |" in text
    assert (
        "❌ **FAIL** | Gentoo (expected Chinstrap)" in text and "odd &#124; one" in text
    )  # a pipe cannot break the table
    assert "rolled back | serves predictor_id p1 again" in text
    assert "endpoint.quiet" not in text


def test_no_checks_no_section() -> None:
    assert checks_markdown(Lockfile(project="unit")) == ""
