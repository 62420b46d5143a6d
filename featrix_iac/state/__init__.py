"""state: the lockfile per environment (DESIGN §6) — model, atomic store, encrypted secrets, lock, fingerprints."""

from __future__ import annotations

from featrix_iac.state.fingerprint import Fingerprint, fingerprint_file, fingerprint_file_info, fingerprint_url
from featrix_iac.state.lockfile import FORMAT_VERSION, RETIRED_NOTE, LockEntry, Lockfile, dumps
from featrix_iac.state.locking import LockInfo
from featrix_iac.state.secrets import hash_write_only
from featrix_iac.state.store import StateStore, lockfile_path

__all__ = [
    "FORMAT_VERSION",
    "RETIRED_NOTE",
    "Fingerprint",
    "LockEntry",
    "LockInfo",
    "Lockfile",
    "StateStore",
    "dumps",
    "fingerprint_file",
    "fingerprint_file_info",
    "fingerprint_url",
    "hash_write_only",
    "lockfile_path",
]
