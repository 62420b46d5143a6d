"""The CI kit in examples/ci: the comment poster (one comment, updated; failures fail) and the pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from repo_files import copy_project

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
POSTER = CI / "scripts" / "post-plan-comment.sh"

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


def _hooks() -> list[dict[str, Any]]:
    """The example configuration's hooks as pre-commit runs them: the repository's definition, plus `args`."""
    config = yaml.safe_load((CI / ".pre-commit-config.yaml").read_text())
    provided = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hooks = []
    for repo in config["repos"]:
        for hook in repo["hooks"]:
            hooks.append({**provided[hook["id"]], **hook, "entry": provided[hook["id"]]["entry"]})
    return hooks


def test_the_example_hooks_install_featrix_iac_from_its_repository_at_a_pinned_ref() -> None:
    config = yaml.safe_load((CI / ".pre-commit-config.yaml").read_text())
    for repo in config["repos"]:
        assert repo["repo"].endswith("/featrix-iac"), repo
        assert repo["rev"] not in ("main", "master", "HEAD"), repo
    for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text()):
        assert hook["language"] == "python", hook  # pre-commit installs this repository at `rev`


def _run_hook(hook: dict[str, Any] | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(hook) if isinstance(hook, str) else [*shlex.split(hook["entry"]), *hook.get("args", [])]
    assert argv[0] == "featrix"
    return subprocess.run(
        [sys.executable, "-m", "featrix_iac", *argv[1:]], cwd=cwd, capture_output=True, text=True, env=os.environ
    )


@pytest.mark.parametrize("example", ["quickstart", "multi-env"])
def test_pre_commit_hooks_pass_on_a_clean_project_and_fail_on_a_bad_one(tmp_path: Path, example: str) -> None:
    """The quickstart declares no environment: the hooks must not assume one (`validate -e prod` failed there)."""
    root = copy_project(REPO / "examples" / example, tmp_path / "project")
    hooks = _hooks()
    assert {h["id"] for h in hooks} >= {"featrix-fmt", "featrix-validate"}
    for hook in hooks:
        r = _run_hook(hook, root)
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


# ------------------------------------------------------------------ the workflow's run: steps, for real

WORKFLOW = CI / ".github" / "workflows" / "featrix.yml"
FAKE_PIP = """#!/usr/bin/env bash
# stands in for `pip install "$FEATRIX_IAC_SOURCE"` (featrix-iac is already installed): checks the pin
echo "$*" >> "$FAKE_LOG"
case "$*" in
  "install featrix-iac @ git+"*@*) ;;
  *) echo "not a pinned repository install: $*" >&2; exit 1 ;;
esac
case "$*" in *@main|*@master|*@HEAD) echo "a branch is not a pin: $*" >&2; exit 1 ;; esac
"""
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def test_only_featrix_env_names_the_environment() -> None:
    """The GitHub environment, the concurrency groups and the lockfile follow FEATRIX_ENV; nothing says prod."""
    text = WORKFLOW.read_text()
    lines = [code for line in text.splitlines() if re.search(r"\bprod\b", code := line.split("#")[0].rstrip())]
    assert lines == ["  FEATRIX_ENV: prod"], lines
    installs = [line.strip() for line in text.splitlines() if "pip install" in line.split("#")[0]]
    assert installs and set(installs) == {'- run: pip install "$FEATRIX_IAC_SOURCE"'}, installs  # not on PyPI
    assert re.fullmatch(r"featrix-iac @ git\+https://\S+/featrix-iac@\S+", _workflow()["env"]["FEATRIX_IAC_SOURCE"])


class _Runner:
    """Runs a workflow job's `run:` steps in order with bash -e, as a runner would, in a checkout `work`."""

    def __init__(self, work: Path, env: dict[str, str], values: dict[str, str]) -> None:
        self.work, self.env, self.values, self.outputs = work, env, values, {}  # type: dict[str, dict[str, str]]

    def expand(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            step = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", name)
            if step:
                return self.outputs[step.group(1)][step.group(2)]
            assert name in self.values, f"the test does not know the expression {name!r}"
            return self.values[name]

        return _EXPR.sub(one, text)

    def job(self, name: str, workflow: dict[str, Any]) -> list[subprocess.CompletedProcess[str]]:
        job = workflow["jobs"][name]
        env = {**self.env, **{k: self.expand(str(v)) for k, v in {**workflow["env"], **job.get("env", {})}.items()}}
        results, failed = [], False
        for i, step in enumerate(job["steps"]):
            if "run" not in step or (failed and "always()" not in str(step.get("if", ""))):
                continue
            out = self.work.parent / f"{name}-{i}.out"
            out.write_text("")
            step_env = {**env, **{k: self.expand(str(v)) for k, v in step.get("env", {}).items()}}
            step_env.update({"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(self.work.parent / "summary.md")})
            r = subprocess.run(
                ["bash", "-e", "-c", self.expand(step["run"])],
                cwd=self.work,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            results.append(r)
            if "id" in step:
                pairs = [line.split("=", 1) for line in out.read_text().splitlines() if "=" in line]
                self.outputs[step["id"]] = dict(pairs)
            failed = failed or r.returncode != 0
        return results


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_the_workflow_steps_run_in_order_against_the_local_server(tmp_path: Path, server: Any) -> None:
    """A repository holding the multi-env project, the workflow copied as the README says, FEATRIX_ENV=dev
    (the one value changed): the PR plan is posted, the merge applies and pushes the lockfile, the drift
    check is clean, and the next PR's plan (no changes) posts nothing."""
    for tool in ("bash", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not available")
    from robust_helpers import LOCK_KEY, WEBHOOK_SECRET

    origin, src, work = tmp_path / "origin.git", tmp_path / "src", tmp_path / "work"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    copy_project(REPO / "examples" / "multi-env", src)
    manifest = src / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("url: local", f"url: {server.url}"))
    (src / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, src / ".github" / "workflows" / "featrix.yml")
    (src / "scripts").mkdir()
    shutil.copy2(POSTER, src / "scripts" / "post-plan-comment.sh")
    _git(src, "init", "-q", "-b", "main")
    _git(src, "add", ".")
    _git(src, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "project")
    _git(src, "push", "-q", str(origin), "main")
    _git(tmp_path, "clone", "-q", str(origin), str(work))  # what actions/checkout gives the job

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name, script in (("gh", FAKE_GH), ("pip", FAKE_PIP)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    log.write_text("")
    featrix_bin = Path(sys.executable).parent
    assert (featrix_bin / "featrix").exists(), "the featrix console script of this environment"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FEATRIX_", "GIT_"))}
    env = {
        **base,
        "PATH": os.pathsep.join([str(bin_dir), str(featrix_bin), base["PATH"]]),
        "FAKE_LOG": str(log),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": _git(work, "rev-parse", "HEAD").strip(),
        "CI": "true",
        "HOME": str(tmp_path),
    }
    values = {
        "secrets.FEATRIX_API_KEY": server.api_key,
        "secrets.FEATRIX_LOCK_KEY": LOCK_KEY,
        "secrets.FEATRIX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "github.token": "ghs_test",
        "github.event.pull_request.number": "7",
    }
    workflow = _workflow()
    workflow["env"]["FEATRIX_ENV"] = "dev"  # the README: only FEATRIX_ENV changes
    runner = _Runner(work, env, values)

    def ok(results: list[subprocess.CompletedProcess[str]]) -> None:
        for r in results:
            assert r.returncode == 0, (r.args, r.stdout[-3000:], r.stderr[-3000:])

    ok(runner.job("settings", workflow))
    assert runner.outputs["env"] == {"environment": "dev"}

    ok(runner.job("plan", workflow))  # pull request: plan with changes, posted once
    assert runner.outputs["plan"]["exitcode"] == "2"
    assert (work / "plan.md").read_text().startswith("<!-- featrix-plan: penguins-dev/dev -->")
    calls = log.read_text().splitlines()
    assert calls[0].startswith("install featrix-iac @ git+"), calls
    assert any(c.startswith("api --method POST repos/acme/models/issues/7/comments") for c in calls), calls

    log.write_text("")
    ok(runner.job("apply", workflow))  # merge to main: apply, then the lockfile is committed and pushed
    pushed = _git(origin, "log", "-1", "--format=%s", "--name-only", "main")
    assert "[skip ci]" in pushed and "featrix.dev.lock" in pushed, pushed

    ok(runner.job("drift", workflow))  # nightly: nothing drifted

    for f in ("plan.fxplan", "plan.json", "plan.md"):
        (work / f).unlink()
    log.write_text("")
    ok(runner.job("plan", workflow))  # the next pull request changes nothing: no comment
    assert runner.outputs["plan"]["exitcode"] == "0"
    assert not any("POST" in c or "PATCH" in c for c in log.read_text().splitlines())

    # promotion: an environment "qa" configured like dev takes dev's trained models; the manual promote job posts
    # its plan on the promotion PR, and the apply job (FEATRIX_PROMOTE_FROM set) promotes instead of training
    manifest = work / "featrix.yaml"
    manifest.write_text(
        manifest.read_text().replace("environments:\n", "environments:\n  qa:\n    variables:\n      fm_epochs: 3\n", 1)
    )
    workflow["env"].update(FEATRIX_ENV="qa", FEATRIX_PROMOTE_FROM="dev")
    runner.values["inputs.promote_pr"] = "9"
    log.write_text("")
    ok(runner.job("promote", workflow))
    assert runner.outputs["plan"]["exitcode"] == "2"
    promotion = (work / "promote.md").read_text()
    assert "promoted)" in promotion and "0 trainings" in promotion, promotion
    assert any(
        c.startswith("api --method POST repos/acme/models/issues/9/comments") for c in log.read_text().splitlines()
    )
    ok(runner.job("apply", workflow))
    qa = json.loads((work / "featrix.qa.lock").read_text())["resources"]
    assert qa["foundational_model.penguins"]["borrowed"]["from"] == "dev"


def test_the_postgres_variant_keeps_the_state_in_the_database() -> None:
    """The team variant: FEATRIX_STATE_URL in every job that reads state, state pull in the PR comment, and no
    lockfile commit-back; otherwise the same jobs and steps as featrix.yml."""
    base = yaml.safe_load(WORKFLOW.read_text())
    variant = yaml.safe_load((WORKFLOW.parent / "featrix-postgres.yml").read_text())
    assert list(variant["jobs"]) == list(base["jobs"])
    for job in ("plan", "apply", "drift", "promote"):
        assert variant["jobs"][job]["env"]["FEATRIX_STATE_URL"] == "${{ secrets.FEATRIX_STATE_URL }}"
    runs = "\n".join(str(s.get("run", "")) for j in variant["jobs"].values() for s in j.get("steps", []))
    assert "featrix state pull" in runs and "git push" not in runs and "git commit" not in runs
    assert variant["jobs"]["apply"]["permissions"]["contents"] == "read"
