"""Encrypted payloads: on every front end and store, a dump shows ciphertext; keys rotate; a payload
that doesn't decrypt is a new empty session."""

from __future__ import annotations

import typing

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dualsessions import CookieStore, ImproperlyConfigured, InMemoryStore, SessionMiddleware, open_session
from dualsessions.crypto import AESGCMEncryptor, DecryptionError, FernetEncryptor
from dualsessions.stores.redis import RedisStore

from .conftest import SECRET
from .stores import spy

OLD_FERNET, NEW_FERNET = Fernet.generate_key(), Fernet.generate_key()
OLD_AES, NEW_AES = AESGCM.generate_key(256), AESGCM.generate_key(128)
KINDS = {
    "fernet": (lambda *keys: FernetEncryptor(list(keys)), OLD_FERNET, NEW_FERNET),
    "aes-gcm": (lambda *keys: AESGCMEncryptor(list(keys)), OLD_AES, NEW_AES),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return typing.cast(str, request.param)


@pytest.fixture(params=["memory", "redis", "cookie"])
def store(request: pytest.FixtureRequest) -> typing.Any:
    if request.param == "redis":
        return RedisStore(url=request.getfixturevalue("redis_url"))
    return InMemoryStore() if request.param == "memory" else CookieStore(SECRET)


def raw_records(store: typing.Any, cookie: str) -> bytes:
    if isinstance(store, CookieStore):
        return store.sync.read(cookie, 0)
    return typing.cast(bytes, store.sync.read(cookie, 0))


def test_round_trip_with_ciphertext_at_rest_on_every_front_end(
    frontend: typing.Callable[..., typing.Any], store: typing.Any, kind: str
) -> None:
    make, old, _ = KINDS[kind]
    calls = spy(store)
    client = frontend(store, encryptor=make(old))
    client.get("/set?user=alice-the-secret")
    cookie = client.cookies["session"]
    stored = raw_records(store, cookie)
    assert stored and b"alice-the-secret" not in stored and b"__metadata__" not in stored
    calls.clear()

    assert client.get("/read").json() == {"user": "alice-the-secret"}
    assert [method for method, _ in calls] == ["read"]  # unchanged: compared as plaintext, not rewritten


def test_keys_rotate_without_logging_anyone_out(
    frontend: typing.Callable[..., typing.Any], kind: str
) -> None:
    make, old, new = KINDS[kind]
    store = InMemoryStore()
    before = frontend(store, encryptor=make(old))
    before.get("/set?user=alice")
    cookie = before.cookies["session"]

    after = frontend(store, encryptor=make(new, old))  # the new key first: it encrypts, both decrypt
    after.headers["cookie"] = f"session={cookie}"
    assert after.get("/read").json() == {"user": "alice"}
    after.get("/set?theme=dark")
    only_new = frontend(store, encryptor=make(new))  # the rewrite used the new key
    only_new.headers["cookie"] = f"session={cookie}"
    assert only_new.get("/read").json() == {"user": "alice", "theme": "dark"}


def test_payloads_that_do_not_decrypt_are_new_sessions(
    frontend: typing.Callable[..., typing.Any], kind: str
) -> None:
    make, old, new = KINDS[kind]
    store = InMemoryStore()
    client = frontend(store, encryptor=make(old))
    client.get("/set?user=alice")
    cookie = client.cookies["session"]

    stranger = frontend(store, encryptor=make(new))  # a key that never encrypted it
    stranger.headers["cookie"] = f"session={cookie}"
    assert stranger.get("/read").json() == {}

    record = bytearray(store.data[cookie])
    record[-1] ^= 1  # one bit changed in the ciphertext
    store.data[cookie] = bytes(record)
    client.headers["cookie"] = f"session={cookie}"
    assert client.get("/read").json() == {}


def test_scripts_use_the_same_encryptor(kind: str) -> None:
    make, old, _ = KINDS[kind]
    store = InMemoryStore()
    opened = open_session(store, "a" * 32, encryptor=make(old))
    with opened as session:
        session["user"] = "alice"
    assert b"alice" not in store.data[typing.cast(str, opened.session_id)]
    with open_session(store, typing.cast(str, opened.session_id), encryptor=make(old)) as session:
        assert session == {"user": "alice"}


def test_encryptors_check_their_keys() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"Fernet\.generate_key"):
        FernetEncryptor(b"not a fernet key")
    with pytest.raises(ImproperlyConfigured, match="16, 24 or 32 random bytes"):
        AESGCMEncryptor(b"short")
    with pytest.raises(ImproperlyConfigured, match="at least one key"):
        FernetEncryptor([])
    with pytest.raises(ImproperlyConfigured, match="encrypt"):
        SessionMiddleware(lambda s, r, se: None, store=InMemoryStore(), encryptor=object())  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        AESGCMEncryptor(OLD_AES).decrypt(b"\x00" * 10)
