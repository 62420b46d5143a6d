"""Reading manifests: YAML with positions, includes, environment overlays, Jinja2, validation → load_project."""

from __future__ import annotations

from featrix_iac.config.discovery import find_project_root
from featrix_iac.config.includes import ROOT_FILE
from featrix_iac.config.loader import DATA_FIELDS, LoadedProject, load_project

__all__ = ["DATA_FIELDS", "ROOT_FILE", "LoadedProject", "find_project_root", "load_project"]
