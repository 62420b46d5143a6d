"""Provenance: the CI run URL from each CI service's standard variables, who applied, the plan id."""

from __future__ import annotations

import pytest

from featrix_iac.apply.provenance import applied_by, ci_run_url, plan_id


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "7"},
            "https://github.com/a/b/actions/runs/7",
        ),
        ({"CI_JOB_URL": "https://gitlab.example/a/b/-/jobs/9"}, "https://gitlab.example/a/b/-/jobs/9"),
        ({"BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/3"}, "https://buildkite.com/o/p/builds/3"),
        (
            {"SYSTEM_COLLECTIONURI": "https://dev.azure.com/o/", "SYSTEM_TEAMPROJECT": "p", "BUILD_BUILDID": "5"},
            "https://dev.azure.com/o/p/_build/results?buildId=5",
        ),
        ({"GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "7"}, ""),  # incomplete: no URL
        ({"CI": "true"}, ""),
    ],
)
def test_the_ci_run_url_comes_from_the_standard_variables(environ: dict[str, str], url: str) -> None:
    assert ci_run_url(environ) == url
    assert applied_by(environ).get("ci_run_url", "") == url
    assert applied_by(environ)["host"]


def test_the_plan_id_is_the_same_for_the_same_plan_only() -> None:
    assert plan_id('{"a": 1}') == plan_id('{"a": 1}') != plan_id('{"a": 2}')
    assert plan_id("{}").startswith("plan-")
