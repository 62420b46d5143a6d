"""The per-field three-way compare: desired vs lockfile (manifest changes) and live vs lockfile (drift)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from featrix_iac.model.secrets import REDACTED
from featrix_iac.plan.model import FieldChange
from featrix_iac.plan.nested import nested_changes
from featrix_iac.resources.base import Change, FieldRule

Rules = Sequence[FieldRule] | Mapping[str, FieldRule]  # a kind's declared rules, or those indexed by field name
MISSING = object()  # the lockfile has no applied value for a field (older tool, or never applied)

# manifest field name -> the desired fields it becomes (for lifecycle.ignore_changes)
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "webhooks": ("webhooks", "webhook_secret"),
    "published": ("published", "published_name"),
    "api_key": ("api_key.rotation", "api_key.revoked"),
}


def canon(value: Any) -> Any:
    """A JSON-equal form (tuples → lists, enums → values, dates → ISO strings) so that compares are stable."""
    if value is MISSING:
        return value
    return json.loads(json.dumps(value, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    enum_value = getattr(value, "value", None)
    if enum_value is not None:
        return enum_value
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


_SCALARS = (str, int, float, bool, type(None))


def same(a: Any, b: Any) -> bool:
    """Equal as JSON. `==` first (most compares of a plan are equal values); canonicalise only when that fails
    and the values could still be JSON-equal (tuple vs list, enum vs str, containers holding such)."""
    if a is b or a == b:
        return True
    if type(a) is type(b) and isinstance(a, _SCALARS):
        return False
    return bool(canon(a) == canon(b))


def redact(value: Any, sensitive: bool) -> Any:
    return REDACTED if sensitive and value is not None else value


def is_ignored(name: str, ignore: Sequence[str] | str) -> bool:
    """True when `lifecycle.ignore_changes` covers the desired field `name`."""
    if ignore == "all":
        return True
    for item in ignore:
        if name == item or name.startswith(item + ".") or name in FIELD_ALIASES.get(item, ()):
            return True
    return False


def is_empty(value: Any) -> bool:
    return value is None or value is MISSING or value in ("", [], {})


@dataclass(frozen=True)
class Uncleared:
    """A set-only field the server has and the manifest does not: removed from it, or set outside featrix."""

    rule: FieldRule
    change: FieldChange
    outside: bool  # the server got it outside featrix (drift), not a manifest edit


@dataclass
class FieldDiff:
    """The outcome of comparing one resource's fields: what to change, and what drifted."""

    changes: list[FieldChange] = field(default_factory=list)
    drift: list[FieldChange] = field(default_factory=list)
    manifest_fields: list[str] = field(default_factory=list)  # changed in the manifest since the last apply
    drift_fields: list[str] = field(default_factory=list)  # changed outside the tool, to converge
    # set-only fields (rule.set_only) the change would clear: no call can, so the planner refuses them
    uncleared: list[Uncleared] = field(default_factory=list)

    @property
    def replace(self) -> bool:
        return any(c.forces_replacement for c in self.changes)


class RuleIndex(dict[str, FieldRule]):
    """A kind's rules by field name, and its write-only fields as {name: None} (unrecorded, they read as None)."""

    def __init__(self, rules: Iterable[FieldRule]) -> None:
        super().__init__((r.name, r) for r in reversed(list(rules)))  # the first declaration of a name wins
        self.unset_write_only: dict[str, None] = {n: None for n, r in self.items() if r.write_only}
        self.live_names = frozenset(n for n, r in self.items() if r.live)  # compared with what the server reports


def rule_index(rules: Rules | Iterable[FieldRule]) -> RuleIndex:
    """The rules by field name (an index is returned as is); the first declaration of a name wins."""
    if type(rules) is RuleIndex:
        return rules
    return RuleIndex(rules.values() if isinstance(rules, Mapping) else rules)


def rule_for(rules: Rules | Iterable[FieldRule], name: str) -> FieldRule:
    """The declared rule of a field; an undeclared field is treated as create-only (the safe choice)."""
    return rule_index(rules).get(name) or undeclared(name)


def undeclared(name: str) -> FieldRule:
    return FieldRule(name, Change.REPLACE, live=False)


def forces_replacement(rule: FieldRule, old: Any, new: Any) -> bool:
    if rule.change is Change.REPLACE:
        return True
    if rule.append_only:
        old_list, new_list = canon(old) or [], canon(new) or []
        return not (isinstance(old_list, list) and new_list[: len(old_list)] == old_list)
    return False


def diff_fields(
    rules: Rules,
    desired: dict[str, Any],
    prior: dict[str, Any],
    live: dict[str, Any] | None,
    ignore: Sequence[str] | str = (),
) -> FieldDiff:
    """Compare every desired field: old is what the server has now (live when it reports it), new is desired."""
    out, index = FieldDiff(), rule_index(rules)
    if not ignore and _unchanged(index, desired, prior, live):
        return out
    for name in desired:
        rule = index.get(name) or undeclared(name)
        if rule.change in (Change.COMPUTED, Change.IGNORED):
            continue
        want, applied = desired[name], prior.get(name, None if rule.write_only else MISSING)
        reported = live is not None and rule.live and name in live
        current = live[name] if reported and live is not None else applied
        if is_ignored(name, ignore):
            continue  # lifecycle.ignore_changes: neither a change nor drift
        if reported and applied is not MISSING and not same(current, applied):
            out.drift.append(_change(rule, name, applied, current))
        if current is MISSING or same(want, current):
            continue
        outside = applied is not MISSING and same(want, applied)
        if rule.set_only is not None and is_empty(want) and not is_empty(current):
            out.uncleared.append(Uncleared(rule, _change(rule, name, current, want), outside))
            continue
        (out.drift_fields if outside else out.manifest_fields).append(name)
        out.changes.append(_change(rule, name, current, want, forces_replacement(rule, current, want)))
    return out


def _unchanged(index: RuleIndex, desired: dict[str, Any], prior: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """The common case of a no-op plan, checked at C speed: every desired value `==` the applied one and what
    the server reports. Then the field loop would find nothing (`==` implies `same`), so it is skipped."""
    applied = {**index.unset_write_only, **prior} if index.unset_write_only else prior
    if not desired.items() <= applied.items() and not all(
        _settled(index.get(n), n, w, prior) for n, w in desired.items()
    ):
        return False
    if not live:
        return True
    names = tuple(index.live_names.intersection(live.keys(), desired.keys()))
    if not names:
        return True
    values = itemgetter(*names)  # one C call compares them all
    return bool(values(live) == values(desired))


def _settled(rule: FieldRule | None, name: str, want: Any, prior: dict[str, Any]) -> bool:
    """One field the field loop would pass over: equal to the applied value, never compared, or a write-only
    value that is unset and was never recorded (its applied value then reads as None)."""
    if rule is not None and rule.change in (Change.COMPUTED, Change.IGNORED):
        return True
    if name in prior:
        return bool(prior[name] == want)
    return rule is not None and rule.write_only and want is None


def _change(rule: FieldRule, name: str, old: Any, new: Any, forces: bool = False) -> FieldChange:
    old, new = canon(old), canon(new)
    return FieldChange(
        field=name,
        old=redact(old, rule.sensitive),
        new=redact(new, rule.sensitive),
        sensitive=rule.sensitive,
        forces_replacement=forces,
        items=[] if rule.sensitive else nested_changes(old, new),
    )


def creation_changes(rules: Rules, desired: dict[str, Any]) -> list[FieldChange]:
    """The fields of a new object (every set value), as `+ field = value` lines."""
    out, index = [], rule_index(rules)
    for name, value in desired.items():
        rule = index.get(name) or undeclared(name)
        if rule.change is Change.IGNORED or value is None or value == [] or value == {}:
            continue
        out.append(FieldChange(field=name, new=redact(canon(value), rule.sensitive), sensitive=rule.sensitive))
    return out
