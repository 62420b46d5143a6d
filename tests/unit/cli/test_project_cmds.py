"""`featrix validate / render / fmt / init` through the real CLI boundary (in-process, a few via subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from repo_files import copy_project

from featrix_iac.cli.errors import run
from featrix_iac.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def featrix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    cwd = os.getcwd()
    try:
        code = run(cli, list(args))
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    dst = tmp_path / "quickstart"
    copy_project(EXAMPLES / "quickstart", dst)
    return dst


def test_validate_success(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = featrix(capsys, "-C", str(EXAMPLES / "quickstart"), "validate")
    assert (code, out, err) == (0, "Success! The configuration is valid.\n", "")


def test_validate_finds_the_root_from_a_subfolder(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = featrix(capsys, "-C", str(EXAMPLES / "multi-env" / "models"), "validate", "-e", "prod")
    assert code == 0 and out.startswith("Success!")


def test_validate_without_a_manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = featrix(capsys, "-C", str(tmp_path), "validate")
    assert code == 1 and out == ""
    assert err == (
        f"Error: no featrix.yaml found in {tmp_path.resolve()} or its parents\n"
        "  Run `featrix init` to create a project here, or `featrix -C DIR ...` to use the project in DIR.\n"
    )


def test_validate_json(capsys: pytest.CaptureFixture[str], quickstart: Path) -> None:
    code, out, _ = featrix(capsys, "-C", str(quickstart), "validate", "--json")
    assert code == 0 and json.loads(out) == {"format_version": 1, "valid": True, "diagnostics": []}
    (quickstart / "data" / "penguins.csv").unlink()
    code, out, err = featrix(capsys, "-C", str(quickstart), "validate", "--json")
    data = json.loads(out)
    assert code == 1 and err == "" and data["valid"] is False
    assert data["diagnostics"] == [
        {
            "severity": "error",
            "summary": "Data file not found",
            "detail": '"data/penguins.csv" does not exist.',
            "address": "foundational_model.penguins",
            "range": {"file": "featrix.yaml", "line": 13, "col": 11},
        }
    ]


def test_render_yaml_redacts_secrets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATRIX_WEBHOOK_SECRET", "super-secret-value")
    code, out, err = featrix(capsys, "-C", str(EXAMPLES / "quickstart"), "render")
    assert code == 0 and err == ""
    assert "super-secret-value" not in out
    assert "webhook_secret: (sensitive value)" in out
    assert out.startswith("# featrix render: environment default\n")
    import yaml

    data = yaml.safe_load(out)
    assert data["foundational_models"]["penguins"]["epochs"] == 8
    assert "environments" not in data and "include" not in data


def test_render_json_for_an_environment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = featrix(capsys, "-C", str(EXAMPLES / "multi-env"), "render", "-e", "prod", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["project"] == "penguins-prod"
    assert data["server"]["url"] == "https://sphere-api.featrix.com"
    assert data["endpoints"]["species_api"]["description"] == "Penguin species (production)"


def test_render_of_a_broken_project_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = featrix(capsys, "-C", str(EXAMPLES / "multi-env"), "render", "-e", "qa")
    assert code == 1 and out == ""
    assert err.startswith('Error: Unknown environment "qa"\n')


def test_fmt_check_lists_files_and_fmt_rewrites_them(capsys: pytest.CaptureFixture[str], quickstart: Path) -> None:
    manifest = quickstart / "featrix.yaml"
    manifest.write_text(manifest.read_text().replace("  url: local", "    url:   local"), encoding="utf-8")
    assert "    url:   local" in manifest.read_text()
    code, out, _ = featrix(capsys, "-C", str(quickstart), "fmt", "--check")
    assert (code, out) == (1, "featrix.yaml\n")
    code, out, _ = featrix(capsys, "-C", str(quickstart), "fmt")
    assert (code, out) == (0, "featrix.yaml\n")
    assert manifest.read_text() == (EXAMPLES / "quickstart" / "featrix.yaml").read_text()
    code, out, _ = featrix(capsys, "-C", str(quickstart), "fmt", "--check")
    assert (code, out) == (0, "")


def test_fmt_explicit_files_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("a:    1\n", encoding="utf-8")
    bad.write_text("a: [1\n", encoding="utf-8")
    code, out, err = featrix(capsys, "-C", str(tmp_path), "fmt", "--any-file", "good.yaml", "bad.yaml")
    assert code == 1
    assert out == ""  # the files that could be formatted are, but the run fails
    assert err.startswith("Error: Invalid YAML syntax\n  in bad.yaml:2:1")
    assert good.read_text() == "a: 1\n"
    code, _, err = featrix(capsys, "-C", str(tmp_path), "fmt", "missing.yaml")
    assert code == 1 and "Error:" in err


def test_fmt_keeps_to_the_projects_manifests_unless_asked(capsys: pytest.CaptureFixture[str], quickstart: Path) -> None:
    """`featrix fmt FILE` rewrote any YAML file it was given, even a CI workflow outside the project."""
    other = quickstart / "docker-compose.yml"
    other.write_text("services:    {}\n", encoding="utf-8")
    manifest = quickstart / "featrix.yaml"
    untidy = manifest.read_text().replace("version: 1\n", "version:    1\n")
    manifest.write_text(untidy, encoding="utf-8")
    code, out, err = featrix(capsys, "-C", str(quickstart), "fmt", "docker-compose.yml", "featrix.yaml")
    assert code == 1 and out == "" and "docker-compose.yml" in err and "--any-file" in err, err
    assert other.read_text() == "services:    {}\n" and manifest.read_text() == untidy  # nothing written
    code, out, _ = featrix(capsys, "-C", str(quickstart), "fmt", "featrix.yaml")
    assert code == 0 and out == "featrix.yaml\n"
    code, out, _ = featrix(capsys, "-C", str(quickstart), "fmt", "--any-file", "docker-compose.yml")
    assert code == 0 and other.read_text() == "services: {}\n"


def test_init_scaffolds_a_project_that_validates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "My Project"
    folder.mkdir()
    (folder / ".gitignore").write_text("*.pyc", encoding="utf-8")
    code, out, _ = featrix(capsys, "-C", str(folder), "init")
    assert code == 0 and "Created featrix.yaml" in out
    assert (folder / "data").is_dir()
    assert (folder / ".gitignore").read_text() == "*.pyc\n.featrix/\n"
    # the editor schemas sit next to featrix.yaml, committed with it, not in the git-ignored .featrix/
    assert "$schema=featrix.schema.json" in (folder / "featrix.yaml").read_text()
    assert json.loads((folder / "featrix.schema.json").read_text())["title"] == "featrix.yaml"
    include = json.loads((folder / "featrix.include.schema.json").read_text())
    assert "required" not in include and set(include["properties"]) == {
        "foundational_models",
        "predictors",
        "endpoints",
        "vector_databases",
    }
    assert not (folder / ".featrix").exists()
    assert "project: My-Project" in (folder / "featrix.yaml").read_text()
    code, out, _ = featrix(capsys, "-C", str(folder), "validate")
    assert code == 0 and out.startswith("Success!")
    code, out, _ = featrix(capsys, "-C", str(folder), "fmt", "--check")
    assert (code, out) == (0, "")


def test_init_schemas_refreshes_only_the_schemas(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = featrix(capsys, "-C", str(tmp_path), "init", "--schemas")
    assert code == 1 and "featrix init" in err
    (tmp_path / "featrix.yaml").write_text("version: 1\nproject: mine\n")
    code, out, _ = featrix(capsys, "-C", str(tmp_path), "init", "--schemas")
    assert (
        code == 0
        and (tmp_path / "featrix.schema.json").is_file()
        and (tmp_path / "featrix.include.schema.json").is_file()
    )
    assert (tmp_path / "featrix.yaml").read_text() == "version: 1\nproject: mine\n"


def test_init_refuses_to_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "featrix.yaml").write_text("keep me\n", encoding="utf-8")
    code, _, err = featrix(capsys, "-C", str(tmp_path), "init")
    assert code == 1 and err.startswith("Error: featrix.yaml already exists")
    assert (tmp_path / "featrix.yaml").read_text() == "keep me\n"


def test_subprocess_validate_error_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "featrix.yaml").write_text("version: 1\nproject: [x\n", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(tmp_path), "validate"], capture_output=True, text=True
    )
    assert r.returncode == 1
    assert r.stderr.startswith("Error: Invalid YAML syntax\n  in featrix.yaml:3:1\n")
    assert "Traceback" not in r.stderr


def test_subprocess_validate_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from featrix_iac.cli.main import main\n"
        "try:\n    main(['-C', sys.argv[1], 'validate'])\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('pandas', 'httpx', 'rich', 'numpy', 'sklearn', 'ruamel') if m in sys.modules]\n"
        "print(heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "quickstart")], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr
