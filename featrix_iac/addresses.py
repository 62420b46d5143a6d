"""Resource addresses (`kind.key`, e.g. `predictor.species`): parse and format; the kinds' names come from kinds.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

# manifest section -> address kind and back, kinds in dependency order: the registry (filled by model/)
from featrix_iac.kinds import KINDS, SECTION_OF_KIND, SECTIONS

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True, order=True)
class Address:
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, sep, key = text.partition(".")
        if not sep or kind not in KINDS or not KEY_RE.match(key):
            raise ValueError(f"invalid address {text!r}: expected KIND.KEY with KIND one of {', '.join(KINDS)}")
        return cls(kind, key)


def a_kind(kind: str) -> str:
    """A kind in prose with its article: "a foundational model", "an endpoint"."""
    words = kind.replace("_", " ")
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


def is_address(text: str) -> bool:
    """True for `KIND.KEY` (a resource), False for `KIND.KEY.FIELD` or anything else."""
    try:
        Address.parse(text)
    except ValueError:
        return False
    return True


__all__ = ["KEY_RE", "KINDS", "SECTIONS", "SECTION_OF_KIND", "Address", "a_kind", "is_address"]
