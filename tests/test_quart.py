"""The Quart integration: the extension, the configuration, ``session.permanent``, reading ahead of
the view, errors reaching Quart's error handlers, WebSockets, the helpers; and one login shared by a
Quart, a Flask and a Starlette app under real servers. (The rules table runs on Quart with every
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
from starlette.testclient import TestClient

import dualsessions.quart as quart_sessions
from dualsessions import (
    CookieStore,
    ImproperlyConfigured,
    InMemoryStore,
    SessionStoreError,
    revoke_user_sessions,
)
from dualsessions.quart import DualSessions
from dualsessions.stores.redis import RedisStore

from .conftest import SECRET, Clock
from .live_server import hypercorn, running, uvicorn, waitress
from .redis_server import RedisServer, free_port
from .stores import SyncDictStore, spy

# -- helpers -------------------------------------------------------------------------------------------


def client_for(app: quart.Quart, https: bool = True) -> TestClient:
    return TestClient(app, base_url=f"{'https' if https else 'http'}://testserver")


def current_session() -> typing.Any:
    """The session object itself, not the ``quart.session`` proxy."""
    return quart.session._get_current_object()  # type: ignore[attr-defined]


def make_app(config: dict[str, typing.Any] | None = None) -> quart.Quart:
    """A Quart app whose routes use ``quart.session`` as applications do; no extension yet."""
    app = quart.Quart(__name__)
    app.config.update(config or {})

    @app.route("/noop")
    async def noop() -> str:
        return "ok"

    @app.route("/read")
    async def read() -> typing.Any:
        return dict(quart.session)

    @app.route("/set")
    async def set_values() -> typing.Any:
        quart.session.update(quart.request.args.to_dict())
        return dict(quart.session)

    @app.route("/permanent/<value>")
    async def permanent(value: str) -> typing.Any:
        quart.session.permanent = value == "yes"
        return {"permanent": quart.session.permanent}

    @app.route("/is-permanent")
    async def is_permanent() -> typing.Any:
        return {"permanent": quart.session.permanent}

    return app


def with_sessions(config: dict[str, typing.Any] | None = None, **options: typing.Any) -> quart.Quart:
    """Non-rolling unless a test says otherwise (SESSION_REFRESH_EACH_REQUEST defaults to on)."""
    app = make_app({"SESSION_REFRESH_EACH_REQUEST": False, **(config or {})})
    options.setdefault("store", InMemoryStore())
    DualSessions(app, **options)
    return app


def cookie_parts(response: typing.Any) -> list[str]:
    return typing.cast(str, response.headers["set-cookie"]).split("; ")


def cookie_value(response: typing.Any) -> str:
    return cookie_parts(response)[0].partition("=")[2]


def max_age(response: typing.Any) -> int | None:
    ages = [part for part in cookie_parts(response) if part.startswith("max-age=")]
    return int(ages[0].removeprefix("max-age=")) if ages else None


def methods(calls: list[tuple[str, str]]) -> list[str]:
    return [method for method, _ in calls]


# -- the extension -------------------------------------------------------------------------------------


def test_extension_given_the_app() -> None:
    store = InMemoryStore()
    app = make_app()
    extension = DualSessions(app, store=store)
    assert app.extensions["dualsessions"] is extension

    client = client_for(app)
    assert client.get("/set?user=alice").json() == {"user": "alice"}
    assert client.get("/read").json() == {"user": "alice"}
    assert list(store.data) == [client.cookies["session"]]
    assert json.loads(store.data[client.cookies["session"]])["user"] == "alice"


def test_application_factory_pattern() -> None:
    store = InMemoryStore()
    extension = DualSessions(store=store)

    def create_app(cookie_name: str) -> quart.Quart:
        app = make_app({"SESSION_COOKIE_NAME": cookie_name})
        extension.init_app(app)
        return app

    first, second = create_app("first"), create_app("second")
    assert first.extensions["dualsessions"] is extension is second.extensions["dualsessions"]
    for app, name in ((first, "first"), (second, "second")):
        client = client_for(app)
        response = client.get(f"/set?app={name}")
        assert cookie_parts(response)[0].startswith(f"{name}=")
        assert client.get("/read").json() == {"app": name}
    assert len(store.data) == 2


def test_options_are_validated_when_installed() -> None:
    with pytest.raises(ImproperlyConfigured, match="cookie_same_site"):
        with_sessions(cookie_same_site="sometimes")


# -- Quart's configuration (Flask's keys) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "present", "absent"),
    [
        ({}, ["path=/", "httponly", "samesite=lax"], ["secure"]),
        ({"SESSION_COOKIE_NAME": "sid"}, ["path=/"], []),
        ({"SESSION_COOKIE_DOMAIN": "example.com"}, ["domain=example.com"], []),
        ({"SESSION_COOKIE_PATH": "/shop"}, ["path=/shop"], ["path=/"]),
        ({"APPLICATION_ROOT": "/root"}, ["path=/root"], ["path=/"]),
        ({"APPLICATION_ROOT": "/root", "SESSION_COOKIE_PATH": "/shop"}, ["path=/shop"], ["path=/root"]),
        ({"SESSION_COOKIE_SECURE": True}, ["secure"], []),
        ({"SESSION_COOKIE_HTTPONLY": False}, [], ["httponly"]),
        ({"SESSION_COOKIE_SAMESITE": None}, ["samesite=lax"], []),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, ["samesite=strict"], ["samesite=lax"]),
    ],
    ids=["defaults", "name", "domain", "path", "application-root", "path-over-root", "secure",
         "not-httponly", "samesite-none", "samesite-strict"],
)  # fmt: skip
def test_cookie_options_fall_back_to_the_configuration(
    config: dict[str, typing.Any], present: list[str], absent: list[str]
) -> None:
    response = client_for(with_sessions(config)).get("/set?user=alice")
    parts = cookie_parts(response)
    assert parts[0].startswith(f"{config.get('SESSION_COOKIE_NAME', 'session')}=")
    for part in present:
        assert part in parts, part
    for part in absent:
        assert part not in parts, part
    assert max_age(response) is None  # a browser session until made permanent
    if "SESSION_COOKIE_DOMAIN" not in config:
        assert not any(part.startswith("domain=") for part in parts)


def test_permanent_lifetime_comes_from_config(clock: Clock) -> None:
    client = client_for(with_sessions({"PERMANENT_SESSION_LIFETIME": 600}))
    client.get("/set?user=alice")
    assert max_age(client.get("/permanent/yes")) == 600


def test_explicit_options_win_over_config(clock: Clock) -> None:
    config = {
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_COOKIE_DOMAIN": "example.com",
        "SESSION_COOKIE_PATH": "/shop",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "PERMANENT_SESSION_LIFETIME": datetime.timedelta(hours=2),
    }
    options = {
        "cookie_name": "explicit",
        "cookie_https_only": False,
        "cookie_same_site": "lax",
        "cookie_domain": "other.org",
        "cookie_path": "/x",
        "lifetime": 600,
    }
    parts = cookie_parts(client_for(with_sessions(config, **options)).get("/set?user=alice"))
    assert parts[0].startswith("explicit=")
    for part in ["path=/x", "domain=other.org", "samesite=lax", "max-age=600"]:
        assert part in parts, part
    for part in ["secure", "samesite=strict", "domain=example.com", "path=/shop"]:
        assert part not in parts, part


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


# -- session.permanent ---------------------------------------------------------------------------------

TWO_HOURS = {"PERMANENT_SESSION_LIFETIME": datetime.timedelta(hours=2)}


def test_without_a_lifetime_sessions_are_browser_sessions_until_made_permanent(clock: Clock) -> None:
    store = InMemoryStore()
    client = client_for(with_sessions(TWO_HOURS, store=store))

    response = client.get("/set?user=alice")
    assert max_age(response) is None
    assert client.get("/is-permanent").json() == {"permanent": False}

    response = client.get("/permanent/yes")
    assert response.json() == {"permanent": True}
    assert max_age(response) == 7200
    assert cookie_value(response) == client.cookies["session"]
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 7200
    assert client.get("/is-permanent").json() == {"permanent": True}
    assert client.get("/read").json() == {"user": "alice"}


def test_with_a_lifetime_sessions_are_permanent_until_made_browser_sessions(clock: Clock) -> None:
    store = InMemoryStore()
    client = client_for(with_sessions(TWO_HOURS, store=store, lifetime=600))

    response = client.get("/set?user=alice")
    assert max_age(response) == 600
    assert client.get("/is-permanent").json() == {"permanent": True}

    response = client.get("/permanent/no")
    assert response.json() == {"permanent": False}
    assert max_age(response) is None  # a browser-session cookie now
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 0

    response = client.get("/permanent/yes")  # back to the lifetime option, not PERMANENT_SESSION_LIFETIME
    assert max_age(response) == 600
    assert client.get("/is-permanent").json() == {"permanent": True}


@pytest.mark.parametrize(
    ("options", "value"),
    [({}, "no"), ({}, "yes"), ({"lifetime": 600}, "yes"), ({"lifetime": 600}, "no")],
    ids=["browser-stays-browser", "made-permanent-stays", "permanent-stays", "made-browser-stays"],
)
def test_setting_permanent_to_its_current_value_writes_nothing(
    options: dict[str, typing.Any], value: str
) -> None:
    store = SyncDictStore()
    calls = spy(store)
    client = client_for(with_sessions(TWO_HOURS, store=store, **options))
    client.get("/set?user=alice")
    client.get(f"/permanent/{value}")  # may change it once
    calls.clear()

    for _ in range(3):
        response = client.get(f"/permanent/{value}")
        assert response.json() == {"permanent": value == "yes"}
        assert "set-cookie" not in response.headers
    assert methods(calls) == ["read"] * 3


@pytest.mark.parametrize("refresh", [True, False])
def test_rolling_follows_session_refresh_each_request(refresh: bool, clock: Clock) -> None:
    app = make_app({"SESSION_REFRESH_EACH_REQUEST": refresh, "PERMANENT_SESSION_LIFETIME": 600})
    DualSessions(app, store=InMemoryStore())
    client = client_for(app, https=False)  # Quart's default: cookies not Secure
    client.get("/set?user=alice")
    client.get("/permanent/yes")
    clock.advance(300)
    response = client.get("/read")
    if refresh:  # like Flask: a permanent session's cookie is re-sent with a full lifetime
        assert max_age(response) == 600
    else:
        assert "set-cookie" not in response.headers
    clock.advance(400)  # 700 s after login, 400 s after the last request
    assert client.get("/is-permanent").json() == {"permanent": refresh}  # False: a new session


# -- read ahead of the view, in play once used -----------------------------------------------------------


def test_read_only_request_writes_nothing_and_sends_no_cookie() -> None:
    store = SyncDictStore()
    calls = spy(store)  # (before the app is built: its engine adapts the store's methods once)
    client = client_for(with_sessions(store=store))
    client.get("/set?user=alice")
    calls.clear()

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    assert calls == [("read", client.cookies["session"])]
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


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


def test_a_request_without_a_cookie_reads_nothing() -> None:
    store = SyncDictStore()
    calls = spy(store)
    client = client_for(with_sessions(store=store))
    for path in ("/noop", "/read"):
        response = client.get(path)
        assert "set-cookie" not in response.headers
    assert calls == []


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


# -- helpers -------------------------------------------------------------------------------------------


def helper_app(store: typing.Any, **options: typing.Any) -> quart.Quart:
    app = with_sessions(store=store, **options)

    @app.route("/regenerate")
    async def regenerate() -> typing.Any:
        return {"id": quart_sessions.regenerate_session_id()}

    @app.route("/id")
    async def session_id() -> typing.Any:
        return {"id": quart_sessions.get_session_id()}

    @app.route("/remember")
    async def remember() -> str:
        quart_sessions.set_session_lifetime(datetime.timedelta(minutes=10))
        return "ok"

    @app.route("/meta")
    async def meta() -> typing.Any:
        return {
            "metadata": dict(quart_sessions.get_session_metadata()),
            "remaining": quart_sessions.get_session_remaining_seconds(),
        }

    @app.route("/login/<user>")
    async def login(user: str) -> str:
        quart_sessions.regenerate_session_id()
        quart.session["user"] = user
        return "ok"

    @app.route("/claim/<user>")
    async def claim(user: str) -> str:
        quart_sessions.set_session_user(user)
        return "ok"

    return app


def test_regenerate_session_id_keeps_the_data_under_a_new_id() -> None:
    store = InMemoryStore()
    client = client_for(helper_app(store))
    client.get("/set?user=alice")
    old_id = client.cookies["session"]

    response = client.get("/regenerate")

    new_id = response.json()["id"]
    assert new_id != old_id and cookie_value(response) == new_id
    assert list(store.data) == [new_id]  # the old record is gone
    assert client.get("/read").json() == {"user": "alice"}


def test_regenerating_a_new_visitors_empty_session_stores_nothing() -> None:
    store = SyncDictStore()
    calls = spy(store)
    response = client_for(helper_app(store)).get("/regenerate")
    assert response.status_code == 200
    assert calls == [] and "set-cookie" not in response.headers


def test_get_session_id() -> None:
    client = client_for(helper_app(InMemoryStore()))
    assert client.get("/id").json() == {"id": None}
    client.get("/set?user=alice")
    assert client.get("/id").json() == {"id": client.cookies["session"]}


def test_get_session_id_does_not_adopt_an_id_the_store_does_not_know() -> None:
    client = client_for(helper_app(InMemoryStore()))
    client.cookies.set("session", "forged-by-a-client")
    assert client.get("/id").json() == {"id": None}


def test_set_session_lifetime(clock: Clock) -> None:
    store = InMemoryStore()
    client = client_for(helper_app(store))
    client.get("/set?user=alice")
    response = client.get("/remember")
    assert max_age(response) == 600 and cookie_value(response) == client.cookies["session"]
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 600


def test_metadata_and_remaining_seconds(clock: Clock) -> None:
    client = client_for(helper_app(InMemoryStore(), lifetime=3600))
    client.get("/set?user=alice")
    created = clock.now
    clock.advance(600)
    assert client.get("/meta").json() == {
        "metadata": {"lifetime": 3600, "created": created, "last_access": created + 600},
        "remaining": 3000,
    }


def test_user_key_indexes_the_login_so_revoking_the_user_logs_them_out() -> None:
    store = InMemoryStore()
    alice, again, bob = (client_for(helper_app(store, user_key="user")) for _ in range(3))
    alice.get("/login/alice")
    again.get("/login/alice")  # a second device
    bob.get("/login/bob")
    devices = [alice.cookies["session"], again.cookies["session"]]
    assert sorted(store.sync.user_sessions("alice")) == sorted(devices)

    assert revoke_user_sessions(store, "alice") == 2

    assert alice.get("/read").json() == {} and again.get("/read").json() == {}
    assert bob.get("/read").json() == {"user": "bob"}


def test_set_session_user_needs_a_store_that_indexes() -> None:
    app = helper_app(SyncDictStore())
    failures: list[BaseException] = []

    @app.errorhandler(ImproperlyConfigured)
    async def misconfigured(error: ImproperlyConfigured) -> tuple[str, int]:
        failures.append(error)
        return "misconfigured", 500

    assert client_for(app).get("/claim/alice").status_code == 500
    assert "SyncDictStore can't index sessions by user" in str(failures[0])


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


def websocket_app(store: typing.Any) -> quart.Quart:
    app = helper_app(store)

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


# -- one login, three frameworks, real servers ------------------------------------------------------------


@pytest.fixture
def three_servers(redis_server: RedisServer, redis_url: str) -> Iterator[dict[str, str]]:
    """The examples over one Redis: Quart under hypercorn, Flask under waitress, Starlette under
    uvicorn."""
    ports = {"quart": free_port(), "flask": free_port(), "starlette": free_port()}
    env = {"REDIS_URL": redis_url, "DEMO_STORE": ""}
    with (
        running(hypercorn("examples_asgi.quart_app:app", ports["quart"]), ports["quart"], env) as quart_,
        running(waitress("examples_wsgi.flask_app:app", ports["flask"], 4), ports["flask"], env) as flask,
        running(
            uvicorn("examples_asgi.starlette_app:app", ports["starlette"]), ports["starlette"], env
        ) as starlette,
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
