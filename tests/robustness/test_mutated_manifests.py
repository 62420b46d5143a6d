"""Bad input (issue 5 §8): random and mutated manifests fed to `featrix validate` and `featrix plan`.

Never a traceback or an internal error: always success (0, or 2 with --detailed-exitcode) or a
diagnostic (`Error: ...`, exit 1), positioned (`in FILE:LINE`) when it comes from the manifest. The
project was applied once, so plan diffs the mutated manifest against a real lockfile and server.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_helpers import Cli, cli_env, make_project

from featrix_iac.cli.errors import run
from featrix_iac.cli.main import cli as featrix_cli

PROTECTED = re.compile(r"^(server:|  url:|version:|project:)")  # never mutated: keeps the plan on this server

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "{{ var('nope') }}",
            "{{ env_var('FEATRIX_NOPE') }}",
            "{{ 1/0 }}",
            "{{",
            "penguins",
            "species",
            "regressor",
            "http://",
            "data/missing.csv",
            "../../etc/passwd",
            "predictor.species",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def applied(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("mutate") / "project", server.url, name="mutated")
    Cli(root, cli_env(server.api_key)).ok("apply", "--auto-approve")
    return root


def _featrix(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(Path.cwd())  # `-C DIR` changes the directory of this process: restore it after
        for key, value in env.items():
            mp.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(featrix_cli, list(args))
    if os.environ.get("FEATRIX_FUZZ_LOG"):
        with open(os.environ["FEATRIX_FUZZ_LOG"], "a") as log:
            log.write(f"{args[2:]} -> {code}: {err.getvalue().strip().splitlines()[:1]}\n")
    return code, out.getvalue(), err.getvalue()


def _check(code: int, out: str, err: str, allowed: tuple[int, ...]) -> None:
    assert code in allowed, (code, out, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 1:
        assert err.startswith(("Error: ", "Usage: ")), err


@st.composite
def text_mutations(draw: st.DrawFn, original: str) -> str:
    lines = original.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        if PROTECTED.match(lines[i]):
            continue
        op = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "replace", "insert", "swap"]))
        if op == "delete":
            lines.pop(i)
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "replace" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(st.text(max_size=20)).replace(chr(10), ' ')}"
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=30)))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            if not PROTECTED.match(lines[j]):
                lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            lines = ["version: 1"]
    return "\n".join(lines) + "\n"


@st.composite
def tree_mutations(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(original)
    sections = ["foundational_models", "predictors", "endpoints"]
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sections))
        items = data.setdefault(section, {})
        if not isinstance(items, dict) or not items:
            data[section] = {draw(st.text(max_size=10)): draw(values)}
            continue
        key = draw(st.sampled_from(sorted(items)))
        body = items[key]
        op = draw(st.sampled_from(["set", "delete_field", "delete_resource", "add_field", "replace_body", "rename"]))
        if op == "set" and isinstance(body, dict) and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(values)
        elif op == "delete_field" and isinstance(body, dict) and body:
            body.pop(draw(st.sampled_from(sorted(body))))
        elif op == "delete_resource":
            items.pop(key)
        elif op == "add_field" and isinstance(body, dict):
            body[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif op == "replace_body":
            items[key] = draw(values)
        elif op == "rename":
            items[draw(st.text(max_size=12))] = items.pop(key)
    return data


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(data=st.data())
def test_text_mutations_never_crash(server: Any, applied: Path, data: st.DataObject) -> None:
    manifest = applied / "featrix.yaml"
    original = manifest.read_text()
    env = cli_env(server.api_key)
    try:
        manifest.write_text(data.draw(text_mutations(original)))
        _check(*_featrix(env, "-C", str(applied), "validate"), allowed=(0, 1))
        _check(*_featrix(env, "-C", str(applied), "plan", "--detailed-exitcode"), allowed=(0, 1, 2))
    finally:
        manifest.write_text(original)


@SETTINGS
@given(data=st.data())
def test_tree_mutations_never_crash(server: Any, applied: Path, data: st.DataObject) -> None:
    manifest = applied / "featrix.yaml"
    original = manifest.read_text()
    env = cli_env(server.api_key)
    try:
        mutated = data.draw(tree_mutations(yaml.safe_load(original)))
        manifest.write_text(yaml.safe_dump(mutated, allow_unicode=True, sort_keys=False))
        code, out, err = _featrix(env, "-C", str(applied), "validate")
        _check(code, out, err, allowed=(0, 1))
        if code == 1 and "featrix.yaml" in err:
            assert re.search(r"in featrix\.yaml(:\d+)?", err), err  # positioned
        _check(*_featrix(env, "-C", str(applied), "plan", "--detailed-exitcode"), allowed=(0, 1, 2))
    finally:
        manifest.write_text(original)
