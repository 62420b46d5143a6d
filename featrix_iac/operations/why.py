"""`featrix show --why ADDRESS`: why this environment serves what it does, from its lockfile alone.

The chain follows each entry's references down (endpoint → predictor → foundational model), and for each
link gathers what the lockfile says of it: ids, the data file with its fingerprint and summary, the
promotion it came from (`borrowed`), how it was built (`provenance`: plan, who, where, versions, metrics)
and its training's figures. Nothing is read from the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from featrix_iac.addresses import Address
from featrix_iac.diagnostics import fail

if TYPE_CHECKING:
    from featrix_iac.config import LoadedProject
    from featrix_iac.plan.jsonformat import WhyData, WhyDocument
    from featrix_iac.state import LockEntry


def why(root: Path | str, env: str | None, address: str) -> WhyDocument:
    """The chain from `address` down (plan/jsonformat.py WhyDocument, schemas/why.schema.json)."""
    from featrix_iac.graph import reference_fields
    from featrix_iac.operations.session import load, open_store
    from featrix_iac.plan.jsonformat import WhyDocument, WhyLink

    loaded = load(root, env)
    lock = open_store(loaded).load()
    try:
        start = Address.parse(address)
    except ValueError as exc:
        raise fail(f"{address!r} is not an address", f"{exc}; e.g. endpoint.species_api", address) from None
    if lock.entry(start) is None:
        raise fail(
            f"no {address} in the lockfile of environment {loaded.environment!r}",
            f"recorded: {', '.join(lock.addresses()) or 'none'} (apply first, or pass -e ENV)",
            address,
        )
    chain: list[WhyLink] = []
    todo, seen = [start], set()
    while todo:
        current = todo.pop(0)
        entry = lock.entry(current)
        if current in seen or entry is None:
            continue
        seen.add(current)
        refs = [
            Address(kind, str(entry.applied[field]))
            for field, kind in reference_fields(current.kind)
            if isinstance(entry.applied.get(field), str)
        ]
        chain.append(
            WhyLink(
                address=str(current),
                kind=current.kind,
                status=entry.status,
                ids={k: v for k, v in sorted(entry.ids.items()) if k != "job_id"},
                refers_to=[str(r) for r in refs],
                data=_data(loaded, current, entry),
                # borrowed, or cloned to this environment's compute cluster (its own: the source in provenance)
                promoted=dict(entry.borrowed or entry.provenance.get("promoted") or {}) or None,
                provenance={k: v for k, v in entry.provenance.items() if k != "promoted"} or None,
                training=dict(entry.training) or None,
            )
        )
        todo += refs
    return WhyDocument(environment=loaded.environment, address=str(start), chain=chain)


def _data(loaded: LoadedProject, address: Address, entry: LockEntry) -> list[WhyData]:
    """The entry's data files: the manifest's path (when still declared), the fingerprint it was trained on
    (hashes, else applied) and the summary recorded beside it (`<field>_summary`)."""
    from featrix_iac.kinds import FACTS
    from featrix_iac.plan.jsonformat import WhyData

    facts = FACTS.get(address.kind)
    resource = loaded.project.get(address)
    out = []
    for name in facts.data_fields if facts is not None else ():
        fingerprint = entry.hashes.get(name) or entry.applied.get(name)
        if not fingerprint:
            continue
        path = getattr(resource, name, None) if resource is not None else None
        summary = entry.applied.get(f"{name}_summary")
        out.append(
            WhyData(
                field=name,
                fingerprint=str(fingerprint),
                file=path if isinstance(path, str) else None,
                summary=summary if isinstance(summary, dict) else None,
            )
        )
    return out
