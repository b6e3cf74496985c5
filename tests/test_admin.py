"""Sessions outside a request (dualsessions.admin): opening, listing, counting, revoking, purging.

Every API that has an async twin runs in both flavours (the ``api`` fixture): the sync functions, and
the async ones under ``asyncio.run``. Stores are real: memory, and Redis on the test server.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
import typing
import urllib.parse

import flask
import httpx2
import pytest
import quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import dualsessions
import dualsessions.flask as flask_sessions
import dualsessions.quart as quart_sessions
import dualsessions.wsgi as wsgi_sessions
from dualsessions import (
    CookieStore,
    ImproperlyConfigured,
    InMemoryStore,
    SessionError,
    admin,
    generate_session_id,
)
from dualsessions.stores.redis import RedisStore

from .apps import FRONTENDS, asgi_client, flask_client, wsgi_client
from .conftest import Clock
from .redis_server import RedisServer
from .stores import AsyncDictStore, SyncDictStore, spy

PREFIX = "starsessions."

Change = typing.Callable[[dict[str, typing.Any]], object]


class Api:
    """The admin API in one flavour: the sync functions, or their async twins run with asyncio.run."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour

    def open(
        self, store: typing.Any, session_id: str, change: Change | None = None, **options: typing.Any
    ) -> tuple[admin.OpenSession, dict[str, typing.Any]]:
        """Open the session, note what it held, apply ``change``, leave the block (which saves)."""
        if self.flavour == "sync":
            opened = admin.open_session(store, session_id, **options)
            with opened as session:
                seen = json.loads(json.dumps(session))
                if change is not None:
                    change(session)
            return opened, seen

        async def run() -> tuple[admin.OpenSession, dict[str, typing.Any]]:
            opened = admin.aopen_session(store, session_id, **options)
            async with opened as session:
                seen = json.loads(json.dumps(session))
                if change is not None:
                    change(session)
            return opened, seen

        return asyncio.run(run())

    def ids(self, store: typing.Any) -> list[str]:
        if self.flavour == "sync":
            return list(admin.session_ids(store))

        async def run() -> list[str]:
            return [session_id async for session_id in admin.asession_ids(store)]

        return asyncio.run(run())

    def count(self, store: typing.Any) -> int:
        if self.flavour == "sync":
            return admin.count_sessions(store)
        return asyncio.run(admin.acount_sessions(store))

    def delete(self, store: typing.Any, session_id: str) -> bool:
        if self.flavour == "sync":
            return admin.delete_session(store, session_id)
        return asyncio.run(admin.adelete_session(store, session_id))

    def revoke(self, store: typing.Any, user: str) -> int:
        if self.flavour == "sync":
            return admin.revoke_user_sessions(store, user)
        return asyncio.run(admin.arevoke_user_sessions(store, user))

    def purge(self, store: typing.Any) -> int:
        if self.flavour == "sync":
            return admin.purge_expired(store)
        return asyncio.run(admin.apurge_expired(store))


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)


@pytest.fixture(params=["memory", "redis"])
def server_store(request: pytest.FixtureRequest) -> typing.Any:
    """A store that keeps sessions on the server side and implements every optional method."""
    if request.param == "redis":
        return RedisStore(url=request.getfixturevalue("redis_url"))
    return InMemoryStore()


def create(store: typing.Any, data: dict[str, typing.Any], **options: typing.Any) -> str:
    """A new session holding ``data``, made from a script; its id."""
    opened = admin.open_session(store, generate_session_id(), **options)
    with opened as session:
        session.update(data)
    assert opened.session_id is not None
    return opened.session_id


# -- 1. open_session on live sessions of every front end --------------------------------------------


def test_open_session_reads_and_edits_a_session_of_a_front_end(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any, api: Api
) -> None:
    client = frontend(server_store)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]

    opened, seen = api.open(server_store, session_id, lambda session: session.update(plan="pro"))

    assert seen == {"theme": "dark"}
    assert opened.exists
    assert opened.session_id == session_id  # edited in place, not moved
    assert client.get("/read").json() == {"theme": "dark", "plan": "pro"}
    assert client.cookies["session"] == session_id


def test_open_session_sees_changes_made_by_a_front_end_afterwards(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any, api: Api
) -> None:
    client = frontend(server_store)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]
    api.open(server_store, session_id, lambda session: session.update(plan="pro"))
    client.get("/set?theme=light")
    assert api.open(server_store, session_id)[1] == {"theme": "light", "plan": "pro"}


# -- 2. unknown ids ----------------------------------------------------------------------------------


def test_unknown_id_gives_an_empty_session_and_writes_nothing(server_store: typing.Any, api: Api) -> None:
    existing = create(server_store, {"theme": "dark"})
    calls = spy(server_store)
    unknown = generate_session_id()

    opened, seen = api.open(server_store, unknown)

    assert seen == {}
    assert opened.exists is False
    assert opened.session_id is None
    assert calls == [("read", unknown)]  # looked up, nothing written or removed
    assert not server_store.sync.exists(unknown)
    assert api.count(server_store) == 1
    assert api.ids(server_store) == [existing]


def test_data_given_to_an_unknown_id_is_saved_under_a_new_id(server_store: typing.Any, api: Api) -> None:
    unknown = generate_session_id()
    calls = spy(server_store)

    opened, _ = api.open(server_store, unknown, lambda session: session.update(plan="pro"))

    new_id = opened.session_id
    assert opened.exists is False
    assert new_id is not None and new_id != unknown  # ids are never adopted
    assert ("write", unknown) not in calls and ("write", new_id) in calls
    assert not server_store.sync.exists(unknown)
    assert api.ids(server_store) == [new_id]
    assert api.open(server_store, new_id)[1] == {"plan": "pro"}
    assert api.open(server_store, unknown)[0].exists is False


@pytest.mark.parametrize("session_id", ["", "has space", "semi;colon", 'quo"te'])
def test_a_value_that_cant_be_a_session_id_is_refused(session_id: str) -> None:
    store = InMemoryStore()
    with pytest.raises(SessionError, match="not a session id"):
        admin.open_session(store, session_id)
    with pytest.raises(SessionError, match="not a session id"):
        admin.aopen_session(store, session_id)


# -- 3. saving rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rolling", [False, True], ids=["fixed", "rolling"])
def test_nothing_changed_writes_nothing(server_store: typing.Any, api: Api, rolling: bool) -> None:
    session_id = create(server_store, {"theme": "dark", "cart": ["a"]}, lifetime=600, rolling=rolling)
    calls = spy(server_store)

    opened, seen = api.open(server_store, session_id, lifetime=600, rolling=rolling)

    assert seen == {"theme": "dark", "cart": ["a"]}
    assert calls == [("read", session_id)]  # a plain read: no write, no touch, no remove
    assert opened.session_id == session_id


def test_clear_removes_the_record(server_store: typing.Any, api: Api) -> None:
    session_id = create(server_store, {"theme": "dark"})
    other = create(server_store, {"theme": "light"})
    calls = spy(server_store)

    opened, _ = api.open(server_store, session_id, lambda session: session.clear())

    assert opened.exists  # it was there when opened
    assert opened.session_id is None
    assert ("remove", session_id) in calls
    assert not any(name == "write" for name, _ in calls)
    assert not server_store.sync.exists(session_id)
    assert api.ids(server_store) == [other]


@pytest.mark.parametrize("rolling", [False, True], ids=["fixed", "rolling"])
def test_a_change_inside_a_nested_value_is_saved(server_store: typing.Any, api: Api, rolling: bool) -> None:
    session_id = create(server_store, {"cart": ["a"]}, lifetime=600, rolling=rolling)

    opened, _ = api.open(
        server_store, session_id, lambda session: session["cart"].append("b"), lifetime=600, rolling=rolling
    )

    assert opened.session_id == session_id
    assert api.open(server_store, session_id, lifetime=600, rolling=rolling)[1] == {"cart": ["a", "b"]}


def test_a_nested_change_made_from_a_script_reaches_the_front_end(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any, api: Api
) -> None:
    client = frontend(server_store)
    client.get("/append?item=a")
    session_id = client.cookies["session"]
    api.open(server_store, session_id, lambda session: session["cart"].append("b"))
    assert client.get("/read").json() == {"cart": ["a", "b"]}


# -- 4. reading never extends a session -------------------------------------------------------------


def test_reading_never_extends_a_rolling_memory_session(clock: Clock, api: Api) -> None:
    store = InMemoryStore()
    client = asgi_client(store, lifetime=60, rolling=True)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]
    control = asgi_client(store, lifetime=60, rolling=True)  # read through the app: extended
    control.get("/set?theme=light")

    clock.advance(40)
    assert api.open(store, session_id, lifetime=60, rolling=True)[1] == {"theme": "dark"}
    assert control.get("/read").json() == {"theme": "light"}

    clock.advance(30)  # 70 s after it was written: dead, as if it had never been read
    assert store.sync.read(session_id, 60) == b""
    opened, seen = api.open(store, session_id, lifetime=60, rolling=True)
    assert seen == {} and not opened.exists
    assert client.get("/read").json() == {}
    assert control.get("/read").json() == {"theme": "light"}  # 30 s after its last request


def test_reading_never_extends_a_rolling_redis_session(
    redis_server: RedisServer, redis_url: str, api: Api
) -> None:
    store = RedisStore(url=redis_url)
    client = asgi_client(store, lifetime=600, rolling=True)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]
    key = PREFIX + session_id
    with redis_server.client() as raw:
        raw.expire(key, 50)
        redis_server.reset_counts()

        opened, seen = api.open(store, session_id, lifetime=600, rolling=True)

        assert seen == {"theme": "dark"} and opened.exists
        assert 40 < raw.ttl(key) <= 50  # not reset to 600
        counts = redis_server.command_counts()
        assert counts.get("get") == 1
        assert not {"getex", "expire", "set"} & set(counts)

        client.get("/read")  # the app's own read does extend it
        assert raw.ttl(key) > 500


# -- 5. CookieStore -------------------------------------------------------------------------------------


def test_cookie_store_session_can_be_read_from_its_cookie(
    frontend: typing.Callable[..., typing.Any], api: Api
) -> None:
    store = CookieStore("k1")
    client = frontend(store)
    client.get("/append?item=a")
    client.get("/set?theme=dark")
    value = client.cookies["session"]

    opened, seen = api.open(store, value)

    assert seen == {"cart": ["a"], "theme": "dark"}
    assert opened.exists
    assert opened.session_id == value


@pytest.mark.parametrize(
    "change",
    [
        lambda session: session.update(theme="light"),
        lambda session: session["cart"].append("b"),
        lambda session: session.clear(),
    ],
    ids=["set", "nested", "clear"],
)
def test_cookie_store_session_cant_be_changed_from_a_script(api: Api, change: Change) -> None:
    store = CookieStore("k1")
    client = asgi_client(store)
    client.get("/append?item=a")
    value = client.cookies["session"]
    with pytest.raises(SessionError, match="browser"):
        api.open(store, value, change)
    assert client.get("/read").json() == {"cart": ["a"]}
    with pytest.raises(SessionError, match="browser"):
        api.delete(store, value)


@pytest.mark.parametrize("operation", ["ids", "count", "revoke", "purge"])
def test_cookie_store_sessions_cant_be_listed_counted_revoked_or_purged(api: Api, operation: str) -> None:
    store = CookieStore("k1")
    calls: dict[str, typing.Callable[[], object]] = {
        "ids": lambda: api.ids(store),
        "count": lambda: api.count(store),
        "revoke": lambda: api.revoke(store, "ada"),
        "purge": lambda: api.purge(store),
    }
    with pytest.raises(ImproperlyConfigured, match="live in the browsers") as error:
        calls[operation]()
    assert "Rotate the secret key" in str(error.value)


# -- 6. custom stores without the optional methods ---------------------------------------------------


@pytest.mark.parametrize("store_class", [SyncDictStore, AsyncDictStore])
def test_custom_store_can_be_opened(
    frontend: typing.Callable[..., typing.Any], store_class: type[typing.Any], api: Api
) -> None:
    store = store_class()
    client = frontend(store)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]

    opened, seen = api.open(store, session_id, lambda session: session.update(plan="pro"))

    assert seen == {"theme": "dark"} and opened.exists
    assert client.get("/read").json() == {"theme": "dark", "plan": "pro"}
    assert api.delete(store, session_id) is True
    assert store.records == {}
    assert api.delete(store, session_id) is False


@pytest.mark.parametrize("store_class", [SyncDictStore, AsyncDictStore])
@pytest.mark.parametrize("operation", ["ids", "count", "revoke", "purge"])
def test_custom_store_without_optional_methods_is_named_in_the_error(
    store_class: type[typing.Any], operation: str, api: Api
) -> None:
    store = store_class()
    calls: dict[str, typing.Callable[[], object]] = {
        "ids": lambda: api.ids(store),
        "count": lambda: api.count(store),
        "revoke": lambda: api.revoke(store, "ada"),
        "purge": lambda: api.purge(store),
    }
    with pytest.raises(ImproperlyConfigured, match=store_class.__name__):
        calls[operation]()


def test_session_ids_refuses_at_once_not_when_iterated() -> None:
    with pytest.raises(ImproperlyConfigured, match="SyncDictStore"):
        admin.session_ids(SyncDictStore())
    with pytest.raises(ImproperlyConfigured, match="AsyncDictStore"):
        admin.asession_ids(AsyncDictStore())


# -- 7. listing and counting ----------------------------------------------------------------------------


def test_ids_and_count_are_the_sessions_made_through_every_front_end(
    server_store: typing.Any, api: Api
) -> None:
    made = set()
    clients = []
    for factory in FRONTENDS.values():
        for n in range(2):
            client = factory(server_store)
            client.get(f"/set?n={n}")
            made.add(client.cookies["session"])
            clients.append(client)
        factory(server_store).get("/read")  # an anonymous visit makes no session
    assert len(made) == 2 * len(FRONTENDS)

    ids = api.ids(server_store)
    assert sorted(ids) == sorted(made)  # each once
    assert api.count(server_store) == len(made)

    cleared = clients[0].cookies["session"]
    clients[0].get("/clear")
    assert sorted(api.ids(server_store)) == sorted(made - {cleared})
    assert api.count(server_store) == len(made) - 1


def test_expired_memory_sessions_are_not_listed(clock: Clock, api: Api) -> None:
    store = InMemoryStore()
    short = [create(store, {"n": n}, lifetime=60) for n in range(2)]
    long = create(store, {"n": 3}, lifetime=600)
    assert sorted(api.ids(store)) == sorted([*short, long])

    clock.advance(100)

    assert api.ids(store) == [long]
    assert api.count(store) == 1


def test_redis_listing_skips_keys_that_arent_sessions(
    redis_server: RedisServer, redis_url: str, api: Api
) -> None:
    store = RedisStore(url=redis_url)
    client = asgi_client(store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]
    with redis_server.client() as raw:
        assert raw.smembers(PREFIX + "user:ada") == {session_id.encode()}  # a key under the prefix
        raw.set("demo:" + generate_session_id(), b"{}")
        raw.set("other." + generate_session_id(), b"{}")
        raw.set(PREFIX + "short", b"{}")  # too short for an id
        raw.set(PREFIX + "not/an+id" + "x" * 20, b"{}")
        raw.set("starsessions" + generate_session_id(), b"{}")  # no dot: not the prefix

    assert api.ids(store) == [session_id]
    assert api.count(store) == 1


def test_redis_prefix_with_glob_characters_is_matched_literally(redis_url: str, api: Api) -> None:
    store = RedisStore(url=redis_url, prefix="app[1]*")
    session_id = create(store, {"n": 1})
    lookalike = RedisStore(url=redis_url, prefix="app1X")  # what an unescaped pattern would match
    create(lookalike, {"n": 2})

    assert api.ids(store) == [session_id]
    assert api.count(lookalike) == 1


# -- 8. the per-user index and revocation ------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def store_factory(request: pytest.FixtureRequest) -> typing.Callable[[], typing.Any]:
    """Stores over the same sessions: one shared object in memory, a new client each time for Redis."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return lambda: RedisStore(url=url)
    shared = InMemoryStore()
    return lambda: shared


def test_revoke_user_sessions_logs_a_user_out_everywhere(
    store_factory: typing.Callable[[], typing.Any], api: Api
) -> None:
    clients = {name: factory(store_factory(), user_key="user") for name, factory in FRONTENDS.items()}
    for client in clients.values():
        client.get("/set?user=ada&theme=dark")
    bob = flask_client(store_factory(), user_key="user")
    bob.get("/set?user=bob")
    store = store_factory()
    assert sorted(store.sync.user_sessions("ada")) == sorted(c.cookies["session"] for c in clients.values())

    assert api.revoke(store, "ada") == len(FRONTENDS)

    for client in clients.values():
        assert client.get("/read").json() == {}  # anonymous now
    assert bob.get("/read").json() == {"user": "bob"}
    assert store.sync.user_sessions("ada") == []
    assert api.count(store) == 1
    assert api.revoke(store, "ada") == 0


def test_regenerating_keeps_the_user_indexed_under_the_new_id_only(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any
) -> None:
    client = frontend(server_store, user_key="user")
    client.get("/set?user=ada")
    old = client.cookies["session"]
    assert server_store.sync.user_sessions("ada") == [old]

    client.get("/regenerate")

    new = client.cookies["session"]
    assert new != old
    assert server_store.sync.user_sessions("ada") == [new]


def test_clearing_the_session_removes_it_from_the_index(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any
) -> None:
    client = frontend(server_store, user_key="user")
    client.get("/set?user=ada&theme=dark")
    assert server_store.sync.user_sessions("ada") == [client.cookies["session"]]
    client.get("/clear")
    assert server_store.sync.user_sessions("ada") == []


def test_removing_the_user_key_removes_it_from_the_index(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any
) -> None:
    client = frontend(server_store, user_key="user")
    client.get("/set?user=ada&theme=dark")
    session_id = client.cookies["session"]
    client.get("/delete?key=user")
    assert server_store.sync.user_sessions("ada") == []
    assert client.cookies["session"] == session_id  # the session lives on, anonymous
    assert admin.revoke_user_sessions(server_store, "ada") == 0
    assert client.get("/read").json() == {"theme": "dark"}


def test_changing_the_user_moves_the_session_to_the_new_users_set(
    frontend: typing.Callable[..., typing.Any], server_store: typing.Any, api: Api
) -> None:
    client = frontend(server_store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]

    client.get("/set?user=bob")

    assert server_store.sync.user_sessions("ada") == []
    assert server_store.sync.user_sessions("bob") == [session_id]
    assert api.revoke(server_store, "ada") == 0
    assert client.get("/read").json() == {"user": "bob"}
    assert api.revoke(server_store, "bob") == 1
    assert client.get("/read").json() == {}


def test_a_script_changing_the_user_key_moves_the_index_entry(server_store: typing.Any, api: Api) -> None:
    client = wsgi_client(server_store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]

    api.open(server_store, session_id, lambda session: session.update(user="bob"), user_key="user")

    assert server_store.sync.user_sessions("ada") == []
    assert server_store.sync.user_sessions("bob") == [session_id]


def test_a_script_editing_without_user_key_keeps_the_owner(server_store: typing.Any, api: Api) -> None:
    client = asgi_client(server_store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]

    api.open(server_store, session_id, lambda session: session.update(plan="pro"))

    assert server_store.sync.user_sessions("ada") == [session_id]
    assert api.revoke(server_store, "ada") == 1
    assert client.get("/read").json() == {}


def test_delete_session_removes_the_record_and_its_index_entry(server_store: typing.Any, api: Api) -> None:
    client = asgi_client(server_store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]
    other = asgi_client(server_store, user_key="user")
    other.get("/set?user=ada")

    assert api.delete(server_store, session_id) is True

    assert not server_store.sync.exists(session_id)
    assert server_store.sync.user_sessions("ada") == [other.cookies["session"]]
    assert client.get("/read").json() == {}
    assert other.get("/read").json() == {"user": "ada"}  # the user's other sessions stay
    assert api.delete(server_store, session_id) is False


def test_delete_session_reports_a_live_rolling_session_older_than_its_lifetime(
    clock: Clock, api: Api
) -> None:
    """A rolling session lives as long as it is used, however long ago it was created."""
    store = InMemoryStore()
    client = asgi_client(store, lifetime=60, rolling=True)
    client.get("/set?theme=dark")
    session_id = client.cookies["session"]
    for _ in range(3):
        clock.advance(40)
        assert client.get("/read").json() == {"theme": "dark"}  # alive, 120 s after it was made

    assert api.delete(store, session_id) is True
    assert client.get("/read").json() == {}


# The explicit way: set_session_user on each front end, without user_key.


async def _asgi_claim(request: Request) -> Response:
    await dualsessions.load_session(request)
    request.session["visits"] = request.session.get("visits", 0) + 1
    dualsessions.set_session_user(request, request.query_params.get("user"))
    return JSONResponse(dict(request.session))


def _claim_asgi_client(store: typing.Any) -> TestClient:
    app = Starlette(routes=[Route("/claim", _asgi_claim)])
    app.add_middleware(dualsessions.SessionMiddleware, store=store)
    return TestClient(app, base_url="https://testserver")


def _wsgi_claim(environ: dict[str, typing.Any], start_response: typing.Callable[..., object]) -> list[bytes]:
    session = wsgi_sessions.get_session(environ)
    session["visits"] = session.get("visits", 0) + 1
    user = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("user", [None])[0]
    wsgi_sessions.set_session_user(environ, user)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(dict(session)).encode()]


def _claim_wsgi_client(store: typing.Any) -> httpx2.Client:
    app = wsgi_sessions.SessionMiddleware(_wsgi_claim, store=store)
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver")


def _claim_flask_client(store: typing.Any) -> httpx2.Client:
    app = flask.Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/claim")
    def claim() -> typing.Any:
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        flask_sessions.set_session_user(flask.request.args.get("user"))
        return flask.jsonify(dict(flask.session))

    flask_sessions.DualSessions(app, store=store, cookie_https_only=True, rolling=False)
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver")


def _claim_quart_client(store: typing.Any) -> TestClient:
    app = quart.Quart(__name__)

    @app.route("/claim")
    async def claim() -> typing.Any:
        quart.session["visits"] = quart.session.get("visits", 0) + 1
        quart_sessions.set_session_user(quart.request.args.get("user"))
        return dict(quart.session)

    @app.errorhandler(ImproperlyConfigured)
    async def misconfigured(error: ImproperlyConfigured) -> tuple[str, int]:
        return str(error), 500

    quart_sessions.DualSessions(app, store=store, cookie_https_only=True, rolling=False)
    return TestClient(app, base_url="https://testserver")


CLAIM_CLIENTS = {
    "asgi": _claim_asgi_client,
    "wsgi": _claim_wsgi_client,
    "flask": _claim_flask_client,
    "quart": _claim_quart_client,
}


@pytest.mark.parametrize("kind", sorted(CLAIM_CLIENTS))
def test_set_session_user_indexes_without_user_key(kind: str, server_store: typing.Any, api: Api) -> None:
    client = CLAIM_CLIENTS[kind](server_store)
    client.get("/claim?user=ada")
    session_id = client.cookies["session"]
    assert server_store.sync.user_sessions("ada") == [session_id]

    client.get("/claim")  # set_session_user(None): nobody's any more
    assert server_store.sync.user_sessions("ada") == []
    assert api.revoke(server_store, "ada") == 0
    assert client.get("/claim?user=ada").json() == {"visits": 3}  # same session, indexed again
    assert server_store.sync.user_sessions("ada") == [session_id]

    assert api.revoke(server_store, "ada") == 1
    assert not server_store.sync.exists(session_id)
    assert client.get("/claim").json() == {"visits": 1}  # a new session


@pytest.mark.parametrize("kind", sorted(CLAIM_CLIENTS))
def test_set_session_user_needs_a_store_that_indexes(kind: str) -> None:
    client = CLAIM_CLIENTS[kind](SyncDictStore())
    message = "SyncDictStore can't index sessions by user"
    if kind == "quart":  # Quart answers an exception itself (before 0.19, even one it propagates)
        response = client.get("/claim?user=ada")
        assert (response.status_code, response.text) == (500, message)
        return
    with pytest.raises(ImproperlyConfigured, match=message):
        client.get("/claim?user=ada")


def test_a_script_can_set_the_user(server_store: typing.Any, api: Api) -> None:
    session_id = create(server_store, {"theme": "dark"})
    api.open(server_store, session_id, lambda session: None)  # opened, nothing changed
    assert server_store.sync.user_sessions("ada") == []

    if api.flavour == "sync":
        opened = admin.open_session(server_store, session_id)
        with opened:
            opened.set_user("ada")
    else:

        async def run() -> None:
            opened = admin.aopen_session(server_store, session_id)
            async with opened:
                opened.set_user("ada")

        asyncio.run(run())

    assert server_store.sync.user_sessions("ada") == [session_id]
    assert api.revoke(server_store, "ada") == 1
    assert api.count(server_store) == 0


def test_purge_drops_expired_memory_sessions_from_the_index(clock: Clock, api: Api) -> None:
    store = InMemoryStore()
    client = asgi_client(store, user_key="user", lifetime=60)
    client.get("/set?user=ada")
    session_id = client.cookies["session"]
    keeper = asgi_client(store, user_key="user", lifetime=600)
    keeper.get("/set?user=ada")
    clock.advance(100)
    assert session_id in store.sync.user_sessions("ada")  # still listed until purged

    assert api.purge(store) == 1

    assert store.sync.user_sessions("ada") == [keeper.cookies["session"]]
    assert api.ids(store) == [keeper.cookies["session"]]


def test_purge_drops_gone_redis_sessions_from_the_index(
    redis_server: RedisServer, redis_url: str, api: Api
) -> None:
    store = RedisStore(url=redis_url)
    client = wsgi_client(store, user_key="user")
    client.get("/set?user=ada")
    session_id = client.cookies["session"]
    keeper = wsgi_client(store, user_key="user")
    keeper.get("/set?user=ada")
    with redis_server.client() as raw:
        raw.delete(PREFIX + session_id)  # as if it had expired
    assert session_id in store.sync.user_sessions("ada")

    assert api.purge(store) == 1

    assert store.sync.user_sessions("ada") == [keeper.cookies["session"]]
    assert api.purge(store) == 0


async def _asgi_noop(scope: typing.Any, receive: typing.Any, send: typing.Any) -> None:
    raise AssertionError("never called")


def _wsgi_noop(environ: typing.Any, start_response: typing.Any) -> list[bytes]:
    raise AssertionError("never called")


USER_KEY_CONSTRUCTORS: dict[str, typing.Callable[[typing.Any], object]] = {
    "asgi": lambda store: dualsessions.SessionMiddleware(_asgi_noop, store=store, user_key="user"),
    "wsgi": lambda store: wsgi_sessions.SessionMiddleware(_wsgi_noop, store=store, user_key="user"),
    "flask": lambda store: flask_sessions.DualSessions(flask.Flask(__name__), store=store, user_key="user"),
    "open_session": lambda store: admin.open_session(store, generate_session_id(), user_key="user"),
    "aopen_session": lambda store: admin.aopen_session(store, generate_session_id(), user_key="user"),
}
NON_INDEXING_STORES: dict[str, typing.Callable[[], typing.Any]] = {
    "SyncDictStore": SyncDictStore,
    "AsyncDictStore": AsyncDictStore,
    "CookieStore": lambda: CookieStore("k1"),
}


@pytest.mark.parametrize("construct", sorted(USER_KEY_CONSTRUCTORS))
@pytest.mark.parametrize("store_name", sorted(NON_INDEXING_STORES))
def test_user_key_with_a_store_that_cant_index_is_refused_at_construction(
    construct: str, store_name: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"user_key needs .* and {store_name} doesn't"):
        USER_KEY_CONSTRUCTORS[construct](NON_INDEXING_STORES[store_name]())


# -- 9. revocation on Redis doesn't scan -----------------------------------------------------------


def test_redis_revocation_reads_the_index_and_never_scans(
    redis_server: RedisServer, redis_url: str, api: Api
) -> None:
    store = RedisStore(url=redis_url)
    for n in range(20):
        create(store, {"n": n})
    ada = [asgi_client(store, user_key="user") for _ in range(2)]
    for client in ada:
        client.get("/set?user=ada")
    redis_server.reset_counts()

    assert api.revoke(store, "ada") == 2

    counts = redis_server.command_counts()
    assert "scan" not in counts and "keys" not in counts
    assert counts.get("smembers") == 1
    assert counts.get("del") == 2  # ada's two sessions
    assert counts.get("srem") == 1  # then the entries read, not the set: one indexed since stays
    assert api.count(store) == 20


# -- 10. counting many sessions in bounded memory ---------------------------------------------------


def test_counting_100k_redis_sessions_uses_scan_and_bounded_memory(
    redis_server: RedisServer, redis_url: str
) -> None:
    total, batch = 100_000, 10_000
    with redis_server.client() as raw:
        for start in range(0, total, batch):
            with raw.pipeline(transaction=False) as pipe:
                for n in range(start, start + batch):
                    pipe.set(f"{PREFIX}{n:032d}", b"{}", ex=600)
                pipe.execute()
        raw.sadd(PREFIX + "user:ada", "x" * 32)  # not a session: left out of the count
        assert raw.dbsize() == total + 1
    store = RedisStore(url=redis_url)
    redis_server.reset_counts()

    tracemalloc.start()
    try:
        count = admin.count_sessions(store)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == total
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    counts = redis_server.command_counts()
    assert counts.get("scan", 0) >= total // 1000  # batches of ~1000 keys
    assert "keys" not in counts


# -- 11. purging returns counts ---------------------------------------------------------------------


def test_purge_expired_counts_expired_memory_sessions(clock: Clock, api: Api) -> None:
    store = InMemoryStore()
    for n in range(3):
        create(store, {"n": n}, lifetime=60)
    live = create(store, {"n": 4}, lifetime=600)
    clock.advance(100)
    assert len(store.data) == 4  # expired records linger until swept

    assert api.purge(store) == 3

    assert list(store.data) == [live]
    assert api.purge(store) == 0


def test_purge_expired_counts_redis_index_entries_of_gone_sessions(
    redis_server: RedisServer, redis_url: str, api: Api
) -> None:
    store = RedisStore(url=redis_url)
    gone = [create(store, {"user": user}, user_key="user") for user in ("ada", "ada", "bob")]
    kept = create(store, {"user": "ada"}, user_key="user")
    with redis_server.client() as raw:
        raw.delete(*(PREFIX + session_id for session_id in gone))

    assert api.purge(store) == 3

    assert store.sync.user_sessions("ada") == [kept]
    assert store.sync.user_sessions("bob") == []
    assert api.purge(store) == 0
