"""Hostile input, generated: arbitrary Cookie headers, cookie values and store contents thrown at every
front end. Never a 500 from session handling, never a header with CR or LF, never a session that
loads data it shouldn't.

The apps are called directly (an ASGI scope, a WSGI environ), since HTTP clients refuse to send the
malformed headers a raw socket can.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import typing

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dualsessions import CookieStore, InMemoryStore

from .apps import asgi_app, flask_app, quart_app, wsgi_app

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
VALID_ID = "abcdefghijklmnopqrstuvwxyz012345"

Response = tuple[int, list[tuple[str, str]], bytes]


def call_asgi(app: typing.Any, path: str, cookie: bytes | None) -> Response:
    headers = [(b"host", b"testserver")] + ([(b"cookie", cookie)] if cookie is not None else [])
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
        "server": ("testserver", 443), "client": ("127.0.0.1", 1),
    }  # fmt: skip
    status, sent, body = 0, [], b""
    requested = False

    async def main() -> None:
        answered = asyncio.Event()

        async def receive() -> dict[str, typing.Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()  # then the client goes, as a server says once the response is sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, typing.Any]) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
                sent.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ()))
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    answered.set()

        await app(scope, receive, send)

    asyncio.run(main())
    return status, sent, body


def call_wsgi(app: typing.Any, path: str, cookie: bytes | None) -> Response:
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "wsgi.version": (1, 0), "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie.decode("latin-1")  # PEP 3333: bytes as latin-1 str
    got: dict[str, typing.Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: typing.Any = None
    ) -> typing.Any:
        got["status"], got["headers"] = int(status.split()[0]), headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return got["status"], got["headers"], body


def call_quart(app: typing.Any, path: str, cookie: bytes | None) -> Response:
    # Quart refuses to build a request whose headers hold CR, LF or NUL; servers never pass one on.
    assume(cookie is None or not any(byte in cookie for byte in b"\r\n\x00"))
    return call_asgi(app, path, cookie)


FRONTENDS = {
    "asgi": (asgi_app, call_asgi),
    "wsgi": (wsgi_app, call_wsgi),
    "flask": (lambda store, **o: flask_app(store, cookie_https_only=True, rolling=False, **o), call_wsgi),
    "quart": (lambda store, **o: quart_app(store, cookie_https_only=True, rolling=False, **o), call_quart),
}


def check(response: Response) -> None:
    status, headers, _ = response
    assert status == 200, response
    for name, value in headers:
        assert "\r" not in value and "\n" not in value and "\x00" not in value, (name, value)


header_bytes = st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "replace"))
cookie_values = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=200)


@SETTINGS
@given(frontend=st.sampled_from(sorted(FRONTENDS)), header=header_bytes, secret_store=st.booleans())
def test_arbitrary_cookie_headers(frontend: str, header: bytes, secret_store: bool) -> None:
    build, call = FRONTENDS[frontend]
    store = CookieStore("fuzz secret") if secret_store else InMemoryStore()
    app = build(store)
    for path in ("/read", "/set?k=v"):
        response = call(app, path.split("?")[0] if frontend not in ("asgi", "quart") else path, header)
        check(response)
    read = call(app, "/read", header)
    assert json.loads(read[2]) == {}  # nothing the client sent is a session


@SETTINGS
@given(frontend=st.sampled_from(sorted(FRONTENDS)), value=cookie_values)
def test_arbitrary_session_cookie_values(frontend: str, value: str) -> None:
    build, call = FRONTENDS[frontend]
    store = InMemoryStore()
    store.sync.write(VALID_ID, b'{"user": "alice"}', 0, 60)
    app = build(store)
    header = f"session={value}".encode("utf-8", "replace")
    status, headers, body = call(app, "/read", header)
    check((status, headers, body))
    expected = {"user": "alice"} if value.strip(" \t") == VALID_ID else {}
    assert json.loads(body) == expected


stored_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = (
    st.binary(max_size=200)
    | stored_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(
        st.sampled_from(["user", "__metadata__", "x"]),
        st.dictionaries(
            st.sampled_from(["lifetime", "created", "last_access", "user", "rolling"]), stored_values
        ),
    ).map(lambda v: json.dumps(v).encode())
)


@SETTINGS
@given(frontend=st.sampled_from(sorted(FRONTENDS)), payload=payloads)
def test_arbitrary_store_contents(frontend: str, payload: bytes) -> None:
    build, call = FRONTENDS[frontend]
    store = InMemoryStore()
    store.sync.write(VALID_ID, payload, 0, 60)
    app = build(store)
    status, headers, body = call(app, "/read", f"session={VALID_ID}".encode())
    check((status, headers, body))
    loaded = json.loads(body)
    try:
        stored = json.loads(payload)
    except ValueError:
        stored = None
    if isinstance(stored, dict):  # what a session may hold: the record's data, never its metadata
        stored.pop("__metadata__", None)
        assert loaded in ({}, stored)  # {} when the metadata says it has expired
    else:
        assert loaded == {}
    check(call(app, "/set", f"session={VALID_ID}".encode()))
