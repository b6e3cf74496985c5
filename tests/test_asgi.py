"""What only the ASGI front end has: load_session, autoload, WebSockets, bridging, validation."""

from __future__ import annotations

import asyncio
import datetime
import gc
import logging
import re
import threading
import typing
import weakref

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

import dualsessions
from dualsessions import (
    AsyncSerializer,
    CookieStore,
    CookieTooLarge,
    ImproperlyConfigured,
    InMemoryStore,
    JsonSerializer,
    SerializationError,
    SessionAutoloadMiddleware,
    SessionError,
    SessionMiddleware,
    SessionNotLoaded,
    SessionStoreError,
    SyncSessionStore,
    load_session,
)

from .stores import AsyncDictStore, SyncDictStore


def client_for(app: typing.Any, **kwargs: typing.Any) -> TestClient:
    return TestClient(app, base_url="https://testserver", **kwargs)


def app_with(*routes: typing.Any, store: typing.Any = None, **options: typing.Any) -> Starlette:
    app = Starlette(routes=list(routes))
    app.add_middleware(SessionMiddleware, store=store or InMemoryStore(), **options)
    return app


async def set_user(request: Request) -> Response:
    await load_session(request)
    request.session["user"] = "alice"
    return PlainTextResponse("ok")


@pytest.mark.parametrize(
    "use",
    [
        lambda s: s["user"],
        lambda s: s.__setitem__("user", 1),
        lambda s: s.get("user"),
        lambda s: len(s),
        lambda s: list(s),
        lambda s: "user" in s,
        lambda s: s.clear(),
    ],
)
def test_session_before_load_raises(use: typing.Callable[[typing.Any], typing.Any]) -> None:
    seen: list[str] = []

    async def handler(request: Request) -> Response:
        with pytest.raises(SessionNotLoaded):
            use(request.session)
        seen.append(repr(request.session))  # repr is safe: loggers and debuggers call it
        return PlainTextResponse("ok")

    response = client_for(app_with(Route("/", handler))).get("/")
    assert response.status_code == 200 and seen == ["<session not loaded>"]
    assert "set-cookie" not in response.headers and "vary" not in response.headers


def test_loading_twice_keeps_changes_and_is_loaded_reports_it() -> None:
    async def handler(request: Request) -> Response:
        assert not dualsessions.is_loaded(request)
        await load_session(request)
        request.session["user"] = "alice"
        await load_session(request)
        assert dualsessions.is_loaded(request)
        return JSONResponse(request.session)

    assert client_for(app_with(Route("/", handler))).get("/").json() == {"user": "alice"}


async def read_session(request: Request) -> Response:
    return JSONResponse({"loaded": dualsessions.is_loaded(request)})


@pytest.mark.parametrize(
    ("paths", "loaded", "not_loaded"),
    [
        (None, ["/admin", "/app/x", "/other"], []),
        (["/admin", "/app"], ["/admin", "/app/x"], ["/other", "/x/admin"]),
        ([re.compile("/adm.n")], ["/admin"], ["/app/x", "/other"]),
    ],
)
def test_autoload_paths(paths: typing.Any, loaded: list[str], not_loaded: list[str]) -> None:
    app = Starlette(
        routes=[Route("/{path:path}", read_session)],
        middleware=[
            Middleware(SessionMiddleware, store=InMemoryStore()),
            Middleware(SessionAutoloadMiddleware, paths=paths),
        ],
    )
    client = client_for(app)
    for path in loaded:
        assert client.get(path).json() == {"loaded": True}, path
    for path in not_loaded:
        assert client.get(path).json() == {"loaded": False}, path


def test_autoload_without_session_middleware_says_what_to_do() -> None:
    app = Starlette(routes=[Route("/", read_session)], middleware=[Middleware(SessionAutoloadMiddleware)])
    with pytest.raises(ImproperlyConfigured, match="after SessionMiddleware"):
        client_for(app).get("/")


def test_helpers_without_session_middleware_say_what_to_do() -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        return PlainTextResponse("ok")

    with pytest.raises(ImproperlyConfigured, match=r"add dualsessions\.SessionMiddleware"):
        client_for(Starlette(routes=[Route("/", handler)])).get("/")


def test_metadata_and_remaining_seconds(clock: typing.Any) -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        request.session.setdefault("user", "alice")
        return JSONResponse(
            {
                "metadata": dict(dualsessions.get_session_metadata(request)),
                "remaining": dualsessions.get_session_remaining_seconds(request),
            }
        )

    client = client_for(app_with(Route("/", handler), lifetime=datetime.timedelta(hours=1)))
    first = client.get("/").json()
    created = first["metadata"]["created"]
    assert first["metadata"] == {"lifetime": 3600, "created": created, "last_access": created}
    assert first["remaining"] == 3600
    clock.advance(600)
    later = client.get("/").json()
    assert later["metadata"]["created"] == created
    assert later["metadata"]["last_access"] == created + 600
    assert later["remaining"] == 3000


def test_metadata_before_load_raises() -> None:
    async def handler(request: Request) -> Response:
        with pytest.raises(SessionNotLoaded):
            dualsessions.get_session_metadata(request)
        with pytest.raises(SessionNotLoaded):
            dualsessions.get_session_remaining_seconds(request)
        return PlainTextResponse("ok")

    assert client_for(app_with(Route("/", handler))).get("/").status_code == 200


def test_websocket_reads_the_session_and_saves_changes_made_before_accept() -> None:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await load_session(websocket)
        user = websocket.session.get("user")
        websocket.session["seen_by_websocket"] = True
        await websocket.accept()
        await websocket.send_json({"user": user})
        await websocket.close()

    async def show(request: Request) -> Response:
        await load_session(request)
        return JSONResponse(request.session)

    client = client_for(
        app_with(Route("/login", set_user), Route("/show", show), WebSocketRoute("/ws", websocket_endpoint))
    )
    client.get("/login")
    cookie = client.cookies["session"]
    with client.websocket_connect("/ws", headers={"cookie": f"session={cookie}"}) as websocket:
        assert websocket.receive_json() == {"user": "alice"}
    assert client.get("/show").json() == {"user": "alice", "seen_by_websocket": True}


def test_vary_is_merged_into_an_existing_header() -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        return PlainTextResponse("ok", headers={"Vary": "Accept-Encoding"})

    response = client_for(app_with(Route("/", handler))).get("/")
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]


def test_non_http_scopes_pass_through() -> None:
    events: list[str] = []

    async def app(scope: typing.Any, receive: typing.Any, send: typing.Any) -> None:
        events.append(scope["type"])
        assert "session" not in scope

    asyncio.run(SessionMiddleware(app, store=InMemoryStore())({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert events == ["lifespan"]


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
def test_options_are_validated_when_the_middleware_is_built(
    options: dict[str, typing.Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        SessionMiddleware(PlainTextResponse("x"), store=InMemoryStore(), **options)


def test_store_and_serializer_are_validated() -> None:
    with pytest.raises(ImproperlyConfigured, match="store must be"):
        SessionMiddleware(PlainTextResponse("x"), store=object())  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="serializer must be"):
        SessionMiddleware(PlainTextResponse("x"), store=InMemoryStore(), serializer=object())  # type: ignore[arg-type]


class ReprSerializer(dualsessions.Serializer):
    """A custom sync serializer, as in the starsessions README."""

    def serialize(self, data: typing.Any) -> bytes:
        return repr(data).encode()

    def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        import ast

        return typing.cast(dict[str, typing.Any], ast.literal_eval(data.decode()))


class SlowJsonSerializer(AsyncSerializer):
    """An async serializer that waits, as one calling a key service would."""

    def __init__(self) -> None:
        self.inner = JsonSerializer()

    async def serialize(self, data: typing.Any) -> bytes:
        await asyncio.sleep(0)
        return self.inner.serialize(data)

    async def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        await asyncio.sleep(0)
        return self.inner.deserialize(data)


@pytest.mark.parametrize("serializer", [ReprSerializer(), SlowJsonSerializer()], ids=["sync", "async"])
def test_custom_serializers_in_both_flavours(serializer: typing.Any) -> None:
    store = InMemoryStore()

    async def show(request: Request) -> Response:
        await load_session(request)
        return JSONResponse(request.session)

    client = client_for(
        app_with(Route("/login", set_user), Route("/show", show), store=store, serializer=serializer)
    )
    client.get("/login")
    assert client.get("/show").json() == {"user": "alice"}
    raw = store.data[client.cookies["session"]]
    assert (raw.startswith(b"{'user'")) == isinstance(serializer, ReprSerializer)


def test_unserializable_value_names_the_key_before_any_header_is_sent() -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        request.session["tags"] = {"a", "b"}
        return PlainTextResponse("ok")

    app = app_with(Route("/", handler))
    with pytest.raises(SerializationError, match="session key 'tags' holds a set"):
        client_for(app).get("/")
    response = client_for(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500 and "set-cookie" not in response.headers


def test_oversized_cookie_session_fails_before_any_header_is_sent() -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        request.session["blob"] = "x" * 5000
        return PlainTextResponse("ok")

    app = app_with(Route("/", handler), store=CookieStore("secret"))
    with pytest.raises(CookieTooLarge, match=r"\d+ bytes, over the limit of 4096 bytes"):
        client_for(app).get("/")
    response = client_for(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500 and "set-cookie" not in response.headers


def test_undecodable_record_is_a_new_session() -> None:
    store = InMemoryStore()
    store.sync.write("0123456789abcdef0123456789", b"\xff not json", 0, 60)

    async def show(request: Request) -> Response:
        await load_session(request)
        return JSONResponse(request.session)

    client = client_for(app_with(Route("/", show), store=store))
    client.headers["cookie"] = "session=0123456789abcdef0123456789"
    response = client.get("/")
    assert response.status_code == 200 and response.json() == {}


class BrokenStore(AsyncDictStore):
    async def read(self, session_id: str, lifetime: int) -> bytes:
        raise RuntimeError("disk on fire")


class BadIdStore(AsyncDictStore):
    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        return "bad id\r\nSet-Cookie: admin=1"


def test_custom_store_errors_become_session_store_errors() -> None:
    client = client_for(app_with(Route("/", set_user), store=BrokenStore()))
    client.headers["cookie"] = "session=whatever-id-of-the-store"
    with pytest.raises(
        SessionStoreError, match="BrokenStore: could not read a session: RuntimeError: disk on fire"
    ):
        client.get("/")


def test_store_returning_an_unsafe_id_is_refused() -> None:
    with pytest.raises(SessionError, match="cannot be a cookie value"):
        client_for(app_with(Route("/", set_user), store=BadIdStore())).get("/")


class ConcurrentSyncStore(SyncDictStore):
    """A sync store whose first writes wait for one another, and each write for the event loop: it
    works only if the writes run on several threads at once while the loop goes on."""

    TOGETHER = 8

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.threads: set[int] = set()
        self.count = 0
        self._lock = threading.Lock()
        self._together = threading.Barrier(self.TOGETHER, timeout=60)  # (a generous bound: no timing)

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        with self._lock:
            self.threads.add(threading.get_ident())
            index, self.count = self.count, self.count + 1
        # The event loop runs while this write is in progress: it runs a coroutine for it.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result(timeout=60)
        if index < self.TOGETHER:
            self._together.wait()  # eight writes at once: not funnelled through one thread
        return super().write(session_id, data, lifetime, ttl)


def test_sync_store_runs_off_the_event_loop_and_concurrently() -> None:
    async def main() -> ConcurrentSyncStore:
        store = ConcurrentSyncStore(asyncio.get_running_loop())
        app = app_with(Route("/", set_user), store=store)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
            responses = await asyncio.gather(*(client.get("/") for _ in range(50)))
        assert all(r.status_code == 200 for r in responses)
        return store

    loop_thread = threading.get_ident()  # (asyncio.run runs the loop on this thread)
    store = asyncio.run(main())
    assert loop_thread not in store.threads
    assert len(store.records) == 50


def test_sync_only_store_works_under_asgi() -> None:
    store = SyncDictStore()

    async def show(request: Request) -> Response:
        await load_session(request)
        return JSONResponse(request.session)

    client = client_for(app_with(Route("/login", set_user), Route("/show", show), store=store))
    client.get("/login")
    assert client.get("/show").json() == {"user": "alice"}
    assert isinstance(store, SyncSessionStore) and len(store.records) == 1


def test_secure_cookie_over_plain_http_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    from dualsessions import core

    core._warned_insecure.discard("plainhttp")
    client = TestClient(app_with(Route("/", set_user), cookie_name="plainhttp"), base_url="http://testserver")
    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        client.get("/")
        client.get("/")
    warnings = [r for r in caplog.records if "cookie_https_only=False" in r.getMessage()]
    assert len(warnings) == 1
    # One line, in logging's default format without the logger's name twice; and true: browsers do
    # send a Secure cookie back to http://localhost, httpx-based test clients don't over http.
    line = logging.Formatter(logging.BASIC_FORMAT).format(warnings[0])
    assert line.startswith(
        "WARNING:dualsessions:the 'plainhttp' cookie is Secure but this request came over plain http"
    )
    assert "\n" not in line
    assert "localhost" in line and "TestClient" in line


class LongIdStore(AsyncDictStore):
    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        return "x" * 4090


def test_cookie_name_counts_towards_the_browser_size_limit() -> None:
    app = app_with(Route("/", set_user), store=LongIdStore(), cookie_name="long_cookie_name")
    with pytest.raises(CookieTooLarge, match="4107 bytes, over the limit of 4096 bytes"):
        client_for(app).get("/")


def test_starsessions_handler_and_middleware_attributes() -> None:
    async def logout(request: Request) -> Response:
        await dualsessions.get_session_handler(request).destroy()
        return PlainTextResponse("bye")

    store = InMemoryStore()
    client = client_for(app_with(Route("/login", set_user), Route("/logout", logout), store=store))
    client.get("/login")
    response = client.get("/logout")
    assert "max-age=0" in response.headers["set-cookie"]
    assert store.data == {}

    middleware = SessionMiddleware(PlainTextResponse("x"), store=store, lifetime=60, cookie_path="/a")
    assert (middleware.lifetime, middleware.rolling, middleware.cookie_name) == (60, False, "session")
    assert (middleware.cookie_path, middleware.cookie_domain) == ("/a", None)
    assert isinstance(middleware.serializer, JsonSerializer) and middleware.store is store


def test_autoload_subclass_with_the_starsessions_hook() -> None:
    class OnlyApi(SessionAutoloadMiddleware):
        def should_autoload(self, connection: typing.Any) -> bool:
            return bool(connection.url.path.startswith("/api"))

    app = Starlette(
        routes=[Route("/{path:path}", read_session)],
        middleware=[Middleware(SessionMiddleware, store=InMemoryStore()), Middleware(OnlyApi)],
    )
    client = client_for(app)
    assert client.get("/api/x").json() == {"loaded": True}
    assert client.get("/web").json() == {"loaded": False}


def test_nan_and_infinity_are_not_stored_and_not_read() -> None:
    async def handler(request: Request) -> Response:
        await load_session(request)
        request.session["ratio"] = float("inf")
        return PlainTextResponse("ok")

    with pytest.raises(SerializationError, match="session key 'ratio'"):
        client_for(app_with(Route("/", handler))).get("/")
    with pytest.raises(ValueError, match="NaN is not JSON"):
        JsonSerializer().deserialize(b'{"a": NaN}')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a":[1,{"b":null}]}', {"a": [1, {"b": None}]}),  # as written: the C scanner alone
        (b' {"a": 1} \n', {"a": 1}),  # white space around it: json's own decode()
        ('{"é":"ü"}'.encode(), {"é": "ü"}),
        ('{"a":1}', {"a": 1}),  # str, from clients with decode_responses=True
        (b"", {}),
    ],
)
def test_json_deserializes_what_json_reads(raw: bytes, expected: object) -> None:
    assert JsonSerializer().deserialize(raw) == expected


@pytest.mark.parametrize("raw", [b'{"a":1}x', b'{"a":1', b"nope", b'{"a":1}{"b":2}'])
def test_json_refuses_what_json_refuses(raw: bytes) -> None:
    import json

    with pytest.raises(json.JSONDecodeError):
        JsonSerializer().deserialize(raw)


def test_json_keeps_a_decoder_class_that_changes_decode() -> None:
    import json

    class Tagged(json.JSONDecoder):
        def decode(self, s: str, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            return {"decoded by": "Tagged", **super().decode(s)}

    assert JsonSerializer(json_decoder=Tagged).deserialize(b'{"a":1}') == {"decoded by": "Tagged", "a": 1}


@pytest.mark.parametrize("style", ["passes it", "defaults it"])
def test_json_keeps_a_decoder_class_with_its_own_object_hook(style: str) -> None:
    """A decoder class that gives json its own ``object_hook`` (the usual way to decode custom types)
    keeps it: the serializer passes none of its own."""
    import json

    def hook(value: dict[str, typing.Any]) -> typing.Any:
        return {**value, "hooked": True}

    class Passes(json.JSONDecoder):
        def __init__(self, **kwargs: typing.Any) -> None:
            super().__init__(object_hook=hook, **kwargs)

    class Defaults(json.JSONDecoder):
        def __init__(self, **kwargs: typing.Any) -> None:
            kwargs.setdefault("object_hook", hook)
            super().__init__(**kwargs)

    decoder = Passes if style == "passes it" else Defaults
    assert JsonSerializer(json_decoder=decoder).deserialize(b'{"a":1}') == {"a": 1, "hooked": True}


@pytest.mark.parametrize(
    "data",
    [
        {"a": [1, 2.5, {"b": None}], "é": "ü", "t": True},
        {},
        {"nested": {"deep": [[[]]]}},
        {"s": "\u2028\x00"},
    ],
)
def test_json_writes_what_json_dumps_writes(data: dict[str, typing.Any]) -> None:
    import json

    assert JsonSerializer().serialize(data) == json.dumps(data, separators=(",", ":")).encode()


def test_json_refuses_a_value_that_contains_itself() -> None:
    looped: list[typing.Any] = []
    looped.append(looped)
    with pytest.raises(SerializationError, match="cannot be stored as JSON"):
        JsonSerializer().serialize({"looped": looped})


def test_json_keeps_an_encoder_class_with_its_own_default() -> None:
    import json

    class Sets(json.JSONEncoder):
        def default(self, o: typing.Any) -> typing.Any:
            return sorted(o) if isinstance(o, set) else super().default(o)

    assert JsonSerializer(json_encoder=Sets).serialize({"s": {2, 1}}) == b'{"s":[1,2]}'


@pytest.mark.parametrize("store", [CookieStore("secret"), AsyncDictStore()], ids=["never-waits", "waits"])
@pytest.mark.parametrize("path", ["/read", "/write", "/untouched"])
def test_a_request_leaves_nothing_for_the_garbage_collector(store: typing.Any, path: str) -> None:
    """The scope and its session handler hold each other while the request runs; once the application
    returns, dropping the scope frees the session at once, not at some later garbage collection."""
    states: list[weakref.ref[typing.Any]] = []

    async def use(request: Request) -> Response:
        if path != "/untouched":
            await load_session(request)
            if path == "/write":
                request.session["k"] = "v"
        states.append(weakref.ref(dualsessions.get_session_handler(request).handle.state))
        return PlainTextResponse("ok")

    app = app_with(Route("/prime", set_user), Route(path, use), store=store, cookie_https_only=False)

    async def call(route: str, cookie: bytes | None) -> bytes | None:
        """One request, called as a server would; the session cookie it sets, if any."""
        sent: list[dict[str, typing.Any]] = []

        async def receive() -> dict[str, typing.Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, typing.Any]) -> None:
            sent.append(message)

        headers = [(b"host", b"test")] + ([(b"cookie", cookie)] if cookie else [])
        scope = {
            "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": route,
            "root_path": "", "query_string": b"", "headers": headers,
        }  # fmt: skip
        await app(scope, receive, send)
        cookies = [value for name, value in sent[0]["headers"] if name == b"set-cookie"]
        return cookies[0].split(b";")[0] if cookies else None

    async def scenario() -> None:
        cookie = await call("/prime", None)
        assert cookie is not None
        gc.collect()
        gc.disable()
        try:
            await call(path, cookie)
            assert len(states) == 1 and states[0]() is None, "the session outlived its request"
        finally:
            gc.enable()

    asyncio.run(scenario())


@pytest.mark.parametrize("autoload", [False, True], ids=["load_session", "autoload"])
def test_loading_fills_the_scope_the_application_was_given(autoload: bool) -> None:
    """A middleware between SessionMiddleware and the application may pass on a copy of the scope:
    ``load_session(request)`` and ``SessionAutoloadMiddleware`` fill the session of the scope they
    were given."""

    class CopiesTheScope:
        def __init__(self, app: typing.Any) -> None:
            self.app = app

        async def __call__(self, scope: typing.Any, receive: typing.Any, send: typing.Any) -> None:
            await self.app({**scope, "copied": True}, receive, send)

    async def read(request: Request) -> Response:
        if not autoload:
            await load_session(request)
        request.session["visits"] = request.session.get("visits", 0) + 1
        return JSONResponse({"copied": request.scope["copied"], "visits": request.session["visits"]})

    middleware = [Middleware(SessionMiddleware, store=InMemoryStore()), Middleware(CopiesTheScope)]
    if autoload:
        middleware.append(Middleware(SessionAutoloadMiddleware))
    app = Starlette(routes=[Route("/", read)], middleware=middleware)
    with client_for(app) as client:
        assert client.get("/").json() == {"copied": True, "visits": 1}
        assert client.get("/").json() == {"copied": True, "visits": 2}


class SlowReads(AsyncDictStore):
    """A store whose reads wait (as a network store's do), counted; ``failing`` of them fail first."""

    def __init__(self, failing: int = 0) -> None:
        super().__init__()
        self.reads = 0
        self.failing = failing

    async def read(self, session_id: str, lifetime: int) -> bytes:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.reads <= self.failing:
            raise ConnectionError("the store is not answering")
        return await super().read(session_id, lifetime)


@pytest.mark.parametrize("failing", [0, 1], ids=["read-once", "first-read-fails"])
def test_tasks_of_one_request_that_load_at_once_share_one_read(failing: int) -> None:
    """Three tasks of one handler load the session at the same time: one read, and each gets the
    session. When that read fails, its task gets the error and a waiting one reads again."""
    store = SlowReads()

    async def both(request: Request) -> Response:
        results = await asyncio.gather(*(load_session(request) for _ in range(3)), return_exceptions=True)
        failed = [type(result).__name__ for result in results if result is not None]
        return JSONResponse({"session": dict(request.session), "failed": failed})

    async def login(request: Request) -> Response:
        await load_session(request)
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/both", both), Route("/login", login)])
    app.add_middleware(SessionMiddleware, store=store, cookie_https_only=False)
    with client_for(app) as client:
        client.get("/login")
        store.reads, store.failing = 0, failing
        response = client.get("/both")
    assert response.status_code == 200
    assert response.json() == {"session": {"user": "ada"}, "failed": ["SessionStoreError"] * failing}
    assert store.reads == 1 + failing


def test_a_websocket_whose_task_reads_while_the_handshake_decides_shares_that_read() -> None:
    """A regeneration asked for before loading makes the handshake load the session to move it; a
    task of the handler reading it at that moment shares the read, and neither fails."""
    store = SlowReads()

    async def login(request: Request) -> Response:
        await load_session(request)
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    async def socket(websocket: WebSocket) -> None:
        dualsessions.regenerate_session_id(websocket)
        reading = asyncio.create_task(load_session(websocket))
        await asyncio.sleep(0)  # the task's read is in flight
        await websocket.accept()  # the handshake saves: it loads first, through the same read
        await reading
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    app = Starlette(routes=[Route("/login", login), WebSocketRoute("/ws", socket)])
    app.add_middleware(SessionMiddleware, store=store, cookie_https_only=False)
    with client_for(app) as client:
        client.get("/login")
        store.reads = 0
        with client.websocket_connect("/ws") as websocket:
            assert websocket.receive_json() == {"user": "ada"}
    assert store.reads == 2  # one load, which the task and the handshake shared; the move's take reads
