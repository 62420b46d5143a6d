"""The spec and handler of each kind, by address kind: each kind's module declares its SPEC (resources/spec.py)."""

from __future__ import annotations

from featrix_iac.kinds import register as register_facts
from featrix_iac.kinds import unregister as unregister_facts
from featrix_iac.resources import endpoint, foundational_model, predictor, vector_database
from featrix_iac.resources.base import Handler
from featrix_iac.resources.spec import KindSpec

# filled in place by `register` (in dependency order); readers may keep references to these
SPECS: dict[str, KindSpec] = {}
HANDLERS: dict[str, Handler] = {}


def register(spec: KindSpec) -> KindSpec:
    """Add a kind: its data facts (kinds.py) and its spec; nothing else needs an edit."""
    register_facts(spec.facts)
    SPECS[spec.kind] = spec
    HANDLERS[spec.kind] = spec.handler
    return spec


def unregister(kind: str) -> None:
    """Remove a kind (tests that register a toy kind take it away again)."""
    SPECS.pop(kind, None)
    HANDLERS.pop(kind, None)
    unregister_facts(kind)


def spec_of(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise KeyError(f"no spec for kind {kind!r}") from None


def handler_for(kind: str) -> Handler:
    try:
        return HANDLERS[kind]
    except KeyError:
        raise KeyError(f"no handler for kind {kind!r}") from None


for _module in (foundational_model, predictor, endpoint, vector_database):
    register(_module.SPEC)
