"""A FastAPI app with a session: log in, count visits, log out (JSON API; try /docs).

Run it with ``scripts/demo fastapi`` (or ``uvicorn examples_asgi.fastapi_app:app``).
Set REDIS_URL=redis://... to keep sessions in Redis.
"""

from __future__ import annotations

import typing

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from dualsessions import (
    SessionMiddleware,
    SessionStore,
    SessionStoreError,
    load_session,
    regenerate_session_id,
    set_session_lifetime,
)

from .store import make_store


async def session(request: Request) -> dict[str, typing.Any]:
    """A dependency that loads the session only for the endpoints that use it."""
    await load_session(request)
    return request.session


Session = typing.Annotated[dict[str, typing.Any], Depends(session)]


def create_app(store: SessionStore | None = None) -> FastAPI:
    app = FastAPI(title="dualsessions demo")
    # cookie_https_only=False as the demo runs on plain http; keep the default in production.
    app.add_middleware(
        SessionMiddleware,
        store=store or make_store(),
        lifetime=3600,
        cookie_https_only=False,
        user_key="user",
        on_store_error=sessions_unavailable,  # a 503 while the store is down, loading or saving
    )
    app.include_router(router)
    return app


def sessions_unavailable(request: Request, exc: SessionStoreError) -> Response:
    """The answer while the session store is down (the middleware logs the failure in one line)."""
    return PlainTextResponse(
        "Sessions are unavailable, try again shortly.", status_code=503, headers={"Retry-After": "5"}
    )


router = APIRouter()


@router.get("/")
async def whoami(session: Session) -> dict[str, typing.Any]:
    return {"user": session.get("user"), "count": session.get("count", 0)}


@router.post("/login")
async def login(request: Request, session: Session, user: str, remember: bool = False) -> dict[str, str]:
    regenerate_session_id(request)  # a new id at login: no session fixation
    session["user"] = user
    if remember:
        set_session_lifetime(request, 30 * 24 * 3600)
    return {"user": user}


@router.post("/count")
async def count(session: Session) -> dict[str, int]:
    session["count"] = session.get("count", 0) + 1
    return {"count": session["count"]}


@router.post("/logout")
async def logout(session: Session) -> dict[str, None]:
    session.clear()  # removes the record and deletes the cookie
    return {"user": None}


app = create_app()
