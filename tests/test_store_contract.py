"""The conditional store methods, for every store kind and flavour: ``replace`` writes only over a
record that still exists (a session that ended stays ended) and ``take`` removes a record and hands
back what it held (regeneration moves a record only if the old one still exists).

Built-in stores are driven through their async methods and through ``store.sync``; the custom stores of
``tests/stores.py`` are one flavour each and get the contract's default implementations.
"""

from __future__ import annotations

import asyncio
import secrets
import typing

import pytest

from dualsessions import _bridge
from dualsessions.stores.base import SessionStore, SyncSessionStore
from dualsessions.stores.redis import RedisStore

from .conftest import STORE_KINDS, Clock
from .redis_server import RedisServer, running_redis
from .stores import AsyncDictStore, DuckAsyncStore, DuckSyncStore, SyncDictStore

DATA = b'{"user":"alice"}'
NEW = b'{"user":"alice","theme":"dark"}'
# Commands redis-py sends when it opens a connection, not per call.
HANDSHAKE = {"client|setinfo", "hello", "select", "auth", "client|setname"}


def flavours(kind: str) -> list[str]:
    if kind == "sync-custom":
        return ["sync"]
    if kind == "async-custom":
        return ["async"]
    return ["async", "sync"]


CASES = [(kind, flavour) for kind in STORE_KINDS for flavour in flavours(kind)]
# A cookie store's record is the cookie value itself: nothing can end it elsewhere (see the cookie tests).
CONDITIONAL = [case for case in CASES if case[0] != "cookie"]
parametrize_conditional = pytest.mark.parametrize(
    ("store_kind", "flavour"), CONDITIONAL, ids=[f"{kind}-{flavour}" for kind, flavour in CONDITIONAL]
)


class Flavoured:
    """One store seen through one flavour, with the same (sync-looking) methods for both."""

    def __init__(self, store: typing.Any, flavour: str) -> None:
        self.flavour = flavour
        if flavour == "sync":
            self.target = store.sync if hasattr(store, "sync") else store
            assert isinstance(self.target, SyncSessionStore)
        else:
            self.target = store
            assert isinstance(self.target, SessionStore)

    def _call(self, method: str, *args: typing.Any) -> typing.Any:
        if self.flavour == "sync":
            return getattr(self.target, method)(*args)
        return asyncio.run(getattr(self.target, method)(*args))

    def read(self, session_id: str) -> bytes:
        return typing.cast(bytes, self._call("read", session_id, 60))

    def write(self, session_id: str, data: bytes) -> str:
        return typing.cast(str, self._call("write", session_id, data, 60, 60))

    def replace(self, session_id: str, data: bytes, ttl: int = 60) -> str | None:
        return typing.cast("str | None", self._call("replace", session_id, data, 60, ttl))

    def take(self, session_id: str) -> bytes:
        return typing.cast(bytes, self._call("take", session_id))

    def remove(self, session_id: str) -> None:
        self._call("remove", session_id)

    def exists(self, session_id: str) -> bool:
        return typing.cast(bool, self._call("exists", session_id))

    def read_many(self, session_ids: list[str]) -> list[bytes]:
        return typing.cast("list[bytes]", self._call("read_many", session_ids))

    def remaining_ttl(self, session_id: str) -> int | None:
        return typing.cast("int | None", self._call("remaining_ttl", session_id))


def new_id() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def view(store: typing.Any, flavour: str) -> Flavoured:
    return Flavoured(store, flavour)


# -- every store that keeps records ------------------------------------------------------------------


@parametrize_conditional
def test_read_many_gives_each_record_in_order_or_nothing(view: Flavoured) -> None:
    first, gone, second = new_id(), new_id(), new_id()
    view.write(first, DATA)
    view.write(second, NEW)
    assert view.read_many([first, gone, second]) == [DATA, b"", NEW]
    assert view.read_many([]) == []


@parametrize_conditional
def test_remaining_ttl_is_what_the_record_has_left_where_the_store_knows(
    view: Flavoured, store_kind: str
) -> None:
    """A record written for 60 s has at most 60 s left; a missing one has none. A store that keeps no
    expiries (the custom ones) can't tell: None, the contract's default."""
    session_id = new_id()
    view.write(session_id, b"{}")
    left = view.remaining_ttl(session_id)
    if store_kind.endswith("-custom"):
        assert left is None
    else:
        assert left is not None and 55 <= left <= 60
    assert view.remaining_ttl(new_id()) is None


@parametrize_conditional
def test_replace_of_a_missing_record_writes_nothing(view: Flavoured) -> None:
    session_id = new_id()
    assert view.replace(session_id, DATA) is None
    assert view.exists(session_id) is False
    assert view.read(session_id) == b""


@parametrize_conditional
def test_replace_overwrites_a_live_record_and_returns_its_id(view: Flavoured) -> None:
    session_id = new_id()
    assert view.write(session_id, DATA) == session_id
    assert view.replace(session_id, NEW) == session_id
    assert view.read(session_id) == NEW
    assert view.exists(session_id) is True


@parametrize_conditional
def test_replace_after_remove_returns_none(view: Flavoured) -> None:
    """A logout (or a revocation) that lands before the write wins: the session stays ended."""
    session_id = new_id()
    view.write(session_id, DATA)
    view.remove(session_id)
    assert view.replace(session_id, NEW) is None
    assert view.exists(session_id) is False
    assert view.read(session_id) == b""


@parametrize_conditional
def test_take_returns_the_bytes_and_the_record_is_gone(view: Flavoured) -> None:
    session_id, other = new_id(), new_id()
    view.write(session_id, DATA)
    view.write(other, NEW)
    assert view.take(session_id) == DATA
    assert view.exists(session_id) is False
    assert view.read(session_id) == b""
    assert view.take(session_id) == b""  # a second regeneration of the same session gets nothing
    assert view.replace(session_id, NEW) is None
    assert view.read(other) == NEW  # only that record


@parametrize_conditional
def test_take_of_a_missing_record_returns_empty_bytes(view: Flavoured) -> None:
    session_id = new_id()
    assert view.take(session_id) == b""
    assert view.exists(session_id) is False


# -- the cookie store ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize("store_kind", ["cookie"])
def test_cookie_store_replace_is_write_and_take_is_read(view: Flavoured) -> None:
    """The cookie value is the record: no other request or script can remove it from anywhere (its
    ``remove`` does nothing; only the deleting cookie ends it). So ``replace`` cannot tell whether the
    session "still exists" and writes, as ``write`` does, returning the new cookie value; and ``take``
    returns what ``read`` finds in the value, with nothing to remove."""
    value = view.write("", DATA)
    assert view.read(value) == DATA
    replaced = view.replace(value, NEW)
    assert replaced is not None
    assert view.read(replaced) == NEW
    assert view.replace("not a cookie value", NEW) is not None  # no record to check: a write
    assert view.take(replaced) == NEW
    assert view.take(replaced) == view.read(replaced)  # nothing was removed
    assert view.take("not a cookie value") == b""
    tampered = replaced[:-2] + ("AA" if not replaced.endswith("AA") else "BB")
    assert view.take(tampered) == b""


# -- the memory store: expiry --------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize("store_kind", ["memory"])
def test_memory_store_treats_an_expired_record_as_missing(view: Flavoured, clock: Clock) -> None:
    expired, taken = new_id(), new_id()
    view.write(expired, DATA)
    view.write(taken, DATA)
    clock.advance(61)
    assert view.replace(expired, NEW) is None
    assert view.take(taken) == b""
    assert view.exists(expired) is False
    assert view.exists(taken) is False


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize("store_kind", ["memory"])
def test_memory_store_replace_sets_the_expiry(view: Flavoured, clock: Clock) -> None:
    session_id = new_id()
    view.write(session_id, DATA)
    clock.advance(50)
    assert view.replace(session_id, NEW, ttl=60) == session_id
    clock.advance(50)  # 100 s after the write, 50 s after the replace
    assert view.read(session_id) == NEW


# -- Redis: one command each -----------------------------------------------------------------------------


def data_commands(server: RedisServer) -> dict[str, int]:
    return {name: n for name, n in server.command_counts().items() if name not in HANDSHAKE}


def count_commands(
    server: RedisServer, store: RedisStore, flavour: str, method: str, *args: typing.Any
) -> tuple[typing.Any, dict[str, int]]:
    """What ``store.method(*args)`` returns, and the commands it sent, the connection being open."""
    if flavour == "sync":
        store.sync.exists("warm-up")
        server.reset_counts()
        return getattr(store.sync, method)(*args), data_commands(server)

    async def scenario() -> tuple[typing.Any, dict[str, int]]:
        await store.exists("warm-up")
        server.reset_counts()
        return await getattr(store, method)(*args), data_commands(server)

    return asyncio.run(scenario())


@pytest.mark.parametrize("hashed", [False, True], ids=["plain-ids", "hashed-ids"])
@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_replace_and_take_are_one_command_each(
    redis_server: RedisServer, redis_url: str, flavour: str, hashed: bool
) -> None:
    store = RedisStore(url=redis_url, hash_ids="id hashing key" if hashed else None)
    session_id = new_id()
    store.sync.write(session_id, DATA, 600, 600)

    assert count_commands(redis_server, store, flavour, "replace", session_id, NEW, 600, 600) == (
        session_id,
        {"set": 1},
    )
    assert count_commands(redis_server, store, flavour, "replace", new_id(), NEW, 600, 600) == (
        None,
        {"set": 1},
    )
    assert count_commands(redis_server, store, flavour, "take", session_id) == (NEW, {"getdel": 1})
    assert count_commands(redis_server, store, flavour, "take", session_id) == (b"", {"getdel": 1})
    assert store.sync.exists(session_id) is False
    store.close()


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_read_many_is_one_command(redis_server: RedisServer, redis_url: str, flavour: str) -> None:
    store = RedisStore(url=redis_url)
    ids = [new_id() for _ in range(500)]
    for session_id in ids[::2]:
        store.sync.write(session_id, DATA, 600, 600)
    records, commands = count_commands(redis_server, store, flavour, "read_many", ids)
    assert records == [DATA if n % 2 == 0 else b"" for n in range(500)]
    assert commands == {"mget": 1}
    store.close()


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_replace_sets_the_ttl_on_the_record_key(
    redis_server: RedisServer, redis_url: str, flavour: str
) -> None:
    store = RedisStore(url=redis_url, hash_ids="id hashing key")
    view = Flavoured(store, flavour)
    session_id = new_id()
    view.write(session_id, DATA)
    assert view.replace(session_id, NEW, ttl=600) == session_id
    with redis_server.client() as raw:
        assert 590 <= raw.ttl(store.record_key(session_id)) <= 600
        assert raw.exists(store.key(session_id)) == 0  # never under the plain id
    store.close()


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_replace_keeps_a_session_only_record_gc_ttl(redis_url: str, flavour: str) -> None:
    store = RedisStore(url=redis_url, gc_ttl=1234)
    view = Flavoured(store, flavour)
    session_id = new_id()
    view.write(session_id, DATA)
    assert view._call("replace", session_id, NEW, 0, 0) == session_id
    assert 1230 <= store.sync_client().ttl(store.record_key(session_id)) <= 1234
    store.close()


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_take_moves_a_legacy_plain_id_record_too(redis_url: str, flavour: str) -> None:
    """While switching to hashed ids, a record still under its plain id is taken all the same."""
    store = RedisStore(url=redis_url, hash_ids="id hashing key", legacy_ids=True)
    view = Flavoured(store, flavour)
    session_id = new_id()
    store.sync_client().set(store.key(session_id), DATA, ex=600)
    assert view.take(session_id) == DATA
    assert store.sync_client().exists(store.key(session_id), store.record_key(session_id)) == 0
    store.close()


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_redis_without_getdel_takes_with_get_and_del_in_one_transaction(flavour: str) -> None:
    with running_redis("--rename-command", "GETDEL", "") as server:  # as on Redis before 6.2
        store = RedisStore(url=server.url)
        session_id = new_id()
        store.sync.write(session_id, DATA, 600, 600)
        taken, commands = count_commands(server, store, flavour, "take", session_id)
        assert taken == DATA
        assert store.has_getdel is False
        # The failed GETDEL is counted as a rejected call, not a call: one MULTI/EXEC round trip.
        assert commands == {"multi": 1, "get": 1, "del": 1, "exec": 1}
        assert count_commands(server, store, flavour, "take", session_id) == (
            b"",
            {"multi": 1, "get": 1, "del": 1, "exec": 1},
        )
        store.close()


def test_redis_failures_of_replace_and_take_are_session_store_errors() -> None:
    from dualsessions import SessionStoreError

    with running_redis() as server:
        store = RedisStore(url=server.url, timeout=1)
        store.sync.write("abc", DATA, 60, 60)
        server.stop()
        with pytest.raises(SessionStoreError, match="write a session"):
            store.sync.replace("abc", NEW, 60, 60)
        with pytest.raises(SessionStoreError, match="remove a session"):
            store.sync.take("abc")
        with pytest.raises(SessionStoreError, match="write a session"):
            asyncio.run(store.replace("abc", NEW, 60, 60))
        with pytest.raises(SessionStoreError, match="remove a session"):
            asyncio.run(store.take("abc"))
        store.close()


# -- the bridge ------------------------------------------------------------------------------------------


class CountingSyncStore(SyncDictStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        self.calls.append("replace")
        return super().replace(session_id, data, lifetime, ttl)

    def take(self, session_id: str) -> bytes:
        self.calls.append("take")
        return super().take(session_id)


class CountingAsyncStore(AsyncDictStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        self.calls.append("replace")
        return await super().replace(session_id, data, lifetime, ttl)

    async def take(self, session_id: str) -> bytes:
        self.calls.append("take")
        return await super().take(session_id)


def exercise(view: Flavoured) -> None:
    session_id = new_id()
    assert view.replace(session_id, DATA) is None
    assert view.exists(session_id) is False
    view.write(session_id, DATA)
    assert view.replace(session_id, NEW) == session_id
    assert view.take(session_id) == NEW
    assert view.exists(session_id) is False
    assert view.take(session_id) == b""


@pytest.mark.parametrize("make", [SyncDictStore, DuckSyncStore, CountingSyncStore])
def test_a_sync_store_under_async_forwards_replace_and_take(make: typing.Callable[[], typing.Any]) -> None:
    store = make()
    adapted, _ = _bridge.async_store(store)
    assert isinstance(adapted, _bridge._ThreadedStore)
    exercise(Flavoured(adapted, "async"))
    if isinstance(store, CountingSyncStore):  # the store's own methods, not the defaults over it
        assert store.calls == ["replace", "replace", "take", "take"]


@pytest.mark.parametrize("make", [AsyncDictStore, DuckAsyncStore, CountingAsyncStore])
def test_an_async_store_under_sync_forwards_replace_and_take(make: typing.Callable[[], typing.Any]) -> None:
    store = make()
    adapted, _ = _bridge.sync_store(store)
    assert isinstance(adapted, _bridge._PortalStore)
    exercise(Flavoured(adapted, "sync"))
    if isinstance(store, CountingAsyncStore):
        assert store.calls == ["replace", "replace", "take", "take"]
