"""Finding the project root like git does: featrix.yaml in the folder or one of its parents."""

from __future__ import annotations

from pathlib import Path

from featrix_iac.config.includes import ROOT_FILE
from featrix_iac.diagnostics import fail


def find_project_root(start: Path | str | None = None) -> Path:
    """The nearest folder at or above `start` (default: the cwd) holding featrix.yaml."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ROOT_FILE).is_file():
            return folder
    raise fail(
        f"no {ROOT_FILE} found in {here} or its parents",
        "Run `featrix init` to create a project here, or `featrix -C DIR ...` to use the project in DIR.",
    )
