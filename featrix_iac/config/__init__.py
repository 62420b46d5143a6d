"""Reading manifests: YAML with positions, includes, environment overlays, Jinja2, validation → load_project."""

from __future__ import annotations

from featrix_iac.config.discovery import find_project_root
from featrix_iac.config.includes import ROOT_FILE
from featrix_iac.config.loader import LoadedProject, data_fields, load_project

__all__ = ["ROOT_FILE", "LoadedProject", "data_fields", "find_project_root", "load_project"]
