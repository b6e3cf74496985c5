"""The stores that do no I/O, driven directly in both flavours: ``InMemoryStore`` and ``CookieStore``.

Every behaviour is checked through the async methods (``await store.read(...)``) and through the sync
ones (``store.sync.read(...)``); time is moved with the ``clock`` fixture.
"""

from __future__ import annotations

import asyncio
import threading
import typing

import pytest
from starlette.datastructures import Secret

from dualsessions import CookieStore, InMemoryStore
from dualsessions.cookies import find_cookie, is_valid_cookie_value
from dualsessions.exceptions import CookieTooLarge, ImproperlyConfigured, SessionError
from dualsessions.stores.base import DualSessionStore, SessionStore, SyncSessionStore, touches
from dualsessions.stores.cookie import VERIFIED_KEPT
from dualsessions.stores.memory import DEFAULT_GC_TTL

from .conftest import Clock

T0 = 1_700_000_000.25  # a fractional start, as real time has
DATA = b'{"user":"alice","__metadata__":{"lifetime":60,"created":1,"last_access":1}}'


@pytest.fixture
def now(clock: Clock) -> float:
    clock.now = T0
    return T0


class Flavoured:
    """One store seen through one flavour, with the same (sync-looking) methods for both."""

    def __init__(self, store: DualSessionStore, flavour: str) -> None:
        self.store = store
        self.flavour = flavour

    def _call(self, method: str, *args: typing.Any) -> typing.Any:
        if self.flavour == "sync":
            return getattr(self.store.sync, method)(*args)
        return asyncio.run(getattr(self.store, method)(*args))

    def read(self, session_id: str, lifetime: int = 60) -> bytes:
        return typing.cast(bytes, self._call("read", session_id, lifetime))

    def write(self, session_id: str, data: bytes, lifetime: int = 60, ttl: int = 60) -> str:
        return typing.cast(str, self._call("write", session_id, data, lifetime, ttl))

    def remove(self, session_id: str) -> None:
        self._call("remove", session_id)

    def exists(self, session_id: str) -> bool:
        return typing.cast(bool, self._call("exists", session_id))

    def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        return typing.cast(bytes, self._call("read_and_touch", session_id, lifetime, ttl))


@pytest.fixture(params=["async", "sync"])
def flavour(request: pytest.FixtureRequest) -> str:
    return typing.cast(str, request.param)


@pytest.fixture
def memory(flavour: str) -> Flavoured:
    return Flavoured(InMemoryStore(gc_ttl=1000), flavour)


def cookie_store(secret: typing.Any = "key", flavour: str = "sync", **options: typing.Any) -> Flavoured:
    return Flavoured(CookieStore(secret, **options), flavour)


def test_both_stores_are_dual_stores_with_a_sync_flavour() -> None:
    for store in (InMemoryStore(), CookieStore("key")):
        assert isinstance(store, DualSessionStore)
        assert isinstance(store, SessionStore)
        assert isinstance(store.sync, SyncSessionStore)
    assert touches(InMemoryStore())
    assert not touches(CookieStore("key"))


# -- InMemoryStore -------------------------------------------------------------------------------------------


def test_memory_write_read_remove_exists(memory: Flavoured, now: float) -> None:
    assert memory.read("abc") == b""
    assert memory.exists("abc") is False
    assert memory.write("abc", DATA, 60, 60) == "abc"
    assert memory.read("abc") == DATA
    assert memory.exists("abc") is True
    assert memory.read("other") == b""
    assert memory.write("abc", b"second", 60, 60) == "abc"
    assert memory.read("abc") == b"second"
    memory.remove("abc")
    assert memory.read("abc") == b""
    assert memory.exists("abc") is False
    memory.remove("abc")  # a missing record is not an error
    memory.remove("never-written")


def test_memory_flavours_share_the_records(now: float) -> None:
    store = InMemoryStore()
    asyncio.run(store.write("a", b"from async", 60, 60))
    store.sync.write("b", b"from sync", 60, 60)
    assert store.sync.read("a", 60) == b"from async"
    assert asyncio.run(store.read("b", 60)) == b"from sync"
    assert store.data is store.sync.data
    assert store.data == {"a": b"from async", "b": b"from sync"}


def test_memory_record_expires_after_ttl(memory: Flavoured, clock: Clock, now: float) -> None:
    memory.write("abc", DATA, 60, 60)
    clock.advance(59.9)
    assert memory.read("abc") == DATA
    assert memory.exists("abc") is True
    clock.advance(0.1)
    assert memory.exists("abc") is False
    assert memory.read("abc") == b""
    assert "abc" not in memory.store.data  # dropped when read
    assert memory.read_and_touch("abc", 60, 60) == b""  # an expired record is not revived
    assert memory.exists("abc") is False


def test_memory_ttl_zero_uses_gc_ttl(memory: Flavoured, clock: Clock, now: float) -> None:
    memory.write("abc", DATA, 0, 0)
    clock.advance(999)
    assert memory.read("abc", 0) == DATA
    clock.advance(1)
    assert memory.read("abc", 0) == b""


def test_memory_default_gc_ttl_is_thirty_days(clock: Clock, now: float) -> None:
    store = InMemoryStore()
    assert store.sync.gc_ttl == DEFAULT_GC_TTL == 30 * 24 * 3600
    store.sync.write("abc", DATA, 0, 0)
    clock.advance(DEFAULT_GC_TTL - 1)
    assert store.sync.read("abc", 0) == DATA
    clock.advance(1)
    assert store.sync.read("abc", 0) == b""


def test_memory_read_and_touch_extends_expiry(memory: Flavoured, clock: Clock, now: float) -> None:
    memory.write("abc", DATA, 60, 60)
    clock.advance(50)
    assert memory.read_and_touch("abc", 60, 60) == DATA  # now expires at +110
    clock.advance(50)  # +100: past the first expiry
    assert memory.read("abc") == DATA
    assert memory.exists("abc") is True
    clock.advance(10)  # +110
    assert memory.read("abc") == b""


def test_memory_read_and_touch_ttl_zero_uses_gc_ttl(memory: Flavoured, clock: Clock, now: float) -> None:
    memory.write("abc", DATA, 60, 60)
    assert memory.read_and_touch("abc", 0, 0) == DATA
    clock.advance(999)
    assert memory.read("abc") == DATA
    clock.advance(1)
    assert memory.read("abc") == b""


def test_memory_read_and_touch_of_missing_record_creates_nothing(memory: Flavoured, now: float) -> None:
    assert memory.read_and_touch("nope", 60, 60) == b""
    assert memory.exists("nope") is False
    assert memory.store.data == {}


def test_memory_expired_records_are_swept_on_later_writes(
    memory: Flavoured, clock: Clock, now: float
) -> None:
    """Swept once the minute they expire in has passed (a read never returns them before)."""
    memory.write("short", b"1", 10, 10)
    memory.write("long", b"2", 200, 200)
    memory.write("session-only", b"3", 0, 0)  # gc_ttl=1000
    assert set(memory.store.data) == {"short", "long", "session-only"}
    clock.advance(80)
    memory.write("new", b"4", 300, 300)
    assert set(memory.store.data) == {"long", "session-only", "new"}  # "short" was never read again
    clock.advance(190)  # +270: "long" expired at +200, "new" lives until +380
    memory.write("newer", b"5", 100, 100)
    assert set(memory.store.data) == {"session-only", "new", "newer"}


def test_memory_rewrite_keeps_the_later_expiry(memory: Flavoured, clock: Clock, now: float) -> None:
    """A superseded heap entry must not sweep a record that was rewritten with a longer ttl."""
    memory.write("abc", b"1", 10, 10)
    memory.write("abc", b"2", 100, 100)
    clock.advance(20)
    memory.write("other", b"x", 100, 100)  # sweeps
    assert memory.read("abc") == b"2"


def expiry_entries(store: InMemoryStore) -> int:
    """How many records the memory store's expiry index holds (live ones, and nothing else)."""
    return sum(len(bucket) for bucket in store.sync._buckets.values())


def test_memory_expiry_index_holds_one_entry_when_one_id_is_rewritten(clock: Clock, now: float) -> None:
    store = InMemoryStore()
    for i in range(10_000):
        store.sync.write("same", b"x", 60, 60)
        if i % 7 == 0:
            clock.advance(0.01)
        assert expiry_entries(store) == 1
    assert len(store.sync._minutes) <= 2  # one per minute the record's expiry passed through
    assert store.data == {"same": b"x"}


def test_memory_expiry_index_stays_small_through_the_async_flavour(now: float) -> None:
    store = InMemoryStore()

    async def rewrite() -> int:
        largest = 0
        for _ in range(10_000):
            await store.write("same", b"x", 60, 60)
            largest = max(largest, expiry_entries(store))
        return largest

    assert asyncio.run(rewrite()) == 1


def test_memory_expiry_index_follows_the_live_records_not_the_time(clock: Clock, now: float) -> None:
    """A few rolling sessions read every second for a month: the buckets are those of the live
    records, and the heap holds at most one minute per minute of the records' lifetime."""
    store = InMemoryStore()
    ids = [f"rolling-{n}" for n in range(10)]
    for session_id in ids:
        store.sync.write(session_id, b"x", 3600, 3600)
    for _ in range(30 * 24 * 60):  # a month, minute by minute
        clock.advance(60)
        for session_id in ids:
            store.sync.read_and_touch(session_id, 3600, 3600)
        store.sync.write("visitor", b"x", 3600, 3600)
    assert len(store.sync._buckets) <= 2
    assert len(store.sync._minutes) <= 3600 // 60 + 2
    assert expiry_entries(store) == len(ids) + 1


def test_memory_expiry_index_keeps_nothing_of_removed_records(now: float) -> None:
    store = InMemoryStore()
    for i in range(5_000):
        store.sync.write(f"id-{i}", b"x", 60, 60)
        store.sync.remove(f"id-{i}")
        assert expiry_entries(store) == 0
    assert store.data == {}


def test_memory_write_drops_a_bounded_number_of_expired_records(clock: Clock, now: float) -> None:
    """Many sessions expiring at once are swept a few per write, never all in one request."""
    from dualsessions.stores.memory import _SWEEP_LIMIT

    store = InMemoryStore()
    for i in range(1_000):
        store.sync.write(f"id-{i}", b"x", 60, 60)
    clock.advance(121)  # past the end of the minute they expire in
    store.sync.write("next", b"x", 60, 60)
    assert len(store.data) == 1_000 + 1 - _SWEEP_LIMIT
    for i in range(1_000 // _SWEEP_LIMIT + 1):
        store.sync.write(f"later-{i}", b"x", 60, 60)
    assert all(key == "next" or key.startswith("later-") for key in store.data)
    assert store.sync.read("id-0", 60) == b""


def test_memory_index_entries_leave_with_their_records(clock: Clock, now: float) -> None:
    store = InMemoryStore()
    store.sync.write("gone", b"x", 60, 60)
    store.sync.add_user_session("ada", "gone")
    store.sync.write("kept", b"x", 600, 600)
    store.sync.add_user_session("ada", "kept")
    clock.advance(121)
    store.sync.write("other", b"x", 60, 60)  # sweeps "gone"
    assert store.sync.user_sessions("ada") == ["kept"]
    store.sync.remove("kept")
    assert store.sync.user_sessions("ada") == []
    assert store.sync._users == {}


# -- CookieStore ---------------------------------------------------------------------------------------------


def test_cookie_round_trip(flavour: str, now: float) -> None:
    store = cookie_store("key", flavour)
    value = store.write("ignored-id", DATA, 60, 60)
    assert value != "ignored-id"
    assert DATA.decode() not in value
    assert is_valid_cookie_value(value)
    assert find_cookie(f"other=1; session={value}", "session") == value
    assert store.read(value, 60) == DATA
    assert store.exists(value) is True


@pytest.mark.parametrize("data", [b"x", b"\x00\xff binary \xfe", "é ünïcode".encode(), b"a" * 1000])
def test_cookie_round_trip_any_bytes(data: bytes, now: float) -> None:
    store = cookie_store()
    value = store.write("", data, 60, 60)
    assert is_valid_cookie_value(value)
    assert store.read(value) == data


def test_cookie_flavours_agree(now: float) -> None:
    store = CookieStore("key")
    value = asyncio.run(store.write("", DATA, 60, 60))
    assert store.sync.read(value, 60) == DATA
    assert asyncio.run(store.read(store.sync.write("", DATA, 60, 60), 60)) == DATA


def test_cookie_key_rotation(flavour: str, now: float) -> None:
    old = cookie_store(["old"], flavour)
    rotated = cookie_store(["new", "old"], flavour)
    new = cookie_store(["new"], flavour)
    signed_with_old = old.write("", DATA, 60, 60)
    assert rotated.read(signed_with_old) == DATA  # every key is accepted
    assert new.read(signed_with_old) == b""
    signed_by_rotated = rotated.write("", DATA, 60, 60)
    assert new.read(signed_by_rotated) == DATA  # the first key signs
    assert old.read(signed_by_rotated) == b""


def test_cookie_key_variants(now: float) -> None:
    value = cookie_store("key").write("", DATA, 60, 60)
    assert cookie_store(b"key").read(value) == DATA
    assert cookie_store(("key",)).read(value) == DATA
    assert cookie_store(Secret("key")).read(value) == DATA  # str() unwraps starlette's Secret
    assert cookie_store([Secret("new"), Secret("key")]).read(value) == DATA


def test_cookie_wrong_key_reads_nothing(flavour: str, now: float) -> None:
    value = cookie_store("key", flavour).write("", DATA, 60, 60)
    other = cookie_store("another key", flavour)
    assert other.read(value) == b""
    assert other.exists(value) is False


def test_cookie_salt_separates_stores(now: float) -> None:
    value = cookie_store("key", salt="one").write("", DATA, 60, 60)
    assert cookie_store("key", salt="two").read(value) == b""
    assert cookie_store("key", salt="one").read(value) == DATA


def tampered_variants(value: str) -> list[str]:
    encoded, expires, signature = value.split(".")
    flip = {"A": "B"}

    def change(text: str, index: int) -> str:
        char = text[index]
        return text[:index] + flip.get(char, "A") + text[index + 1 :]

    return [
        f"{change(encoded, 0)}.{expires}.{signature}",
        f"{change(encoded, len(encoded) // 2)}.{expires}.{signature}",
        f"{encoded}.{int(expires) + 3600}.{signature}",  # a longer life
        f"{encoded}.{change(signature, 0)}",  # expiry dropped
        f"{encoded}.{expires}.{change(signature, -1)}",
        f"{encoded}.{expires}.",
        f"{encoded}.{expires}",
        f"{encoded}..{signature}",
        f"{encoded}{expires}.{signature}",
        f"{encoded}.{expires}.{signature}x",
        f"x{encoded}.{expires}.{signature}",
    ]


def test_cookie_tampered_values_read_nothing(flavour: str, now: float) -> None:
    store = cookie_store("key", flavour)
    value = store.write("", DATA, 60, 60)
    assert value.count(".") == 2
    assert store.read(value) == DATA
    for tampered in tampered_variants(value):
        assert tampered != value
        assert store.read(tampered) == b"", tampered
        assert store.exists(tampered) is False, tampered


class _CountingVerify:
    """The store's signature check, counted (the real check runs)."""

    def __init__(self, store: CookieStore) -> None:
        self.calls = 0
        self._verify = store.sync.signer.verify
        store.sync.signer.verify = self  # type: ignore[method-assign]

    def __call__(self, value: bytes, signature: bytes) -> bool:
        self.calls += 1
        return self._verify(value, signature)


def test_cookie_value_seen_again_is_verified_once(flavour: str, clock: Clock, now: float) -> None:
    """A browser sends the same value until its session changes: its HMAC is checked once, its expiry
    on every read."""
    store = CookieStore("key")
    verify = _CountingVerify(store)
    flavoured = Flavoured(store, flavour)
    value = flavoured.write("", DATA, 60, 60)
    assert [flavoured.read(value) for _ in range(3)] == [DATA] * 3
    assert verify.calls == 1
    expires = int(T0) + 60  # (signed into the value)
    clock.now = expires - 0.001
    assert flavoured.read(value) == DATA
    clock.now = expires  # at its expiry, as on its first read
    assert flavoured.read(value) == b"" and flavoured.exists(value) is False
    assert verify.calls == 1


def test_cookie_values_that_fail_the_check_are_never_remembered(flavour: str, now: float) -> None:
    store = CookieStore("key")
    flavoured = Flavoured(store, flavour)
    value = flavoured.write("", DATA, 60, 60)
    assert flavoured.read(value) == DATA  # the genuine value, remembered
    variants = tampered_variants(value)
    verify = _CountingVerify(store)
    for _ in range(2):
        assert [flavoured.read(tampered) for tampered in variants] == [b""] * len(variants)
    assert verify.calls == 2 * len(variants)  # each checked every time
    other = CookieStore("other key")  # signed with a key this store doesn't have
    foreign = other.sync.write("", DATA, 60, 60)
    assert [flavoured.read(foreign) for _ in range(2)] == [b"", b""]
    assert verify.calls == 2 * len(variants) + 2


def test_cookie_store_remembers_a_bounded_number_of_values(now: float) -> None:
    store = CookieStore("key")
    values = {
        store.sync.write("", b"%d" % number, 60, 60): b"%d" % number for number in range(VERIFIED_KEPT * 2)
    }
    for value, data in values.items():
        assert store.sync.read(value, 60) == data
        assert len(store.sync._verified) <= VERIFIED_KEPT
    verify = _CountingVerify(store)
    last = list(values)[-1]
    assert store.sync.read(last, 60) == values[last] and verify.calls == 0  # the latest are kept


def test_cookie_store_read_by_many_threads_at_once(now: float) -> None:
    """Threads reading more values than are remembered (so it starts over under them) each read what
    their value holds."""
    store = CookieStore("key")
    values = [
        (store.sync.write("", b"%d" % number, 60, 60), b"%d" % number) for number in range(VERIFIED_KEPT * 3)
    ]
    wrong: list[tuple[str, bytes]] = []

    def reader(offset: int) -> None:
        for index in range(len(values)):
            value, data = values[(index * 7 + offset) % len(values)]
            if store.sync.read(value, 60) != data:
                wrong.append((value, data))

    threads = [threading.Thread(target=reader, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "...", "é.é.é", "x" * 5000, "None"])
def test_cookie_garbage_reads_nothing(flavour: str, garbage: str, now: float) -> None:
    store = cookie_store("key", flavour)
    assert store.read(garbage) == b""
    assert store.exists(garbage) is False


def test_cookie_signature_expires_after_ttl(flavour: str, clock: Clock, now: float) -> None:
    store = cookie_store("key", flavour)
    value = store.write("", DATA, 60, 60)
    clock.advance(59)
    assert store.read(value) == DATA
    assert store.exists(value) is True
    clock.advance(2)  # +61
    assert store.read(value) == b""
    assert store.exists(value) is False


def test_cookie_rewrite_with_remaining_ttl_still_dies_on_time(flavour: str, clock: Clock, now: float) -> None:
    """A non-rolling session re-signed at +30 s with the 30 s it has left dies when the first would."""
    store = cookie_store("key", flavour)
    first = store.write("", DATA, 60, 60)
    clock.advance(30)
    second = store.write(first, DATA + b" ", 60, 30)
    assert second != first
    clock.advance(29)  # +59
    assert store.read(first) == DATA
    assert store.read(second) == DATA + b" "
    clock.advance(2)  # +61
    assert store.read(first) == b""
    assert store.read(second) == b""


def test_cookie_ttl_zero_uses_gc_ttl(flavour: str, clock: Clock, now: float) -> None:
    store = cookie_store("key", flavour, gc_ttl=100)
    value = store.write("", DATA, 0, 0)
    clock.advance(99)
    assert store.read(value, 0) == DATA
    clock.advance(2)
    assert store.read(value, 0) == b""


def test_cookie_default_gc_ttl(clock: Clock, now: float) -> None:
    store = cookie_store("key")
    value = store.write("", DATA, 0, 0)
    clock.advance(DEFAULT_GC_TTL - 1)
    assert store.read(value, 0) == DATA
    clock.advance(2)
    assert store.read(value, 0) == b""


def test_cookie_too_large(flavour: str, now: float) -> None:
    data = b"a" * 300
    size = len(cookie_store("key", max_cookie_size=100_000).write("", data, 60, 60))
    assert size > 128
    store = cookie_store("key", flavour, max_cookie_size=128)
    with pytest.raises(CookieTooLarge) as info:
        store.write("", data, 60, 60)
    error = info.value
    assert isinstance(error, SessionError)
    assert (error.size, error.limit) == (size, 128)
    assert f"{size} bytes" in str(error)
    assert "128 bytes" in str(error)
    small = store.write("", b"{}", 60, 60)  # a small session still fits
    assert len(small) <= 128
    assert store.read(small) == b"{}"


def test_cookie_size_limit_is_inclusive(now: float) -> None:
    value = cookie_store("key").write("", DATA, 60, 60)
    assert cookie_store("key", max_cookie_size=len(value)).write("", DATA, 60, 60) == value
    with pytest.raises(CookieTooLarge):
        cookie_store("key", max_cookie_size=len(value) - 1).write("", DATA, 60, 60)


def test_cookie_default_limit_is_4096(now: float) -> None:
    store = cookie_store("key")
    assert store.write("", b"a" * 2000, 60, 60)
    with pytest.raises(CookieTooLarge, match="limit of 4096 bytes"):
        store.write("", b"a" * 4000, 60, 60)


@pytest.mark.parametrize("size", [127, 0, -1])
def test_cookie_max_cookie_size_below_128_is_rejected(size: int) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"max_cookie_size must be at least 128 bytes, got {size}"):
        CookieStore("key", max_cookie_size=size)


def test_cookie_max_cookie_size_128_is_accepted() -> None:
    assert CookieStore("key", max_cookie_size=128).sync.max_cookie_size == 128


@pytest.mark.parametrize("secret", ["", b"", [], (), [""], ["key", ""], [b"", "key"]])
def test_cookie_empty_secret_is_rejected(secret: typing.Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="non-empty secret_key"):
        CookieStore(secret)


def test_cookie_remove_is_a_no_op(flavour: str, now: float) -> None:
    store = cookie_store("key", flavour)
    value = store.write("", DATA, 60, 60)
    store.remove(value)
    store.remove("garbage")
    assert store.read(value) == DATA
    assert store.exists(value) is True


def test_a_missing_secret_is_refused_not_signed_with_none() -> None:
    with pytest.raises(ImproperlyConfigured, match="secret_key is None"):
        CookieStore(None)
    with pytest.raises(ImproperlyConfigured, match="secret_key is None"):
        CookieStore(["new", None])


@pytest.mark.parametrize("keys", [[b"k"], [b"x" * 200], [b"old key", b"new key"]])
@pytest.mark.parametrize("value", [b"", b"payload.1799999999", b"\xff" * 300])
def test_the_cookie_signer_signs_as_itsdangerous_does(keys: list[bytes], value: bytes) -> None:
    """The prepared HMAC gives itsdangerous' signatures, for short and long keys, with rotation."""
    from itsdangerous import Signer

    from dualsessions.stores.cookie import _Signer

    ours = _Signer(keys, salt="salt")
    theirs = Signer(keys, salt="salt")
    assert ours.get_signature(value) == theirs.get_signature(value)
    for key in keys:  # every key's signature verifies
        assert ours.verify(value, Signer([key], salt="salt").get_signature(value))
    assert not ours.verify(value, Signer([b"another"], salt="salt").get_signature(value))
    assert not ours.verify(value, theirs.get_signature(value) + b"A")  # one spelling only


def test_cookie_regenerated_within_the_millisecond_of_its_last_write_is_the_same(clock: Clock) -> None:
    """A CookieStore's cookie is its id, signed content: a regeneration with the data unchanged in
    the millisecond of the last write re-sends the same cookie, a millisecond later a new one (what
    the Stores page says; the old cookie can't be ended either way)."""
    from dualsessions._sync_engine import SyncEngine

    engine = SyncEngine(CookieStore("key").sync, {"lifetime": 3600}, "script")

    def regenerated(cookie: str | None) -> str:
        handle = engine.begin(cookie)
        if cookie is None:
            handle.load()["user"] = "ada"
        else:
            handle.load()
            handle.regenerate()
        handle.save(200)
        value = find_cookie(dict(handle.headers())["Set-Cookie"].partition(";")[0], "session")
        assert value is not None
        return value

    first = regenerated(None)
    assert regenerated(first) == first
    clock.advance(0.002)  # (a whole millisecond later, however the sum rounds)
    later = regenerated(first)
    assert later != first and regenerated(later) == later
