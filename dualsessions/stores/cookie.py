"""Sessions kept in the cookie itself, signed with itsdangerous."""

from __future__ import annotations

import base64
import binascii
import hmac
import typing

from itsdangerous import Signer
from itsdangerous.encoding import want_bytes

from .. import _clock
from ..exceptions import CookieTooLarge, ImproperlyConfigured
from .base import NoIOStore, SyncSessionStore
from .memory import DEFAULT_GC_TTL

_LEGACY_SESSION_ONLY_MAX_AGE = 3600 * 24 * 365  # what starsessions accepted for session-only cookies

SecretKey: typing.TypeAlias = "str | bytes"

#: How many verified cookie values a ``CookieStore`` remembers (at most ``max_cookie_size`` characters
#: each, with their data: 512 cookies of 4 KB keep about 3.5 MB).
VERIFIED_KEPT = 512


class _Signer(Signer):
    """itsdangerous' Signer (same format, same keys) with each key's HMAC prepared once: a signature
    then costs two hashes of the value's length, not a key derivation and an HMAC setup as well.

    The HMAC is computed from its definition (RFC 2104) with the prepared inner and outer hashes, which
    keeps every step in C."""

    def __init__(self, secret_keys: list[bytes], salt: str) -> None:
        super().__init__(secret_keys, salt=salt)
        self._pads = [_hmac_pads(self.derive_key(key), self.digest_method) for key in self.secret_keys]

    def _mac(self, pads: tuple[typing.Any, typing.Any], value: bytes) -> bytes:
        inner, outer = pads[0].copy(), pads[1].copy()
        inner.update(value)
        outer.update(inner.digest())
        return outer.digest()  # type: ignore[no-any-return]

    def get_signature(self, value: str | bytes) -> bytes:
        return _urlsafe_b64(self._mac(self._pads[-1], want_bytes(value)))

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        return self.verify(want_bytes(value), want_bytes(sig))

    def verify(self, value: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (base64, as in the cookie) signs ``value`` with one of the keys.
        The encoded signatures are compared, so one signature has exactly one spelling."""
        for inner, outer in reversed(self._pads):
            mac_inner, mac_outer = inner.copy(), outer.copy()
            mac_inner.update(value)
            mac_outer.update(mac_inner.digest())
            if hmac.compare_digest(_urlsafe_b64(mac_outer.digest()), signature):
                return True
        return False


def _hmac_pads(key: bytes, digest: typing.Any) -> tuple[typing.Any, typing.Any]:
    """The inner and outer hashes of an HMAC with ``key``, before any message."""
    block_size = digest().block_size
    if len(key) > block_size:
        key = digest(key).digest()
    key = key.ljust(block_size, b"\0")
    return digest(key.translate(hmac.trans_36)), digest(key.translate(hmac.trans_5C))


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _urlsafe_b64(data: bytes) -> bytes:
    """URL-safe base64 without padding, as itsdangerous writes it."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


class _CookieCodec(SyncSessionStore):
    """Turns session bytes into a signed cookie value and back.

    The value is ``base64(data).expires.signature``: the expiry time is signed with the data, so a
    non-rolling session's cookie dies at ``created + lifetime`` however often it is re-signed.
    """

    stateless = True

    def __init__(self, signer: _Signer, legacy: _Signer | None, max_cookie_size: int, gc_ttl: int) -> None:
        self.signer = signer
        self.legacy = legacy
        self.max_cookie_size = max_cookie_size
        self.gc_ttl = gc_ttl
        #: Cookie values whose signature checked out, with their data and expiry: a browser sends the
        #: same value until the session changes, and a value seen again costs a lookup instead of an
        #: HMAC and a base64 decode. Nothing else gets in (a forged value never verifies), the expiry
        #: is checked on every read, and it holds at most VERIFIED_KEPT values (then starts over).
        self._verified: dict[str, tuple[bytes, int]] = {}

    def read(self, session_id: str, lifetime: int) -> bytes:
        known = self._verified.get(session_id)
        if known is not None:
            return known[0] if known[1] > _clock.now() else b""
        value = session_id.encode("ascii", "replace")
        payload, _, signature = value.rpartition(b".")
        if not self.signer.verify(payload, signature):
            return self._read_legacy(payload, signature, lifetime) if self.legacy is not None else b""
        encoded, _, expires = payload.rpartition(b".")
        try:
            expires_at = int(expires)
            if expires_at <= _clock.now():
                return b""
            # Signed by us, so well-formed: binascii's lenient decoder is safe here (and fast).
            data = binascii.a2b_base64(encoded.translate(_FROM_URLSAFE) + b"=" * (-len(encoded) % 4))
        except (ValueError, binascii.Error):
            return b""
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()  # (one step: safe while other threads read and add)
        self._verified[session_id] = (data, expires_at)
        return data

    def accepts_id(self, session_id: str) -> bool:
        """Any value of a size it writes: the signature, checked on reading, is what tells ours."""
        return 0 < len(session_id) <= self.max_cookie_size and session_id.isascii()

    def _read_legacy(self, signed: bytes, signature: bytes, lifetime: int) -> bytes:
        """A cookie in starsessions' format (``read_starsessions_cookies=True``): base64 data, a
        timestamp and a signature, as itsdangerous' ``TimestampSigner`` makes them with the same key.
        Read once, re-signed in this store's format when next written."""
        if self.legacy is None or not self.legacy.verify(signed, signature):  # one spelling only
            return b""
        encoded, _, stamp = signed.rpartition(b".")
        try:
            signed_at = int.from_bytes(base64.urlsafe_b64decode(stamp + b"=" * (-len(stamp) % 4)), "big")
            age = _clock.now() - signed_at
            if not 0 <= age <= (lifetime or _LEGACY_SESSION_ONLY_MAX_AGE):
                return b""
            return base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            return b""

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        expires = int(_clock.now()) + (ttl if ttl > 0 else self.gc_ttl)
        encoded = base64.urlsafe_b64encode(data).rstrip(b"=")
        value = self.signer.sign(encoded + b"." + str(expires).encode()).decode("ascii")
        if len(value) > self.max_cookie_size:
            raise CookieTooLarge(len(value), self.max_cookie_size)
        return value

    def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        """As :meth:`write`: the record is the cookie itself, so there is no stored record that could
        have ended meanwhile (and no way to end one but the deleting cookie)."""
        return self.write(session_id, data, lifetime, ttl)

    def remove(self, session_id: str) -> None:
        """The data lives in the browser: the middleware's deleting cookie is all there is to do."""

    def take(self, session_id: str) -> bytes:
        """What :meth:`read` finds in the cookie value; there is nothing to remove."""
        return self.read(session_id, 0)

    def exists(self, session_id: str) -> bool:
        return bool(self.read(session_id, 0))


class CookieStore(NoIOStore):
    """Stores the session in the cookie, signed (not encrypted: the client can read it).

    ``secret_key`` may be a list for key rotation: the first key signs, every key is accepted.
    ``max_cookie_size`` bounds the cookie value; a bigger session raises :class:`CookieTooLarge`
    before any header is sent. Session-only cookies stop being accepted ``gc_ttl`` seconds after they
    were last written.

    ``read_starsessions_cookies=True`` also reads cookies signed by starsessions' ``CookieStore`` with
    the same key, so switching libraries logs nobody out (they are re-signed in this format when next
    written). It is off by default: that format is any itsdangerous ``TimestampSigner`` token of the
    key (Starlette's own session cookies, or any other token the app signs with it, look the same).
    """

    expires_records = True

    stateless = True

    def __init__(
        self,
        secret_key: SecretKey | typing.Sequence[SecretKey] | typing.Any,
        *,
        max_cookie_size: int = 4096,
        gc_ttl: int = DEFAULT_GC_TTL,
        salt: str = "dualsessions.CookieStore",
        read_starsessions_cookies: bool = False,
    ) -> None:
        given: list[typing.Any] = list(secret_key) if isinstance(secret_key, (list, tuple)) else [secret_key]
        if any(key is None for key in given):  # str(None) would sign with the key "None"
            raise ImproperlyConfigured("CookieStore secret_key is None: is the setting missing?")
        # str() unwraps starlette's Secret; keys are bytes from here on.
        keys = [key if isinstance(key, bytes) else str(key).encode("utf-8") for key in given]
        if not keys or not all(keys):
            raise ImproperlyConfigured("CookieStore needs a non-empty secret_key (or a list of them)")
        if max_cookie_size < 128:
            raise ImproperlyConfigured(f"max_cookie_size must be at least 128 bytes, got {max_cookie_size}")
        self._settings: dict[str, typing.Any] = {
            "max_cookie_size": max_cookie_size,
            "gc_ttl": gc_ttl,
            "salt": salt,
            "read_starsessions_cookies": read_starsessions_cookies,
        }
        self._keys = keys
        # itsdangerous signs with the last key of the list; ours signs with the first.
        signer = _Signer(list(reversed(keys)), salt=salt)
        # starsessions' format (itsdangerous' TimestampSigner with its default salt), read-only
        legacy = (
            _Signer(list(reversed(keys)), salt="itsdangerous.Signer") if read_starsessions_cookies else None
        )
        self.sync: _CookieCodec = _CookieCodec(signer, legacy, max_cookie_size, gc_ttl)

    def also_verifying(self, keys: typing.Sequence[SecretKey]) -> CookieStore:
        """A store like this one that also accepts cookies signed with ``keys`` (old keys being
        rotated out, such as Flask's ``SECRET_KEY_FALLBACKS``); this store's first key still signs."""
        extra = [key if isinstance(key, bytes) else str(key).encode("utf-8") for key in keys]
        return CookieStore([*self._keys, *extra], **self._settings)
