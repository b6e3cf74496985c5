"""The same small app on each front end, and a cookie-keeping HTTP client for it.

The endpoints are written once, against the loaded session and a small API object; each front end
only routes the request, loads the session its own way and returns JSON. Scenarios parametrized over
``FRONTENDS`` run on all of them.
"""

from __future__ import annotations

import json
import typing

import flask
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

import dualsessions
import dualsessions.flask as flask_sessions
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


ENDPOINTS: dict[str, Endpoint] = {
    "/read": _read,
    "/set": _set,
    "/append": _append,
    "/delete": _delete,
    "/clear": _clear,
    "/regenerate": _regenerate,
    "/lifetime": _lifetime,
    "/meta": _meta,
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
    endpoint = ENDPOINTS.get("/" + request.path_params["path"])
    if endpoint is None:  # /noop: never touches the session
        return PlainTextResponse("ok")
    await dualsessions.load_session(request)
    return JSONResponse(endpoint(request.session, _AsgiApi(request), dict(request.query_params)))


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
    endpoint = ENDPOINTS.get(request.path)
    if endpoint is None:
        return WerkzeugResponse("ok")
    session = wsgi_sessions.get_session(request.environ)
    result = endpoint(session, _WsgiApi(request.environ), dict(request.args))
    return WerkzeugResponse(json.dumps(result), content_type="application/json")


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
        endpoint = ENDPOINTS.get("/" + path)
        if endpoint is None:
            return "ok"
        return flask.jsonify(endpoint(flask.session, _FlaskApi(), flask.request.args.to_dict()))

    flask_sessions.DualSessions(app, store=store, **options)
    return app


def flask_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> httpx2.Client:
    """Flask's own defaults differ (no Secure flag, path from APPLICATION_ROOT, rolling): set them as the
    middlewares' defaults, so the same scenarios hold."""
    options.setdefault("cookie_https_only", True)
    options.setdefault("rolling", False)
    options.setdefault("cookie_path", root_path or "/")
    return _wsgi_client(flask_app(store, **options), root_path, options)


FRONTENDS: dict[str, typing.Callable[..., typing.Any]] = {
    "asgi": asgi_client,
    "wsgi": wsgi_client,
    "flask": flask_client,
}
