"""Bad input never crashes (issue 5 §8): mutated manifests fed to `featrix validate` and `featrix plan`.

Bases: the quickstart (applied once on the local server, so plan diffs against a real lockfile), the
multi-env example (includes, environments, a vector database) and every golden diagnostics case. The
mutations delete / duplicate / rename keys, change value types, insert garbage bytes, truncate, add
random unicode, deep nesting, huge numbers, random templates and bad includes. The outcome is always
success or exit 1 with `Error:` blocks, each positioned (`in FILE:LINE`) when the problem is in a file;
never a traceback or an internal error. Most runs are in-process; a few go through a subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from robust_helpers import cli_env
from strategies import (
    EXAMPLES,
    GOLDEN,
    Snapshot,
    copy_base,
    examples,
    featrix_inprocess,
    golden_cases,
    manifest_files,
    plausible_mutation,
    project_mutations,
)

# whole-file problems, which have no line to point at (the file is still named)
FILE_LEVEL = ("Empty manifest file",)
# problems that are not in a manifest file at all
NOT_IN_A_FILE = ("no featrix.yaml found", "Cannot connect", "Server ", "HTTP ")


def error_blocks(stderr: str) -> list[str]:
    """Each `Error: ...` with its indented lines."""
    blocks: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("Error: "):
            blocks.append(line)
        elif blocks and line.startswith("  "):
            blocks[-1] += "\n" + line
    return blocks


def position_problem(block: str, root: Path) -> str:
    """'' when the block is positioned as it should be, else why not."""
    summary = block.splitlines()[0][len("Error: ") :]
    where = re.search(r"^  in (?P<file>.+?)(?::(?P<line>\d+)(?::\d+)?)?$", block, re.MULTILINE)
    if summary.startswith(NOT_IN_A_FILE):
        return ""
    if where is None:
        return f"no position: {block!r}"
    if where["line"] is None and not summary.startswith(FILE_LEVEL):
        return f"a file but no line: {block!r}"
    if not (root / where["file"]).is_file():
        return f"position in a file that is not in the project: {block!r}"
    return ""


def check_outcome(result: tuple[int, str, str], allowed: tuple[int, ...], root: Path) -> list[str]:
    """The property: an allowed exit code, no crash, and positioned `Error:` blocks on exit 1."""
    code, out, err = result
    summaries = [line[7:].split('"')[0].strip() for line in err.splitlines() if line.startswith("Error: ")]
    event(f"exit {code}" + (f": {summaries[0]}" if summaries else ""))  # --hypothesis-show-statistics
    assert code in allowed, (code, out, err)
    assert "Traceback" not in out + err, err
    assert "internal error" not in err, err
    if code != 1:
        return []
    assert err.startswith("Error: "), err
    blocks = error_blocks(err)
    problems = [p for b in blocks if (p := position_problem(b, root))]
    assert not problems, "\n".join(problems)
    return blocks


class Ctx:
    """The module's projects and CLI environment (a short repr keeps hypothesis' reports readable)."""

    def __init__(self, env: dict[str, str], bases: dict[str, Path], golden: Path) -> None:
        self.env, self.bases, self.golden = env, bases, golden

    def __repr__(self) -> str:
        return "ctx"


@pytest.fixture(scope="module")
def ctx(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Ctx:
    """Planable copies of the examples, pointed at the test server; the quickstart applied (tiny data, 2 epochs)."""
    env = cli_env(server.api_key, FEATRIX_WEBHOOK_SECRET="property-secret")
    top = tmp_path_factory.mktemp("bases")
    quick = copy_base(EXAMPLES / "quickstart", top / "quickstart", server.url)
    manifest = quick / "featrix.yaml"
    text = manifest.read_text().replace("project: penguins-quickstart", "project: prop-manifests")
    manifest.write_text(text.replace("fm_epochs: 8", "fm_epochs: 2"))
    rows = (quick / "data" / "penguins.csv").read_text().splitlines()
    (quick / "data" / "penguins.csv").write_text("\n".join([rows[0], *rows[1::6]]) + "\n")
    code, out, err = featrix_inprocess(env, "-C", str(quick), "apply", "--auto-approve")
    assert code == 0, out + err
    multi = copy_base(EXAMPLES / "multi-env", top / "multi-env", server.url)
    golden = top / "golden"
    for case in golden_cases():
        copy_base(GOLDEN / case, golden / case)
    return Ctx(env, {"quickstart": quick, "multi-env": multi}, golden)


def _mutate(root: Path, data: st.DataObject, protect: bool) -> Path:
    names = manifest_files(root)
    texts = {n: (root / n).read_text(encoding="utf-8", errors="surrogateescape") for n in names}
    for name, new in data.draw(project_mutations(texts, protect), label="mutations").items():
        (root / name).write_bytes(new)
    return root


@settings(max_examples=examples(60, 2000))
@given(case=st.sampled_from(golden_cases()), data=st.data())
def test_validate_golden_cases_mutated(ctx: Ctx, case: str, data: st.DataObject) -> None:
    root = ctx.golden / case
    snap = Snapshot.take(root)
    args = (root / "args.txt").read_text().split() if (root / "args.txt").exists() else []
    try:
        _mutate(root, data, protect=False)
        check_outcome(featrix_inprocess({"NO_COLOR": "1"}, "-C", str(root), "validate", *args), (0, 1), root)
    finally:
        snap.restore()


@settings(max_examples=examples(60, 2000))
@given(base=st.sampled_from(["quickstart", "multi-env"]), data=st.data())
def test_validate_examples_mutated(ctx: Ctx, base: str, data: st.DataObject) -> None:
    root, env = ctx.bases[base], ctx.env
    snap = Snapshot.take(root)
    try:
        _mutate(root, data, protect=False)
        envs = ["", "dev", "prod", "nope"] if base == "multi-env" else [""]
        e = data.draw(st.sampled_from(envs), label="environment")
        check_outcome(featrix_inprocess(env, "-C", str(root), "validate", *(["-e", e] if e else [])), (0, 1), root)
    finally:
        snap.restore()


@settings(max_examples=examples(40, 1000))
@given(base=st.sampled_from(["quickstart", "multi-env"]), data=st.data())
def test_plan_examples_mutated(ctx: Ctx, base: str, data: st.DataObject) -> None:
    """plan agrees with validate: the same diagnostics when the manifests are invalid, a plan when they are valid."""
    root, env = ctx.bases[base], ctx.env
    snap = Snapshot.take(root)
    e = ["-e", "dev"] if base == "multi-env" else []
    try:
        if data.draw(st.booleans(), label="plausible edits"):
            _edit_tree(root, data)
        else:
            _mutate(root, data, protect=True)
        validated = featrix_inprocess(env, "-C", str(root), "validate", *e)
        check_outcome(validated, (0, 1), root)
        planned = featrix_inprocess(env, "-C", str(root), "plan", "--detailed-exitcode", *e)
        blocks = check_outcome(planned, (0, 1, 2), root)
        if validated[0] == 1:
            assert planned[0] == 1 and blocks == error_blocks(validated[2]), (validated[2], planned[2])
    finally:
        snap.restore()


def _edit_tree(root: Path, data: st.DataObject) -> None:
    import yaml

    name = data.draw(st.sampled_from(manifest_files(root)), label="file")
    tree = yaml.safe_load((root / name).read_text(encoding="utf-8"))
    edited = data.draw(plausible_mutation(tree), label="edited")
    (root / name).write_text(yaml.safe_dump(edited, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _subprocess(root: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    r = subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(root), *args],
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        timeout=120,
    )
    return r.returncode, r.stdout, r.stderr


@settings(max_examples=examples(4, 100))
@given(data=st.data())
def test_mutated_manifests_through_subprocesses(ctx: Ctx, data: st.DataObject) -> None:
    """The real entry point (and an ASCII-only stderr): still no traceback, still positioned errors."""
    root, env = ctx.bases["quickstart"], ctx.env
    snap = Snapshot.take(root)
    try:
        _mutate(root, data, protect=True)
        ascii_env = env | {"PYTHONIOENCODING": "ascii"} if data.draw(st.booleans(), label="ascii") else env
        check_outcome(_subprocess(root, ascii_env, "validate"), (0, 1), root)
        check_outcome(_subprocess(root, ascii_env, "plan", "--detailed-exitcode"), (0, 1, 2), root)
    finally:
        snap.restore()
