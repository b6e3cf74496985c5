"""The Flask integration, where it differs from Quart's: Flask's session semantics, errors reaching
Flask's error handlers, the helpers outside the extension. What both integrations do alike (the
extension, the configuration, ``session.permanent``, the helpers) is in ``test_pallets.py``."""

from __future__ import annotations

import json
import typing

import flask
import pytest

import dualsessions.flask as flask_sessions
from dualsessions import ImproperlyConfigured, SessionStoreError
from dualsessions.stores.redis import RedisStore

from .pallets import FLASK, methods
from .redis_server import RedisServer
from .stores import SyncDictStore, spy

# -- helpers (what Quart shares is in test_pallets.py) --------------------------------------------------

make_app, with_sessions, client_for, helper_app = (
    FLASK.make_app,
    FLASK.with_sessions,
    FLASK.client_for,
    FLASK.helper_app,
)


def current_session() -> typing.Any:
    """The session object itself, not the ``flask.session`` proxy (which no JSON encoder takes)."""
    return flask.session._get_current_object()  # type: ignore[attr-defined]


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


# -- the module helpers ----------------------------------------------------------------------------


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
