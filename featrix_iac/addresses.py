"""Resource addresses (`kind.key`, e.g. `predictor.species`): parse and format; the kinds' names come from kinds.py."""

from __future__ import annotations

import re
from typing import Any

# manifest section -> address kind and back, kinds in dependency order: the registry (filled by model/)
from featrix_iac.kinds import KINDS, SECTION_OF_KIND, SECTIONS

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class Address(str):
    """`kind.key`: a str (so plan JSON, lockfile JSON and dict keys keep their form) that knows its kind and key.

    Built from its parts (`Address("predictor", "species")`) or checked from text (`Address.parse`); a pydantic
    field typed Address accepts the text and serialises it as the same text.
    """

    kind: str
    key: str

    def __new__(cls, kind: str, key: str) -> Address:
        self = super().__new__(cls, f"{kind}.{key}")
        self.kind, self.key = kind, key  # kept, not re-split: planning reads them for every resource
        return self

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # pickle and copy rebuild it from its parts
        return (self.kind, self.key)

    @classmethod
    def parse(cls, text: str) -> Address:
        if isinstance(text, Address):
            return text
        known = _PARSED.get(text)
        if known is not None and known.kind in KINDS:  # a plan parses each address several times
            return known
        kind, sep, key = text.partition(".")
        if not sep or kind not in KINDS or not KEY_RE.match(key):
            raise ValueError(f"invalid address {text!r}: expected KIND.KEY with KIND one of {', '.join(KINDS)}")
        address = cls(kind, key)
        if cls is Address and len(_PARSED) < _PARSED_MAX:
            _PARSED[text] = address
        return address

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls.parse, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


_PARSED: dict[str, Address] = {}  # text -> its Address, checked once (bounded: addresses come from manifests)
_PARSED_MAX = 200_000


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
