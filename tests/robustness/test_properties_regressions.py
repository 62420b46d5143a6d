"""Shrunk failures of the property tests, kept as explicit regression tests (issue 5 §8, practices R14).

Each case names the property run that found it. They need no server: `featrix validate` in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.cli.errors import run
from featrix_iac.cli.main import cli as featrix_cli
from featrix_iac.config.yaml_source import SYNTAX_ERROR, VALUE_ERROR

HEAD = b"version: 1\nproject: demo\n"


def _validate(root: Path, manifest: bytes) -> tuple[int, str]:
    (root / "featrix.yaml").write_bytes(manifest)
    err = io.StringIO()
    cwd = os.getcwd()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = run(featrix_cli, ["-C", str(root), "validate"])
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def _deep(depth: int) -> bytes:
    return b"extra: " + b"[{a: " * depth + b"1" + b"}]" * depth + b"\n"


def _alias_bomb(levels: int) -> bytes:
    lines = [b"l0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &a{i} [".encode() + b", ".join([f"*a{i - 1}".encode()] * 10) + b"]")
    return b"\n".join(lines) + b"\n"


CASES = {
    # test_validate_golden_cases_mutated: a NUL byte was "Invalid YAML syntax in featrix.yaml" with no line,
    # and the detail leaked PyYAML's `in "<unicode string>", position 0`
    "nul byte": (HEAD + b"  \x00 a\n", "in featrix.yaml:3:3", "Unacceptable character #x0000"),
    # a byte that is not UTF-8: "Cannot read manifest file" had no line
    "not utf-8": (HEAD + b"server: {url: local}\nx: caf\xe9\n", "in featrix.yaml:4:7", "Not UTF-8 text"),
    # and its cousin, an alias "billion laughs" (10**8 values), which would hang instead of failing
    "alias bomb": (HEAD + _alias_bomb(9), "in featrix.yaml:", "over 200000 values"),
    # test_plan_examples_mutated (long run): `data: 0` passed validate, then plan failed with an unpositioned
    # "data file not found: /abs/path/0"; a number is read as a path like every string field
    "numeric data path": (
        HEAD + b"foundational_models:\n  fm:\n    data: 0\n",
        "in featrix.yaml:5:11",
        '"0" does not exist',
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shrunk_manifest_failures_are_positioned_errors(name: str, tmp_path: Path) -> None:
    manifest, position, detail = CASES[name]
    code, err = _validate(tmp_path, manifest)
    assert code == 1, err
    assert err.startswith("Error: ") and "internal error" not in err and "Traceback" not in err, err
    assert position in err and detail in err, err
    assert "<unicode string>" not in err, err


# test_validate_examples_mutated: a deep flow nest was "internal error: RecursionError". Whichever notices first
# (our MAX_DEPTH while building, or the YAML library's own nesting limit while scanning, as PyYAML 6.0.4 does
# at 1000 levels), the outcome is one positioned YAML error on the nest's line, inside the nested value.
DEEP = {
    "deep nest": HEAD + _deep(100),
    "deeper than the yaml library allows": HEAD + _deep(1500),
    "deep block nest": HEAD + b"extra:\n" + b"".join(b"  " * i + b"-\n" for i in range(1, 80)),
    "recursive alias": HEAD + b"extra: &a [*a]\n",
}


def _validate_json(root: Path, manifest: bytes) -> tuple[int, dict[str, Any]]:
    (root / "featrix.yaml").write_bytes(manifest)
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(out):
            code = run(featrix_cli, ["-C", str(root), "validate", "--json"])
    finally:
        os.chdir(cwd)
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("name", sorted(DEEP))
def test_too_deep_a_manifest_is_one_positioned_yaml_error(name: str, tmp_path: Path) -> None:
    code, doc = _validate_json(tmp_path, DEEP[name])
    assert code == 1 and doc["valid"] is False, doc
    [diag] = doc["diagnostics"]
    assert diag["severity"] == "error" and diag["summary"] in (SYNTAX_ERROR, VALUE_ERROR), diag
    where = diag["range"]
    assert where["file"] == "featrix.yaml" and where["line"] >= 3, diag
    if where["line"] == 3:
        assert where["col"] > len("extra: "), diag  # in the nested value, not at the key
    assert "<unicode string>" not in json.dumps(diag), diag
    code, err = _validate(tmp_path, DEEP[name])
    assert code == 1 and err.startswith("Error: ") and "internal error" not in err and "Traceback" not in err, err


def test_sixty_four_levels_are_still_fine(tmp_path: Path) -> None:
    code, err = _validate(tmp_path, HEAD + b"variables:\n  deep: " + b"[" * 60 + b"]" * 60 + b"\n")
    assert code == 0, err
