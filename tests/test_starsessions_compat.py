"""A starsessions 2.1.2 app and its tests, with only the imports changed.

The app uses the API as the starsessions README documents it: ``load_session``, autoload, rolling
sessions, ``regenerate_session_id``, a custom store and serializer written as its README shows, Redis
with a prefix. The assertions are the ones such an app's tests make (cookie attributes in lower case,
the 1970 expiry of a deleted cookie, ...). Where dualsessions deliberately behaves differently, the
test says so and asserts the new behaviour; docs/migration/starsessions.md lists the same points.
"""

from __future__ import annotations

import json
import re
import time
import typing

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

# from starsessions import (...)  -> from dualsessions import (...)
from dualsessions import (
    CookieStore,
    InMemoryStore,
    Serializer,
    SessionAutoloadMiddleware,
    SessionMiddleware,
    SessionStore,
    get_session_handler,
    get_session_id,
    get_session_metadata,
    load_session,
)

# from starsessions.session import regenerate_session_id
from dualsessions.session import regenerate_session_id

# from starsessions.stores.redis import RedisStore
from dualsessions.stores.redis import RedisStore


class DictStore(SessionStore):
    """The custom store of the starsessions README, as written there (it even returns {} for none)."""

    def __init__(self) -> None:
        self._storage: dict[str, typing.Any] = {}

    async def read(self, session_id: str, lifetime: int) -> typing.Any:
        return self._storage.get(session_id, {})

    async def write(self, session_id: str, data: typing.Any, lifetime: int, ttl: int) -> str:
        self._storage[session_id] = data
        return session_id

    async def remove(self, session_id: str) -> None:
        del self._storage[session_id]

    async def exists(self, session_id: str) -> bool:
        return session_id in self._storage


class MySerializer(Serializer):
    def serialize(self, data: typing.Any) -> bytes:
        return json.dumps(data).encode("utf-8")

    def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        return typing.cast(dict[str, typing.Any], json.loads(data))


async def index_view(request: Request) -> Response:
    await load_session(request)
    return JSONResponse(request.session)


async def login(request: Request) -> Response:
    await load_session(request)
    regenerate_session_id(request)
    request.session["user"] = request.query_params.get("user", "alice")
    return JSONResponse({"id": get_session_id(request)})


async def logout(request: Request) -> Response:
    await load_session(request)
    request.session.clear()
    return JSONResponse({})


async def admin(request: Request) -> Response:  # autoloaded: no load_session call
    return JSONResponse({"created": get_session_metadata(request)["created"], **request.session})


def make_app(store: typing.Any, **options: typing.Any) -> Starlette:
    return Starlette(
        middleware=[
            Middleware(SessionMiddleware, store=store, **options),
            Middleware(SessionAutoloadMiddleware, paths=["/admin", re.compile("/staff.*")]),
        ],
        routes=[
            Route("/", index_view),
            Route("/login", login),
            Route("/logout", logout),
            Route("/admin", admin),
            Route("/staff/area", admin),
        ],
    )


STORES: dict[str, typing.Callable[[str], typing.Any]] = {
    "cookie": lambda url: CookieStore(secret_key="TOP SECRET"),
    "memory": lambda url: InMemoryStore(),
    "custom": lambda url: DictStore(),
    "redis": lambda url: RedisStore(url, prefix="my_sessions"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> typing.Any:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return STORES[request.param](url)


def test_readme_flow(store: typing.Any) -> None:
    client = TestClient(make_app(store, cookie_https_only=False, lifetime=3600 * 24 * 14))
    assert client.get("/").json() == {}

    response = client.get("/login?user=bob")
    assert "session" in response.headers["set-cookie"]
    assert "max-age=1209600" in response.headers["set-cookie"].lower()
    assert client.get("/").json() == {"user": "bob"}
    assert client.get("/admin").json()["user"] == "bob"
    assert client.get("/staff/area").json()["user"] == "bob"

    response = client.get("/logout")
    assert "01 Jan 1970 00:00:00 GMT" in response.headers["set-cookie"]
    assert client.get("/").json() == {}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"cookie_same_site": "none"}, "samesite=none"),
        ({"cookie_path": "/admin"}, "path=/admin"),
        ({"cookie_domain": "example.com"}, "domain=example.com"),
        ({}, "secure"),
        ({}, "httponly"),
        ({"lifetime": 60}, "max-age=60"),
    ],
)
def test_cookie_attributes_as_starsessions_writes_them(options: dict[str, typing.Any], expected: str) -> None:
    client = TestClient(make_app(InMemoryStore(), **options), base_url="https://testserver")
    assert expected in client.get("/login").headers["set-cookie"]


def test_session_only_cookie_and_custom_serializer() -> None:
    client = TestClient(make_app(InMemoryStore(), serializer=MySerializer()), base_url="https://testserver")
    assert "max-age" not in client.get("/login").headers["set-cookie"]
    assert client.get("/").json() == {"user": "alice"}


def test_handler_exposes_the_starsessions_attributes() -> None:
    seen: dict[str, typing.Any] = {}

    async def view(request: Request) -> Response:
        handler = get_session_handler(request)
        await handler.load()
        seen.update(loaded=handler.is_loaded, empty=handler.is_empty, initially_empty=handler.initially_empty)
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/", view)], middleware=[Middleware(SessionMiddleware, store=InMemoryStore())]
    )
    TestClient(app, base_url="https://testserver").get("/")
    assert seen == {"loaded": True, "empty": True, "initially_empty": True}


# -- deliberate differences (docs/migration/starsessions.md, "What deliberately changes") ---------------


def test_difference_read_only_requests_send_no_cookie() -> None:
    client = TestClient(make_app(InMemoryStore()), base_url="https://testserver")
    client.get("/login")
    response = client.get("/")
    assert response.json() == {"user": "alice"}
    assert "set-cookie" not in response.headers  # starsessions re-sent the cookie and rewrote the store


def test_difference_client_chosen_ids_are_not_adopted() -> None:
    store = InMemoryStore()
    client = TestClient(make_app(store), base_url="https://testserver")
    client.headers["cookie"] = "session=chosen-by-the-client"
    client.get("/login")
    assert "chosen-by-the-client" not in store.data  # starsessions stored the data under it


def _starsessions_cookie(payload: dict[str, typing.Any]) -> str:
    """A cookie as starsessions' CookieStore signs it (itsdangerous TimestampSigner, base64 JSON)."""
    import base64

    from itsdangerous import TimestampSigner

    return TimestampSigner("TOP SECRET").sign(base64.b64encode(json.dumps(payload).encode())).decode()


def test_difference_starsessions_cookie_sessions_survive_the_switch_when_asked() -> None:
    now = time.time()
    payload = {"user": "carol", "__metadata__": {"lifetime": 0, "created": now, "last_access": now}}
    store = CookieStore(secret_key="TOP SECRET", read_starsessions_cookies=True)
    client = TestClient(make_app(store), base_url="https://testserver")
    client.headers["cookie"] = f"session={_starsessions_cookie(payload)}"
    assert client.get("/").json() == {"user": "carol"}


def test_difference_starsessions_cookies_are_not_read_unless_asked() -> None:
    """Their format is any TimestampSigner token of the key: Starlette's own session cookies too."""
    client = TestClient(make_app(CookieStore(secret_key="TOP SECRET")), base_url="https://testserver")
    client.headers["cookie"] = f"session={_starsessions_cookie({'user': 'carol'})}"
    assert client.get("/").json() == {}


def test_starsessions_cookies_still_expire() -> None:
    import base64

    from itsdangerous import TimestampSigner

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 120

    payload = {"user": "carol", "__metadata__": {"lifetime": 60, "created": 0, "last_access": 0}}
    old = SignedLongAgo("TOP SECRET").sign(base64.b64encode(json.dumps(payload).encode())).decode()
    store = CookieStore(secret_key="TOP SECRET", read_starsessions_cookies=True)
    client = TestClient(make_app(store, lifetime=60, rolling=True))
    client.headers["cookie"] = f"session={old}"
    assert client.get("/").json() == {}
