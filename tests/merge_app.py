"""A Starlette app whose sessions merge concurrent changes, for the test that runs it under uvicorn
with several workers (``tests/test_servers.py``). ``REDIS_URL`` names the Redis."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dualsessions import SessionAutoloadMiddleware, SessionMiddleware
from dualsessions.stores.redis import RedisStore


async def index(request: Request) -> Response:
    return PlainTextResponse("ok")


async def put(request: Request) -> Response:
    """Sets every query parameter in the session."""
    request.session.update(request.query_params)
    return JSONResponse({"keys": len(request.session)})


async def read(request: Request) -> Response:
    return JSONResponse(dict(request.session))


app = Starlette(
    routes=[Route("/", index), Route("/set", put), Route("/read", read)],
    middleware=[
        Middleware(
            SessionMiddleware,
            # A merge is retried for as long as the store's timeout: generous here, so that a loaded
            # machine makes the test slower, never a failure (the test asserts outcomes, not speed).
            store=RedisStore(url=os.environ["REDIS_URL"], timeout=60),
            concurrency="merge",
            cookie_https_only=False,
        ),
        Middleware(SessionAutoloadMiddleware),
    ],
)
