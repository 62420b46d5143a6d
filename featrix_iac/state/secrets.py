"""Secrets in the lockfile: AES-256-GCM with the address as associated data, and where the key comes from.

The lock key, first match wins:
  1. an explicit 32-byte key (StateStore(lock_key=...));
  2. env FEATRIX_LOCK_KEY: base64 (standard or urlsafe) of exactly 32 bytes is used as the key itself;
     any other value is a passphrase, stretched with PBKDF2-HMAC-SHA256 (600,000 iterations, fixed salt
     "featrix-iac/lock-key/v1", so the same passphrase opens the lockfile on every machine);
  3. `<root>/.featrix/lock.key` (base64 of 32 random bytes), generated on the first encryption with
     mode 0600; the `.featrix` folder holds a `.gitignore` of `*` so it is never committed.
An empty FEATRIX_LOCK_KEY counts as unset (GitHub Actions passes "" for a missing secret). A key is never
generated while the lockfile holds secrets (new ones would be under a key that does not open the old
ones), nor when `CI` is set (a key made on a runner is lost with it): then FEATRIX_LOCK_KEY is required.
Except for a project on the embedded local server (`server.url: local`): its objects live in `.featrix/local`,
next to the key file, and are lost with the runner too, so a key generated there loses nothing.
The key file is written to a temp file and linked into place, so no reader ever sees it half written.

Key rotation: put the old key in FEATRIX_LOCK_KEY_FALLBACK (same formats) and the new one in
FEATRIX_LOCK_KEY; secrets encrypted with the old key still decrypt, and the next save re-encrypts
them with the new key.

Blob: "enc:v1:" + base64(key id (4 bytes) | nonce (12) | ciphertext and tag). The key id (an HMAC of
the key, not the key) tells "wrong lock key" apart from "modified ciphertext".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import os
import tempfile
import threading
from pathlib import Path

from featrix_iac.diagnostics import DiagnosticsError, fail
from featrix_iac.state.atomic import fsync_dir

PREFIX = "enc:v1:"
ENV_VAR = "FEATRIX_LOCK_KEY"
FALLBACK_ENV_VAR = "FEATRIX_LOCK_KEY_FALLBACK"
CI_ENV_VAR = "CI"
KEY_FILE = "lock.key"
PBKDF2_ITERATIONS = 600_000
PBKDF2_SALT = b"featrix-iac/lock-key/v1"
_KID_LEN, _NONCE_LEN = 4, 12


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


@functools.lru_cache(maxsize=8)
def derive_key(passphrase: str) -> bytes:
    """32 bytes from a passphrase (PBKDF2-HMAC-SHA256); cached because it is slow on purpose."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    return PBKDF2HMAC(hashes.SHA256(), 32, PBKDF2_SALT, PBKDF2_ITERATIONS).derive(passphrase.encode("utf-8"))


def key_from_text(text: str) -> bytes:
    """FEATRIX_LOCK_KEY's value as a key: base64 of 32 bytes as is, anything else through PBKDF2."""
    raw = text.strip()
    standard = raw.replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    return key if len(key) == 32 else derive_key(raw)


def key_id(key: bytes) -> bytes:
    return hmac.new(key, b"featrix-iac lock key id", hashlib.sha256).digest()[:_KID_LEN]


def ensure_private_folder(folder: Path) -> None:
    """Create `.featrix/` with a `.gitignore` of `*` (nothing in it is ever committed)."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")


class KeyRing:
    """The lock key of one project folder, loaded (or generated) lazily and once."""

    def __init__(self, private_dir: Path, explicit: bytes | None = None, *, local_only: bool = False) -> None:
        if explicit is not None and len(explicit) != 32:
            raise ValueError("lock_key must be exactly 32 bytes")
        self.private_dir = private_dir
        self._key = explicit
        self._source = "the lock_key argument" if explicit is not None else ""
        self._lock = threading.Lock()
        self.recorded_secrets = 0  # secrets in the lockfile as read: a new key would not open them
        self.local_only = local_only  # the secrets are of the embedded server, whose data lives in this folder too
        self.lockfile_name = "the lockfile"

    @property
    def key_file(self) -> Path:
        return self.private_dir / KEY_FILE

    def key(self, *, create: bool) -> bytes:
        with self._lock:
            if self._key is None:
                self._key, self._source = self._load(create)
            return self._key

    def fallback(self) -> bytes | None:
        """The previous key during a rotation ($FEATRIX_LOCK_KEY_FALLBACK), if any."""
        text = os.environ.get(FALLBACK_ENV_VAR, "")
        return key_from_text(text) if text.strip() else None

    def decryption_keys(self) -> list[bytes]:
        """The current key (when there is one) and the fallback key, to pick from by key id."""
        fallback = self.fallback()
        try:
            keys = [self.key(create=False)]
        except DiagnosticsError:
            if fallback is None:
                raise
            keys = []
        return keys + ([fallback] if fallback is not None else [])

    def source(self) -> str:
        return self._source or f"${ENV_VAR} or {self.key_file}"

    def _load(self, create: bool) -> tuple[bytes, str]:
        env = os.environ.get(ENV_VAR)
        if env is not None and env.strip():
            return key_from_text(env), f"${ENV_VAR}"
        if self.key_file.is_file():
            return self._read_key_file(), str(self.key_file)
        empty = f"{ENV_VAR} is set but empty, which counts as unset. " if env is not None else ""
        if not create:
            raise fail(
                f"no lock key to decrypt the lockfile's secrets: {ENV_VAR} is {'empty' if empty else 'not set'}",
                f"{empty}Set {ENV_VAR} to the key they were encrypted with, or restore {self.key_file}",
            )
        refusal = self._refuse_generation()
        if refusal:
            raise fail(f"no lock key: {ENV_VAR} is {'empty' if empty else 'not set'}", empty + refusal)
        return self._generate(), str(self.key_file)

    def _refuse_generation(self) -> str:
        """Why a new key file must not be generated here ("" when it may be)."""
        others = self._lockfiles_with_secrets()
        if self.recorded_secrets or others:
            held = (
                f"{self.lockfile_name} holds {self.recorded_secrets} encrypted secret(s)"
                if self.recorded_secrets
                else ""
            )
            also = f"{', '.join(others)} {'hold' if len(others) > 1 else 'holds'} encrypted secrets" if others else ""
            return (
                f"{'; '.join(x for x in (held, also) if x)} and {self.key_file} does not exist, so featrix does not "
                f"generate a new key: new secrets would be encrypted under a key that does not open the old ones. "
                f"Set {ENV_VAR} to the key they were encrypted with, or restore {self.key_file}."
            )
        if in_ci() and not self.local_only:
            return (
                f"${CI_ENV_VAR} is set, and featrix never generates a lock key in CI (it would be lost with the "
                f"runner, and with it every key encrypted under it). Set {ENV_VAR} from a secret of the CI system "
                f"(the same key everywhere this lockfile is applied)."
            )
        return ""

    def _read_key_file(self) -> bytes:
        text = self.key_file.read_text(encoding="utf-8").strip()
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise fail(f"invalid lock key file {self.key_file}", "it must hold the base64 of 32 bytes")
        return key

    def _lockfiles_with_secrets(self) -> list[str]:
        """The project's other lockfiles (every environment shares the key file) that hold ciphertext."""
        root = self.private_dir.parent
        found = [p for p in sorted(root.glob("featrix*.lock")) if p.name != self.lockfile_name and _has_ciphertext(p)]
        return [p.name for p in found]

    def _generate(self) -> bytes:
        """Write a new key file atomically: a complete temp file, linked into place only if none exists.

        os.link fails when the key file exists, so of simultaneous first uses exactly one key wins and
        every other process reads that one, never an empty or half-written file.
        """
        ensure_private_folder(self.private_dir)
        key = os.urandom(32)
        fd, tmp = tempfile.mkstemp(dir=self.private_dir, prefix=f".{KEY_FILE}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)
                fh.write(base64.b64encode(key).decode("ascii") + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.key_file)
            except FileExistsError:  # another process made one first: use it
                return self._read_key_file()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsync_dir(self.private_dir)
        return key


def _has_ciphertext(path: Path) -> bool:
    try:
        return PREFIX in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def in_ci() -> bool:
    """`CI` set to anything but an empty or false value (GitHub Actions, GitLab and most runners set it)."""
    return os.environ.get(CI_ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


def encrypt(key: bytes, address: str, plaintext: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), address.encode("utf-8"))
    return PREFIX + base64.b64encode(key_id(key) + nonce + sealed).decode("ascii")


def blob_key_id(blob: str) -> bytes | None:
    """The key id a blob was encrypted under (None when the blob is malformed)."""
    try:
        raw = base64.b64decode(blob[len(PREFIX) :], validate=True) if is_encrypted(blob) else b""
    except (binascii.Error, ValueError):
        return None
    return raw[:_KID_LEN] if len(raw) > _KID_LEN + _NONCE_LEN else None


def decrypt(keys: list[bytes], address: str, blob: str, key_source: str = "") -> str:
    """The plaintext, with whichever of `keys` the blob was encrypted under.

    A DiagnosticsError naming the address for a wrong key, a modified blob, or another address's blob.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not is_encrypted(blob):
        raise fail("lockfile secret is not encrypted", "the lockfile never holds plaintext secrets", address)
    try:
        raw = base64.b64decode(blob[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise fail("cannot decrypt a lockfile secret: it is not valid base64", address=address) from None
    kid, nonce, sealed = raw[:_KID_LEN], raw[_KID_LEN : _KID_LEN + _NONCE_LEN], raw[_KID_LEN + _NONCE_LEN :]
    if len(sealed) < 16:
        raise fail("cannot decrypt a lockfile secret: it is truncated", address=address)
    key = next((k for k in keys if hmac.compare_digest(kid, key_id(k))), None)
    if key is None:
        raise wrong_key(address, key_source)
    try:
        return AESGCM(key).decrypt(nonce, sealed, address.encode("utf-8")).decode("utf-8")
    except InvalidTag:
        raise fail(
            "cannot decrypt a lockfile secret: authentication failed",
            "the encrypted value was modified (or copied from another address); restore the lockfile from git",
            address,
        ) from None


def wrong_key(address: str, key_source: str) -> DiagnosticsError:
    where = f" (the key from {key_source})" if key_source else ""
    return fail(
        "cannot decrypt a lockfile secret: wrong lock key",
        f"it was encrypted with a different key than the current one{where}; set {ENV_VAR} to the right key "
        f"(during a key rotation, the old one in {FALLBACK_ENV_VAR})",
        address,
    )


def hash_write_only(address: str, name: str, value: str) -> str:
    """ "sha256:<hex>" of a write-only value (a webhook secret) for LockEntry.hashes.

    Salted with the address and field name (equal secrets at two addresses do not look equal), and
    not keyed, so the hash is the same on every machine whatever its lock key: plans agree between
    a laptop and CI. A hash of a weak secret can be guessed offline; use long random secrets.
    """
    h = hashlib.sha256()
    for part in ("featrix-iac/write-only/v1", address, name, value):
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "big") + data)
    return "sha256:" + h.hexdigest()
