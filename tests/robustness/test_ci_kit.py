"""The CI kit in examples/ci: the comment poster (one comment, updated; failures fail) and the pre-commit hooks."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from repo_files import copy_project

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
POSTER = CI / "scripts" / "post-plan-comment.sh"
MULTI_ENV = REPO / "examples" / "multi-env"  # has a prod environment, as the example hooks expect

# a stand-in for the GitHub CLI: records its arguments, answers the comment listing from FAKE_EXISTING,
# and fails writes with FAKE_FAIL (as `gh api` does when GitHub answers 4xx/5xx)
FAKE_GH = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *--paginate*) [ -n "${FAKE_EXISTING:-}" ] && echo "$FAKE_EXISTING"; exit 0 ;;
  *) if [ -n "${FAKE_FAIL:-}" ]; then echo "gh: Resource not accessible by integration (HTTP 403)" >&2; exit 1; fi ;;
esac
"""

PLAN_MD = "<!-- featrix-plan: penguins/prod -->\n### featrix plan\n\n**Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.**\n"


def _post(tmp_path: Path, exitcode: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(0o755)
    body = tmp_path / "plan.md"
    body.write_text(PLAN_MD)
    log = tmp_path / "gh.log"
    log.write_text("")
    full_env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_REPOSITORY": "acme/models",
        "PR_NUMBER": "42",
        "FAKE_LOG": str(log),
        **env,
    }
    r = subprocess.run(["bash", str(POSTER), str(body), exitcode], capture_output=True, text=True, env=full_env)
    return r, log.read_text().splitlines()


def test_first_plan_is_posted(tmp_path: Path) -> None:
    r, calls = _post(tmp_path, "2")
    assert r.returncode == 0, r.stderr
    assert calls[0].startswith("api --paginate repos/acme/models/issues/42/comments")
    assert calls[1].startswith("api --method POST repos/acme/models/issues/42/comments -F body=@")


def test_later_plans_update_the_same_comment(tmp_path: Path) -> None:
    r, calls = _post(tmp_path, "2", FAKE_EXISTING="987")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 2 and calls[1].startswith("api --method PATCH repos/acme/models/issues/comments/987 ")
    assert not any("POST" in c for c in calls)


def test_no_changes_and_no_comment_posts_nothing_but_an_old_comment_is_updated(tmp_path: Path) -> None:
    r, calls = _post(tmp_path, "0")
    assert r.returncode == 0 and len(calls) == 1
    r, calls = _post(tmp_path, "0", FAKE_EXISTING="987")
    assert r.returncode == 0 and "PATCH" in calls[1]


@pytest.mark.parametrize("existing", ["", "987"])
def test_a_failed_post_fails_the_job(tmp_path: Path, existing: str) -> None:
    r, _ = _post(tmp_path, "2", FAKE_FAIL="1", FAKE_EXISTING=existing)
    assert r.returncode != 0
    assert "HTTP 403" in r.stderr


def test_a_body_without_the_marker_is_refused(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    body = tmp_path / "plan.md"
    body.write_text("hello\n")
    env = {**os.environ, "GITHUB_REPOSITORY": "acme/models", "PR_NUMBER": "1"}
    r = subprocess.run(["bash", str(POSTER), str(body)], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "marker" in r.stderr


def _hooks() -> list[dict[str, object]]:
    config = yaml.safe_load((CI / ".pre-commit-config.yaml").read_text())
    provided = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    return [*config["repos"][0]["hooks"], *provided]


def _run_hook(entry: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(entry)
    assert argv[0] == "featrix"
    return subprocess.run(
        [sys.executable, "-m", "featrix_iac", *argv[1:]], cwd=cwd, capture_output=True, text=True, env=os.environ
    )


def test_pre_commit_hooks_pass_on_a_clean_project_and_fail_on_a_bad_one(tmp_path: Path) -> None:
    root = tmp_path / "project"
    copy_project(MULTI_ENV, root)
    hooks = _hooks()
    assert {h["id"] for h in hooks} >= {"featrix-fmt", "featrix-validate"}
    for hook in hooks:
        r = _run_hook(str(hook["entry"]), root)
        assert r.returncode == 0, (hook["id"], r.stdout, r.stderr)
    manifest = root / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("  penguins:\n", "  penguins:    \n", 1) + "\n\n\n")
    assert _run_hook("featrix fmt --check", root).returncode == 1
    manifest.write_text(manifest.read_text().replace("foundational_models:", "foundational_modelz:"))
    r = _run_hook("featrix validate", root)
    assert r.returncode == 1 and "Error:" in r.stderr


def _featrix_commands() -> list[list[str]]:
    """Every `featrix ...` command line in the workflow's run: blocks."""
    workflow = yaml.safe_load((CI / ".github" / "workflows" / "featrix.yml").read_text())
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                line = line.strip()
                if line.startswith("featrix "):
                    found.append(shlex.split(line.split(">")[0]))
    return found


def test_workflow_commands_and_options_exist() -> None:
    import click

    from featrix_iac.cli.main import cli

    commands = _featrix_commands()
    used = {argv[1] for argv in commands}
    assert {"fmt", "validate", "plan", "show", "apply"} <= used
    ctx = click.Context(cli)
    for argv in commands:
        cmd = cli.get_command(ctx, argv[1])
        assert cmd is not None, argv
        options = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
        for token in argv[2:]:
            if token.startswith("-"):
                assert token in options, f"{' '.join(argv)}: {token} is not an option of featrix {argv[1]}"
        # click accepts the whole line (arguments, option values)
        cmd.make_context(
            argv[1], [t.replace('"$FEATRIX_ENV"', "prod").replace("$FEATRIX_ENV", "prod") for t in argv[2:]]
        )
