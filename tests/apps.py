"""The same small app on each front end, and an HTTP client for it.

Every endpoint does one thing to the session, so a scenario reads as a list of requests. Issue-free
front ends are added to ``FRONTENDS``; scenarios parametrized over it run on all of them.
"""

from __future__ import annotations

import typing

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import dualsessions
from dualsessions import session as asgi_session


async def _noop(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _read(request: Request) -> Response:
    await dualsessions.load_session(request)
    return JSONResponse(dict(request.session))


async def _set(request: Request) -> Response:
    await dualsessions.load_session(request)
    for key, value in request.query_params.items():
        request.session[key] = value
    return JSONResponse(dict(request.session))


async def _append(request: Request) -> Response:
    """Changes a list inside the session in place, which the dict can't see."""
    await dualsessions.load_session(request)
    request.session.setdefault("cart", [])
    request.session["cart"].append(request.query_params["item"])
    return JSONResponse(dict(request.session))


async def _delete(request: Request) -> Response:
    await dualsessions.load_session(request)
    request.session.pop(request.query_params["key"], None)
    return JSONResponse(dict(request.session))


async def _clear(request: Request) -> Response:
    await dualsessions.load_session(request)
    request.session.clear()
    return JSONResponse({})


async def _regenerate(request: Request) -> Response:
    await dualsessions.load_session(request)
    new_id = dualsessions.regenerate_session_id(request)
    return JSONResponse({"id": new_id})


async def _lifetime(request: Request) -> Response:
    await dualsessions.load_session(request)
    asgi_session.set_session_lifetime(request, int(request.query_params["seconds"]))
    for key, value in request.query_params.items():
        if key != "seconds":
            request.session[key] = value
    return JSONResponse(dict(request.session))


async def _meta(request: Request) -> Response:
    await dualsessions.load_session(request)
    return JSONResponse(
        {
            "id": dualsessions.get_session_id(request),
            "metadata": dict(dualsessions.get_session_metadata(request)),
            "remaining": dualsessions.get_session_remaining_seconds(request),
        }
    )


ROUTES = [
    Route("/noop", _noop),
    Route("/read", _read),
    Route("/set", _set),
    Route("/delete", _delete),
    Route("/append", _append),
    Route("/clear", _clear),
    Route("/regenerate", _regenerate),
    Route("/lifetime", _lifetime),
    Route("/meta", _meta),
]


def asgi_app(store: typing.Any, **options: typing.Any) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.add_middleware(dualsessions.SessionMiddleware, store=store, **options)
    return app


def asgi_client(store: typing.Any, root_path: str = "", **options: typing.Any) -> TestClient:
    """A client that keeps cookies, over https unless the options say the cookie isn't Secure."""
    scheme = "https" if options.get("cookie_https_only", True) else "http"
    return TestClient(asgi_app(store, **options), base_url=f"{scheme}://testserver", root_path=root_path)


FRONTENDS: dict[str, typing.Callable[..., typing.Any]] = {"asgi": asgi_client}
