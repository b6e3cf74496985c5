"""Encrypted session payloads: what a leaked Redis dump or a read cookie gives away is ciphertext.

    from dualsessions.crypto import FernetEncryptor

    SessionMiddleware(app, store=..., encryptor=FernetEncryptor([new_key, old_key]))

The first key encrypts, every key decrypts, so keys rotate without logging anyone out. A payload that
fails to decrypt (tampered, or from an unknown key) is read as a new empty session. Requires the
``crypto`` extra: ``pip install 'dualsessions[crypto]'``.
"""

from __future__ import annotations

import hashlib
import os
import typing

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("dualsessions.crypto needs cryptography: pip install 'dualsessions[crypto]'") from exc

from .core import Encryptor as Encryptor
from .exceptions import ImproperlyConfigured

__all__ = ["AESGCMEncryptor", "DecryptionError", "Encryptor", "FernetEncryptor"]


class DecryptionError(ValueError):
    """The payload was not encrypted by any of the keys, or was changed."""


def _key_list(keys: typing.Any, name: str) -> list[typing.Any]:
    found = list(keys) if isinstance(keys, (list, tuple)) else [keys]
    if not found or any(key is None or key == b"" or key == "" for key in found):
        raise ImproperlyConfigured(f"{name} needs at least one key, and no empty or None key")
    return found


class FernetEncryptor:
    """Fernet (AES-128-CBC + HMAC-SHA256, timestamped): ``keys`` are Fernet keys
    (``Fernet.generate_key()``), a list for rotation, or a ready ``MultiFernet``."""

    def __init__(self, keys: bytes | str | typing.Sequence[bytes | str] | MultiFernet) -> None:
        if isinstance(keys, MultiFernet):
            self._fernet = keys
            return
        try:
            self._fernet = MultiFernet([Fernet(key) for key in _key_list(keys, "FernetEncryptor")])
        except ValueError as error:
            raise ImproperlyConfigured(
                f"FernetEncryptor: {error} (make keys with Fernet.generate_key())"
            ) from None

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        try:
            return self._fernet.decrypt(data)
        except InvalidToken:
            raise DecryptionError("the session payload doesn't decrypt with these keys") from None


class AESGCMEncryptor:
    """AES-GCM with a random 96-bit nonce per payload: ``keys`` are 16, 24 or 32 random bytes
    (``AESGCM.generate_key(256)``), a list for rotation. A payload is the encrypting key's 4-byte
    fingerprint, the nonce, then the ciphertext and tag; the fingerprint picks the key to decrypt."""

    def __init__(self, keys: bytes | typing.Sequence[bytes]) -> None:
        found = _key_list(keys, "AESGCMEncryptor")
        try:
            ciphers = [(hashlib.sha256(key).digest()[:4], AESGCM(key)) for key in found]
        except (TypeError, ValueError) as error:
            raise ImproperlyConfigured(
                f"AESGCMEncryptor: {error} (keys are 16, 24 or 32 random bytes)"
            ) from None
        self._first = ciphers[0]
        self._by_fingerprint = dict(reversed(ciphers))

    def encrypt(self, data: bytes) -> bytes:
        fingerprint, cipher = self._first
        nonce = os.urandom(12)
        return fingerprint + nonce + cipher.encrypt(nonce, data, fingerprint)

    def decrypt(self, data: bytes) -> bytes:
        if len(data) < 4 + 12 + 16:
            raise DecryptionError("the session payload is too short to be AES-GCM")
        fingerprint, nonce, ciphertext = data[:4], data[4:16], data[16:]
        cipher = self._by_fingerprint.get(fingerprint)
        if cipher is None:
            raise DecryptionError("the session payload was encrypted with a key that is not configured")
        try:
            return cipher.decrypt(nonce, ciphertext, fingerprint)
        except InvalidTag:
            raise DecryptionError("the session payload doesn't decrypt with this key") from None
