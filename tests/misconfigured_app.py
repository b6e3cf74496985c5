"""A Starlette app whose session options can't work together (``user_key`` with a store that keeps no
per-user index), given in Starlette's ``middleware=[...]`` list, which Starlette builds on its first
event: ``tests/test_servers.py`` checks that uvicorn then refuses to start."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dualsessions import CookieStore, SessionMiddleware


async def index(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/", index)],
    middleware=[Middleware(SessionMiddleware, store=CookieStore("secret"), user_key="user")],
)
