"""RedisStore against a real redis-server: cost per request, event loops, failures, options."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import socket
import sys
import threading
import time
import types
import typing

import pytest
import redis
import redis._parsers.resp3
import redis.asyncio
import redis.asyncio.retry
import redis.backoff
import redis.retry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from dualsessions import (
    ImproperlyConfigured,
    SessionMiddleware,
    SessionStoreError,
    generate_session_id,
    load_session,
)
from dualsessions.exceptions import NotARecord
from dualsessions.stores._redis_common import AGAIN, read_bulk
from dualsessions.stores.redis import RedisStore

from .apps import asgi_app, asgi_client
from .redis_server import RedisServer, running_redis

# Commands redis-py sends when it opens a connection, not per request.
T = typing.TypeVar("T")

HANDSHAKE = {"client|setinfo", "hello", "select", "auth", "client|setname"}


def data_commands(server: RedisServer) -> dict[str, int]:
    return {name: n for name, n in server.command_counts().items() if name not in HANDSHAKE}


@pytest.mark.parametrize(
    ("options", "path", "expected"),
    [
        ({}, "/noop", {}),
        ({}, "/read", {"get": 1}),
        ({"lifetime": 600, "rolling": True}, "/read", {"getex": 1}),
        ({}, "/set?theme=dark", {"get": 1, "set": 1}),
        ({}, "/clear", {"get": 1, "del": 1}),
    ],
    ids=["untouched", "read-only", "rolling-read-only", "changed", "cleared"],
)
def test_commands_per_request(
    redis_server: RedisServer,
    redis_url: str,
    options: dict[str, typing.Any],
    path: str,
    expected: dict[str, int],
) -> None:
    with TestClient(asgi_app(RedisStore(url=redis_url), **options), base_url="https://testserver") as client:
        client.get("/set?user=alice")
        redis_server.reset_counts()
        client.get(path)
        assert data_commands(redis_server) == expected


def test_new_visitor_costs_one_command(redis_server: RedisServer, redis_url: str) -> None:
    with TestClient(asgi_app(RedisStore(url=redis_url)), base_url="https://testserver") as client:
        client.get("/noop")  # open the connection first
        redis_server.reset_counts()
        client.get("/set?user=alice")
        assert data_commands(redis_server) == {"set": 1}


def test_record_ttl_follows_lifetime_and_rolling(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(url=redis_url, prefix="s:")
    client = asgi_client(store, lifetime=600, rolling=True)
    client.get("/set?user=alice")
    key = "s:" + client.cookies["session"]
    with redis_server.client() as raw:
        raw.expire(key, 10)
        client.get("/read")  # rolling: the read itself restores the full lifetime
        assert 590 <= raw.ttl(key) <= 600


def test_session_only_records_live_gc_ttl(redis_url: str, redis_server: RedisServer) -> None:
    client = asgi_client(RedisStore(url=redis_url, gc_ttl=1234))
    client.get("/set?user=alice")
    with redis_server.client() as raw:
        assert 1230 <= raw.ttl("starsessions." + client.cookies["session"]) <= 1234


def test_callable_prefix(redis_url: str, redis_server: RedisServer) -> None:
    client = asgi_client(RedisStore(url=redis_url, prefix=lambda session_id: f"app:{session_id}:s"))
    client.get("/set?user=alice")
    with redis_server.client() as raw:
        assert raw.exists(f"app:{client.cookies['session']}:s")


def test_requests_on_a_new_event_loop_each_work(redis_url: str) -> None:
    """TestClient without ``with`` runs every request on a new loop, as Starlette's docs show."""
    store = RedisStore(url=redis_url)
    client = TestClient(asgi_app(store), base_url="https://testserver")
    for n in range(5):
        client.get(f"/set?n={n}")
        assert client.get("/read").json() == {"n": str(n)}
    assert len(store._async_clients) == 0  # every loop's client was closed when its loop shut down


def test_repeated_asyncio_run(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    for n in range(5):
        asyncio.run(store.write(f"id{n}", b"data", 0, 60))
        assert asyncio.run(store.read(f"id{n}", 0)) == b"data"
    assert len(store._async_clients) == 0


def test_aclose_leaves_the_loop_nothing_to_run(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """``aclose()`` ends the loop's client there and then: a loop closed right after it (without
    ``shutdown_asyncgens``, as a test's own loop often is) is left no task to finish, so nothing
    complains when the garbage is collected, here or in whatever runs next."""
    store = RedisStore(url=redis_url)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(store.write("abc", b"x", 0, 60))
    loop.run_until_complete(store.aclose())
    assert len(store._async_clients) == 0
    loop.close()
    del loop
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert "destroyed but it is pending" not in caplog.text


def test_given_async_client_as_in_the_starsessions_readme(redis_url: str) -> None:
    connection = redis.asyncio.from_url(redis_url)
    store = RedisStore(connection=connection)
    client = TestClient(asgi_app(store), base_url="https://testserver")
    for n in range(3):  # the given client serves the first loop, later loops get their own
        client.get(f"/set?n={n}")
        assert client.get("/read").json() == {"n": str(n)}
    assert store.sync.read(client.cookies["session"], 0)  # the sync flavour is made from it


def test_given_sync_client_and_both_flavours(redis_url: str) -> None:
    sync_client = redis.Redis.from_url(redis_url)
    for connection in (sync_client, (sync_client, redis.asyncio.from_url(redis_url))):
        store = RedisStore(connection=connection)
        with TestClient(asgi_app(store), base_url="https://testserver") as client:
            client.get("/set?user=alice")
            assert client.get("/read").json() == {"user": "alice"}
        assert store.sync.exists(client.cookies["session"])
    sync_client.close()


def test_sync_flavour_shares_records_with_async(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    assert store.sync.write("abc", b"payload", 60, 60) == "abc"
    assert asyncio.run(store.read("abc", 60)) == b"payload"
    assert store.sync.read_and_touch("abc", 60, 120) == b"payload"
    asyncio.run(store.remove("abc"))
    assert not store.sync.exists("abc")
    assert store.sync.read("abc", 60) == b""
    store.close()


def test_reads_sessions_written_by_starsessions(redis_url: str, redis_server: RedisServer) -> None:
    """Same key prefix and record format: switching the import logs nobody out."""
    session_id = "0123456789abcdef0123456789abcdef"  # starsessions ids are 32 hex characters
    record = {"user": "alice", "__metadata__": {"lifetime": 0, "created": time.time(), "last_access": 0}}
    with redis_server.client() as raw:
        raw.set(f"starsessions.{session_id}", json.dumps(record), ex=60)
    client = asgi_client(RedisStore(url=redis_url))
    client.headers["cookie"] = f"session={session_id}"
    assert client.get("/read").json() == {"user": "alice"}


def test_misconfiguration_is_reported_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured, match="either 'url' or 'connection'"):
        RedisStore()
    with pytest.raises(ImproperlyConfigured, match="not a Redis URL"):
        RedisStore(url="http://localhost")
    with pytest.raises(ImproperlyConfigured, match="gc_ttl"):
        RedisStore(url="redis://localhost", gc_ttl=0)
    with pytest.raises(ImproperlyConfigured, match=r"redis\.Redis or redis\.asyncio\.Redis"):
        RedisStore(connection=object())  # type: ignore[arg-type]


def test_description_hides_credentials() -> None:
    assert repr(RedisStore(url="redis://user:hunter2@db.internal:6380/2")) == (
        "RedisStore(redis://db.internal:6380/2)"
    )


async def _login(request: Request) -> Response:
    await load_session(request)
    request.session["user"] = "alice"
    return PlainTextResponse("ok")


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SessionStoreError):
        return PlainTextResponse("sessions are unavailable", status_code=503)
    return PlainTextResponse("internal error", status_code=500)


def failing_app(store: RedisStore) -> Starlette:
    """The 500 handler sees store failures both while loading and while saving (a failed save
    happens as the response starts, past where per-exception handlers can answer)."""
    app = Starlette(routes=[Route("/login", _login)], exception_handlers={500: _store_unavailable})
    app.add_middleware(SessionMiddleware, store=store)
    return app


def test_unreachable_redis_fails_with_a_session_error_then_recovers(own_redis: RedisServer) -> None:
    store = RedisStore(url=own_redis.url, timeout=1)
    client = TestClient(asgi_app(store), base_url="https://testserver")
    client.get("/set?user=alice")
    own_redis.stop()

    with pytest.raises(SessionStoreError) as error:
        client.get("/read")
    message = str(error.value)
    assert f"RedisStore(redis://127.0.0.1:{own_redis.port}/0)" in message
    assert "ConnectionError" in message
    assert isinstance(error.value.__cause__, redis.ConnectionError)

    own_redis.start()  # same port, empty: the old session is gone but the app works again
    assert client.get("/read").status_code == 200
    client.get("/set?user=bob")
    assert client.get("/read").json() == {"user": "bob"}


def test_store_failures_map_to_503_without_a_cookie(own_redis: RedisServer) -> None:
    store = RedisStore(url=own_redis.url, timeout=1)
    app = failing_app(store)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        assert client.get("/login").status_code == 200  # connected, and a session to load later
        own_redis.stop()
        loading = client.get("/login")  # the read fails inside the handler
        client.cookies.clear()
        saving = client.get("/login")  # a new visitor: the write fails as the response starts
    for response in (loading, saving):
        assert response.status_code == 503
        assert "set-cookie" not in response.headers


def test_failure_while_saving_a_started_response(own_redis: RedisServer) -> None:
    """The store is written before the status line goes out, so a failure is still a clean error."""
    store = RedisStore(url=own_redis.url, timeout=1)

    async def login_then_lose_redis(request: Request) -> Response:
        await load_session(request)
        request.session["user"] = "alice"
        own_redis.stop()
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", login_then_lose_redis)])
    app.add_middleware(SessionMiddleware, store=store)
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_clients_made_with_decode_responses(redis_url: str, flavour: str) -> None:
    client = (redis.asyncio if flavour == "async" else redis).from_url(redis_url, decode_responses=True)
    http = asgi_client(RedisStore(connection=client))
    for n in range(1, 4):
        assert http.get(f"/set?n={n}").json() == {"n": str(n)}
        assert http.get("/read").json() == {"n": str(n)}


def test_getex_missing_falls_back_to_get_and_expire_in_one_round_trip() -> None:
    with running_redis("--rename-command", "GETEX", "") as server:  # as on Redis before 6.2
        store = RedisStore(url=server.url)
        with TestClient(asgi_app(store, lifetime=600, rolling=True), base_url="https://testserver") as client:
            client.get("/set?user=alice")
            key = "starsessions." + client.cookies["session"]
            with server.client() as raw:
                raw.expire(key, 10)
                assert client.get("/read").json() == {"user": "alice"}
                assert client.get("/read").json() == {"user": "alice"}
                assert 590 <= raw.ttl(key) <= 600
        assert store.has_getex is False
        assert store.sync.read_and_touch(key.removeprefix("starsessions."), 600, 600)
        store.close()


def test_without_getex_someone_elses_value_under_a_key_is_a_new_session_and_keeps_its_expiry() -> None:
    """The fallback for servers before 6.2 reads and extends in one script, which leaves a value of
    another type alone (no TTL given to another app's key) and is a new session, as GETEX is."""
    with running_redis("--rename-command", "GETEX", "") as server:
        store = RedisStore(url=server.url)
        forged = generate_session_id()
        with server.client() as raw:
            raw.hset("starsessions." + forged, "theirs", "1")
            with TestClient(
                asgi_app(store, lifetime=600, rolling=True), base_url="https://testserver"
            ) as client:
                client.cookies.set("session", forged)
                assert client.get("/read").json() == {}
            assert raw.ttl("starsessions." + forged) == -1  # still no expiry: not touched
        assert store.has_getex is False
        store.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_loops_closed_without_shutdown_are_not_kept(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    for _ in range(5):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(store.write("abc", b"x", 0, 60))
        loop.close()  # no shutdown_asyncgens: the store can't close that client itself
    assert len(store._async_clients) == 1  # only the last loop's, dropped when the next loop arrives
    del loop, store
    gc.collect()  # the dropped clients' connections warn now, inside this test, not in a later one


def test_clients_that_cannot_be_copied_are_refused() -> None:
    class CustomConnection(redis.connection.Connection):
        pass

    pool = redis.ConnectionPool(connection_class=CustomConnection)
    with pytest.raises(ImproperlyConfigured, match=r"CustomConnection.*pass url= instead"):
        RedisStore(connection=redis.Redis(connection_pool=pool))


async def closing(store: RedisStore, operation: typing.Callable[[], typing.Awaitable[T]]) -> T:
    """``operation()``, then the store's client of this loop closed."""
    try:
        return await operation()
    finally:
        await store.aclose()


@contextlib.contextmanager
def stalled(server: RedisServer, seconds: int = 5) -> typing.Iterator[socket.socket]:
    """``server`` stuck in a ``DEBUG SLEEP`` (started with ``--enable-debug-command yes``); yields the
    connection whose reply ends the stall, which the block may check has not come yet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stall:
        stall.sendall(f"DEBUG SLEEP {seconds}\r\n".encode())

        def stuck() -> bool:  # a PING sent now waits behind the stall
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.2) as probe:
                probe.sendall(b"PING\r\n")
                try:
                    probe.recv(16)
                except TimeoutError:
                    return True
                return False

        for _ in range(300):  # a PING times out within 0.2 s once the server is stuck
            if stuck():
                break
        else:
            pytest.fail(f"DEBUG SLEEP did not stall the server: {stall.recv(100)!r}")
        yield stall
        stall.settimeout(30)
        assert stall.recv(16) == b"+OK\r\n"


def still_stalled(stall: socket.socket) -> bool:
    """Whether the stall's own reply has not come yet (what waited on the stall gave up before it)."""
    stall.setblocking(False)
    try:
        stall.recv(16)
    except BlockingIOError:
        return True
    finally:
        stall.setblocking(True)
    return False


@pytest.mark.parametrize("frontend", ["asgi", "wsgi"])
def test_a_slow_redis_fails_the_request_within_the_timeout_then_recovers(frontend: str) -> None:
    from .apps import FRONTENDS

    with running_redis("--enable-debug-command", "yes") as server:
        client = FRONTENDS[frontend](RedisStore(url=server.url, timeout=0.5))
        client.get("/set?user=alice")

        with stalled(server) as stall:
            with pytest.raises(SessionStoreError, match="TimeoutError"):
                client.get("/read")
            assert still_stalled(stall)  # the worker was not held for the whole stall
        assert client.get("/read").json() == {"user": "alice"}  # and it works again, no restart


def test_a_slow_redis_fails_async_listing_and_purging_within_the_timeout() -> None:
    """Every async command is bounded, those of long operations too (each SCAN step, each batch)."""
    with running_redis("--enable-debug-command", "yes") as server:
        store = RedisStore(url=server.url, timeout=0.5)

        async def listing() -> list[str]:
            return [session_id async for session_id in store.session_ids()]

        asyncio.run(closing(store, lambda: store.write("a" * 32, b"{}", 60, 60)))
        for operation in (listing, store.purge_expired, lambda: store.read("a" * 32, 60)):
            with stalled(server, 2) as stall:
                with pytest.raises(
                    SessionStoreError, match=r"TimeoutError: Redis did not answer within 0\.5 s"
                ):
                    asyncio.run(closing(store, operation))
                assert still_stalled(stall)
        assert asyncio.run(closing(store, listing)) == ["a" * 32]


def test_async_commands_cost_no_task_and_no_timer_of_their_own(redis_url: str) -> None:
    """Bounding a command costs no task (redis-py's socket timeout makes one for every send before
    Python 3.12) and no timer each (``asyncio.timeout`` would): one timer serves them all."""
    store = RedisStore(url=redis_url, timeout=5)
    loop = asyncio.new_event_loop()
    tasks, timers = [], []
    loop.set_task_factory(lambda loop, coro: tasks.append(coro) or asyncio.Task(coro, loop=loop))
    call_at = loop.call_at

    def counted_call_at(
        when: float, callback: typing.Any, *args: typing.Any, **kwargs: typing.Any
    ) -> typing.Any:
        timers.append(callback)
        return call_at(when, callback, *args, **kwargs)

    loop.call_at = counted_call_at  # type: ignore[method-assign]

    async def requests() -> None:
        for n in range(50):
            await store.write(f"session-{n:024}", b"{}", 60, 60)
            assert await store.read(f"session-{n:024}", 60) == b"{}"

    try:
        loop.run_until_complete(store.read("warm-up-" + "0" * 24, 60))  # connects
        tasks.clear(), timers.clear()
        loop.run_until_complete(requests())
        assert len(tasks) == 1  # run_until_complete's own
        assert len(timers) <= 1  # the watchdog's
    finally:
        loop.run_until_complete(store.aclose())
        loop.close()


def test_a_cancelled_command_is_not_a_timeout() -> None:
    """A request cancelled while its command waits (a client went away) is cancelled, not failed; a
    command the watchdog gave up on leaves its task uncancelled (3.11: ``Task.cancelling()``)."""
    with running_redis("--enable-debug-command", "yes") as server:
        store = RedisStore(url=server.url, timeout=0.5)

        async def cancelled_while_waiting() -> None:
            reading = asyncio.ensure_future(store.read("b" * 32, 60))
            await asyncio.sleep(0.1)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading

        async def timed_out() -> None:
            with pytest.raises(SessionStoreError, match="TimeoutError"):
                await store.read("b" * 32, 60)
            task = asyncio.current_task()
            if sys.version_info >= (3, 11):
                assert task is not None and task.cancelling() == 0
            await asyncio.sleep(0)  # no cancellation left pending on this task either

        asyncio.run(closing(store, lambda: store.write("b" * 32, b"{}", 60, 60)))
        for scenario in (cancelled_while_waiting, timed_out):
            with stalled(server, 2):
                asyncio.run(closing(store, scenario))


def test_hashed_ids_keep_session_ids_out_of_redis(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(url=redis_url, hash_ids="id hashing key")
    client = asgi_client(store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]
    with redis_server.client() as raw:
        keys = {key.decode() for key in raw.keys("*")}
        members = {m.decode() for m in raw.smembers("starsessions.user:ada")}
    assert all(session_id not in key for key in keys)  # a dump of the keys gives no cookie
    assert session_id not in members and len(members) == 1
    (record,) = [key for key in keys if "user:" not in key]
    replay = asgi_client(store)
    replay.headers["cookie"] = f"session={record.removeprefix('starsessions.')}"
    assert replay.get("/read").json() == {}  # a key name is not a session id
    assert client.get("/read").json() == {"user": "ada"}
    with pytest.raises(ImproperlyConfigured, match="hashed at rest"):
        list(store.sync.session_ids())
    from dualsessions import revoke_user_sessions

    assert revoke_user_sessions(store, "ada") == 1
    assert client.get("/read").json() == {}


def test_switching_to_hashed_ids_logs_nobody_out(redis_url: str, redis_server: RedisServer) -> None:
    before = asgi_client(RedisStore(url=redis_url), lifetime=3600)
    before.get("/set?user=ada")
    session_id = before.cookies["session"]

    store = RedisStore(url=redis_url, hash_ids="id hashing key", legacy_ids=True)
    after = asgi_client(store, lifetime=3600)
    after.headers["cookie"] = f"session={session_id}"
    assert after.get("/read").json() == {"user": "ada"}  # read under the plain id once ...
    with redis_server.client() as raw:
        assert not raw.exists(f"starsessions.{session_id}")  # ... and moved under the hashed one
        assert 3500 < raw.ttl(store.record_key(session_id)) <= 3600  # with its expiry
    assert store.sync.read(session_id, 3600)  # the sync flavour finds it too
    with pytest.raises(ImproperlyConfigured, match="pass hash_ids too"):
        RedisStore(url=redis_url, legacy_ids=True)


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_what_no_store_writes_in_a_per_user_set_is_never_a_session(redis_url: str, flavour: str) -> None:
    """Members another hand put in a user's set (bytes that aren't text, a value no store writes) are
    not listed, revoked or counted as sessions, and the next purge drops them, once."""
    from dualsessions import admin

    store = RedisStore(url=redis_url)
    try:
        with admin.open_session(store, generate_session_id(), user_key="user") as session:
            session["user"] = "ada"
        with redis.Redis.from_url(redis_url) as raw:
            raw.sadd(store.user_key("ada"), b"\xffgone-session-id-xxxxxxxxxxxxxxx", b"not an id")
            view = store if flavour == "async" else store.sync

            def call(method: str, *args: typing.Any) -> typing.Any:
                result = getattr(view, method)(*args)
                return asyncio.run(result) if flavour == "async" else result

            assert len(call("user_sessions", "ada")) == 1
            assert call("purge_expired") == 2  # the two foreign members, dropped as they are stored
            assert call("purge_expired") == 0
            assert raw.scard(store.user_key("ada")) == 1
            assert call("revoke_user", "ada") == 1
    finally:
        store.close()


def test_hashed_names_in_a_per_user_set_are_sessions_whatever_ids_the_store_accepts(redis_url: str) -> None:
    """With ``hash_ids`` the sets hold hashed names, not ids: a store that accepts ids of its own
    shape (UUIDs) still lists, revokes and keeps them on purge."""
    import re
    import uuid

    shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

    class UuidStore(RedisStore):
        def accepts_id(self, session_id: str) -> bool:
            return shape.fullmatch(session_id) is not None

    store = UuidStore(url=redis_url, hash_ids="a key")
    try:
        session_id = str(uuid.uuid4())
        store.sync.write(session_id, b"{}", 3600, 3600)
        store.sync.add_user_session("ada", session_id)
        assert store.sync.user_sessions("ada") == [store.name(session_id)]
        assert store.sync.purge_expired() == 0  # alive: its entry stays
        assert store.sync.revoke_user("ada") == 1
        assert not store.sync.exists(session_id)
    finally:
        store.close()


# -- the hot path's own GET and SET (stores/_direct.py) --------------------------------------------


Instrument = typing.Callable[[typing.Any, pytest.MonkeyPatch], typing.Any]


def _wrapped(client: typing.Any, monkeypatch: pytest.MonkeyPatch) -> typing.Any:
    """The class's ``execute_command`` wrapped in place, as OpenTelemetry's ``instrument()`` does."""
    own = type(client).execute_command

    @functools.wraps(own)
    def execute_command(self: typing.Any, *args: typing.Any, **options: typing.Any) -> typing.Any:
        return own(self, *args, **options)

    monkeypatch.setattr(type(client), "execute_command", execute_command)
    return client


def _patched(client: typing.Any, monkeypatch: pytest.MonkeyPatch) -> typing.Any:
    """The class's ``execute_command`` replaced by a plain function, as Sentry's integration does."""
    own = type(client).execute_command

    def execute_command(self: typing.Any, *args: typing.Any, **options: typing.Any) -> typing.Any:
        return own(self, *args, **options)

    monkeypatch.setattr(type(client), "execute_command", execute_command)
    return client


def _instance_patched(client: typing.Any, monkeypatch: pytest.MonkeyPatch) -> typing.Any:
    """``execute_command`` replaced on the client itself, as OpenTelemetry's ``instrument_client`` does."""
    own = client.execute_command

    def execute_command(*args: typing.Any, **options: typing.Any) -> typing.Any:
        return own(*args, **options)

    client.execute_command = execute_command
    return client


def _subclassed(client: typing.Any, monkeypatch: pytest.MonkeyPatch) -> typing.Any:
    """A subclass, which may change any of redis-py's layers (here none)."""
    client.__class__ = type("Subclassed", (type(client),), {})
    return client


FLAVOURS = {
    "async": (redis.asyncio.Redis, redis.asyncio.retry.Retry),
    "sync": (redis.Redis, redis.retry.Retry),
}


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize(
    ("options", "instrument", "when", "layered"),
    [
        ({}, None, None, 0),
        ({}, _wrapped, "before", 2),
        ({}, _wrapped, "after", 2),
        ({}, _patched, "before", 2),
        ({}, _patched, "after", 2),
        ({}, _instance_patched, "before", 2),
        ({}, _instance_patched, "after", 2),
        ({}, _subclassed, "before", 2),
        ({"single_connection_client": True}, None, None, 2),
        ({"retry": 2}, None, None, 2),
        ({"retry_on_timeout": True}, None, None, 2),
        ({"connection_class": "subclass"}, None, None, 2),
    ],
    ids=[
        "url",
        "wrapped",
        "wrapped-after-use",
        "patched",
        "patched-after-use",
        "instance-patched",
        "instance-patched-after-use",
        "subclass",
        "single-connection",
        "retry",
        "retry-on-timeout",
        "connection-subclass",
    ],
)
def test_a_sessions_get_and_set_skip_the_clients_command_layers_where_nothing_is_lost(
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    flavour: str,
    options: dict[str, typing.Any],
    instrument: Instrument | None,
    when: str | None,
    layered: int,
) -> None:
    """A client made from a URL (as the store makes them) sends a session's GET and SET without going
    through ``execute_command``. One that something must see every command of (instrumentation, its
    own connection, a retry policy, a subclass, connections of another class) sends them its own way,
    even once the store used it."""
    client_class, retry_class = FLAVOURS[flavour]
    if "retry" in options:
        options = {"retry": retry_class(redis.backoff.NoBackoff(), options["retry"])}
    if "connection_class" in options:  # (one that may read replies its own way)
        own = redis.asyncio.Connection if flavour == "async" else redis.Connection
        options = {"connection_class": type("Connection", (own,), {})}  # (named as the store expects)
    client = client_class.from_url(redis_url, **options)
    store = RedisStore(connection=client)
    own = client_class.execute_command.__code__
    calls: set[types.FrameType] = set()  # (a coroutine's frame is called again at each resumption)

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is own:
            calls.add(frame)

    async def read_and_write(session_id: str) -> None:
        operations = store.sync if flavour == "sync" else store
        sync = flavour == "sync"

        async def run(result: typing.Any) -> typing.Any:
            return result if sync else await result

        await run(operations.write(session_id, b"{}", 60, 60))
        assert await run(operations.read(session_id, 60)) == b"{}"  # the store has judged the client
        if instrument is not None and when == "after":
            instrument(client, monkeypatch)
        sys.setprofile(profile)
        try:
            assert await run(operations.read(session_id, 60)) == b"{}"
            assert await run(operations.replace(session_id, b'{"k":1}', 60, 60)) == session_id
        finally:
            sys.setprofile(None)
        assert await run(operations.read(session_id, 60)) == b'{"k":1}'

    if instrument is not None and when == "before":
        client = instrument(client, monkeypatch)
    asyncio.run(read_and_write(generate_session_id()))
    assert len(calls) == layered
    if flavour == "sync":
        client.close()
    else:
        asyncio.run(client.aclose())


class DroppingProxy:
    """A TCP proxy to a real server that, once armed with a command's name, closes the next connection
    that sends that command instead of passing it on: a connection that dies as a command goes out."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.armed: bytes | None = None
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self._listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(("127.0.0.1", self._target))
            threading.Thread(target=self._pipe, args=(inbound, outbound, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(outbound, inbound, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and self.armed is not None and f"\r\n{self.armed}\r\n".encode() in data:
                    self.armed = None
                    self.dropped += 1
                    break
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._listener.close()


@pytest.mark.parametrize("frontend", ["asgi", "wsgi"])
def test_a_read_whose_connection_dies_as_it_goes_out_is_sent_again_a_write_is_not(
    redis_server: RedisServer, frontend: str
) -> None:
    """A GET changes nothing, so it goes out again on a fresh connection. A SET may have been applied
    before its connection died: sent again, it could undo a newer write of another request."""
    from .apps import FRONTENDS

    proxy = DroppingProxy(redis_server.port)
    try:
        with FRONTENDS[frontend](RedisStore(url=f"redis://127.0.0.1:{proxy.port}/0")) as http:
            http.get("/set?user=alice")
            proxy.armed = "GET"
            assert http.get("/read").json() == {"user": "alice"}
            assert proxy.dropped == 1
            proxy.armed = "SET"
            with pytest.raises(SessionStoreError, match="ConnectionError"):
                http.get("/set?theme=dark")
            assert proxy.dropped == 2
            assert http.get("/read").json() == {"user": "alice"}
    finally:
        proxy.close()


# -- the sync flavour's own reading of a GET's reply (stores/_redis_common.read_bulk) ----------------


@contextlib.contextmanager
def wired(**options: typing.Any) -> typing.Iterator[tuple[redis.Connection, socket.socket]]:
    """A redis-py connection, its parser set up as on connecting, whose socket's other end is the
    test's: what it sends there is what the server answered."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    connection = redis.Connection(**options)
    if options.get("protocol") == 3:  # (redis-py 5 picks its RESP3 parser only as it connects)
        connection.set_parser(redis._parsers.resp3._RESP3Parser)
    connection._sock = ours
    connection._parser.on_connect(connection)
    try:
        yield connection, theirs
    finally:
        connection.disconnect()
        theirs.close()


def _sent(peer: socket.socket, *pieces: bytes) -> None:
    """``pieces`` sent one at a time, from another thread (a long one fills the socket's buffer)."""

    def send() -> None:
        for piece in pieces:
            peer.sendall(piece)
            time.sleep(0.01)  # (each one its own arrival)

    threading.Thread(target=send, daemon=True).start()


LONG = bytes(range(256)) * 1200  # 300 KB: several reads, whatever the socket buffers


@pytest.mark.parametrize(
    ("pieces", "reply", "kept"),
    [
        ([b"$5\r\nhello\r\n"], b"hello", True),
        ([b"$0\r\n\r\n"], b"", True),
        ([b"$-1\r\n"], None, True),
        ([b"_\r\n"], None, True),  # RESP3's null
        ([b"$", b"5\r", b"\nhel", b"lo\r", b"\n"], b"hello", True),
        ([b"$%d\r\n" % len(LONG) + LONG[:1000], LONG[1000:] + b"\r\n"], LONG, True),
        ([b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"], AGAIN, True),
        ([b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"], AGAIN, False),  # a pushed message
        ([b":1\r\n"], AGAIN, False),
        ([b"$5\r\nhello\r\n+OK\r\n"], AGAIN, False),  # more than the reply
        ([b"$5\r\nhelloXX"], AGAIN, False),
        ([b"$five\r\n"], AGAIN, False),
        ([b"$-2\r\n"], AGAIN, False),
    ],
    ids=[
        "value",
        "empty",
        "null",
        "resp3-null",
        "in-pieces",
        "long",
        "error",
        "push",
        "integer",
        "trailing",
        "unterminated",
        "not-a-length",
        "negative-length",
    ],
)
def test_a_gets_reply_is_read_to_its_exact_end_or_the_connection_is_dropped(
    pieces: list[bytes], reply: object, kept: bool
) -> None:
    """A value or a null is the reply; an error is read whole and sent again the client's way (which
    raises it), the connection kept. Anything else, or anything more, drops the connection: what is
    left on it would be read as the next command's reply."""
    with wired() as (connection, peer):
        _sent(peer, *pieces)
        assert read_bulk(connection) == reply
        assert (connection._sock is not None) is kept


def test_a_gets_reply_cut_short_or_late_drops_the_connection_with_redis_pys_errors() -> None:
    with wired() as (connection, peer):
        peer.sendall(b"$5\r\nhel")
        peer.shutdown(socket.SHUT_WR)  # the server went away mid-reply
        with pytest.raises(redis.ConnectionError, match="closed"):
            read_bulk(connection)
        assert connection._sock is None
    with wired() as (connection, peer):
        connection._sock.settimeout(0.05)  # (the client's socket_timeout) and nothing comes
        with pytest.raises(redis.TimeoutError):
            read_bulk(connection)
        assert connection._sock is None


def test_a_gets_reply_after_bytes_redis_py_read_ahead_is_read_its_way() -> None:
    """A message the server pushed, partly read into redis-py's buffer (as its pool's check for a
    connection with data does, and redis-py 8 then hands the connection out): the reply comes after
    it, so redis-py's parser reads both, and the GET gets its own value."""
    with wired(protocol=3) as (connection, peer):
        push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        peer.sendall(push[:12])
        assert connection.can_read(timeout=1)  # (the first half now in the parser's buffer)
        peer.sendall(push[12:] + b"$5\r\nhello\r\n")
        assert read_bulk(connection) == b"hello"
        assert not connection.can_read(timeout=0.1)  # nothing left over


def test_clients_that_want_text_get_their_replies_read_by_redis_py(redis_url: str) -> None:
    """``decode_responses=True``: redis-py reads (and decodes) the reply, so bytes that aren't text
    are refused the same way on every read, a GET's as a GETEX's."""
    store = RedisStore(connection=redis.Redis.from_url(redis_url, decode_responses=True))
    session_id = generate_session_id()
    redis.Redis.from_url(redis_url).set(store.record_key(session_id), b"\xff\xfe not text", ex=60)
    try:
        for read in (
            store.sync.read,
            lambda session_id, lifetime: store.sync.read_and_touch(session_id, 60, 60),
        ):
            with pytest.raises(NotARecord, match="decode"):
                read(session_id, 60)
    finally:
        store.close()


def test_a_health_check_interval_costs_no_ping_per_read(redis_url: str, redis_server: RedisServer) -> None:
    """The reads the store reads itself don't hold redis-py's health check back: it counts from the
    last reply redis-py read, one ``PING`` an interval, not one a command."""
    store = RedisStore(url=f"{redis_url}?health_check_interval=30")
    session_id = generate_session_id()
    store.sync.write(session_id, b"{}", 60, 60)
    redis_server.reset_counts()
    try:
        for _ in range(50):
            assert store.sync.read(session_id, 60) == b"{}"
        counts = redis_server.command_counts()
        assert counts.get("get") == 50
        assert counts.get("ping", 0) <= 1
    finally:
        store.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_the_sync_flavour_reads_what_redis_answers_in_either_protocol(
    redis_url: str, redis_server: RedisServer, protocol: int
) -> None:
    """Values short and long, a missing key, and someone else's value under a key (a hash: read as not
    a record, as redis-py raises it), on RESP2 and RESP3, through one pooled connection."""
    store = RedisStore(url=f"{redis_url}?protocol={protocol}")
    short, long, missing, other = (generate_session_id() for _ in range(4))
    store.sync.write(short, b'{"k":1}', 60, 60)
    store.sync.write(long, LONG, 60, 60)
    redis.Redis.from_url(redis_url).hset(store.record_key(other), "field", "value")
    reads = {read_bulk.__code__: 0, redis.Connection.read_response.__code__: 0}

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in reads:
            reads[frame.f_code] += 1

    try:
        sys.setprofile(profile)
        try:
            for _ in range(2):
                assert store.sync.read(short, 60) == b'{"k":1}'
                assert store.sync.read(long, 60) == LONG
                assert store.sync.read(missing, 60) == b""
        finally:
            sys.setprofile(None)
        assert reads == {read_bulk.__code__: 6, redis.Connection.read_response.__code__: 0}
        for _ in range(2):
            with pytest.raises(NotARecord):
                store.sync.read(other, 60)
        assert store.sync.read(short, 60) == b'{"k":1}'
        assert store.sync_client().connection_pool._created_connections == 1
    finally:
        store.close()


# -- the suite's own Redis servers ------------------------------------------------------------------


def test_a_test_server_whose_port_another_redis_holds_starts_on_another() -> None:
    """Only the server's own answer counts: another Redis on its port would answer PING, and the tests
    would run against it (or fail when it went away)."""
    with running_redis() as other:
        server = RedisServer()
        server.port = other.port  # taken before the first start
        try:
            server.start()
            assert server.port != other.port
            assert server.url == f"redis://127.0.0.1:{server.port}/0"
            with server.client() as client:
                assert client.ping()
            server.stop()
            server.start()  # a restart keeps its port
            assert server.url == f"redis://127.0.0.1:{server.port}/0"
        finally:
            server.close()


def test_a_test_server_given_a_taken_port_says_so() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        server = RedisServer(holder.getsockname()[1])
        try:
            with pytest.raises(RuntimeError, match="did not start"):
                server.start()
            assert server._process is not None and server._process.poll() is not None  # not left running
        finally:
            server.close()


def test_a_test_server_whose_port_another_program_answers_on_says_so() -> None:
    """Something that is not Redis answering on the port is not taken for the server."""
    stop = threading.Event()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        holder.settimeout(0.1)

        def answer() -> None:
            while not stop.is_set():
                try:
                    connection, _ = holder.accept()
                except OSError:
                    continue
                with connection:
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        answering = threading.Thread(target=answer)
        answering.start()
        server = RedisServer(holder.getsockname()[1])
        try:
            with pytest.raises(RuntimeError, match="did not start"):
                server.start()
        finally:
            stop.set()
            answering.join()
            server.close()
