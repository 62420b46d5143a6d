"""A private cache of the lockfile as last validated: the same bytes load again without parsing or validating.

Every plan reads the whole lockfile: at 10,000 entries (20 MB of JSON) decoding it, validating it with pydantic
and checking its addresses (`lockfile.problems`) cost about 0.2 s of CPU, a seventh of a no-op plan (issue 16),
although the file rarely changes between two plans. After a full validation the store keeps the validated
fields in `.featrix/<lockfile>.validated` (config/private_cache.py), keyed by the SHA-256 of the lockfile's
bytes, the tool version and code, pydantic's version and the kinds it knows. A later load of the very same
bytes builds the models from it without validating them again; any other bytes (an edit, a merge, a corrupt
file) miss it and take the full way, with the same error messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from featrix_iac import addresses
from featrix_iac.config import private_cache
from featrix_iac.model.base import built
from featrix_iac.state import lockfile
from featrix_iac.state.lockfile import FORMAT_VERSION, LockEntry, Lockfile

CACHE_FORMAT = 1


def cache_path(private_dir: Path, lockfile_name: str) -> Path:
    return private_dir / f"{lockfile_name}.validated"


def _key(digest: str) -> tuple[Any, ...]:
    """What a validation depends on besides the bytes: this cache's format, the tool and the code of its models
    and checks, pydantic, and the kinds an address may name."""
    code = private_cache.code_stamp(lockfile.__file__, addresses.__file__, __file__)
    return (CACHE_FORMAT, FORMAT_VERSION, code, pydantic.VERSION, tuple(sorted(addresses.KINDS)), digest)


def load(path: Path, digest: str) -> Lockfile | None:
    """The lockfile validated earlier from bytes of this digest, or None."""
    value = private_cache.read(path, _key(digest))
    if value is None:
        return None
    try:
        (top, top_set), entries = value
        every = list(LockEntry.model_fields)
        top["resources"] = {address: built(LockEntry, fields, set(set_ or every)) for address, fields, set_ in entries}
        return built(Lockfile, top, set(top_set))
    except (TypeError, ValueError):  # not the shape this version writes: validate
        return None


def remember(path: Path, digest: str, lock: Lockfile) -> None:
    """Keep `lock`, just validated from bytes of this digest, for the next load (only into an existing folder)."""
    top = ({k: v for k, v in lock.__dict__.items() if k != "resources"}, sorted(lock.model_fields_set))
    every = set(LockEntry.model_fields)
    entries = [
        (address, entry.__dict__, None if entry.model_fields_set == every else sorted(entry.model_fields_set))
        for address, entry in lock.resources.items()
    ]
    private_cache.write(path, _key(digest), (top, entries))
