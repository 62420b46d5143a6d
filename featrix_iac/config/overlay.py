"""Environment overlays: `environments.<env>` deep-merged over variables, the server block and resources."""

from __future__ import annotations

import copy
import difflib
from typing import Any

from featrix_iac.addresses import SECTIONS
from featrix_iac.config.includes import ROOT_FILE, Document
from featrix_iac.config.yaml_source import Path_, SourceMap
from featrix_iac.diagnostics import Diagnostics, Source
from featrix_iac.kinds import facts_of
from featrix_iac.model import ServerConfig, StateConfig

DEFAULT_ENV = "default"


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def _drop(sources: SourceMap, prefix: Path_) -> None:
    n = len(prefix)
    for table in (sources.values, sources.keys):
        for p in [p for p in table if len(p) > n and p[:n] == prefix]:
            del table[p]


def _merge(base: dict[str, Any], over: dict[str, Any], dst: Path_, src: Path_, sources: SourceMap) -> None:
    """Deep merge: mappings merge key by key, anything else replaces; positions follow the overlay."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, (*dst, key), (*src, key), sources)
            continue
        base[key] = copy.deepcopy(value)  # the overlay itself stays as written
        _drop(sources, (*dst, key))
        sources.graft(sources, (*src, key), (*dst, key))


def _environments(doc: Document) -> dict[str, Any]:
    envs = doc.data.get("environments")
    return envs if isinstance(envs, dict) else {}


def _check_env(doc: Document, name: str, overlay: dict[str, Any], check_fields: bool, diags: Diagnostics) -> None:
    for section in SECTIONS:
        items = overlay.get(section)
        if not isinstance(items, dict):
            continue
        found = doc.data.get(section)
        declared: dict[str, Any] = found if isinstance(found, dict) else {}
        for key, body in items.items():
            at = ("environments", name, section, key)
            if key not in declared:
                diags.error(
                    f'Environment "{name}" overrides an undeclared resource',
                    f"{SECTIONS[section]}.{key} is not declared.{did_you_mean(key, set(declared))}",
                    address=f"{SECTIONS[section]}.{key}",
                    source=doc.sources.key(at),
                )
            elif check_fields and isinstance(body, dict):
                _check_fields(doc, at, facts_of(SECTIONS[section]).model, body, diags, f"{SECTIONS[section]}.{key}")
    for part, model in (("server", ServerConfig), ("state", StateConfig)):
        body = overlay.get(part)
        if check_fields and isinstance(body, dict):
            _check_fields(doc, ("environments", name, part), model, body, diags, "")


def _check_fields(doc: Document, at: Path_, model: Any, body: dict[str, Any], diags: Diagnostics, address: str) -> None:
    fields = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    for field in body:
        if field not in fields:
            diags.error(
                f'Unknown field "{field}"',
                f'{model.__name__} has no field "{field}".{did_you_mean(field, fields)}',
                address=address,
                source=doc.sources.key((*at, field)),
            )


def apply_overlay(doc: Document, env: str | None, diags: Diagnostics) -> str:
    """Merge the selected environment into `doc` in place; returns the environment's name."""
    envs = _environments(doc)
    for name, overlay in envs.items():
        if isinstance(overlay, dict):
            _check_env(doc, name, overlay, check_fields=name != env, diags=diags)
    if env is None:
        return DEFAULT_ENV
    if env not in envs:
        known = ", ".join(sorted(envs)) if envs else "none (the project declares no environments)"
        diags.error(
            f'Unknown environment "{env}"',
            f"Known environments: {known}.{did_you_mean(env, set(envs))}",
            source=doc.sources.key(("environments",)) or Source(ROOT_FILE),
        )
        return env
    overlay = envs[env]
    if not isinstance(overlay, dict):
        return env
    src = ("environments", env)
    for part in ("variables", "server", "state"):
        if isinstance(overlay.get(part), dict):
            base = doc.data.setdefault(part, {})
            if isinstance(base, dict):
                _merge(base, overlay[part], (part,), (*src, part), doc.sources)
    for section in SECTIONS:
        items = overlay.get(section)
        declared = doc.data.get(section)
        if not isinstance(items, dict) or not isinstance(declared, dict):
            continue
        for key, body in items.items():
            if key in declared and isinstance(body, dict) and isinstance(declared[key], dict):
                _merge(declared[key], body, (section, key), (*src, section, key), doc.sources)
    return env
