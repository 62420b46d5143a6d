"""Small things a newcomer trips over (issue 10 item 11): each says what is going on."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_project_cmds import featrix

from featrix_iac.addresses import a_kind


def test_kinds_in_prose_take_the_right_article() -> None:
    assert [a_kind(k) for k in ("endpoint", "foundational_model", "predictor", "vector_database")] == [
        "an endpoint",
        "a foundational model",
        "a predictor",
        "a vector database",
    ]


def test_state_list_of_an_empty_lockfile_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "featrix.yaml").write_text("version: 1\nproject: p\n")
    code, out, err = featrix(capsys, "-C", str(tmp_path), "state", "list")
    assert code == 0 and out == "" and "records no resources" in err and "featrix apply" in err


@pytest.mark.parametrize("command", ["plan", "apply", "destroy"])
def test_target_help_says_what_comes_along(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--target also takes what ADDRESS depends on and what must go with it (planner `_select`), not only "needs"."""
    code, out, _ = featrix(capsys, command, "--help")
    text = " ".join(out.split())
    assert code == 0 and "what it depends on" in text and "dependents of a replacement" in text, text


def test_predict_usage_example_uses_the_projects_own_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "customers.csv").write_text("age,plan,churned\n31,gold,yes\n45,basic,no\n31,gold,no\n")
    (tmp_path / "featrix.yaml").write_text(
        "version: 1\nproject: p\nfoundational_models:\n  customers:\n    data: customers.csv\n"
        "predictors:\n  churn:\n    foundational_model: customers\n    type: binary_classifier\n"
        "    target_column: churned\nendpoints:\n  churn_api:\n    predictor: churn\n"
    )
    code, _, err = featrix(capsys, "-C", str(tmp_path), "predict", "endpoint.churn_api")
    assert code == 1 and '{"age": 31, "plan": "gold"}' in err, err
    assert "churned" not in err and "bill_length_mm" not in err, err
