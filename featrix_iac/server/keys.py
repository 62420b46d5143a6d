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
    stored = _stored_key(path)
    if stored is not None:
        return stored, False
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = generate_account_key()
    # written complete under a unique name, then linked into place: of commands starting at once on a fresh
    # folder, the first link wins and the others read its key (never a half-written file, never two keys)
    tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            stored = _stored_key(path)
            if stored is not None:
                return stored, False
            os.replace(tmp, path)  # an unusable file stood there: this key replaces it
            return key, True
    finally:
        tmp.unlink(missing_ok=True)
    return key, True


def _stored_key(path: Path) -> str | None:
    """The key in the data folder's key file, if it holds one."""
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return stored if stored.startswith("fx_") else None
