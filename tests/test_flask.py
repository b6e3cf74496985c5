"""The Flask integration: the extension, Flask's configuration, ``session.permanent``, Flask's session
semantics, errors reaching Flask's error handlers, and the helpers."""

from __future__ import annotations

import datetime
import json
import typing

import flask
import httpx2
import pytest

import dualsessions.flask as flask_sessions
from dualsessions import ImproperlyConfigured, InMemoryStore, SessionStoreError
from dualsessions.flask import DualSessions
from dualsessions.stores.redis import RedisStore

from .conftest import Clock
from .redis_server import RedisServer
from .stores import SyncDictStore, spy

# -- helpers -------------------------------------------------------------------------------------------


def client_for(app: flask.Flask) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver")


def current_session() -> typing.Any:
    """The session object itself, not the ``flask.session`` proxy (which no JSON encoder takes)."""
    return flask.session._get_current_object()  # type: ignore[attr-defined]


def make_app(config: dict[str, typing.Any] | None = None) -> flask.Flask:
    """A Flask app whose routes use ``flask.session`` as applications do; no extension yet."""
    app = flask.Flask(__name__)
    app.config.update(config or {})

    @app.route("/noop")
    def noop() -> str:
        return "ok"

    @app.route("/read")
    def read() -> typing.Any:
        return flask.jsonify(dict(flask.session))

    @app.route("/set")
    def set_values() -> typing.Any:
        flask.session.update(flask.request.args.to_dict())
        return flask.jsonify(dict(flask.session))

    @app.route("/permanent/<value>")
    def permanent(value: str) -> typing.Any:
        flask.session.permanent = value == "yes"
        return flask.jsonify(permanent=flask.session.permanent)

    @app.route("/is-permanent")
    def is_permanent() -> typing.Any:
        return flask.jsonify(permanent=flask.session.permanent)

    return app


def with_sessions(config: dict[str, typing.Any] | None = None, **options: typing.Any) -> flask.Flask:
    """Non-rolling unless a test says otherwise (Flask's SESSION_REFRESH_EACH_REQUEST defaults to on)."""
    app = make_app({"SESSION_REFRESH_EACH_REQUEST": False, **(config or {})})
    options.setdefault("store", InMemoryStore())
    DualSessions(app, **options)
    return app


def cookie_parts(response: httpx2.Response) -> list[str]:
    return typing.cast(str, response.headers["set-cookie"]).split("; ")


def cookie_value(response: httpx2.Response) -> str:
    return cookie_parts(response)[0].partition("=")[2]


def max_age(response: httpx2.Response) -> int | None:
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

    def create_app(cookie_name: str) -> flask.Flask:
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


# -- Flask's configuration -----------------------------------------------------------------------------


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
        ({"SESSION_COOKIE_SAMESITE": None}, ["samesite=lax"], []),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, ["samesite=strict"], ["samesite=lax"]),
    ],
    ids=["defaults", "name", "domain", "path", "application-root", "path-over-root", "secure",
         "samesite-none", "samesite-strict"],
)  # fmt: skip
def test_cookie_options_fall_back_to_flask_config(
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
    app = with_sessions({"PERMANENT_SESSION_LIFETIME": 600})  # Flask takes seconds too
    client = client_for(app)
    client.get("/set?user=alice")
    assert max_age(client.get("/permanent/yes")) == 600


@pytest.mark.parametrize(
    ("options", "expected", "absent"),
    [
        (
            {
                "cookie_name": "explicit",
                "cookie_https_only": False,
                "cookie_same_site": "lax",
                "cookie_domain": "other.org",
                "cookie_path": "/x",
                "lifetime": 600,
            },
            ["path=/x", "domain=other.org", "samesite=lax", "max-age=600"],
            ["secure", "samesite=strict", "domain=example.com", "path=/shop"],
        ),
        ({"cookie_https_only": True}, ["secure"], []),
    ],
    ids=["over-everything", "secure-over-insecure-config"],
)
def test_explicit_options_win_over_config(
    clock: Clock, options: dict[str, typing.Any], expected: list[str], absent: list[str]
) -> None:
    config = {
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_COOKIE_DOMAIN": "example.com",
        "SESSION_COOKIE_PATH": "/shop",
        "SESSION_COOKIE_SECURE": not options["cookie_https_only"],
        "SESSION_COOKIE_SAMESITE": "Strict",
        "PERMANENT_SESSION_LIFETIME": datetime.timedelta(hours=2),
    }
    parts = cookie_parts(client_for(with_sessions(config, **options)).get("/set?user=alice"))
    assert parts[0].startswith(f"{options.get('cookie_name', 'sid')}=")
    for part in expected:
        assert part in parts, part
    for part in absent:
        assert part not in parts, part


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
    assert client.get("/is-permanent").json() == {"permanent": False}
    assert client.get("/read").json() == {"user": "alice"}

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


# -- Flask's session semantics -------------------------------------------------------------------------


def test_flash_messages_across_requests() -> None:
    app = with_sessions()

    @app.route("/save")
    def save() -> str:
        flask.flash("saved")
        flask.flash("careful", "warning")
        return "ok"

    @app.route("/messages")
    def messages() -> typing.Any:
        return flask.jsonify(flask.get_flashed_messages(with_categories=True))

    client = client_for(app)
    client.get("/save")
    assert client.get("/messages").json() == [["message", "saved"], ["warning", "careful"]]
    assert client.get("/messages").json() == []


def test_read_only_request_writes_nothing_and_sends_no_cookie() -> None:
    store = SyncDictStore()
    client = client_for(with_sessions(store=store))
    client.get("/set?user=alice")
    calls = spy(store)

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    assert calls == [("read", client.cookies["session"])]
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_request_that_never_touches_the_session_makes_no_store_call() -> None:
    store = SyncDictStore()
    client = client_for(with_sessions(store=store))
    client.get("/set?user=alice")
    calls = spy(store)

    response = client.get("/noop")

    assert response.text == "ok"
    assert calls == []
    assert "set-cookie" not in response.headers and "vary" not in response.headers


def recording_saves(app: flask.Flask) -> list[dict[str, typing.Any]]:
    """What Flask's save step sees of each request's session: accessed and modified."""
    seen: list[dict[str, typing.Any]] = []
    interface = app.session_interface
    save = interface.save_session

    def save_session(app: flask.Flask, session: typing.Any, response: flask.Response) -> None:
        seen.append({"accessed": session.accessed, "modified": session.modified})
        save(app, session, response)

    interface.save_session = save_session  # type: ignore[method-assign]
    return seen


def test_modified_new_and_accessed() -> None:
    app = with_sessions()
    saves = recording_saves(app)

    @app.route("/inspect")
    def inspect() -> typing.Any:
        session = flask.session
        before = {"new": session.new, "modified": session.modified}
        session["visits"] = session.get("visits", 0) + 1
        return flask.jsonify(before=before, after={"new": session.new, "modified": session.modified})

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
    def new() -> typing.Any:
        return flask.jsonify(new=flask.session.new)

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
    ],
    ids=["getitem", "get", "contains", "len", "bool", "list", "keys", "values", "items", "copy", "eq",
         "setdefault", "unpack"],
)  # fmt: skip
def test_every_way_into_the_data_reads_it_first(
    use: typing.Callable[[typing.Any], typing.Any], expected: typing.Any
) -> None:
    app = with_sessions()

    @app.route("/use")
    def use_session() -> typing.Any:
        return flask.jsonify(result=use(current_session()))

    client = client_for(app)
    client.get("/set?user=alice")
    assert client.get("/use").json() == {"result": expected}


def test_jsonify_of_the_session_gives_its_data() -> None:
    """``jsonify(session)`` as the first use of the session: the JSON encoder must see the data."""
    app = with_sessions()

    @app.route("/jsonify")
    def jsonify_session() -> typing.Any:
        return flask.jsonify(current_session())

    client = client_for(app)
    client.get("/set?user=alice&theme=dark")
    assert client.get("/jsonify").json() == {"user": "alice", "theme": "dark"}


@pytest.mark.parametrize("cookie", [True, False])
def test_json_of_the_unloaded_session_object_gives_its_data(cookie: bool) -> None:
    """The session object itself, not the proxy (Flask before 3.1.3 doesn't load it on use), to json's
    C encoder: its data (or nothing, for a new visitor), never the placeholder of the unloaded dict."""
    import json

    app = with_sessions()

    @app.route("/dumps")
    def dumps_session() -> typing.Any:
        session = flask.session._get_current_object()  # type: ignore[attr-defined]
        return app.response_class(json.dumps(session), mimetype="application/json")

    client = client_for(app)
    client.get("/set?user=alice" if cookie else "/noop")
    assert client.get("/dumps").json() == ({"user": "alice"} if cookie else {})


def test_dict_of_the_session_gives_its_data() -> None:
    app = with_sessions()

    @app.route("/dict")
    def dict_session() -> typing.Any:
        data = dict(current_session())
        return flask.jsonify(data=data, type=type(data).__name__)

    client = client_for(app)
    client.get("/set?user=alice&theme=dark")
    assert client.get("/dict").json() == {"data": {"user": "alice", "theme": "dark"}, "type": "dict"}


def test_change_inside_a_nested_value_is_saved() -> None:
    store = SyncDictStore()
    app = with_sessions(store=store)

    @app.route("/start")
    def start() -> str:
        flask.session["cart"] = ["apple"]
        return "ok"

    @app.route("/add/<item>")
    def add(item: str) -> typing.Any:
        flask.session["cart"].append(item)  # only the list changes: the dict can't see it
        return flask.jsonify(dict(flask.session))

    client = client_for(app)
    client.get("/start")
    calls = spy(store)

    assert client.get("/add/pear").json() == {"cart": ["apple", "pear"]}
    assert methods(calls) == ["read", "write"]
    assert client.get("/read").json() == {"cart": ["apple", "pear"]}


# -- errors --------------------------------------------------------------------------------------------


@pytest.mark.redis
def test_store_failures_reach_the_500_handler_which_can_answer_503(own_redis: RedisServer) -> None:
    app = with_sessions(store=RedisStore(url=own_redis.url, timeout=1))
    failures: list[BaseException | None] = []

    @app.route("/login")
    def login() -> str:
        flask.session["user"] = "alice"
        return "ok"

    @app.errorhandler(500)
    def unavailable(error: typing.Any) -> tuple[str, int]:
        failures.append(error.original_exception)
        if isinstance(error.original_exception, SessionStoreError):
            return "sessions are unavailable", 503
        return "error", 500

    client = client_for(app)
    assert client.get("/login").status_code == 200  # a session to load later
    own_redis.stop()

    loading = client.get("/login")  # the read fails inside the view
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


# -- helpers -------------------------------------------------------------------------------------------


def helper_app(store: typing.Any, **options: typing.Any) -> flask.Flask:
    app = with_sessions(store=store, **options)

    @app.route("/regenerate")
    def regenerate() -> typing.Any:
        return flask.jsonify(id=flask_sessions.regenerate_session_id())

    @app.route("/id")
    def session_id() -> typing.Any:
        return flask.jsonify(id=flask_sessions.get_session_id())

    @app.route("/remember")
    def remember() -> str:
        flask_sessions.set_session_lifetime(datetime.timedelta(minutes=10))
        return "ok"

    @app.route("/meta")
    def meta() -> typing.Any:
        return flask.jsonify(
            metadata=dict(flask_sessions.get_session_metadata()),
            remaining=flask_sessions.get_session_remaining_seconds(),
        )

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


def test_get_session_id() -> None:
    client = client_for(helper_app(InMemoryStore()))
    assert client.get("/id").json() == {"id": None}
    client.get("/set?user=alice")
    assert client.get("/id").json() == {"id": client.cookies["session"]}


def test_get_session_id_does_not_adopt_an_id_the_store_does_not_know() -> None:
    """Docs: a session id the store doesn't know is never adopted; ``get_session_id`` is None for
    such a session until it is saved."""
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


@pytest.mark.parametrize(
    "use",
    [
        flask_sessions.regenerate_session_id,
        flask_sessions.get_session_id,
        lambda: flask_sessions.set_session_lifetime(60),
        flask_sessions.get_session_metadata,
        flask_sessions.get_session_remaining_seconds,
    ],
    ids=["regenerate", "id", "set_lifetime", "metadata", "remaining"],
)
@pytest.mark.parametrize("secret_key", ["a secret", None], ids=["cookie-session", "null-session"])
def test_helpers_without_the_extension_say_what_to_do(
    use: typing.Callable[[], typing.Any], secret_key: str | None
) -> None:
    app = make_app()  # Flask's own sessions
    app.secret_key = secret_key
    with (
        app.test_request_context("/"),
        pytest.raises(
            ImproperlyConfigured, match=r"flask\.session is not a dualsessions session: call DualSessions"
        ),
    ):
        use()


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
    """Flask runs save_session again on the error response; the session is saved once per request."""
    store = FailsOnce()
    app = with_sessions(store=store)

    @app.errorhandler(500)
    def unavailable(error: typing.Any) -> typing.Any:
        return "sessions are unavailable", 503

    response = client_for(app).get("/set?user=alice")
    assert response.status_code == 503
    assert store.writes == 1
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("refresh", [True, False])
def test_rolling_follows_session_refresh_each_request(refresh: bool, clock: Clock) -> None:
    app = make_app({"SESSION_REFRESH_EACH_REQUEST": refresh, "PERMANENT_SESSION_LIFETIME": 600})
    DualSessions(app, store=InMemoryStore())
    client = client_for(app)
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
