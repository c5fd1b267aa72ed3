"""Encryption of the patient identifiers at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from ``PATIENT_VAULT_KEYS`` (comma-separated Fernet keys, newest first; the production
profile refuses to start without it, see ``config.py``). Without it (development, tests, the
embedded default) a key is made once under ``VAR_DIR/vault/key`` (mode 0600) and used from there.

Rotation: put a new key first in ``PATIENT_VAULT_KEYS`` and keep the old ones after it (every
key decrypts, the first encrypts), run ``manage.py rotate_vault_key`` (re-encrypts every token
with the first key, audited), then drop the old keys. See README "Chain of identity".
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class VaultKeyError(RuntimeError):
    """No usable key, or a token no configured key opens."""


def _key_file() -> Path:
    return Path(settings.VAR_DIR) / "vault" / "key"


def _embedded_key() -> bytes:
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        # Created exclusively and private: two processes starting at once agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    return path.read_bytes().strip()


@cache
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    raw = [k.encode() for k in keys] if keys else [_embedded_key()]
    try:
        return MultiFernet([Fernet(k) for k in raw])
    except (ValueError, TypeError) as exc:
        message = f"PATIENT_VAULT_KEYS holds a key that is not a Fernet key: {exc}"
        raise VaultKeyError(message) from None


def keyring() -> MultiFernet:
    return _keyring(tuple(getattr(settings, "PATIENT_VAULT_KEYS", ()) or ()))


def encrypt(text: str) -> str:
    return keyring().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return keyring().decrypt(token.encode()).decode()
    except InvalidToken:
        raise VaultKeyError(
            "a vault token opens with none of the configured keys (PATIENT_VAULT_KEYS)"
        ) from None


def rotate(token: str) -> str:
    """``token`` re-encrypted with the newest key (same plaintext); unchanged when the newest
    key already opens it, so a second rotation rewrites nothing."""
    ring = keyring()
    try:
        ring._fernets[0].decrypt(token.encode())
    except InvalidToken:
        pass
    else:
        return token
    try:
        return ring.rotate(token.encode()).decode()
    except InvalidToken:
        raise VaultKeyError("a vault token opens with none of the configured keys") from None


def forget_keys() -> None:
    """Drop the cached keyring (tests, and after a key change in a running shell)."""
    _keyring.cache_clear()
