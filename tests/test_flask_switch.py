"""Flask apps switch to dualsessions without logging anyone out and keep every value Flask's session
could hold; Flask's cookie configuration is honoured, and the cookie attributes exist on every front end.
"""

from __future__ import annotations

import datetime
import hashlib
import time
import typing
import uuid

import flask
import httpx2
import itsdangerous
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import dualsessions
from dualsessions import CookieStore, InMemoryStore, TaggedJsonSerializer
from dualsessions.flask import DualSessions
from dualsessions.stores.redis import RedisStore

from .apps import FRONTENDS
from .test_lifecycle import HTTP, cookie_value, set_cookies

MOMENT = datetime.datetime(2026, 12, 2, 5, 30, 15, tzinfo=datetime.timezone.utc)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
#: Each of Flask's value types, as a Flask app puts them in its session.
VALUES: dict[str, typing.Any] = {
    "pair": (1, "two"),
    "blob": b"\x00\xffbytes",
    "html": Markup("<b>bold</b>"),
    "id": ID,
    "when": MOMENT,
    "tag_like": {" t": "a dict whose one key looks like a tag"},
    "nested": [{"when": MOMENT, "pair": (3, 4)}],
}


def flask_app(store: typing.Any, **config: typing.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update({"SECRET_KEY": "flask secret", **config})

    @app.get("/put")
    def put() -> str:
        flask.session.update(VALUES)
        return "ok"

    @app.get("/login")
    def login() -> str:
        flask.session["user"] = "ada"
        flask.session.permanent = True
        return "ok"

    @app.get("/types")
    def types() -> typing.Any:
        return {key: type(value).__name__ for key, value in flask.session.items()}

    @app.get("/same")
    def same() -> typing.Any:
        return {key: flask.session.get(key) == value for key, value in VALUES.items()}

    @app.get("/read")
    def read() -> typing.Any:
        return {key: str(value) for key, value in flask.session.items()}

    if store is not None:
        DualSessions(app, store=store, **app.config.pop("dualsessions", {}))
    return app


def flask_client(app: flask.Flask) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://testserver")


@pytest.fixture(params=["memory", "cookie", "redis"])
def any_store(request: pytest.FixtureRequest) -> typing.Any:
    if request.param == "memory":
        return InMemoryStore()
    if request.param == "cookie":
        return CookieStore("cookie secret")
    return RedisStore(url=request.getfixturevalue("redis_url"))


def test_flasks_value_types_round_trip_on_every_store(any_store: typing.Any) -> None:
    client = flask_client(flask_app(any_store))
    assert client.get("/put").status_code == 200
    assert client.get("/same").json() == dict.fromkeys(VALUES, True)
    assert client.get("/types").json() == {
        "pair": "tuple",
        "blob": "bytes",
        "html": "Markup",
        "id": "UUID",
        "when": "datetime",
        "tag_like": "dict",
        "nested": "list",
    }


def starlette_reader(store: typing.Any, serializer: typing.Any) -> Starlette:
    async def read(request: Request) -> Response:
        await dualsessions.load_session(request)
        session = request.session
        return JSONResponse(
            {
                "pair": [type(session["pair"]).__name__, list(session["pair"])],
                "when": [type(session["when"]).__name__, str(session["when"])],
                "id": [type(session["id"]).__name__, str(session["id"])],
            }
        )

    return Starlette(
        routes=[Route("/", read)],
        middleware=[
            Middleware(
                dualsessions.SessionMiddleware, store=store, serializer=serializer, cookie_https_only=False
            )
        ],
    )


def test_a_starlette_app_sharing_the_session_reads_the_same_values(any_store: typing.Any) -> None:
    """Given the same serializer, a Starlette handler sees a tuple as a tuple and a datetime as a
    datetime; with plain JSON it would see Flask's tags (``{" t": [...]}``) instead."""
    flask_side = flask_client(flask_app(any_store))
    flask_side.get("/put")
    cookie = flask_side.cookies["session"]
    starlette = TestClient(starlette_reader(any_store, TaggedJsonSerializer()))
    starlette.headers["cookie"] = f"session={cookie}"
    assert starlette.get("/").json() == {
        "pair": ["tuple", [1, "two"]],
        "when": ["datetime", str(MOMENT)],
        "id": ["UUID", str(ID)],
    }


# -- switching from Flask's cookie session --------------------------------------------------------------


def flask_cookie(secret: str, data: dict[str, typing.Any], age: int = 0) -> str:
    """A cookie exactly as Flask's own session signs it (its interface's serializer), ``age`` seconds old."""
    interface = flask.sessions.SecureCookieSessionInterface()

    class Aged(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    signer = itsdangerous.URLSafeTimedSerializer(
        secret,
        salt=interface.salt,
        serializer=interface.serializer,
        signer=Aged,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return signer.dumps(data)


def test_the_cookie_flasks_own_session_sets_is_the_one_moved() -> None:
    """The reference: a Flask app with its own session gives a cookie that the helper reproduces."""
    plain = flask_app(None)
    client = flask_client(plain)
    client.get("/login")
    with plain.test_request_context():
        own = plain.session_interface.get_signing_serializer(plain)  # type: ignore[attr-defined]
        assert own.loads(client.cookies["session"]) == {"user": "ada", "_permanent": True}


@pytest.mark.parametrize("keys", ["same key", "rotated key"])
def test_a_flask_cookie_session_moves_into_the_store_once(keys: str) -> None:
    store = InMemoryStore()
    config = {"dualsessions": {"migrate_from": "flask"}}
    if keys == "rotated key":
        config.update(SECRET_KEY="new secret", SECRET_KEY_FALLBACKS=["flask secret"])
    app = flask_app(store, **config)
    old = flask_client(flask_app(None))  # the app before the switch: Flask's own session
    old.get("/login")
    flask_cookie_value = old.cookies["session"]

    client = flask_client(app)
    client.headers["cookie"] = f"session={flask_cookie_value}"
    response = client.get("/read")
    assert response.json() == {"user": "ada"}
    new_id = cookie_value(response)
    assert new_id in store.data and new_id != flask_cookie_value
    assert "max-age=" in set_cookies(response)[0]  # it was permanent: it still is

    client.headers["cookie"] = f"session={new_id}"
    again = client.get("/read")
    assert again.json() == {"user": "ada"}
    assert cookie_value(again) == new_id  # (a permanent session's cookie is refreshed, as Flask does)
    assert len(store.data) == 1  # moved once


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(lambda: flask_cookie("another key", {"user": "eve"}), id="forged"),
        pytest.param(lambda: flask_cookie("flask secret", {"user": "ada"}, age=32 * 86400), id="expired"),
        pytest.param(lambda: flask_cookie("flask secret", {"user": "ada"})[:-2] + "xx", id="tampered"),
    ],
)
def test_a_forged_tampered_or_expired_flask_cookie_is_a_new_session(cookie: typing.Any) -> None:
    store = InMemoryStore()
    client = flask_client(flask_app(store, dualsessions={"migrate_from": "flask"}))
    client.headers["cookie"] = f"session={cookie()}"
    response = client.get("/read")
    assert response.json() == {} and "set-cookie" not in response.headers
    assert store.data == {}


def test_without_migration_a_flask_cookie_is_not_read() -> None:
    client = flask_client(flask_app(InMemoryStore()))
    client.headers["cookie"] = f"session={flask_cookie('flask secret', {'user': 'ada'})}"
    assert client.get("/read").json() == {}


def test_secret_key_fallbacks_verify_old_cookie_store_cookies() -> None:
    old = flask_client(flask_app(CookieStore("old key")))
    old.get("/login")
    app = flask_app(CookieStore("new key"), SECRET_KEY_FALLBACKS=["old key"])
    client = flask_client(app)
    client.headers["cookie"] = f"session={old.cookies['session']}"
    assert client.get("/read").json() == {"user": "ada"}
    assert flask_client(flask_app(CookieStore("new key"))).get("/read").json() == {}


# -- cookie attributes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("front", HTTP)
def test_partitioned_and_httponly_are_options_of_every_front_end(front: str) -> None:
    store = InMemoryStore()
    partitioned = FRONTENDS[front](store, cookie_partitioned=True, cookie_httponly=False)
    header = set_cookies(partitioned.get("/set?k=v"))[0].lower()
    assert "; partitioned" in header and "; secure" in header and "httponly" not in header
    default = FRONTENDS[front](store)
    header = set_cookies(default.get("/set?k=v"))[0].lower()
    assert "partitioned" not in header and "; httponly" in header


@pytest.mark.parametrize("front", [*HTTP, "script"])
def test_a_partitioned_cookie_must_be_secure(front: str) -> None:
    insecure: typing.Any = {"cookie_partitioned": True, "cookie_https_only": False}

    def build() -> object:
        if front == "script":
            return dualsessions.open_session(InMemoryStore(), "x" * 32, **insecure)
        return FRONTENDS[front](InMemoryStore(), **insecure).get("/read")

    with pytest.raises(dualsessions.ImproperlyConfigured, match="Partitioned"):
        build()


def test_flasks_cookie_configuration_is_honoured() -> None:
    app = flask_app(
        InMemoryStore(),
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=False,
    )
    header = set_cookies(flask_client(app).get("/login"))[0].lower()
    assert "; partitioned" in header and "; secure" in header and "httponly" not in header


def test_a_value_no_serializer_can_store_is_an_error_naming_its_key() -> None:
    app = flask_app(InMemoryStore(), PROPAGATE_EXCEPTIONS=True)

    @app.get("/bad")
    def bad() -> str:
        flask.session["tags"] = {"a", "set"}
        return "ok"

    with pytest.raises(dualsessions.SerializationError, match="'tags' holds a set"):
        flask_client(app).get("/bad")


# -- switching from Flask-Session -----------------------------------------------------------------------


def flask_session_app(redis_url: str) -> flask.Flask:
    """The app before the switch: Flask-Session 0.8 keeping sessions in Redis."""
    import flask_session
    import redis

    app = flask_app(None, SESSION_TYPE="redis", SESSION_REDIS=redis.Redis.from_url(redis_url))
    flask_session.Session(app)
    return app


def test_a_flask_session_record_moves_into_the_store_once(redis_url: str) -> None:
    import redis

    before = flask_client(flask_session_app(redis_url))
    before.get("/login")
    old_id = before.cookies["session"]
    raw = redis.Redis.from_url(redis_url)
    assert raw.exists("session:" + old_id)

    store = RedisStore(url=redis_url)
    config = {"SESSION_REDIS": raw, "dualsessions": {"migrate_from": "flask-session"}}
    client = flask_client(flask_app(store, **config))
    client.headers["cookie"] = f"session={old_id}"
    response = client.get("/read")
    assert response.json() == {"user": "ada"}
    new_id = cookie_value(response)
    assert new_id != old_id and "max-age=" in set_cookies(response)[0]
    assert not raw.exists("session:" + old_id)  # taken: it moves once

    client.headers["cookie"] = f"session={new_id}"
    assert client.get("/read").json() == {"user": "ada"}
    client.headers["cookie"] = f"session={old_id}"
    assert client.get("/read").json() == {}  # the old id gives nothing any more


def test_an_unknown_or_forged_flask_session_id_is_a_new_session(redis_url: str) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    raw.set("session:" + "p" * 43, b"\x80not msgpack nor json, maybe a pickle")
    client = flask_client(
        flask_app(InMemoryStore(), SESSION_REDIS=raw, dualsessions={"migrate_from": "flask-session"})
    )
    for value in ("q" * 43, "p" * 43, "user:ada"):
        client.headers["cookie"] = f"session={value}"
        response = client.get("/read")
        assert response.json() == {} and "set-cookie" not in response.headers


_TAG_KEYS = st.sampled_from([" t", " di", " b", " m", " u", " d", "plain", "t"])
_tagged_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.uuids()
    | st.text(max_size=8).map(Markup),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_TAG_KEYS | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=_tagged_values)
def test_tagged_json_reads_and_writes_as_flask_does(value: typing.Any) -> None:
    """Flask's tagged JSON, nested every way (dicts whose one key looks like a tag included): what
    Flask writes reads here as Flask reads it, and what is written here reads in Flask as it was."""
    flask_tags = flask.json.tag.TaggedJSONSerializer()
    ours = TaggedJsonSerializer()
    session = {"v": value}
    assert ours.deserialize(flask_tags.dumps(session).encode()) == flask_tags.loads(flask_tags.dumps(session))
    assert flask_tags.loads(ours.serialize(session).decode()) == session
