"""Desired state: per address, the manifest model and the fields its handler derives from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featrix_iac.model import Project
    from featrix_iac.model.resources import Resource
    from featrix_iac.resources.base import DesiredContext


@dataclass(frozen=True)
class Desired:
    """One declared resource: the manifest model (plaintext secrets) and `Handler.desired()` (secrets hashed)."""

    resource: Resource
    fields: dict[str, Any]


DesiredState = Mapping[str, Desired]  # address -> what the manifests ask for


def desired_state(project: Project, ctx: DesiredContext) -> dict[str, Desired]:
    """{address: Desired} of every resource the project declares, in the manifest's order."""
    from featrix_iac.resources.registry import handler_for

    return {addr: Desired(res, handler_for(addr.kind).desired(addr.key, res, ctx)) for addr, res in project.resources()}
