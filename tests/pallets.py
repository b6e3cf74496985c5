"""Flask and Quart side by side: the apps and clients the scenarios of both integrations use, so that
what holds for both is written once (``test_pallets.py``) and each file of its own
(``test_flask.py``, ``test_quart.py``) keeps what only one framework has."""

from __future__ import annotations

import dataclasses
import datetime
import typing

import flask
import httpx2
import quart
from starlette.testclient import TestClient

import dualsessions.flask as flask_sessions
import dualsessions.quart as quart_sessions
from dualsessions import InMemoryStore


def flask_app(config: dict[str, typing.Any] | None = None) -> flask.Flask:
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

    @app.route("/read-varying")
    def read_varying() -> typing.Any:  # the application's own Vary (?vary=...)
        response = flask.jsonify(dict(flask.session))
        for value in flask.request.args.getlist("vary"):  # one Vary line each
            response.headers.add("Vary", value)
        return response

    @app.route("/permanent/<value>")
    def permanent(value: str) -> typing.Any:
        flask.session.permanent = value == "yes"
        return flask.jsonify(permanent=flask.session.permanent)

    @app.route("/is-permanent")
    def is_permanent() -> typing.Any:
        return flask.jsonify(permanent=flask.session.permanent)

    return app


def flask_helpers(app: flask.Flask) -> None:
    """Routes that call the module helpers of ``dualsessions.flask``."""

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

    @app.route("/login/<user>")
    def login(user: str) -> str:
        flask_sessions.regenerate_session_id()
        flask.session["user"] = user
        return "ok"

    @app.route("/claim/<user>")
    def claim(user: str) -> str:
        flask_sessions.set_session_user(user)
        return "ok"


def quart_app(config: dict[str, typing.Any] | None = None) -> quart.Quart:
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

    @app.route("/read-varying")
    async def read_varying() -> typing.Any:  # the application's own Vary (?vary=...)
        response = await quart.make_response(dict(quart.session))
        for value in quart.request.args.getlist("vary"):  # one Vary line each
            response.headers.add("Vary", value)
        return response

    @app.route("/permanent/<value>")
    async def permanent(value: str) -> typing.Any:
        quart.session.permanent = value == "yes"
        return {"permanent": quart.session.permanent}

    @app.route("/is-permanent")
    async def is_permanent() -> typing.Any:
        return {"permanent": quart.session.permanent}

    return app


def quart_helpers(app: quart.Quart) -> None:
    """Routes that call the module helpers of ``dualsessions.quart``."""

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


def _flask_client(app: typing.Any, https: bool) -> typing.Any:
    return httpx2.Client(
        transport=httpx2.WSGITransport(app=app), base_url=f"{'https' if https else 'http'}://testserver"
    )


def _quart_client(app: typing.Any, https: bool) -> typing.Any:
    return TestClient(app, base_url=f"{'https' if https else 'http'}://testserver")


@dataclasses.dataclass(frozen=True)
class Framework:
    """What a scenario needs of Flask or Quart. Every app has the routes ``/noop``, ``/read``,
    ``/read-varying?vary=...&vary=...`` (with those ``Vary`` lines of its own), ``/set?key=value``,
    ``/permanent/yes|no`` and ``/is-permanent`` (answering JSON); ``helper_app``
    adds ``/regenerate``, ``/id``, ``/remember`` (ten minutes), ``/meta``, ``/login/<user>`` (a new id
    and ``session["user"]``) and ``/claim/<user>`` (``set_session_user``)."""

    name: str
    make_app: typing.Callable[[dict[str, typing.Any] | None], typing.Any]
    extension: typing.Any  # the integration's DualSessions
    _helpers: typing.Callable[[typing.Any], None]
    _client: typing.Callable[[typing.Any, bool], typing.Any]

    def with_sessions(self, config: dict[str, typing.Any] | None = None, **options: typing.Any) -> typing.Any:
        """Non-rolling unless a test says otherwise (SESSION_REFRESH_EACH_REQUEST defaults to on)."""
        app = self.make_app({"SESSION_REFRESH_EACH_REQUEST": False, **(config or {})})
        options.setdefault("store", InMemoryStore())
        self.extension(app, **options)
        return app

    def helper_app(self, store: typing.Any, **options: typing.Any) -> typing.Any:
        app = self.with_sessions(store=store, **options)
        self._helpers(app)
        return app

    def client_for(self, app: typing.Any, https: bool = True) -> typing.Any:
        """A client of ``app`` (its responses have ``.json()``, ``.headers``, ``.cookies``)."""
        return self._client(app, https)


FLASK = Framework("flask", flask_app, flask_sessions.DualSessions, flask_helpers, _flask_client)
QUART = Framework("quart", quart_app, quart_sessions.DualSessions, quart_helpers, _quart_client)
FRAMEWORKS = [FLASK, QUART]


def cookie_parts(response: typing.Any) -> list[str]:
    return typing.cast(str, response.headers["set-cookie"]).split("; ")


def cookie_value(response: typing.Any) -> str:
    return cookie_parts(response)[0].partition("=")[2]


def max_age(response: typing.Any) -> int | None:
    ages = [part for part in cookie_parts(response) if part.startswith("max-age=")]
    return int(ages[0].removeprefix("max-age=")) if ages else None


def methods(calls: list[tuple[str, str]]) -> list[str]:
    return [method for method, _ in calls]
