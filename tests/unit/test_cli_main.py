"""The CLI entry point: version, help, usage errors exit 1 with `Error:`."""

from __future__ import annotations

import subprocess
import sys

from featrix_iac import __version__
from featrix_iac.cli.main import COMMANDS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "featrix_iac", *args], capture_output=True, text=True)


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_help_lists_commands_without_importing_them() -> None:
    r = run("--help")
    assert r.returncode == 0
    listed = r.stdout.split("Commands:", 1)[1]
    assert all(name in listed for name in COMMANDS)
    probe = (
        "import sys\n"
        "from featrix_iac.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('featrix_iac.cli.cmd_')))"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    assert imported.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_error_exit_1_with_suggestion() -> None:
    r = run("validat")
    assert r.returncode == 1
    assert "Error: no such command 'validat'. Did you mean 'validate'?" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_option_exits_1_not_2() -> None:
    r = run("--no-such-option")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("Error:")


def test_chdir_to_missing_folder_is_error() -> None:
    r = run("-C", "/definitely/not/here", "validate")
    assert r.returncode == 1
    assert "Error:" in r.stderr and "Traceback" not in r.stderr
