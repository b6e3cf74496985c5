"""``on_store_error``: an ASGI app answers a store outage itself (a 503), before its response starts,
so the server keeps the connection; in process, and under a real uvicorn on one keep-alive connection.
The WSGI middleware answers the same way, before its headers go out.

The store fails for real: a RedisStore whose port nothing listens on (connection refused), or a Redis
server the test stops."""

from __future__ import annotations

import logging
import socket
import typing

import anyio
import h11
import pytest
import starlette.testclient
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from werkzeug.test import Client as WerkzeugClient
from werkzeug.wrappers import Response as WerkzeugResponse
from werkzeug.wsgi import ClosingIterator

from dualsessions import (
    ImproperlyConfigured,
    SessionAutoloadMiddleware,
    SessionMiddleware,
    SessionStoreError,
    generate_session_id,
    load_session,
    wsgi,
)
from dualsessions.middleware import store_failure
from dualsessions.stores.redis import RedisStore

from .live_server import running, uvicorn, waitress
from .redis_server import RedisServer, free_port

A_COOKIE = {"session": generate_session_id()}  # well-formed, so the store is asked for it


def unavailable(request: Request, exc: SessionStoreError) -> Response:
    return PlainTextResponse("sessions unavailable", status_code=503, headers={"Retry-After": "5"})


async def unavailable_async(request: Request, exc: SessionStoreError) -> Response:
    return unavailable(request, exc)


async def read(request: Request) -> Response:
    await load_session(request)
    return PlainTextResponse(str(request.session.get("n")))


async def write(request: Request) -> Response:
    await load_session(request)
    request.session["n"] = 1
    return PlainTextResponse("written")


async def streamed(request: Request) -> Response:
    async def body() -> typing.AsyncIterator[bytes]:
        yield b"started; "
        await load_session(request)  # too late to answer otherwise: the response has started
        yield b"never"

    return StreamingResponse(body())


async def socket_endpoint(websocket: WebSocket) -> None:
    await load_session(websocket)
    await websocket.accept()
    await websocket.close()


def down_store() -> RedisStore:
    return RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", timeout=2)  # nothing listens there


def app_for(handler: typing.Any, *, autoload: bool = False) -> Starlette:
    middleware = [Middleware(SessionMiddleware, store=down_store(), on_store_error=handler)]
    if autoload:
        middleware.append(Middleware(SessionAutoloadMiddleware))
    routes = [
        Route("/read", read),
        Route("/write", write, methods=["POST"]),
        Route("/streamed", streamed),
        WebSocketRoute("/ws", socket_endpoint),
    ]
    return Starlette(routes=routes, middleware=middleware)


@pytest.mark.parametrize("handler", [unavailable, unavailable_async], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("method", "path", "cookies", "autoload"),
    [
        ("GET", "/read", A_COOKIE, False),  # the store fails while loading, in the handler
        ("GET", "/read", A_COOKIE, True),  # ... in SessionAutoloadMiddleware, outside the router
        ("POST", "/write", {}, False),  # a new visitor: the store fails while saving, as the response starts
    ],
    ids=["load", "autoload", "save"],
)
def test_a_store_failure_is_answered_by_on_store_error_with_one_log_line(
    handler: typing.Any,
    method: str,
    path: str,
    cookies: dict[str, str],
    autoload: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TestClient(app_for(handler, autoload=autoload), cookies=cookies)
    with client, caplog.at_level(logging.WARNING, logger="dualsessions"):
        response = client.request(method, path)
    assert_answered_in_one_line(response.status_code, response.text, response.headers, caplog, method, path)


def assert_answered_in_one_line(
    status: int, body: str, headers: typing.Any, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    """The handler's 503 with its Retry-After and no cookie (nothing was saved: no cookie names it),
    and one log line, without a traceback, naming the request and the store's error."""
    assert (status, body) == (503, "sessions unavailable")
    assert headers.get("retry-after") == "5"
    assert headers.get("set-cookie") is None
    records = [record for record in caplog.records if record.name == "dualsessions"]
    assert len(records) == 1 and records[0].exc_info is None
    message = records[0].getMessage()
    assert f"{method} {path} answered 503" in message and "\n" not in message
    assert "could not" in message  # the store's error, in the same line


def test_without_on_store_error_the_failure_is_raised() -> None:
    app = Starlette(routes=[Route("/read", read)])
    app.add_middleware(SessionMiddleware, store=down_store())
    with TestClient(app, cookies=A_COOKIE) as client, pytest.raises(SessionStoreError):
        client.get("/read")


def test_a_failure_after_the_response_started_is_raised() -> None:
    """Past the start of the response, the status is sent: nothing can be answered instead. (Starlette
    before 0.37 streams in a task group, so the error comes in an exception group there.)"""
    raised: Exception | None = None
    with TestClient(app_for(unavailable), cookies=A_COOKIE) as client:
        try:
            client.get("/streamed")
        except Exception as exc:  # (the store's error, or a group of it)
            raised = exc
    assert raised is not None and store_failure(raised) is not None


def test_a_websocket_handshake_is_denied_with_the_handlers_response(caplog: pytest.LogCaptureFixture) -> None:
    """Where the server can deny a handshake with an HTTP response (the ``websocket.http.response``
    extension, which Starlette's TestClient has from 0.37), the handler's 503 is that response; where
    it can't, the handshake is closed (code 1013), which servers answer with 403."""
    denial = getattr(starlette.testclient, "WebSocketDenialResponse", None)
    client = TestClient(app_for(unavailable), cookies=A_COOKIE)
    if denial is not None:
        with client, pytest.raises(denial) as denied, client.websocket_connect("/ws"):
            pass
        assert (denied.value.status_code, denied.value.text) == (503, "sessions unavailable")
        assert any("WebSocket /ws answered 503" in record.getMessage() for record in caplog.records)
    else:
        with client, pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
            pass
        assert refused.value.code == 1013
        assert any("WebSocket /ws closed" in record.getMessage() for record in caplog.records)


async def save_then_handled(request: Request) -> Response:
    await load_session(request)
    request.session["n"] = 1  # a new visitor: the store fails when the response starts
    return PlainTextResponse("written")


async def load_in_a_task_group(request: Request) -> Response:
    async with anyio.create_task_group() as group:  # the failure comes out as an exception group
        group.start_soon(load_session, request)
    return PlainTextResponse("loaded")


class Passing(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: typing.Any) -> Response:
        return typing.cast(Response, await call_next(request))


async def session_dependency(request: Request) -> dict[str, typing.Any]:
    await load_session(request)
    return typing.cast("dict[str, typing.Any]", request.session)


async def session_yielded(request: Request) -> typing.AsyncIterator[dict[str, typing.Any]]:
    await load_session(request)
    yield typing.cast("dict[str, typing.Any]", request.session)


SessionData = typing.Annotated[dict[str, typing.Any], Depends(session_dependency)]
YieldedSessionData = typing.Annotated[dict[str, typing.Any], Depends(session_yielded)]


def _fastapi_app() -> typing.Any:
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable)

    @app.get("/dependency")
    async def plain(data: SessionData) -> dict[str, typing.Any]:
        return data

    @app.get("/yielded")
    async def yielded(data: YieldedSessionData) -> dict[str, typing.Any]:
        return data

    return app


def _sync_endpoint_app() -> typing.Any:
    def endpoint(request: Request) -> Response:  # Starlette runs it in a thread
        return PlainTextResponse(str(request.session.get("n")))

    middleware = [
        Middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable),
        Middleware(SessionAutoloadMiddleware),
    ]
    return Starlette(routes=[Route("/sync", endpoint, methods=["GET", "HEAD"])], middleware=middleware)


@pytest.mark.parametrize(
    ("build", "method", "path", "cookies"),
    [
        # the app handles SessionStoreError itself: Starlette re-raises a failed save as a RuntimeError
        (
            lambda: Starlette(
                routes=[Route("/save", save_then_handled)],
                middleware=[Middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable)],
                exception_handlers={SessionStoreError: lambda request, exc: PlainTextResponse("app", 500)},
            ),
            "GET",
            "/save",
            {},
        ),
        (
            lambda: Starlette(
                routes=[Route("/group", load_in_a_task_group)],
                middleware=[Middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable)],
            ),
            "GET",
            "/group",
            A_COOKIE,
        ),
        (
            lambda: Starlette(
                routes=[Route("/read", read)],
                middleware=[
                    Middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable),
                    Middleware(Passing),
                ],
            ),
            "GET",
            "/read",
            A_COOKIE,
        ),
        (_fastapi_app, "GET", "/dependency", A_COOKIE),
        (_fastapi_app, "GET", "/yielded", A_COOKIE),
        (_sync_endpoint_app, "GET", "/sync", A_COOKIE),
        (_sync_endpoint_app, "HEAD", "/sync", A_COOKIE),
    ],
    ids=[
        "wrapped-by-the-app",
        "exception-group",
        "base-http-middleware",
        "dependency",
        "yield-dependency",
        "sync",
        "head",
    ],
)
def test_the_failure_is_found_however_the_app_raised_it(
    build: typing.Callable[[], typing.Any], method: str, path: str, cookies: dict[str, str]
) -> None:
    with TestClient(build(), cookies=cookies) as client:  # nothing may reach the server
        response = client.request(method, path)
    assert response.status_code == 503


def test_another_error_is_raised_as_it_is() -> None:
    async def broken(request: Request) -> Response:
        raise LookupError("not the store")

    app = Starlette(routes=[Route("/broken", broken)])
    app.add_middleware(SessionMiddleware, store=down_store(), on_store_error=unavailable)
    with TestClient(app) as client, pytest.raises(LookupError):
        client.get("/broken")


def test_a_handler_that_returns_no_response_is_a_clear_error() -> None:
    client = TestClient(app_for(lambda request, exc: None), cookies=A_COOKIE)
    with client, pytest.raises(TypeError, match="on_store_error returned None, not a response"):
        client.get("/read")


@pytest.mark.parametrize("bad", ["503", 503, object()])
def test_on_store_error_must_be_callable(bad: object) -> None:
    app = Starlette(middleware=[Middleware(SessionMiddleware, store=down_store(), on_store_error=bad)])
    with pytest.raises(ImproperlyConfigured, match="on_store_error must be a callable"):
        app.build_middleware_stack()


def _requests_on_one_connection(port: int, requests: list[tuple[str, str, dict[str, str]]]) -> list[int]:
    """Send the requests one after another on one HTTP/1.1 connection; the status of each. A
    connection the server closes fails the rest (a ``ConnectionError``)."""
    connection = h11.Connection(h11.CLIENT)
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for method, path, cookies in requests:
            headers = [("Host", "127.0.0.1"), ("Content-Length", "0")]
            headers += [("Cookie", f"{name}={value}") for name, value in cookies.items()]
            sock.sendall(connection.send(h11.Request(method=method, target=path, headers=headers)))
            sock.sendall(connection.send(h11.EndOfMessage()))
            status = None
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError(
                            f"the server closed the connection after {len(statuses)} requests"
                        )
                    connection.receive_data(data)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError(f"the server closed the connection after {len(statuses)}")
            statuses.append(typing.cast(int, status))
            connection.start_next_cycle()
    return statuses


@pytest.mark.parametrize(
    ("server", "rounds"),
    [
        (lambda port: uvicorn("examples_asgi.starlette_app:app", port), 200),
        (lambda port: waitress("examples_wsgi.werkzeug_app:app", port, threads=2), 20),
    ],
    ids=["starlette-under-uvicorn", "werkzeug-under-waitress"],
)
def test_the_server_keeps_the_connection_while_redis_is_down(
    own_redis: RedisServer, server: typing.Callable[[int], list[str]], rounds: int
) -> None:
    """An example under a real server, its Redis stopped: reads (the store fails while loading) and
    new visitors' writes (while saving) on one keep-alive connection all get 503s, and the log has
    one line per failure and no traceback."""
    with running(server, {"REDIS_URL": own_redis.url}) as running_server:
        port = running_server.port
        own_redis.stop()
        try:
            statuses = _requests_on_one_connection(
                port, [("GET", "/", A_COOKIE), ("POST", "/count", {})] * rounds
            )
        finally:
            own_redis.start()
        lines = running_server.output_once_stopped(last=10**7).splitlines()
    assert statuses == [503] * (2 * rounds)
    failures = [line for line in lines if "session store failed" in line]
    assert len(failures) == 2 * rounds, lines[-20:]
    assert not [line for line in lines if "Traceback" in line]


# -- the WSGI middleware -----------------------------------------------------------------------------

closed: list[str] = []  # the paths whose application iterable was closed


def wsgi_unavailable(environ: dict[str, typing.Any], exc: SessionStoreError) -> WerkzeugResponse:
    return WerkzeugResponse("sessions unavailable", status=503, headers={"Retry-After": "5"})


def wsgi_routes(environ: dict[str, typing.Any], start_response: typing.Any) -> typing.Iterable[bytes]:
    """Every way a WSGI application meets its session: before returning a list, before ``write()``,
    in a generated body before its first chunk, and (too late to answer) after it."""
    path = environ["PATH_INFO"]
    if path == "/read":  # the store fails while loading, in the application
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(wsgi.get_session(environ).get("n")).encode()]
    if path == "/write":  # a new visitor: the store fails while saving, as the headers go out
        wsgi.get_session(environ)["n"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"written"]
    if path == "/written":  # ... as the first write() sends them
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        wsgi.get_session(environ)["n"] = 1
        write(b"written")
        return []

    def body() -> typing.Iterator[bytes]:
        if path == "/streamed":
            yield b"started; "  # too late to answer otherwise: the headers went out
        yield b""
        yield str(wsgi.get_session(environ).get("n")).encode()

    start_response("200 OK", [("Content-Type", "text/plain")])
    return ClosingIterator(body(), lambda: closed.append(path))


def wsgi_client(handler: typing.Any = wsgi_unavailable) -> WerkzeugClient:
    app = wsgi.SessionMiddleware(wsgi_routes, store=down_store(), on_store_error=handler)
    return WerkzeugClient(app, use_cookies=False)  # (the Cookie header is sent as given)


@pytest.mark.parametrize(
    ("method", "path", "cookies"),
    [
        ("GET", "/read", A_COOKIE),
        ("POST", "/write", {}),
        ("POST", "/written", {}),
        ("GET", "/generated", A_COOKIE),
    ],
    ids=["load", "save", "save-on-write", "load-in-the-body"],
)
def test_the_wsgi_middleware_answers_with_on_store_error_in_one_log_line(
    method: str, path: str, cookies: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    closed.clear()
    headers = [("Cookie", f"{name}={value}") for name, value in cookies.items()]
    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        response = wsgi_client().open(path, method=method, headers=headers)
        body = response.get_data(as_text=True)
        response.close()
    assert_answered_in_one_line(response.status_code, body, response.headers, caplog, method, path)
    assert closed == ([path] if path == "/generated" else [])  # the application's body, closed


def test_the_wsgi_middleware_raises_a_failure_after_the_headers_went_out() -> None:
    response = wsgi_client().get("/streamed", headers=[("Cookie", f"session={A_COOKIE['session']}")])
    with pytest.raises(SessionStoreError):
        response.get_data()


def test_without_on_store_error_the_wsgi_middleware_raises_the_failure() -> None:
    client = WerkzeugClient(wsgi.SessionMiddleware(wsgi_routes, store=down_store()), use_cookies=False)
    with pytest.raises(SessionStoreError):
        client.get("/read", headers=[("Cookie", f"session={A_COOKIE['session']}")])


def test_the_wsgi_middleware_raises_other_errors_as_they_are() -> None:
    def broken(environ: dict[str, typing.Any], start_response: typing.Any) -> typing.Iterable[bytes]:
        raise LookupError("not the store")

    client = WerkzeugClient(
        wsgi.SessionMiddleware(broken, store=down_store(), on_store_error=wsgi_unavailable)
    )
    with pytest.raises(LookupError):
        client.get("/")


def test_a_wsgi_handler_that_returns_no_application_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="on_store_error returned None, not a WSGI application"):
        wsgi_client(lambda environ, exc: None).get(
            "/read", headers=[("Cookie", f"session={A_COOKIE['session']}")]
        )


@pytest.mark.parametrize("bad", ["503", 503, object()])
def test_the_wsgi_on_store_error_must_be_callable(bad: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="on_store_error must be a callable"):
        wsgi.SessionMiddleware(wsgi_routes, store=down_store(), on_store_error=bad)  # type: ignore[arg-type]
