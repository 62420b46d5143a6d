"""The README stays true: every command is in the CLI reference, and CI runs the commands it shows."""

from __future__ import annotations

import re
from pathlib import Path

from featrix_iac.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_every_command_is_in_the_cli_reference() -> None:
    reference = _section("CLI reference")
    missing = [name for name in COMMANDS if f"`featrix {name}" not in reference]
    assert not missing, f"README's CLI reference lacks: {missing}"


def test_quickstart_has_the_two_commands_ci_runs() -> None:
    quickstart = _section("Quickstart")
    for marker in ("<!-- ci:main-command -->", "<!-- ci:test-command -->"):
        assert marker in quickstart
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test-command" in ci and "readme_command main-command" in ci
    main = re.search(r"<!-- ci:main-command -->\n```\n(.+)\n```", quickstart)
    assert main and "apply --auto-approve" in main.group(1) and "predict endpoint." in main.group(1)


def test_manifest_reference_names_every_resource_section() -> None:
    reference = _section("Manifest reference")
    for section in ("foundational_models", "predictors", "endpoints", "vector_databases"):
        assert f"**{section}.KEY**" in reference
