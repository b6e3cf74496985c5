"""What only the WSGI front end has: PEP 3333 details, lazy loading, the environ helpers, validation,
store failures, and async-only stores and serializers bridged into sync code."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import typing
import wsgiref.util
from collections.abc import Iterator

import httpx2
import pytest
import redis
import redis.asyncio
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

import dualsessions
import dualsessions.wsgi as wsgi_sessions
from dualsessions import (
    AsyncSerializer,
    ImproperlyConfigured,
    InMemoryStore,
    JsonSerializer,
    SessionStore,
    SessionStoreError,
)
from dualsessions._bridge import portal
from dualsessions.stores.redis import RedisStore
from dualsessions.wsgi import SessionMiddleware, get_session

from .conftest import Clock
from .redis_server import RedisServer, running_redis
from .stores import AsyncDictStore, SyncDictStore, spy

Environ = dict[str, typing.Any]
StartResponse = typing.Callable[..., typing.Callable[[bytes], object]]

# -- helpers -------------------------------------------------------------------------------------------


def environ_for(path: str = "/", cookie: str | None = None) -> Environ:
    """A complete PEP 3333 environ for an https request."""
    environ: Environ = {"PATH_INFO": path, "wsgi.url_scheme": "https", "HTTPS": "on"}
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    wsgiref.util.setup_testing_defaults(environ)
    return environ


class Server:
    """A PEP 3333 server in miniature: it calls the application, iterates its body, always closes it,
    and records every ``start_response`` call (in ``events`` too, to order it against store calls)."""

    def __init__(self, events: list[typing.Any] | None = None) -> None:
        self.events: list[typing.Any] = events if events is not None else []
        self.calls: list[tuple[str, list[tuple[str, str]], typing.Any]] = []
        self.body: list[bytes] = []
        self.headers_sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: typing.Any = None
    ) -> typing.Callable[[bytes], None]:
        if exc_info is not None:
            if self.headers_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.calls:
            raise AssertionError("start_response called a second time without exc_info")
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers)
        self.events.append(("start_response", status))
        self.calls.append((status, list(headers), exc_info))
        return self.write

    def write(self, data: bytes) -> None:
        assert self.calls, "write() before start_response"
        self.headers_sent = True
        self.body.append(data)

    def run(self, app: typing.Any, environ: Environ) -> Server:
        result = app(environ, self.start_response)
        try:
            for chunk in result:
                if chunk:
                    assert self.calls, "body before start_response"
                    self.headers_sent = True
                    self.body.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return self

    @property
    def status(self) -> str:
        return self.calls[-1][0]

    @property
    def headers(self) -> list[tuple[str, str]]:
        return self.calls[-1][1]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def cookie_value(set_cookie: str) -> str:
    return set_cookie.partition(";")[0].partition("=")[2]


def client_for(app: typing.Any) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver")


def _json(data: typing.Any) -> WerkzeugResponse:
    return WerkzeugResponse(json.dumps(data), content_type="application/json")


@WerkzeugRequest.application  # type: ignore[arg-type]
def counter_app(request: WerkzeugRequest) -> WerkzeugResponse:
    """``/set?k=v`` stores values, ``/read`` shows the session, ``/count`` adds one to a counter,
    ``/noop`` never touches the session."""
    if request.path == "/noop":
        return WerkzeugResponse("ok")
    session = get_session(request.environ)
    if request.path == "/set":
        session.update(request.args.to_dict())
    elif request.path == "/count":
        session["count"] = session.get("count", 0) + 1
    return _json(dict(session))


def logged_in(
    store: typing.Any, app: typing.Any = counter_app, **options: typing.Any
) -> tuple[str, typing.Any]:
    """A session holding ``user=alice`` in ``store``: its id, and the middleware."""
    middleware = SessionMiddleware(app, store=store, **options)
    server = Server().run(middleware, environ_for("/set", None) | {"QUERY_STRING": "user=alice"})
    (set_cookie,) = server.values("Set-Cookie")
    return cookie_value(set_cookie), middleware


def set_user_then(respond: typing.Callable[[Environ, StartResponse], typing.Any]) -> typing.Any:
    """A plain WSGI app that stores ``user=alice`` then answers with ``respond``."""

    def app(environ: Environ, start_response: StartResponse) -> typing.Any:
        get_session(environ)["user"] = "alice"
        return respond(environ, start_response)

    return app


# -- PEP 3333 ------------------------------------------------------------------------------------------


def test_generator_app_calling_start_response_late_gets_its_cookie() -> None:
    store = InMemoryStore()
    steps: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        steps.append("body started")
        get_session(environ)["user"] = "alice"
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"hello "
        yield b"alice"

    middleware = SessionMiddleware(app, store=store)
    server = Server()
    result = middleware(environ_for(), server.start_response)
    assert steps == [] and server.calls == []  # nothing ran yet: a generator starts when iterated
    for chunk in result:
        server.body.append(chunk)
    assert b"".join(server.body) == b"hello alice"
    (set_cookie,) = server.values("Set-Cookie")
    assert set_cookie.startswith("session=") and "secure" in set_cookie
    assert server.values("Vary") == ["Cookie"]
    assert json.loads(store.data[cookie_value(set_cookie)])["user"] == "alice"


def test_start_response_with_exc_info_before_the_body_replaces_the_response_and_saves_nothing() -> None:
    store = InMemoryStore()
    calls = spy(store)

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        get_session(environ)["user"] = "alice"
        start_response("200 OK", [("Content-Type", "text/html")])
        try:
            raise RuntimeError("the template failed")
        except RuntimeError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error page"]

    server = Server().run(SessionMiddleware(app, store=store), environ_for())

    # Nothing was sent before the body: the server sees only the error response, which saves nothing.
    assert [status for status, _, _ in server.calls] == ["500 Internal Server Error"]
    assert server.calls[0][2] is not None  # exc_info was passed on
    assert [v for k, v in server.calls[0][1] if k == "Set-Cookie"] == []
    assert [v for k, v in server.calls[0][1] if k == "Vary"] == ["Cookie"]
    assert ("Content-Type", "text/plain") in server.headers
    assert calls == []
    assert store.data == {}
    assert b"".join(server.body) == b"error page"


def test_write_callable_sends_the_body_with_session_headers() -> None:
    store = InMemoryStore()

    def respond(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        return [b"then returned"]

    server = Server().run(SessionMiddleware(set_user_then(respond), store=store), environ_for())
    assert b"".join(server.body) == b"written, then returned"
    (set_cookie,) = server.values("Set-Cookie")
    assert server.values("Vary") == ["Cookie"]
    assert cookie_value(set_cookie) in store.data


class Body:
    """A response body with a close() to be called, that may fail half way."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield b"first"
        if self.fail:
            raise RuntimeError("lost the database half way")
        yield b"second"

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("fail", [False, True], ids=["complete", "iteration-raises"])
def test_the_apps_iterable_is_always_closed(fail: bool) -> None:
    body = Body(fail)

    def respond(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    middleware = SessionMiddleware(set_user_then(respond), store=InMemoryStore())
    server = Server()
    if fail:
        with pytest.raises(RuntimeError, match="half way"):
            server.run(middleware, environ_for())
        assert server.body == [b"first"]
    else:
        server.run(middleware, environ_for())
        assert server.body == [b"first", b"second"]
    assert body.closed == 1
    assert len(server.values("Set-Cookie")) == 1


def test_store_is_written_before_the_servers_start_response() -> None:
    store = InMemoryStore()
    events = spy(store)  # ("write", session_id), and the server adds ("start_response", status)

    def respond(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = Server(events).run(SessionMiddleware(set_user_then(respond), store=store), environ_for())
    assert [name for name, _ in events] == ["write", "start_response"]
    (set_cookie,) = server.values("Set-Cookie")
    assert events[0][1] == cookie_value(set_cookie)


@pytest.mark.parametrize(
    ("vary", "merged"),
    [
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("Accept-Encoding, cookie", "Accept-Encoding, cookie"),
        ("*", "*"),
    ],
)
def test_apps_headers_are_not_changed_and_vary_is_merged(vary: str, merged: str) -> None:
    app_headers = [("Content-Type", "text/plain"), ("Vary", vary)]
    original = list(app_headers)

    def respond(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", app_headers)
        return [b"ok"]

    server = Server().run(SessionMiddleware(set_user_then(respond), store=InMemoryStore()), environ_for())
    assert app_headers == original  # the app's list was copied, not extended or edited
    assert server.values("Vary") == [merged]
    assert len(server.values("Set-Cookie")) == 1
    assert server.headers[0] == ("Content-Type", "text/plain")


def test_vary_is_merged_for_a_werkzeug_response_over_httpx() -> None:
    @WerkzeugRequest.application  # type: ignore[arg-type]
    def app(request: WerkzeugRequest) -> WerkzeugResponse:
        get_session(request.environ)["user"] = "alice"
        return WerkzeugResponse("ok", headers={"Vary": "Accept-Encoding"})

    response = client_for(SessionMiddleware(app, store=InMemoryStore())).get("/")
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
    assert response.headers["set-cookie"].startswith("session=")


# -- lazy loading and helpers --------------------------------------------------------------------------


def test_a_request_that_never_asks_for_the_session_costs_nothing() -> None:
    store = SyncDictStore()
    session_id, _ = logged_in(store)
    calls = spy(store)
    seen: list[bool] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append(wsgi_sessions.is_loaded(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = SessionMiddleware(app, store=store)
    server = Server().run(middleware, environ_for(cookie=f"session={session_id}"))
    assert seen == [False]
    assert calls == []
    assert server.values("Set-Cookie") == [] and server.values("Vary") == []
    assert server.headers == [("Content-Type", "text/plain")]


def test_get_session_twice_returns_the_same_object_and_reads_once() -> None:
    store = SyncDictStore()
    session_id, _ = logged_in(store)
    calls = spy(store)
    seen: list[typing.Any] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        first = get_session(environ)
        first["theme"] = "dark"
        second = get_session(environ)
        seen.extend([first, second, wsgi_sessions.is_loaded(environ)])
        start_response("200 OK", [])
        return [b""]

    Server().run(SessionMiddleware(app, store=store), environ_for(cookie=f"session={session_id}"))
    first, second, loaded = seen
    assert first is second and loaded is True
    assert dict(second) == {"user": "alice", "theme": "dark"}
    assert [method for method, _ in calls] == ["read", "write"]


def helper_app(use: typing.Callable[[Environ], typing.Any]) -> tuple[typing.Any, list[typing.Any]]:
    """A plain WSGI app whose first session call is ``use(environ)``; it records what that returned,
    whether the session was loaded before and after, and the session data afterwards."""
    seen: list[typing.Any] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        before = wsgi_sessions.is_loaded(environ)
        result = use(environ)
        seen.append(
            {
                "before": before,
                "result": result,
                "loaded": wsgi_sessions.is_loaded(environ),
                "data": dict(get_session(environ)),
            }
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app, seen


def test_regenerate_session_id_before_loading_moves_the_data() -> None:
    store = InMemoryStore()
    old_id, _ = logged_in(store)
    app, seen = helper_app(wsgi_sessions.regenerate_session_id)

    server = Server().run(SessionMiddleware(app, store=store), environ_for(cookie=f"session={old_id}"))

    (result,) = seen
    new_id = result["result"]
    assert result["before"] is False and result["loaded"] is False  # loaded when the response starts
    assert result["data"] == {"user": "alice"}
    assert isinstance(new_id, str) and new_id != old_id
    (set_cookie,) = server.values("Set-Cookie")
    assert cookie_value(set_cookie) == new_id
    assert list(store.data) == [new_id]  # the old record was removed
    assert json.loads(store.data[new_id])["user"] == "alice"


def test_get_session_id_for_new_and_returning_visitors() -> None:
    store = InMemoryStore()
    session_id, _ = logged_in(store)
    app, seen = helper_app(wsgi_sessions.get_session_id)
    middleware = SessionMiddleware(app, store=store)

    Server().run(middleware, environ_for())
    Server().run(middleware, environ_for(cookie=f"session={session_id}"))

    assert [entry["result"] for entry in seen] == [None, session_id]
    assert seen[1]["data"] == {"user": "alice"}


def test_get_session_id_does_not_adopt_an_id_the_store_does_not_know() -> None:
    """Docs: a session id the store doesn't know is never adopted, and ``get_session_id`` is None for
    such a session until it is saved. Under WSGI the helpers load the session when needed."""
    app, seen = helper_app(wsgi_sessions.get_session_id)
    Server().run(
        SessionMiddleware(app, store=InMemoryStore()), environ_for(cookie="session=forged-by-a-client")
    )
    assert seen[0]["result"] is None


def test_get_session_metadata_and_remaining_seconds_load_the_session(clock: Clock) -> None:
    store = InMemoryStore()
    session_id, _ = logged_in(store, lifetime=3600)
    clock.advance(600)
    meta_app, meta_seen = helper_app(wsgi_sessions.get_session_metadata)
    left_app, left_seen = helper_app(wsgi_sessions.get_session_remaining_seconds)

    for app in (meta_app, left_app):
        Server().run(
            SessionMiddleware(app, store=store, lifetime=3600), environ_for(cookie=f"session={session_id}")
        )

    for entry in (*meta_seen, *left_seen):
        assert entry["before"] is False and entry["loaded"] is True
        assert entry["data"] == {"user": "alice"}
    metadata = dict(meta_seen[0]["result"])
    assert metadata["lifetime"] == 3600
    assert metadata["created"] == clock.now - 600
    assert left_seen[0]["result"] == 3000


def test_set_session_lifetime_before_loading_gives_the_cookie_a_max_age(clock: Clock) -> None:
    store = InMemoryStore()
    session_id, _ = logged_in(store)  # a browser-session cookie
    app, seen = helper_app(lambda environ: wsgi_sessions.set_session_lifetime(environ, 600))

    server = Server().run(SessionMiddleware(app, store=store), environ_for(cookie=f"session={session_id}"))

    assert seen[0]["before"] is False and seen[0]["loaded"] is False  # loaded when the response starts
    (set_cookie,) = server.values("Set-Cookie")
    assert cookie_value(set_cookie) == session_id and "max-age=600" in set_cookie.split("; ")
    record = json.loads(store.data[session_id])
    assert record["user"] == "alice" and record["__metadata__"]["lifetime"] == 600


@pytest.mark.parametrize(
    "use",
    [
        wsgi_sessions.get_session,
        wsgi_sessions.is_loaded,
        wsgi_sessions.get_session_id,
        wsgi_sessions.regenerate_session_id,
        wsgi_sessions.get_session_metadata,
        wsgi_sessions.get_session_remaining_seconds,
        lambda environ: wsgi_sessions.set_session_lifetime(environ, 60),
    ],
    ids=["get_session", "is_loaded", "id", "regenerate", "metadata", "remaining", "set_lifetime"],
)
def test_helpers_without_the_middleware_say_to_wrap_the_app(
    use: typing.Callable[[Environ], typing.Any],
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        use(environ)
        start_response("200 OK", [])
        return [b""]

    with pytest.raises(
        ImproperlyConfigured, match=r"wrap the application in dualsessions\.wsgi\.SessionMiddleware"
    ):
        Server().run(app, environ_for())


# -- option validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "middleware", [dualsessions.SessionMiddleware, wsgi_sessions.SessionMiddleware], ids=["asgi", "wsgi"]
)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lifetime": -1}, "lifetime must be 0"),
        ({"lifetime": "1h"}, "lifetime must be 0"),
        ({"cookie_name": "my session"}, "not a valid cookie name"),
        ({"cookie_name": "a;b"}, "not a valid cookie name"),
        ({"cookie_same_site": "sometimes"}, "must be 'lax', 'strict' or 'none'"),
        ({"cookie_same_site": "none", "cookie_https_only": False}, "needs cookie_https_only=True"),
        ({"cookie_path": "admin"}, "must start with '/'"),
        ({"cookie_domain": "example.com; secure"}, "cannot go into a cookie"),
    ],
)
def test_options_are_validated_alike_by_both_middlewares(
    middleware: typing.Any, options: dict[str, typing.Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        middleware(counter_app, store=InMemoryStore(), **options)


def test_store_and_serializer_are_validated() -> None:
    with pytest.raises(ImproperlyConfigured, match="store must be"):
        SessionMiddleware(counter_app, store=object())  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="serializer must be"):
        SessionMiddleware(counter_app, store=InMemoryStore(), serializer=object())  # type: ignore[arg-type]


# -- store failures ------------------------------------------------------------------------------------


class BrokenReadStore(SyncDictStore):
    def read(self, session_id: str, lifetime: int) -> bytes:
        raise RuntimeError("disk on fire")


class BrokenWriteStore(SyncDictStore):
    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        raise RuntimeError("disk full")


def test_sync_store_read_failure_is_a_session_store_error_naming_the_store() -> None:
    client = client_for(SessionMiddleware(counter_app, store=BrokenReadStore()))
    client.cookies.set("session", "some-session-id-of-the-store")
    with pytest.raises(
        SessionStoreError, match="BrokenReadStore: could not read a session: RuntimeError: disk on fire"
    ) as error:
        client.get("/read")
    assert isinstance(error.value.__cause__, RuntimeError)
    assert error.value.store == "BrokenReadStore"


def test_failed_save_raises_before_the_server_gets_any_header() -> None:
    server = Server()
    with pytest.raises(SessionStoreError, match="BrokenWriteStore: could not save a session"):
        server.run(SessionMiddleware(counter_app, store=BrokenWriteStore()), environ_for("/count"))
    assert server.calls == []  # no status line, no Set-Cookie: the server sends its own 500


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of the test's own, which the test may stop and start."""
    with running_redis() as server:
        yield server


@pytest.mark.redis
def test_stopped_redis_fails_loading_and_saving_then_recovers_without_a_rebuild(
    own_redis: RedisServer,
) -> None:
    store = RedisStore(url=own_redis.url, timeout=1)
    middleware = SessionMiddleware(counter_app, store=store)
    client = client_for(middleware)
    assert client.get("/set?user=alice").json() == {"user": "alice"}
    own_redis.stop()

    with pytest.raises(SessionStoreError, match="could not read a session") as error:
        client.get("/read")
    assert f"RedisStore(redis://127.0.0.1:{own_redis.port}/0)" in str(error.value)
    assert isinstance(error.value.__cause__, redis.ConnectionError)

    server = Server()  # a new visitor: nothing to read, the write fails as the response starts
    with pytest.raises(SessionStoreError, match="could not write a session"):
        server.run(middleware, environ_for("/count"))
    assert server.calls == []  # no Set-Cookie went out

    own_redis.start()  # same port, empty: the same app works again
    assert client.get("/read").json() == {}
    assert client.get("/set?user=bob").json() == {"user": "bob"}
    assert client.get("/read").json() == {"user": "bob"}


# -- async-only stores and serializers under WSGI ------------------------------------------------------


def test_async_only_custom_store_works_under_wsgi() -> None:
    store = AsyncDictStore()
    calls = spy(store)
    client = client_for(SessionMiddleware(counter_app, store=store))
    assert client.get("/set?user=alice").json() == {"user": "alice"}
    assert client.get("/count").json() == {"user": "alice", "count": 1}
    assert client.get("/read").json() == {"user": "alice", "count": 1}
    session_id = client.cookies["session"]
    assert list(store.records) == [session_id]
    assert calls == [("write", session_id), ("read", session_id), ("write", session_id), ("read", session_id)]


class AsyncRedisStore(SessionStore):
    """An async-only custom store on ``redis.asyncio``, with one client made up front."""

    def __init__(self, url: str) -> None:
        self.client = redis.asyncio.Redis.from_url(url)

    @staticmethod
    def key(session_id: str) -> str:
        return f"custom:{session_id}"

    async def read(self, session_id: str, lifetime: int) -> bytes:
        return typing.cast(bytes, await self.client.get(self.key(session_id))) or b""

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        await self.client.set(self.key(session_id), data, ex=ttl or 3600)
        return session_id

    async def remove(self, session_id: str) -> None:
        await self.client.delete(self.key(session_id))

    async def exists(self, session_id: str) -> bool:
        return bool(await self.client.exists(self.key(session_id)))


@pytest.fixture
def async_redis_store(redis_url: str) -> Iterator[AsyncRedisStore]:
    store = AsyncRedisStore(redis_url)
    yield store
    portal.run(store.client.aclose())  # its connections live on the loop that ran the calls


@pytest.mark.redis
def test_async_redis_store_serves_sequential_requests(
    async_redis_store: AsyncRedisStore, redis_url: str
) -> None:
    client = client_for(SessionMiddleware(counter_app, store=async_redis_store))
    counts = [client.get("/count").json()["count"] for _ in range(1000)]
    assert counts == list(range(1, 1001))
    with redis.Redis.from_url(redis_url) as direct:
        record = json.loads(direct.get(f"custom:{client.cookies['session']}"))
    assert record["count"] == 1000


@pytest.mark.redis
def test_async_redis_store_serves_threads_each_with_its_own_session(
    async_redis_store: AsyncRedisStore,
) -> None:
    middleware = SessionMiddleware(counter_app, store=async_redis_store)
    errors: list[BaseException] = []
    results: dict[int, list[int]] = {}
    cookies: dict[int, str] = {}
    start = threading.Barrier(8)

    def visitor(number: int) -> None:
        try:
            with client_for(middleware) as client:
                start.wait(timeout=10)
                results[number] = [client.get("/count").json()["count"] for _ in range(50)]
                cookies[number] = client.cookies["session"]
                assert client.get("/read").json() == {"count": 50}
        except BaseException as exc:  # collected and asserted in the main thread
            errors.append(exc)

    # daemons: a deadlocked bridge fails the test instead of hanging the run at exit
    threads = [threading.Thread(target=visitor, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert results == {n: list(range(1, 51)) for n in range(8)}
    assert len(set(cookies.values())) == 8


class SlowJsonSerializer(AsyncSerializer):
    """An async serializer that waits, as one calling a key service would; it counts its calls."""

    def __init__(self) -> None:
        self.inner = JsonSerializer()
        self.calls: list[str] = []

    async def serialize(self, data: typing.Any) -> bytes:
        await asyncio.sleep(0)
        self.calls.append("serialize")
        return self.inner.serialize(data)

    async def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        await asyncio.sleep(0)
        self.calls.append("deserialize")
        return self.inner.deserialize(data)


def test_async_serializer_works_under_wsgi() -> None:
    serializer = SlowJsonSerializer()
    store = InMemoryStore()
    client = client_for(SessionMiddleware(counter_app, store=store, serializer=serializer))
    assert client.get("/set?user=alice").json() == {"user": "alice"}
    assert client.get("/read").json() == {"user": "alice"}
    assert "serialize" in serializer.calls and "deserialize" in serializer.calls
    assert json.loads(store.data[client.cookies["session"]])["user"] == "alice"


def test_session_used_after_start_response_but_before_the_body_is_saved() -> None:
    """PEP 3333 sends the status line with the first body chunk, so the session may change until then."""
    store = InMemoryStore()

    def login_after_start_response(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        get_session(environ)["user"] = "alice"
        return [b"logged in"]

    def generator_login(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""  # an empty chunk sends nothing
        get_session(environ)["user"] = "bob"
        yield b"logged in"

    for app, user in ((login_after_start_response, "alice"), (generator_login, "bob")):
        server = Server().run(SessionMiddleware(app, store=store), environ_for())
        (set_cookie,) = server.values("Set-Cookie")
        assert server.values("Vary") == ["Cookie"]
        assert user.encode() in store.data[cookie_value(set_cookie)]


def test_exc_info_after_the_body_started_is_raised() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"half a page"
        try:
            raise ValueError("too late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    with pytest.raises(ValueError, match="too late"):
        Server().run(SessionMiddleware(app, store=InMemoryStore()), environ_for())
