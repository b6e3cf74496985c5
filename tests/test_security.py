"""The security fix, one test per attack it stops, on every front end where the attack is a request.

1. a key name dumped from Redis (or a per-user index member) is never a cookie, even while migrating to
   hashed ids;
2. revoking a user ends their sessions at every stage of that migration, and says how many it ended;
3. a forged cookie value never reaches the store;
4. deleting an encrypted session on a hashed store reports what really happened;
5. an encrypted record copied under another session's id is refused;
6. a hostile record is a new empty session, and its contents stay out of the logs;
7. a signed cookie is accepted in one spelling only;
8. starsessions' cookie format (which Starlette's own session cookies share) is read only when asked;
9. ``dualsessions decode`` answers any cookie in one line.

Servers are real (``redis_url`` starts a redis-server); the helpers are the lifecycle tests' own.
"""

from __future__ import annotations

import base64
import json
import logging
import string
import sys
import textwrap
import time
import typing
from pathlib import Path

import itsdangerous
import pytest
import redis
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import dualsessions
from dualsessions import CookieStore, InMemoryStore, admin, generate_session_id
from dualsessions.crypto import AESGCMEncryptor, FernetEncryptor
from dualsessions.stores.redis import RedisStore

from .conftest import SECRET, Run
from .stores import SyncDictStore, spy
from .test_cli import assert_one_line_error
from .test_lifecycle import HTTP, LOGIN, App, cookie_value, log_in

PREFIX = "starsessions."
INDEX_OF_ADA = PREFIX + "user:ada"
#: Set when records move to hashed keys, so that stores without the hash key refuse to revoke or purge.
MOVED_MARKER = (PREFIX + "meta:records-moved-to-hashed-keys").encode()
#: What a bound plaintext starts with (``dualsessions.core.bind``).
BOUND = b"\x00dualsessions-id:"


# -- helpers -------------------------------------------------------------------------------------------


def raw_redis(url: str) -> redis.Redis:
    """A plain client: what someone with a dump, or the operator, sees."""
    return redis.Redis.from_url(url)


def redis_keys(url: str) -> set[bytes]:
    with raw_redis(url) as raw:
        return set(raw.keys(PREFIX + "*"))


def assert_new_empty_session(app: App, cookie: str) -> None:
    """A request presenting ``cookie`` gets a new, empty session (and no error)."""
    response = app.client(cookie).get("/read")
    assert (response.status_code, response.json()) == (200, {})


@pytest.fixture
def run_cli(run: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run_cli(*argv)``: the command run in-process, with no DUALSESSIONS_* variables around."""
    for name in ("DUALSESSIONS_STORE", "DUALSESSIONS_PREFIX", "DUALSESSIONS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return run


# -- 1. a dumped key never migrates --------------------------------------------------------------------


@pytest.mark.parametrize("front", HTTP)
def test_a_dumped_key_or_index_member_is_never_a_cookie(front: str, redis_url: str) -> None:
    """Stops taking a session over from a dump of Redis: with ``hash_ids`` the keys and the per-user sets
    hold keyed hashes, and while ``legacy_ids`` migrates plain ids, presenting such a name as a cookie
    must not "migrate" ada's record to a name the attacker holds the cookie for."""
    store = RedisStore(url=redis_url, hash_ids="k", legacy_ids=True)
    app = App(front, store, {"user_key": "user"})
    client, session_id = log_in(app)
    keys = redis_keys(redis_url)
    with raw_redis(redis_url) as raw:
        members = {member.decode() for member in raw.smembers(INDEX_OF_ADA)}
    names = {key.decode().removeprefix(PREFIX) for key in keys}
    assert len(keys) == 2 and len(members) == 1  # ada's record and her index, naming it
    assert session_id not in names | members

    for dumped in sorted(names | members):
        assert_new_empty_session(app, dumped)

    assert client.get("/read").json() == LOGIN
    assert redis_keys(redis_url) == keys  # nothing was moved, nothing created


# -- 2. revocation during the switch to hashed ids -------------------------------------------------------

STAGES = {
    # the session was read once by the hashed store: its record moved under the hashed key
    "after-migration": (True, True),
    # never read since the switch: the record is still under the plain id
    "before-migration": (False, True),
    # migrated, then legacy_ids turned off: the index still names the plain id
    "after-migration-legacy-ids-off": (True, False),
}


@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("front", HTTP)
def test_revoking_ends_sessions_at_every_stage_of_the_switch(front: str, stage: str, redis_url: str) -> None:
    """Stops a session surviving "log ada out everywhere": the per-user index written before hash_ids
    names plain ids, and revoking must end the record wherever the migration left it (and say how many
    records it really ended, so an operator isn't told a stolen session is gone when it isn't)."""
    plain = App(front, RedisStore(url=redis_url), {"user_key": "user"})
    _, session_id = log_in(plain)
    with raw_redis(redis_url) as raw:
        assert raw.smembers(INDEX_OF_ADA) == {session_id.encode()}
        assert raw.exists(PREFIX + session_id)

    read_first, legacy_ids = STAGES[stage]
    hashed = RedisStore(url=redis_url, hash_ids="k", legacy_ids=True)
    app = App(front, hashed, {"user_key": "user"})
    if read_first:
        assert app.read(session_id) == LOGIN
        with raw_redis(redis_url) as raw:
            assert not raw.exists(PREFIX + session_id)  # moved ...
            assert raw.exists(hashed.record_key(session_id))  # ... under the hashed key
    revoker = hashed if legacy_ids else RedisStore(url=redis_url, hash_ids="k")

    assert dualsessions.revoke_user_sessions(revoker, "ada") == 1
    assert app.read(session_id) == {}
    assert redis_keys(redis_url) - {MOVED_MARKER} == set()  # neither record nor index entry is left
    assert dualsessions.revoke_user_sessions(revoker, "ada") == 0  # it counts what it ended

    # Redis Cluster can't move a key across slots atomically: refused when the store is built
    with pytest.raises(dualsessions.ImproperlyConfigured, match="Cluster"):
        RedisStore(url="redis+cluster://127.0.0.1:7000/", hash_ids="k", legacy_ids=True)


def test_the_command_counts_records_it_ended_not_index_entries(redis_url: str, run_cli: Run) -> None:
    """An operator told "revoked 1" believes a session was ended: ada's only session is gone already."""
    plain = App("wsgi", RedisStore(url=redis_url), {"user_key": "user"})
    _, gone_id = log_in(plain)
    with raw_redis(redis_url) as raw:
        raw.delete(PREFIX + gone_id)
        assert raw.smembers(INDEX_OF_ADA) == {gone_id.encode()}
    assert run_cli("--store", redis_url, "revoke-user", "ada") == (0, "revoked 0 session(s) of ada\n", "")


@pytest.mark.parametrize("command", ["revoke-user ada", "purge-expired"])
def test_a_store_without_the_hash_key_refuses_to_revoke_or_purge_moved_sessions(
    command: str, redis_url: str, run_cli: Run
) -> None:
    """Stops an operator's bare ``--store redis://`` from reporting sessions moved to hashed keys as
    gone (and dropping their index entries, so that no later revocation could find them)."""
    plain = App("wsgi", RedisStore(url=redis_url), {"user_key": "user"})
    _, session_id = log_in(plain)
    hashed = RedisStore(url=redis_url, hash_ids="k", legacy_ids=True)
    app = App("wsgi", hashed, {"user_key": "user"})
    assert app.read(session_id) == LOGIN  # moved; ada's set still names the plain id

    code, out, err = run_cli("--store", redis_url, *command.split())
    assert_one_line_error(code, out, err)
    assert "hash_ids" in err and "--store module:factory" in err
    with raw_redis(redis_url) as raw:
        assert raw.smembers(INDEX_OF_ADA) == {session_id.encode()}  # untouched
    assert dualsessions.revoke_user_sessions(hashed, "ada") == 1
    assert app.read(session_id) == {}


def test_purging_without_legacy_ids_never_brings_back_a_plain_session(redis_url: str) -> None:
    """Switching to hash_ids without legacy_ids ends the sessions under plain ids (the way out when
    ids leaked): a purge must not move them under hashed keys, where they would live again."""
    plain = App("wsgi", RedisStore(url=redis_url), {"user_key": "user"})
    _, session_id = log_in(plain)
    hashed = RedisStore(url=redis_url, hash_ids="k")
    app = App("wsgi", hashed, {"user_key": "user"})
    assert app.read(session_id) == {}
    admin.purge_expired(hashed)
    assert app.read(session_id) == {}
    assert dualsessions.revoke_user_sessions(hashed, "ada") == 1  # still found, under its plain key
    assert redis_keys(redis_url) == set()


# -- 3. forged cookie values -----------------------------------------------------------------------------

FORGED = ("user:ada", "user:nobody", "a" * 200, "short")


@pytest.mark.parametrize("store_kind", ["memory", "redis", "sync-custom", "async-custom"])
@pytest.mark.parametrize("front", HTTP)
def test_a_forged_cookie_never_reaches_the_store(front: str, store_kind: str, store: typing.Any) -> None:
    """Stops a cookie naming another kind of key (a per-user index, ``user:ada``), or a value no store
    issues, from being looked up: it can neither read that key as a session nor probe what exists."""
    indexed = store_kind in ("memory", "redis")  # the custom stores keep no per-user index
    app = App(front, store, {"user_key": "user"} if indexed else {})
    log_in(app)
    calls = spy(store)
    for forged in FORGED:
        assert_new_empty_session(app, forged)
    assert calls == []


# -- 4. deleting encrypted sessions on a hashed store ---------------------------------------------------


def write_store_module(directory: Path, name: str, redis_url: str, fernet_key: bytes) -> None:
    """The apps' own store for ``--store NAME:sessions``: hashed ids and an encryptor, as the apps have."""
    source = f"""
        from dualsessions.crypto import FernetEncryptor
        from dualsessions.stores.redis import RedisStore


        def sessions():
            return {{
                "store": RedisStore(url={redis_url!r}, hash_ids="k"),
                "encryptor": FernetEncryptor({fernet_key!r}),
            }}
    """
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.mark.parametrize("front", HTTP)
def test_deleting_an_encrypted_session_on_a_hashed_store_reports_the_truth(
    front: str, redis_url: str, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stops a stolen session outliving its deletion: an operator deleting it with a tool that lacks the
    apps' encryptor must still delete it and be told so, a second delete must say there was nothing, and
    a tool that lacks the hash key must fail loudly (with the fix) rather than report a deletion."""
    fernet_key = Fernet.generate_key()
    encryptor = FernetEncryptor(fernet_key)
    store = RedisStore(url=redis_url, hash_ids="k")
    app = App(front, store, {"encryptor": encryptor})

    without_then_with: list[dict[str, typing.Any]] = [{}, {"encryptor": encryptor}]
    for options in without_then_with:
        _, session_id = log_in(app)
        assert admin.delete_session(store, session_id, **options) is True
        assert app.read(session_id) == {}
        assert admin.delete_session(store, session_id, **options) is False

    _, session_id = log_in(app)
    code, out, err = run_cli("--store", redis_url, "delete", session_id)  # no hash key: can't find it
    assert_one_line_error(code, out, err, "--store module:factory")
    assert app.read(session_id) == LOGIN  # and says so: the session is still there

    module = f"appstore_{front}"
    write_store_module(tmp_path, module, redis_url, fernet_key)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)  # imported afresh, forgotten afterwards
    spec = f"{module}:sessions"
    code, out, err = run_cli("--store", spec, "show", session_id)
    assert (code, err) == (0, "")
    assert '"user": "ada"' in out
    assert run_cli("--store", spec, "delete", session_id) == (0, f"deleted {session_id}\n", "")
    assert app.read(session_id) == {}
    code, out, err = run_cli("--store", spec, "show", session_id)
    assert_one_line_error(code, out, err)
    assert err.startswith("dualsessions: no session with id")


# -- 5. encrypted records are bound to their id -----------------------------------------------------------

ENCRYPTORS: dict[str, typing.Callable[[], typing.Any]] = {
    "fernet": lambda: FernetEncryptor(Fernet.generate_key()),
    "aes-gcm": lambda: AESGCMEncryptor(AESGCM.generate_key(256)),
}


class Records:
    """The stored bytes of sessions, as someone with write access to the store sees them."""

    def __init__(self, store: typing.Any) -> None:
        self.store = store

    def get(self, session_id: str) -> bytes:
        if isinstance(self.store, RedisStore):
            return typing.cast(bytes, self.store.sync_client().get(PREFIX + session_id))
        return typing.cast(bytes, self.store.sync.read(session_id, 0))

    def put(self, session_id: str, raw: bytes) -> None:
        if isinstance(self.store, RedisStore):
            self.store.sync_client().set(PREFIX + session_id, raw, ex=3600)
        else:
            self.store.sync.write(session_id, raw, 0, 3600)


def unbound_record(encryptor: typing.Any, user: str) -> bytes:
    """A record encrypted as it was before records were bound to their id."""
    now = time.time()
    record = {"user": user, "__metadata__": {"lifetime": 3600, "created": now, "last_access": now}}
    return typing.cast(bytes, encryptor.encrypt(json.dumps(record).encode()))


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
@pytest.mark.parametrize("encryption", list(ENCRYPTORS))
@pytest.mark.parametrize("front", HTTP)
def test_an_encrypted_record_is_bound_to_its_id(front: str, encryption: str, store: typing.Any) -> None:
    """Stops privilege escalation by copying ciphertext: someone who can write to the store (but hasn't
    the key) copies admin's encrypted record over their own session's, and would be admin."""
    encryptor = ENCRYPTORS[encryption]()
    app = App(front, store, {"encryptor": encryptor})
    records = Records(store)
    admin_client, admin_id = log_in(app, user="admin")
    eve_client, eve_id = log_in(app, user="eve")

    records.put(eve_id, records.get(admin_id))
    assert eve_client.get("/read").json() == {}
    assert admin_client.get("/read").json() == {"user": "admin"}

    # a record written before binding still reads (nobody is logged out), and is bound when rewritten
    old_id = generate_session_id()
    records.put(old_id, unbound_record(encryptor, "ada"))
    assert app.read(old_id) == {"user": "ada"}
    assert encryptor.decrypt(records.get(old_id)).startswith(BOUND)
    assert app.read(old_id) == {"user": "ada"}

    # ... unless unbound records are refused
    strict = App(front, store, {"encryptor": encryptor, "accept_unbound_records": False})
    unbound_id = generate_session_id()
    records.put(unbound_id, unbound_record(encryptor, "ada"))
    assert strict.read(unbound_id) == {}


class OwnIdStore(SyncDictStore):
    """A store that names new records itself (``write`` returns its own id, as the contract allows)
    and writes existing ones in place."""

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        if session_id not in self.records:
            session_id = "own-" + generate_session_id()
        self.records[session_id] = data
        return session_id


@pytest.mark.parametrize("encryption", list(ENCRYPTORS))
@pytest.mark.parametrize("front", HTTP)
def test_an_encrypted_record_is_bound_to_the_id_the_store_named_it(front: str, encryption: str) -> None:
    """Binding must not lose the sessions of a store that names its records itself."""
    store = OwnIdStore()
    app = App(front, store, {"encryptor": ENCRYPTORS[encryption]()})
    client, session_id = log_in(app)
    assert session_id.startswith("own-")
    assert client.get("/read").json() == LOGIN
    assert client.get("/set?theme=light").status_code == 200
    assert client.get("/read").json() == {**LOGIN, "theme": "light"}


class RenamingStore(SyncDictStore):
    """A store that names a record anew on every write."""

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        session_id = "renamed-" + generate_session_id()
        self.records[session_id] = data
        return session_id


class ShortIdStore(SyncDictStore):
    """A store that issues short ids of its own and forgot to say so in ``accepts_id``."""

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        session_id = f"row{len(self.records)}"
        self.records[session_id] = data
        return session_id


@pytest.mark.parametrize("front", HTTP)
def test_a_store_whose_ids_would_lose_the_session_is_an_error_not_a_silent_logout(front: str) -> None:
    """A session written under an id the store's own accepts_id refuses, or an encrypted record that
    can't be bound to the name the store gives it, would be lost on the next request: say so."""
    for store, options in (
        (ShortIdStore(), {}),
        (RenamingStore(), {"encryptor": FernetEncryptor(Fernet.generate_key())}),
    ):
        response = App(front, store, options).client(answering_errors=True).get("/set?user=ada")
        assert response.status_code == 500  # ImproperlyConfigured, naming what to change
        assert "set-cookie" not in response.headers


def test_a_script_reading_an_unbound_record_does_not_rewrite_or_extend_it() -> None:
    """A script's look never extends a session, not even to bind an old record to its id."""
    store, encryptor = InMemoryStore(), FernetEncryptor(Fernet.generate_key())
    session_id = generate_session_id()
    store.sync.write(session_id, unbound_record(encryptor, "ada"), 0, 400)
    before = store.sync._expires[session_id]
    with dualsessions.open_session(
        store, session_id, encryptor=encryptor, rolling=True, lifetime=1000
    ) as seen:
        assert dict(seen) == {"user": "ada"}
    assert store.sync._expires[session_id] == before
    assert not encryptor.decrypt(store.data[session_id]).startswith(BOUND)


def test_a_script_never_sends_a_value_the_store_would_not_issue_to_it(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    App("wsgi", store, {"user_key": "user"}).client().get("/set?user=ada")
    calls = spy(store)
    for forged in ("user:ada", "short"):
        with dualsessions.open_session(store, forged) as seen:
            assert dict(seen) == {}
        assert not admin.delete_session(store, forged)
    assert calls == []


# -- 6. hostile records ----------------------------------------------------------------------------------

#: Each record's extra value, and its metadata (``{now}``: the time it is written).
HOSTILE = {
    "a number beyond floats": ('"n":1e999999,', '"lifetime":60,"created":{now}'),
    "a lifetime that is not a number": ("", '"lifetime":"x","created":{now}'),
    "a user that is not a string": ("", '"lifetime":60,"created":{now},"user":[1]'),
    "rolling that is not a boolean": ("", '"lifetime":60,"created":{now},"rolling":"yes"'),
    "a creation time beyond any clock": ("", '"lifetime":60,"created":1e300'),
    "a last access that is not a time": ("", '"lifetime":60,"created":{now},"last_access":"z"'),
    # before 1970: no clock reads that, and listing such a session would fail
    "a creation time before 1970": ("", '"lifetime":0,"created":-1e18'),
    "an empty user": ("", '"lifetime":60,"created":{now},"user":""'),
    "a last access beyond any integer time": ("", '"lifetime":0,"created":{now},"last_access":-' + "9" * 400),
}
#: What the records hold that no log line may show.
CONTENTS = ("SECRET-MARKER", "4815162342", "1e999999", "1e300", "1e+300")


def hostile_record(case: str) -> bytes:
    extra, metadata = HOSTILE[case]
    metadata = metadata.format(now=int(time.time()))
    text = '{"user":"ada","marker":"SECRET-MARKER","pin":4815162342,' + extra
    return (text + '"__metadata__":{' + metadata + "}}").encode()


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("front", HTTP)
def test_a_hostile_record_is_a_new_session_and_stays_out_of_the_logs(
    front: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stops a record someone else wrote into the store from breaking requests (500s, sessions that never
    end) or from being copied into the logs (where what it holds would leak, or forge log lines)."""
    store = InMemoryStore()
    session_id = generate_session_id()
    store.sync.write(session_id, hostile_record(case), 0, 3600)
    app = App(front, store, {"lifetime": 60})
    client = app.client(session_id)

    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        response = client.get("/read")
    assert (response.status_code, response.json()) == (200, {})
    warned = [r for r in caplog.records if r.name == "dualsessions" and r.levelno == logging.WARNING]
    assert warned
    assert not [r for r in warned if r.getMessage().startswith("dualsessions")]  # the logger names it
    for content in CONTENTS:
        assert content not in caplog.text

    saved = client.get("/set?theme=dark")
    assert saved.status_code == 200
    new_id = cookie_value(saved)
    assert new_id != session_id  # a new session: the hostile record's id is never adopted
    assert app.read(new_id) == {"theme": "dark"}


# -- 7. one spelling per signed cookie -------------------------------------------------------------------

URLSAFE_ALPHABET = string.ascii_letters + string.digits + "-_"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def respellings(cookie: str) -> list[str]:
    """Other spellings of the same signed value: ``=`` appended, and the signature's last character
    changed to one that base64-decodes to the same bytes (it carries bits no byte uses)."""
    signed, _, signature = cookie.rpartition(".")
    same_bytes = [
        f"{signed}.{signature[:-1]}{char}"
        for char in URLSAFE_ALPHABET
        if char != signature[-1] and _b64(signature[:-1] + char) == _b64(signature)
    ]
    assert same_bytes, f"no other spelling of the signature {signature!r}"
    return [cookie + "=", *same_bytes]


def starsessions_cookie(data: dict[str, typing.Any]) -> str:
    """A cookie as starsessions' CookieStore (and Starlette's SessionMiddleware) signs it."""
    signer = itsdangerous.TimestampSigner(SECRET)
    return signer.sign(base64.b64encode(json.dumps(data).encode())).decode()


@pytest.mark.parametrize("front", HTTP)
def test_a_signed_cookie_has_one_spelling(front: str) -> None:
    """Stops a cookie slipping past anything that knows cookies by their value (a deny-list of logged-out
    or leaked cookies, a cache key, a rate limit): each signed value is accepted in exactly one spelling."""
    app = App(front, CookieStore(SECRET))
    cookie = cookie_value(app.client().get("/set?user=ada"))
    assert app.read(cookie) == {"user": "ada"}
    for variant in respellings(cookie):
        assert_new_empty_session(app, variant)

    legacy = App(front, CookieStore(SECRET, read_starsessions_cookies=True))
    cookie = starsessions_cookie({"user": "ada"})
    assert legacy.read(cookie) == {"user": "ada"}
    for variant in respellings(cookie):
        assert_new_empty_session(legacy, variant)


# -- 8. starsessions' cookie format is opt-in ------------------------------------------------------------


def starlette_session_cookie(data: dict[str, typing.Any]) -> str:
    """The cookie Starlette's own SessionMiddleware sets for ``data``, signed with the same secret."""

    async def set_session(request: Request) -> PlainTextResponse:
        request.session.update(data)
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", set_session)],
        middleware=[Middleware(StarletteSessionMiddleware, secret_key=SECRET)],
    )
    with TestClient(app) as client:
        return typing.cast(str, client.get("/").cookies["session"])


@pytest.mark.parametrize("front", HTTP)
def test_a_starlette_session_cookie_is_not_a_session_unless_asked(front: str) -> None:
    """Stops a token signed with the same key for something else (here Starlette's own session cookie,
    holding whatever that app put in it) from being taken as a dualsessions session with that data:
    starsessions' format is any TimestampSigner token of the key, so it is read only when asked."""
    cookie = starlette_session_cookie({"user": "admin"})
    assert_new_empty_session(App(front, CookieStore(SECRET)), cookie)
    migrating = App(front, CookieStore(SECRET, read_starsessions_cookies=True))
    assert migrating.read(cookie) == {"user": "admin"}


# -- 9. decode answers any cookie in one line -----------------------------------------------------------

#: Payloads that verify but are no session. The writing store allows a large cookie (100000 nested
#: lists don't fit 4096 bytes); its size limit has nothing to do with the signature.
UNREADABLE_PAYLOADS = {
    "a list": b"[1, 2]",
    "a string": b'"text"',
    "100000 nested lists": b"[" * 100_000 + b"]" * 100_000,
}
GARBAGE = ("garbage", "a.b.c", "...", "%%%")


def signed_cookie(payload: bytes) -> str:
    return CookieStore(SECRET, max_cookie_size=1_000_000).sync.write("x" * 32, payload, 60, 60)


@pytest.mark.parametrize("cookie", [*UNREADABLE_PAYLOADS, *GARBAGE])
def test_decode_answers_any_cookie_in_one_line(cookie: str, run_cli: Run) -> None:
    """Stops a crafted cookie (pasted by an operator from a report) from crashing the command with a
    traceback (RecursionError, an AttributeError on a non-dict) or printing a non-session as a session."""
    value = signed_cookie(UNREADABLE_PAYLOADS[cookie]) if cookie in UNREADABLE_PAYLOADS else cookie
    assert_one_line_error(*run_cli("decode", value, "--secret", SECRET))
