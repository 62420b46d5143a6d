"""Copy a project folder of the repository by git's file list, never what a previous run left behind.

The README's main command applies `examples/quickstart` in place, leaving the git-ignored `.featrix/`
(lock key, local server data) and `featrix.lock`; a test that copied those would start from that state.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# what .gitignore keeps out of the examples; used only when git cannot list the files (no git, no clone)
_IGNORED = shutil.ignore_patterns(".featrix", "featrix*.lock", "__pycache__", "*.py[cod]")


def listed_files(folder: Path) -> list[str] | None:
    """The files under `folder` that git tracks or would track (not ignored), relative to it; None without git."""
    try:
        r = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=folder,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    names = {n for n in r.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
    return sorted(n for n in names if (folder / n).is_file())  # a tracked file deleted in the work tree is skipped


def copy_project(src: Path, dst: Path) -> Path:
    """Copy `src` to `dst` (which must not exist) with only the files git lists; returns `dst`."""
    names = listed_files(src)
    if names is None:
        shutil.copytree(src, dst, ignore=_IGNORED)
        return dst
    dst.mkdir(parents=True)
    for name in names:
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, target)
    return dst
