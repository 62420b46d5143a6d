"""The registry of resource kinds' data facts (name, manifest section, model, references): the lowest layer.

A kind's facts that the lower layers need (addresses, model, config, graph, state) live here as data, so
none of them names a kind. `model/` registers each built-in kind beside its model class (model/resources.py);
the engine's facts (handler, delete vs retire, import ids, outputs, how to predict) extend them in the kind's
`resources/<kind>.py` module (resources/spec.py: KindSpec). Adding a kind registers it here and there, and
edits nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# the registry, filled in place (in dependency order) by `register`; readers may keep references to these
FACTS: dict[str, KindFacts] = {}  # kind -> facts
SECTIONS: dict[str, str] = {}  # manifest section -> kind
SECTION_OF_KIND: dict[str, str] = {}  # kind -> manifest section
KINDS: list[str] = []  # kinds in registration (dependency) order


@dataclass(frozen=True)
class KindFacts:
    """What every layer may know of one kind: names, its manifest model and the fields that name other resources."""

    name: str  # the address kind: `predictor` in `predictor.species`
    section: str  # the manifest section that declares its resources: `predictors`
    model: Any  # the pydantic model of one declared resource (featrix_iac.model.resources.*)
    references: tuple[tuple[str, str], ...] = ()  # (field, kind it names by key), e.g. ("predictor", "predictor")
    data_fields: tuple[str, ...] = ()  # fields holding a local data path, written relative to the declaring file


def register(facts: KindFacts) -> KindFacts:
    """Add (or re-declare) a kind; its section must not belong to another kind."""
    owner = SECTIONS.get(facts.section)
    if owner is not None and owner != facts.name:
        raise ValueError(f"section {facts.section!r} already belongs to kind {owner!r}")
    old = FACTS.get(facts.name)
    if old is not None and old.section != facts.section:
        del SECTIONS[old.section]
    FACTS[facts.name] = facts
    SECTIONS[facts.section] = facts.name
    SECTION_OF_KIND[facts.name] = facts.section
    if facts.name not in KINDS:
        KINDS.append(facts.name)
    return facts


def unregister(name: str) -> None:
    """Remove a kind (tests that register a toy kind take it away again)."""
    facts = FACTS.pop(name, None)
    if facts is None:
        return
    SECTIONS.pop(facts.section, None)
    SECTION_OF_KIND.pop(name, None)
    KINDS.remove(name)


def facts_of(kind: str) -> KindFacts:
    try:
        return FACTS[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}") from None


__all__ = ["FACTS", "KINDS", "SECTIONS", "SECTION_OF_KIND", "KindFacts", "facts_of", "register", "unregister"]
