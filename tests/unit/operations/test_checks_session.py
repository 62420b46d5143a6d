"""Smoke checks after an apply reuse the apply's session: no second load of a large project, no lockfile read
when no endpoint declares checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.operations import checks, session


def _project(root: Path) -> None:
    (root / "data.csv").write_text("a,b\n1,x\n2,y\n3,x\n", encoding="utf-8")
    (root / "featrix.yaml").write_text(
        "version: 1\nproject: checks-session\nserver: {url: 'http://127.0.0.1:9'}\n"
        "foundational_models:\n  fm: {data: data.csv}\n"
        "predictors:\n  p: {foundational_model: fm, type: binary_classifier, target_column: b}\n"
        "endpoints:\n  e: {predictor: p}\n",
        encoding="utf-8",
    )


def test_the_checks_after_an_apply_use_its_session_and_read_nothing_without_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    applied = session.open_session(tmp_path)
    loads: list[str] = []
    monkeypatch.setattr(checks, "open_session", lambda *a, **k: loads.append("project") or applied)
    monkeypatch.setattr(type(applied.store), "load", lambda self: loads.append("lockfile"))
    assert checks.run_checks(tmp_path, None, session=applied) == []
    assert loads == []  # nothing loaded again: the apply's project, and no lockfile read for no checks
    assert checks.run_checks(tmp_path, None) == [] and loads == ["project"]  # `featrix check` loads its own
