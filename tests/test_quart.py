"""The Quart integration, where it differs from Flask's: reading ahead of the view, errors reaching
Quart's error handlers, WebSockets, the helpers outside the extension; and one login shared by a
Quart, a Flask and a Starlette app under real servers. What both integrations do alike is in
``test_pallets.py``. (The rules table runs on Quart with every
store through ``tests/apps.py``'s ``FRONTENDS``.)"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import typing
from collections.abc import Iterator

import httpx2
import pytest
import quart

import dualsessions.quart as quart_sessions
from dualsessions import (
    CookieStore,
    ImproperlyConfigured,
    InMemoryStore,
    SessionStoreError,
)
from dualsessions.stores.redis import RedisStore

from .conftest import SECRET, Clock
from .live_server import hypercorn, running, uvicorn, waitress
from .pallets import QUART, max_age, methods
from .redis_server import RedisServer
from .stores import SyncDictStore, spy

# -- helpers (what Flask shares is in test_pallets.py) --------------------------------------------------

make_app, with_sessions, client_for, helper_app = (
    QUART.make_app,
    QUART.with_sessions,
    QUART.client_for,
    QUART.helper_app,
)


def current_session() -> typing.Any:
    """The session object itself, not the ``quart.session`` proxy."""
    return quart.session._get_current_object()  # type: ignore[attr-defined]


# -- Quart's configuration (Flask's keys) ----------------------------------------------------------------


def test_a_cookie_store_verifies_cookies_signed_with_the_secret_key_fallbacks() -> None:
    """Keys rotating: cookies signed with an old key (now in SECRET_KEY_FALLBACKS) still verify."""
    old = client_for(with_sessions(store=CookieStore("old key")))
    old.get("/set?user=alice")
    client = client_for(with_sessions({"SECRET_KEY_FALLBACKS": ["old key"]}, store=CookieStore(SECRET)))
    client.cookies.set("session", old.cookies["session"])
    assert client.get("/read").json() == {"user": "alice"}
    stranger = client_for(with_sessions(store=CookieStore(SECRET)))
    stranger.cookies.set("session", old.cookies["session"])
    assert stranger.get("/read").json() == {}


# -- read ahead of the view, in play once used -----------------------------------------------------------


def test_a_request_that_never_uses_the_session_costs_one_read_and_nothing_else(clock: Clock) -> None:
    """Read before the view (Quart's session is used without await), but not used: no write, no
    cookie, no Vary, even for a rolling session that would otherwise be re-sent."""
    store = SyncDictStore()
    calls = spy(store)
    client = client_for(with_sessions(store=store, lifetime=600, rolling=True))
    client.get("/set?user=alice")
    calls.clear()
    clock.advance(60)

    response = client.get("/noop")

    assert calls == [("read", client.cookies["session"])]
    assert "set-cookie" not in response.headers and "vary" not in response.headers
    response = client.get("/read")  # used: rolled (this store has no touch, so it is written)
    assert max_age(response) == 600 and response.headers["vary"] == "Cookie"


def recording_saves(app: quart.Quart) -> list[dict[str, typing.Any]]:
    """What Quart's save step sees of each request's session: accessed and modified."""
    seen: list[dict[str, typing.Any]] = []
    interface = app.session_interface
    save = interface.save_session

    async def save_session(app: quart.Quart, session: typing.Any, response: typing.Any) -> None:
        seen.append({"accessed": session.accessed, "modified": session.modified})
        await save(app, session, response)

    interface.save_session = save_session  # type: ignore[method-assign]
    return seen


def test_modified_new_and_accessed() -> None:
    app = with_sessions()
    saves = recording_saves(app)

    @app.route("/inspect")
    async def inspect() -> typing.Any:
        session = quart.session
        before = {"new": session.new, "modified": session.modified}
        session["visits"] = session.get("visits", 0) + 1
        return {"before": before, "after": {"new": session.new, "modified": session.modified}}

    client = client_for(app)
    first = client.get("/inspect").json()
    assert first == {"before": {"new": True, "modified": False}, "after": {"new": True, "modified": True}}
    second = client.get("/inspect").json()
    assert second == {"before": {"new": False, "modified": False}, "after": {"new": False, "modified": True}}
    client.get("/noop")
    client.get("/read")
    assert saves == [
        {"accessed": True, "modified": True},
        {"accessed": True, "modified": True},
        {"accessed": False, "modified": False},
        {"accessed": True, "modified": False},
    ]


def test_new_is_true_for_a_cookie_the_store_does_not_know() -> None:
    app = with_sessions()

    @app.route("/new")
    async def new() -> typing.Any:
        return {"new": quart.session.new}

    client = client_for(app)
    client.cookies.set("session", "forged-by-a-client")
    assert client.get("/new").json() == {"new": True}


@pytest.mark.parametrize(
    ("use", "expected"),
    [
        (lambda s: s["user"], "alice"),
        (lambda s: s.get("user"), "alice"),
        (lambda s: "user" in s, True),
        (len, 1),
        (bool, True),
        (list, ["user"]),
        (lambda s: list(s.keys()), ["user"]),
        (lambda s: list(s.values()), ["alice"]),
        (lambda s: list(s.items()), [["user", "alice"]]),
        (lambda s: s.copy(), {"user": "alice"}),
        (lambda s: s == {"user": "alice"}, True),
        (lambda s: s.setdefault("user", "bob"), "alice"),
        (lambda s: {**s}, {"user": "alice"}),
        (dict, {"user": "alice"}),
        (json.dumps, '{"user": "alice"}'),
    ],
    ids=["getitem", "get", "contains", "len", "bool", "list", "keys", "values", "items", "copy", "eq",
         "setdefault", "unpack", "dict", "json"],
)  # fmt: skip
def test_every_way_into_the_data_counts_as_use(
    use: typing.Callable[[typing.Any], typing.Any], expected: typing.Any
) -> None:
    app = with_sessions()

    @app.route("/use")
    async def use_session() -> typing.Any:
        return {"result": use(current_session())}

    client = client_for(app)
    client.get("/set?user=alice")
    response = client.get("/use")
    assert response.json() == {"result": expected}
    assert response.headers["vary"] == "Cookie"  # used: the answer depends on the cookie


@pytest.mark.parametrize("cookie", [True, False])
def test_json_of_an_empty_unused_session_counts_as_use(cookie: bool) -> None:
    """json's C encoder writes "{}" for an empty dict without calling anything: the session is not
    empty underneath until used, so the encoder goes through items(), which counts."""
    app = with_sessions()

    @app.route("/dumps")
    async def dumps_session() -> typing.Any:
        return {"session": json.dumps(current_session())}

    client = client_for(app)
    client.get("/set?user=alice" if cookie else "/noop")
    response = client.get("/dumps")
    assert response.json() == {"session": '{"user": "alice"}' if cookie else "{}"}
    assert response.headers["vary"] == "Cookie"


def test_change_inside_a_nested_value_is_saved() -> None:
    store = SyncDictStore()
    calls = spy(store)
    app = with_sessions(store=store)

    @app.route("/start")
    async def start() -> str:
        quart.session["cart"] = ["apple"]
        return "ok"

    @app.route("/add/<item>")
    async def add(item: str) -> typing.Any:
        quart.session["cart"].append(item)  # only the list changes: the dict can't see it
        return dict(quart.session)

    client = client_for(app)
    client.get("/start")
    calls.clear()

    assert client.get("/add/pear").json() == {"cart": ["apple", "pear"]}
    assert methods(calls) == ["read", "write"]
    assert client.get("/read").json() == {"cart": ["apple", "pear"]}


def test_flash_messages_across_requests() -> None:
    app = with_sessions()

    @app.route("/save")
    async def save() -> str:
        await quart.flash("saved")
        await quart.flash("careful", "warning")
        return "ok"

    @app.route("/messages")
    async def messages() -> typing.Any:
        return {"messages": quart.get_flashed_messages(with_categories=True)}

    client = client_for(app)
    client.get("/save")
    assert client.get("/messages").json() == {"messages": [["message", "saved"], ["warning", "careful"]]}
    assert client.get("/messages").json() == {"messages": []}


def test_values_round_trip_as_in_flask() -> None:
    """The tagged JSON of Flask's session, the default serializer here too."""
    app = with_sessions()
    when = datetime.datetime(2026, 12, 1, 12, 30, tzinfo=datetime.timezone.utc)

    @app.route("/typed")
    async def typed() -> str:
        quart.session.update(point=(1, 2), raw=b"\x00\xff", when=when)
        return "ok"

    @app.route("/types")
    async def types() -> typing.Any:
        session = quart.session
        return {
            "point": session["point"] == (1, 2),
            "raw": session["raw"] == b"\x00\xff",
            "when": session["when"] == when,
        }

    client = client_for(app)
    client.get("/typed")
    assert client.get("/types").json() == {"point": True, "raw": True, "when": True}


def test_quarts_own_test_client_and_session_transaction() -> None:
    store = InMemoryStore()
    app = with_sessions(store=store)

    async def scenario() -> None:
        client = app.test_client()
        async with client.session_transaction() as session:
            session["user"] = "alice"
        response = await client.get("/read")
        assert await response.get_json() == {"user": "alice"}
        async with client.session_transaction() as session:
            assert dict(session) == {"user": "alice"}

    asyncio.run(scenario())
    assert len(store.data) == 1


# -- errors --------------------------------------------------------------------------------------------


@pytest.mark.redis
def test_store_failures_reach_the_500_handler_which_can_answer_503(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = with_sessions(store=RedisStore(url=own_redis.url, timeout=1))
    failures: list[BaseException | None] = []

    @app.route("/login")
    async def login() -> str:
        quart.session["user"] = "alice"
        return "ok"

    @app.errorhandler(500)
    async def unavailable(error: typing.Any) -> tuple[str, int]:
        failures.append(error.original_exception)
        if isinstance(error.original_exception, SessionStoreError):
            return "sessions are unavailable", 503
        return "error", 500

    client = client_for(app)
    assert client.get("/login").status_code == 200  # a session to read later
    own_redis.stop()

    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        untouched = client.get("/noop")  # read ahead, failed, never used: not this request's problem
    assert untouched.status_code == 200 and untouched.text == "ok"
    assert failures == []
    assert caplog.text.count("session store failed, unused by this request") == 1

    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        loading = client.get("/login")  # the read ahead failed: raised where the view uses the session
    assert caplog.text.count("session store failed, unused by this request") == 1  # (this one used it)
    assert isinstance(failures[0], SessionStoreError)
    assert "could not read a session" in str(failures[0])

    client.cookies.clear()
    saving = client.get("/login")  # a new visitor: nothing to read, the write fails in save_session
    assert isinstance(failures[-1], SessionStoreError)
    assert "could not write a session" in str(failures[-1])

    for response in (loading, saving):
        assert response.status_code == 503 and response.text == "sessions are unavailable"
        assert "set-cookie" not in response.headers

    own_redis.start()  # the same app works again
    assert client.get("/login").status_code == 200
    assert client.get("/read").json() == {"user": "alice"}


class FailsOnce(SyncDictStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        self.writes += 1
        if self.writes == 1:
            raise ConnectionError("store restarting")
        return super().write(session_id, data, lifetime, ttl)


def test_a_failed_save_is_not_retried_for_the_error_page() -> None:
    """Quart runs save_session again on the error response; the session is saved once per request."""
    store = FailsOnce()
    app = with_sessions(store=store)

    @app.errorhandler(500)
    async def unavailable(error: typing.Any) -> tuple[str, int]:
        return "sessions are unavailable", 503

    response = client_for(app).get("/set?user=alice")
    assert response.status_code == 503
    assert store.writes == 1
    assert "set-cookie" not in response.headers


def test_an_error_page_saves_nothing() -> None:
    store = SyncDictStore()
    calls = spy(store)
    app = with_sessions(store=store)

    @app.route("/fails")
    async def fails() -> str:
        quart.session["user"] = "alice"
        raise RuntimeError("a bug after using the session")

    response = client_for(app).get("/fails")
    assert response.status_code == 500
    assert calls == [] and "set-cookie" not in response.headers


# -- the module helpers ----------------------------------------------------------------------------


HELPERS = [
    quart_sessions.regenerate_session_id,
    quart_sessions.get_session_id,
    lambda: quart_sessions.set_session_lifetime(60),
    lambda: quart_sessions.set_session_user("alice"),
    quart_sessions.get_session_metadata,
    quart_sessions.get_session_remaining_seconds,
]


@pytest.mark.parametrize(
    "use", HELPERS, ids=["regenerate", "id", "set_lifetime", "set_user", "metadata", "remaining"]
)
@pytest.mark.parametrize("secret_key", ["a secret", None], ids=["cookie-session", "null-session"])
def test_helpers_without_the_extension_say_what_to_do(
    use: typing.Callable[[], typing.Any], secret_key: str | None
) -> None:
    app = make_app()  # Quart's own sessions
    app.secret_key = secret_key

    async def call() -> None:
        async with app.test_request_context("/"):
            use()

    with pytest.raises(
        ImproperlyConfigured, match=r"quart\.session is not a dualsessions session: call DualSessions"
    ):
        asyncio.run(call())


# -- WebSockets ----------------------------------------------------------------------------------------


def websocket_app(store: typing.Any, **options: typing.Any) -> quart.Quart:
    app = helper_app(store, **options)

    @app.websocket("/ws")
    async def ws() -> None:
        await quart.websocket.accept()
        await quart.websocket.send_json(dict(quart.session))
        if await quart.websocket.receive() == "change":
            quart.session["seen"] = "websocket"
        await quart.websocket.send("done")

    return app


def test_a_websocket_reads_the_session_and_does_not_save_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SyncDictStore()
    calls = spy(store)
    client = client_for(websocket_app(store))
    client.get("/set?user=alice")
    calls.clear()
    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        for message in ("look", "change"):
            with client.websocket_connect("/ws") as websocket:
                assert websocket.receive_json() == {"user": "alice"}
                websocket.send_text(message)
                assert websocket.receive_text() == "done"
    assert methods(calls) == ["read", "read"]  # read when each connection opened, never written
    assert caplog.text.count("changed in a WebSocket handler and is not saved") == 1
    assert client.get("/read").json() == {"user": "alice"}


def test_a_websocket_that_uses_the_session_tells_its_read_and_one_that_doesnt_tells_nothing() -> None:
    """The session is read ahead when a connection opens; its event is told only if the handler
    uses it (``/ws`` does, a plain request to ``/noop`` doesn't)."""
    seen: list[str] = []
    store = SyncDictStore()
    client = client_for(websocket_app(store, event_hooks=[lambda event: seen.append(event.kind)]))
    client.get("/set?user=alice")
    seen.clear()
    client.get("/noop")
    assert seen == []
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "alice"}
        websocket.send_text("look")
        assert websocket.receive_text() == "done"
    assert seen == ["loaded"]


# -- one login, three frameworks, real servers ------------------------------------------------------------


@pytest.fixture
def three_servers(redis_server: RedisServer, redis_url: str) -> Iterator[dict[str, str]]:
    """The examples over one Redis: Quart under hypercorn, Flask under waitress, Starlette under
    uvicorn."""
    env = {"REDIS_URL": redis_url, "DEMO_STORE": ""}
    with (
        running(lambda port: hypercorn("examples_asgi.quart_app:app", port), env) as quart_,
        running(lambda port: waitress("examples_wsgi.flask_app:app", port, 4), env) as flask,
        running(lambda port: uvicorn("examples_asgi.starlette_app:app", port), env) as starlette,
    ):
        yield {"quart": quart_.url, "flask": flask.url, "starlette": starlette.url}


@pytest.mark.redis
@pytest.mark.parametrize(
    ("login", "logout"),
    [("quart", "flask"), ("flask", "starlette"), ("starlette", "quart")],
    ids=["in-on-quart-out-on-flask", "in-on-flask-out-on-starlette", "in-on-starlette-out-on-quart"],
)
def test_one_login_shared_by_quart_flask_and_starlette_under_real_servers(
    three_servers: dict[str, str], login: str, logout: str
) -> None:
    with httpx2.Client(follow_redirects=True) as browser:  # one cookie jar, like one browser
        for url in three_servers.values():
            assert "Not logged in" in browser.get(f"{url}/").text

        page = browser.post(f"{three_servers[login]}/login", data={"user": "grace"}).text
        assert "Logged in as <b>grace</b>" in page
        for name, url in three_servers.items():
            assert "Logged in as <b>grace</b>" in browser.get(f"{url}/").text, name

        for count, url in enumerate(three_servers.values(), start=1):  # each one counts, all see it
            browser.post(f"{url}/count")
            for other in three_servers.values():
                assert f"Visits counted in this session: <b>{count}</b>" in browser.get(f"{other}/").text

        browser.post(f"{three_servers[logout]}/logout")
        for name, url in three_servers.items():
            assert "Not logged in" in browser.get(f"{url}/").text, name
