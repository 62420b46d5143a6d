"""Account and endpoint API keys: generation, the key file in the data dir, hashing and constant-time checks."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "account.key"


class KeyError_(ValueError):
    """The configured account key is unusable."""


def generate_account_key() -> str:
    return "fx_" + secrets.token_urlsafe(32)


def generate_endpoint_key() -> str:
    return "fx_ep_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_matches(candidate: str | None, stored_hash: str | None) -> bool:
    if not candidate or not stored_hash:
        return False
    return hmac.compare_digest(hash_key(candidate), stored_hash)


def resolve_account_key(data_dir: Path, explicit: str | None = None) -> tuple[str, bool]:
    """The account key and whether it was generated now: explicit, FEATRIX_API_KEY, the stored file, or new."""
    key = explicit or os.environ.get("FEATRIX_API_KEY") or None
    if key:
        if not key.startswith("fx_"):
            raise KeyError_("the account API key must start with 'fx_'")
        return key, False
    path = data_dir / KEY_FILE
    if path.is_file():
        stored = path.read_text(encoding="utf-8").strip()
        if stored.startswith("fx_"):
            return stored, False
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = generate_account_key()
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
    return key, True
