"""Reading what the lockfile records: outputs (the one way to a secret), state list / show, predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featrix_iac.diagnostics import fail
from featrix_iac.model.secrets import REDACTED
from featrix_iac.operations.session import connect, open_session

if TYPE_CHECKING:
    from featrix_iac.operations.session import Session
    from featrix_iac.state import LockEntry, Lockfile, StateStore


# -- reading the lockfile: output and state ---------------------------------------------------------------


def _secret_note(kind: str, address: str) -> str:
    """Why a kind's secret is missing from the lockfile (e.g. an imported endpoint: keys cannot be read back)."""
    from featrix_iac.resources.registry import spec_of

    return spec_of(kind).secret_note.format(address=address)


def _secret_name(name: str) -> str:
    return "API key" if name == "api_key" else name


def _spec(kind: str) -> Any:
    from featrix_iac.resources.registry import SPECS

    return SPECS.get(kind)


@dataclass(frozen=True)
class OutputValue:
    address: str
    name: str
    value: Any  # REDACTED for secrets unless asked for by name
    sensitive: bool = False


def _store(root: Path | str, env: str | None) -> tuple[StateStore, Lockfile]:
    from featrix_iac.operations.session import load, open_store

    loaded = load(root, env)
    store = open_store(loaded)
    return store, store.load()


def outputs(root: Path | str, env: str | None = None, address: str | None = None) -> list[OutputValue]:
    """Every recorded output (or only `address`'s): ids, computed values, and secrets as (sensitive value)."""
    _, lock = _store(root, env)
    if address is not None and lock.entry(address) is None:
        known = ", ".join(lock.addresses()) or "none"
        raise fail(f"no {address} in the lockfile", f"recorded addresses: {known}", address=address)
    out: list[OutputValue] = []
    for addr in [address] if address is not None else lock.addresses():
        entry = lock.resources[addr]
        if entry.status == "retired":
            continue
        values = {**{k: v for k, v in entry.ids.items()}, **entry.outputs}
        out.extend(OutputValue(addr, k, v) for k, v in sorted(values.items()))
        out.extend(OutputValue(addr, k, REDACTED, True) for k in sorted(entry.secrets))
    return out


def output(root: Path | str, env: str | None, ref: str) -> OutputValue:
    """One output by `ADDRESS.FIELD`, e.g. endpoint.species_api.api_key: the one way to read a secret."""
    store, lock = _store(root, env)
    address, _, name = ref.rpartition(".")
    entry = lock.entry(address)
    if not address or entry is None:
        known = ", ".join(lock.addresses()) or "none"
        raise fail(f"no {address or ref} in the lockfile", f"recorded addresses: {known}", address=address or ref)
    if name in entry.secrets:
        return OutputValue(address, name, store.decrypt(address, entry.secrets[name]), True)
    spec = _spec(entry.kind)
    if spec is not None and name in spec.secrets:  # e.g. an imported endpoint: keys cannot be read back
        raise fail(f"{address} has no {_secret_name(name)} in the lockfile", _secret_note(entry.kind, address), address)
    values = {**entry.ids, **entry.outputs}
    if name not in values:
        fields = ", ".join(sorted({*values, *entry.secrets})) or "none"
        raise fail(f"{address} has no output {name!r}", f"its outputs: {fields}", address=address)
    return OutputValue(address, name, values[name])


def state_list(root: Path | str, env: str | None = None) -> list[tuple[str, LockEntry]]:
    _, lock = _store(root, env)
    return [(a, lock.resources[a]) for a in lock.addresses()]


def retired_note() -> str:
    """What "retired" means, for views of the lockfile (state imported only by the commands that read it)."""
    from featrix_iac.state import RETIRED_NOTE

    return RETIRED_NOTE


def state_show(root: Path | str, env: str | None, address: str) -> dict[str, Any]:
    """One lockfile entry as data, secrets shown as (sensitive value)."""
    _, lock = _store(root, env)
    entry = lock.entry(address)
    if entry is None:
        raise fail(f"no {address} in the lockfile", f"recorded: {', '.join(lock.addresses()) or 'none'}", address)
    data = entry.model_dump(mode="json")
    data["secrets"] = {k: REDACTED for k in entry.secrets}
    return data


# -- predictions through what the lockfile records -----------------------------------------------------


def predict(
    root: Path | str,
    env: str | None,
    address: str,
    records: list[dict[str, Any]],
    *,
    keep_going: bool = False,
    on_row: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Predict each record through an endpoint (with its own key) or a predictor (with the account key).

    With `keep_going`, a record the server refuses gives `{"error": why}` in its place and the rest go on;
    `on_row(done, total)` is called after each record."""
    session = open_session(root, env)
    return predict_with(session, session.store.load(), address, records, keep_going=keep_going, on_row=on_row)


def predict_with(
    session: Session,
    lock: Lockfile,
    address: str,
    records: list[dict[str, Any]],
    *,
    keep_going: bool = False,
    on_row: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """`predict` with a project and a lockfile already loaded (the smoke checks, after an apply)."""
    entry = lock.entry(address)
    spec = _spec(entry.kind) if entry is not None else None
    if entry is None or entry.status not in ("ready", "tainted") or spec is None or spec.predict is None:
        usable = [a for a in lock.addresses() if getattr(_spec(lock.resources[a].kind), "predict", None)]
        raise fail(
            f"cannot predict with {address}",
            "give an endpoint or predictor that `featrix apply` created; "
            f"the lockfile has: {', '.join(usable) or 'none'}",
            address=address,
        )
    with connect(session.loaded) as (client, _):
        secret = ""
        if spec.predict_secret:  # e.g. an endpoint predicts with its own key
            if spec.predict_secret not in entry.secrets:
                what = _secret_name(spec.predict_secret)
                raise fail(f"{address} has no {what} in the lockfile", _secret_note(entry.kind, address))
            secret = session.store.decrypt(address, entry.secrets[spec.predict_secret])
        return _each(spec.predict(client, dict(entry.ids), secret), records, keep_going, on_row)


def _each(
    call: Callable[[dict[str, Any]], Any],
    records: list[dict[str, Any]],
    keep_going: bool,
    on_row: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    from featrix_iac.client import FeatrixError

    results: list[dict[str, Any]] = []
    for n, record in enumerate(records, 1):
        try:
            results.append(call(record))
        except FeatrixError as exc:
            if not keep_going:
                raise
            results.append({"error": str(exc)})
        if on_row is not None:
            on_row(n, len(records))
    return results


def example_record(root: Path | str, env: str | None, address: str) -> dict[str, Any]:
    """A record made of the project's own columns for `address` (an endpoint or predictor), for usage hints:
    the first input columns of its foundational model's data, each with a value seen in the data; {} when
    the data cannot be read (a URL, a missing file)."""
    from featrix_iac.config.data_profile import UnreadableData, profile_file
    from featrix_iac.kinds import FACTS
    from featrix_iac.model.base import is_url
    from featrix_iac.operations.session import load

    try:
        loaded = load(root, env)
    except Exception:  # noqa: BLE001 - only a hint: the real command reports the problem
        return {}
    chain = _referenced(loaded.project, address)
    target = next((r.target_column for _, r in chain if getattr(r, "target_column", None)), None)
    holder, data = next(((r, getattr(r, f)) for k, r in chain for f in FACTS[k].data_fields[:1]), (None, None))
    if target is None or not isinstance(data, str) or is_url(data):
        return {}
    try:
        profile = profile_file(loaded.root / data, None)
    except (UnreadableData, OSError):
        return {}
    skip = {target, *(getattr(holder, "ignore_columns", None) or [])}
    record: dict[str, Any] = {}
    for column in profile.columns:
        if column.name in skip or not column.values or len(record) >= 3:
            continue
        value = max(column.values, key=lambda v: column.values[v] if column.values else 0)
        record[column.name] = (
            (int(float(value)) if column.dtype == "int" else float(value)) if column.numeric else value
        )
    return record


def _referenced(project: Any, address: str) -> list[tuple[str, Any]]:
    """(kind, resource) of `address` and of what it refers to, by each first reference: an endpoint, its
    predictor, that predictor's foundational model."""
    from featrix_iac.addresses import Address
    from featrix_iac.graph import reference_fields

    try:
        addr: Address | None = Address.parse(address)
    except ValueError:
        return []
    out: list[tuple[str, Any]] = []
    while addr is not None and (res := project.get(addr)) is not None:
        out.append((addr.kind, res))
        refs = reference_fields(addr.kind)
        named = getattr(res, refs[0][0], None) if refs else None
        addr = Address(refs[0][1], named) if isinstance(named, str) else None
    return out
