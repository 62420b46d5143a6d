"""Development mode: deterministic samples, capped epochs, prefixed names; its settings only in that mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.config.development import sample_file
from featrix_iac.diagnostics import DiagnosticsError

MANIFEST = """
version: 1
project: p
foundational_models:
  m: {{data: data.csv, epochs: 50}}
  small: {{data: data.csv, epochs: 2}}
environments:
  dev: {dev}
"""


def project(tmp_path: Path, dev: str, rows: int = 100) -> Path:
    (tmp_path / "data.csv").write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(rows)), encoding="utf-8")
    (tmp_path / "featrix.yaml").write_text(MANIFEST.format(dev=dev), encoding="utf-8")
    return tmp_path


def test_a_sample_is_deterministic_and_keeps_the_header(tmp_path: Path) -> None:
    root = project(tmp_path, "{}")
    first = sample_file(root, "data.csv", 0.25)
    text = (root / first).read_text(encoding="utf-8")
    (root / first).unlink()
    assert sample_file(root, "data.csv", 0.25) == first and (root / first).read_text(encoding="utf-8") == text
    lines = text.splitlines()
    assert lines[0] == "a,b" and len(lines) == 26
    assert len((root / sample_file(root, "data.csv", 7)).read_text(encoding="utf-8").splitlines()) == 8
    assert sample_file(root, "data.csv", 0.5) != first


def test_a_development_environment_samples_caps_and_prefixes(tmp_path: Path) -> None:
    root = project(tmp_path, "{mode: development, sample: 10, max_epochs: 3, name_prefix: bob-}")
    fm = load_project(root, "dev").project.foundational_models
    assert fm["m"].epochs == 3 and fm["small"].epochs == 2
    assert fm["m"].name == "bob-m" and fm["m"].data.startswith(".featrix/samples/data.sample-10.")
    assert len((root / fm["m"].data).read_text(encoding="utf-8").splitlines()) == 11
    other = load_project(root).project.foundational_models["m"]
    assert other.data == "data.csv" and other.epochs == 50 and other.name is None


def test_development_settings_outside_development_mode_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError) as err:
        load_project(project(tmp_path, "{sample: 0.1}"), "dev")
    assert "sample only applies with mode: development" in str([d.detail or d.summary for d in err.value.diagnostics])
