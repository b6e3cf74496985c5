"""The same small app on each front end, and a cookie-keeping HTTP client for it.

The endpoints are written once, against the loaded session and a small API object; each front end
only routes the request, loads the session its own way and returns JSON. Scenarios parametrized over
``FRONTENDS`` run on all of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import typing
from collections.abc import Iterator

import flask
import httpx2
import quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

import dualsessions
import dualsessions.flask as flask_sessions
import dualsessions.quart as quart_sessions
import dualsessions.wsgi as wsgi_sessions


class SessionApi(typing.Protocol):
    def regenerate(self) -> str: ...
    def set_lifetime(self, seconds: int) -> None: ...
    def session_id(self) -> str | None: ...
    def metadata(self) -> dict[str, typing.Any]: ...
    def remaining(self) -> int: ...


Endpoint = typing.Callable[[dict[str, typing.Any], SessionApi, dict[str, str]], typing.Any]


def _read(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    return dict(session)


def _set(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    for key, value in params.items():
        session[key] = value
    return dict(session)


def _append(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    """Changes a list inside the session in place, which the dict can't see."""
    session.setdefault("cart", [])
    session["cart"].append(params["item"])
    return dict(session)


def _delete(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    session.pop(params["key"], None)
    return dict(session)


def _clear(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    session.clear()
    return {}


def _regenerate(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    return {"id": api.regenerate()}


def _lifetime(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    api.set_lifetime(int(params.pop("seconds")))
    return _set(session, api, params)


def _meta(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    return {"id": api.session_id(), "metadata": api.metadata(), "remaining": api.remaining()}


class Reply(typing.NamedTuple):
    """An endpoint's answer with a status of its own (the others answer 200)."""

    status: int
    body: typing.Any


class Boom(Exception):
    """What ``/raise`` raises after changing the session: a bug in the application."""


def _fail(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    """Sets the other parameters (or only reads), then answers with the status ``status``."""
    status = int(params.pop("status"))
    return Reply(status, _set(session, api, params))


def _raise(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    """Sets the parameters (or only reads), then fails with an unhandled exception."""
    _set(session, api, params)
    raise Boom("the application failed after using the session")


def _no_interleaving() -> None:
    raise RuntimeError("/interleave needs a hook: call it inside `with interleaving(hook):`")


_interleaved: typing.Callable[[], None] = _no_interleaving


@contextlib.contextmanager
def interleaving(hook: typing.Callable[[], None]) -> Iterator[None]:
    """Within the block, ``/interleave`` runs ``hook`` between loading the session and changing it:
    another request, or a script, lands in the middle of that request, deterministically."""
    global _interleaved
    _interleaved = hook
    try:
        yield
    finally:
        _interleaved = _no_interleaving


def _interleave(session: dict[str, typing.Any], api: SessionApi, params: dict[str, str]) -> typing.Any:
    """Loads the session, runs the hook, then sets the query's keys; with ``then=regenerate`` it also
    moves the session to a new id, which the reply names under ``new_id``."""
    dict(session)  # loaded (Flask's session is loaded on first use)
    _interleaved()
    regenerate = params.pop("then", None) == "regenerate"
    new_id = api.regenerate() if regenerate else None
    result = _set(session, api, params)
    return {**result, "new_id": new_id} if regenerate else result


ENDPOINTS: dict[str, Endpoint] = {
    "/read": _read,
    "/set": _set,
    "/append": _append,
    "/delete": _delete,
    "/clear": _clear,
    "/regenerate": _regenerate,
    "/lifetime": _lifetime,
    "/meta": _meta,
    "/fail": _fail,
    "/raise": _raise,
    "/interleave": _interleave,
}

UnloadedEndpoint = typing.Callable[[SessionApi, dict[str, str]], typing.Any]


def device_rows(rows: list[dualsessions.UserSession]) -> list[dict[str, typing.Any]]:
    """``/devices``: the user's sessions as each front end's helper lists them."""
    return [dataclasses.asdict(row) for row in rows]


# Endpoints that never load the session themselves: the front end doesn't load it for them either.
UNLOADED_ENDPOINTS: dict[str, UnloadedEndpoint] = {
    "/regenerate-unloaded": lambda api, params: {"id": api.regenerate()},
}

# -- ASGI (Starlette) --------------------------------------------------------------------------------


class _AsgiApi:
    def __init__(self, request: Request) -> None:
        self.request = request

    def regenerate(self) -> str:
        return dualsessions.regenerate_session_id(self.request)

    def set_lifetime(self, seconds: int) -> None:
        dualsessions.set_session_lifetime(self.request, seconds)

    def session_id(self) -> str | None:
        return dualsessions.get_session_id(self.request)

    def metadata(self) -> dict[str, typing.Any]:
        return dict(dualsessions.get_session_metadata(self.request))

    def remaining(self) -> int:
        return dualsessions.get_session_remaining_seconds(self.request)


async def _asgi_endpoint(request: Request) -> Response:
    path = "/" + request.path_params["path"]
    unloaded = UNLOADED_ENDPOINTS.get(path)
    if unloaded is not None:
        return _asgi_response(unloaded(_AsgiApi(request), dict(request.query_params)))
    if path == "/devices":
        return JSONResponse(device_rows(await dualsessions.get_user_sessions(request)))
    if path == "/revoke-others":
        return JSONResponse({"revoked": await dualsessions.revoke_other_sessions(request)})
    endpoint = ENDPOINTS.get(path)
    if endpoint is None:  # /noop: never touches the session
        return PlainTextResponse("ok")
    await dualsessions.load_session(request)
    return _asgi_response(endpoint(request.session, _AsgiApi(request), dict(request.query_params)))


def _asgi_response(result: typing.Any) -> Response:
    if isinstance(result, Reply):
        return JSONResponse(result.body, status_code=result.status)
    return JSONResponse(result)


def asgi_app(store: typing.Any, **options: typing.Any) -> Starlette:
    app = Starlette(routes=[Route("/{path:path}", _asgi_endpoint)])
    app.add_middleware(dualsessions.SessionMiddleware, store=store, **options)
    return app


def _scheme(options: dict[str, typing.Any]) -> str:
    return "https" if options.get("cookie_https_only", True) else "http"


def asgi_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> TestClient:
    """Over https unless the cookie isn't Secure, so that the client sends the cookie back."""
    return TestClient(
        asgi_app(store, **options), base_url=f"{_scheme(options)}://testserver", root_path=root_path
    )


# -- WSGI (Werkzeug) ---------------------------------------------------------------------------------


class _WsgiApi:
    def __init__(self, environ: dict[str, typing.Any]) -> None:
        self.environ = environ

    def regenerate(self) -> str:
        return wsgi_sessions.regenerate_session_id(self.environ)

    def set_lifetime(self, seconds: int) -> None:
        wsgi_sessions.set_session_lifetime(self.environ, seconds)

    def session_id(self) -> str | None:
        return wsgi_sessions.get_session_id(self.environ)

    def metadata(self) -> dict[str, typing.Any]:
        return dict(wsgi_sessions.get_session_metadata(self.environ))

    def remaining(self) -> int:
        return wsgi_sessions.get_session_remaining_seconds(self.environ)


@WerkzeugRequest.application  # type: ignore[arg-type]
def _werkzeug_app(request: WerkzeugRequest) -> WerkzeugResponse:
    unloaded = UNLOADED_ENDPOINTS.get(request.path)
    if unloaded is not None:
        return _werkzeug_response(unloaded(_WsgiApi(request.environ), dict(request.args)))
    if request.path == "/devices":
        return _werkzeug_response(device_rows(wsgi_sessions.get_user_sessions(request.environ)))
    if request.path == "/revoke-others":
        return _werkzeug_response({"revoked": wsgi_sessions.revoke_other_sessions(request.environ)})
    endpoint = ENDPOINTS.get(request.path)
    if endpoint is None:
        return WerkzeugResponse("ok")
    session = wsgi_sessions.get_session(request.environ)
    result = endpoint(session, _WsgiApi(request.environ), dict(request.args))
    return _werkzeug_response(result)


def _werkzeug_response(result: typing.Any) -> WerkzeugResponse:
    status = 200
    if isinstance(result, Reply):
        status, result = result
    return WerkzeugResponse(json.dumps(result), status=status, content_type="application/json")


def wsgi_app(store: typing.Any, **options: typing.Any) -> wsgi_sessions.SessionMiddleware:
    return wsgi_sessions.SessionMiddleware(_werkzeug_app, store=store, **options)


def _wsgi_client(app: typing.Any, root_path: str, options: dict[str, typing.Any]) -> httpx2.Client:
    transport = httpx2.WSGITransport(app=app, script_name=root_path)
    return httpx2.Client(transport=transport, base_url=f"{_scheme(options)}://testserver")


def wsgi_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> httpx2.Client:
    return _wsgi_client(wsgi_app(store, **options), root_path, options)


# -- Flask -------------------------------------------------------------------------------------------


class _FlaskApi:
    def regenerate(self) -> str:
        return flask_sessions.regenerate_session_id()

    def set_lifetime(self, seconds: int) -> None:
        flask_sessions.set_session_lifetime(seconds)

    def session_id(self) -> str | None:
        return flask_sessions.get_session_id()

    def metadata(self) -> dict[str, typing.Any]:
        return dict(flask_sessions.get_session_metadata())

    def remaining(self) -> int:
        return flask_sessions.get_session_remaining_seconds()


def flask_app(store: typing.Any, **options: typing.Any) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/<path:path>")
    def endpoint(path: str) -> typing.Any:
        unloaded = UNLOADED_ENDPOINTS.get("/" + path)
        if unloaded is not None:
            return _flask_response(unloaded(_FlaskApi(), flask.request.args.to_dict()))
        if path == "devices":
            return _flask_response(device_rows(flask_sessions.get_user_sessions()))
        if path == "revoke-others":
            return _flask_response({"revoked": flask_sessions.revoke_other_sessions()})
        endpoint = ENDPOINTS.get("/" + path)
        if endpoint is None:
            return "ok"
        return _flask_response(endpoint(flask.session, _FlaskApi(), flask.request.args.to_dict()))

    @app.route("/permanent")
    def permanent() -> typing.Any:
        """Flask only: makes the session permanent, and sets the parameters."""
        flask.session.permanent = True
        return _flask_response(_set(flask.session, _FlaskApi(), flask.request.args.to_dict()))

    flask_sessions.DualSessions(app, store=store, **options)
    return app


def _flask_response(result: typing.Any) -> typing.Any:
    if isinstance(result, Reply):
        return flask.jsonify(result.body), result.status
    return flask.jsonify(result)


def flask_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> httpx2.Client:
    """Flask's own defaults differ (no Secure flag, path from APPLICATION_ROOT, rolling): set them as the
    middlewares' defaults, so the same scenarios hold."""
    options.setdefault("cookie_https_only", True)
    options.setdefault("rolling", False)
    options.setdefault("cookie_path", root_path or "/")
    return _wsgi_client(flask_app(store, **options), root_path, options)


def flask_default_client(store: typing.Any) -> httpx2.Client:
    """Flask as it comes: ``DualSessions(app, store=store)`` with no option, so Flask's configuration
    applies (browser sessions until made permanent, SESSION_REFRESH_EACH_REQUEST on, cookies not
    Secure: over http)."""
    return _wsgi_client(flask_app(store), "", {"cookie_https_only": False})


# -- Quart -------------------------------------------------------------------------------------------


class _QuartApi:
    def regenerate(self) -> str:
        return quart_sessions.regenerate_session_id()

    def set_lifetime(self, seconds: int) -> None:
        quart_sessions.set_session_lifetime(seconds)

    def session_id(self) -> str | None:
        return quart_sessions.get_session_id()

    def metadata(self) -> dict[str, typing.Any]:
        return dict(quart_sessions.get_session_metadata())

    def remaining(self) -> int:
        return quart_sessions.get_session_remaining_seconds()


def quart_app(store: typing.Any, **options: typing.Any) -> quart.Quart:
    app = quart.Quart(__name__)

    @app.route("/<path:path>")
    async def endpoint(path: str) -> typing.Any:
        params = quart.request.args.to_dict()
        unloaded = UNLOADED_ENDPOINTS.get("/" + path)
        if unloaded is not None:
            return _quart_response(unloaded(_QuartApi(), params))
        if path == "devices":
            return _quart_response(device_rows(await quart_sessions.get_user_sessions()))
        if path == "revoke-others":
            return _quart_response({"revoked": await quart_sessions.revoke_other_sessions()})
        endpoint = ENDPOINTS.get("/" + path)
        if endpoint is None:
            return "ok"
        return _quart_response(endpoint(quart.session, _QuartApi(), params))

    quart_sessions.DualSessions(app, store=store, **options)
    return app


def _quart_response(result: typing.Any) -> typing.Any:
    if isinstance(result, Reply):
        return quart.jsonify(result.body), result.status
    return quart.jsonify(result)


def quart_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> TestClient:
    """As ``flask_client``: Quart's defaults are Flask's. The session is read before the view runs
    (``READS_AHEAD``); ``root_path`` is where the app is mounted, part of the path as ASGI has it."""
    options.setdefault("cookie_https_only", True)
    options.setdefault("rolling", False)
    options.setdefault("cookie_path", root_path or "/")
    app = quart_app(store, **options)
    return TestClient(app, base_url=f"{_scheme(options)}://testserver{root_path}", root_path=root_path)


FRONTENDS: dict[str, typing.Callable[..., typing.Any]] = {
    "asgi": asgi_client,
    "wsgi": wsgi_client,
    "flask": flask_client,
    "quart": quart_client,
}

#: Front ends that read the session before the application runs, when the request names one: there a
#: request that never uses its session costs that one read (and nothing else).
READS_AHEAD = frozenset({quart_client})


# -- unhandled exceptions, as servers answer them ------------------------------------------------------


def _answering_errors(app: typing.Any) -> typing.Any:
    """What a WSGI server does with an application's unhandled exception: a 500 page."""

    def serve(environ: dict[str, typing.Any], start_response: typing.Any) -> typing.Iterable[bytes]:
        started: list[tuple[typing.Any, ...]] = []
        try:  # the body too: an error raised before the headers went out is a 500 as well
            body = list(app(environ, lambda *args: started.append(args)))
        except Exception:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"Internal Server Error"]
        start_response(*started[-1][:2])
        return body

    return serve


def client_answering_errors(frontend: str, store: typing.Any, **options: typing.Any) -> typing.Any:
    """A client of ``FRONTENDS[frontend]`` whose server answers an unhandled exception with a 500 page
    instead of raising it in the test: Starlette's ServerErrorMiddleware, a WSGI server's own page,
    Flask's or Quart's 500 handler."""
    if frontend == "asgi":
        app = asgi_app(store, **options)
        return TestClient(app, base_url=f"{_scheme(options)}://testserver", raise_server_exceptions=False)
    if frontend == "wsgi":
        return _wsgi_client(_answering_errors(wsgi_app(store, **options)), "", options)
    return FRONTENDS[frontend](store, **options)  # Flask and Quart answer with their 500 handler
