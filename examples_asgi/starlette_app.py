"""A Starlette app with a session: log in, count visits, log out.

Run it with ``scripts/demo`` (or ``uvicorn examples_asgi.starlette_app:app``) and open
http://127.0.0.1:8000. Set REDIS_URL=redis://... to keep sessions in Redis.
"""

from __future__ import annotations

import html
import urllib.parse

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from dualsessions import (
    SessionAutoloadMiddleware,
    SessionMiddleware,
    SessionStore,
    SessionStoreError,
    regenerate_session_id,
    set_session_lifetime,
)

from .store import make_store

PAGE = """<!doctype html>
<title>dualsessions demo</title>
<h1>dualsessions on Starlette</h1>
<p>{status}</p>
<p>Visits counted in this session: <b>{count}</b></p>
<form method="post" action="/count"><button>Count a visit</button></form>
{form}
{other}
"""
LOGIN_FORM = """<form method="post" action="/login">
<input name="user" placeholder="your name" required>
<label><input type="checkbox" name="remember" value="1"> remember me for 30 days</label>
<button>Log in</button></form>"""
LOGOUT_FORM = '<form method="post" action="/logout"><button>Log out</button></form>'


async def home(request: Request) -> Response:
    user = request.session.get("user")
    status = f"Logged in as <b>{html.escape(user)}</b>." if user else "Not logged in."
    form = LOGOUT_FORM if user else LOGIN_FORM
    other_url, other_name = request.app.state.other_side or ("", "")
    other = f'<p><a href="{other_url}">{other_name}</a></p>' if other_url else ""
    return HTMLResponse(
        PAGE.format(status=status, count=request.session.get("count", 0), form=form, other=other)
    )


async def login(request: Request) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode())
    user = form.get("user", [""])[0].strip()[:100]
    if user:
        regenerate_session_id(request)  # a new id at login: no session fixation
        request.session["user"] = user
        if form.get("remember"):
            set_session_lifetime(request, 30 * 24 * 3600)
    return RedirectResponse("/", status_code=303)


async def count(request: Request) -> Response:
    request.session["count"] = request.session.get("count", 0) + 1
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()  # removes the record and deletes the cookie
    return RedirectResponse("/", status_code=303)


def sessions_unavailable(request: Request, exc: SessionStoreError) -> Response:
    """The answer while the session store is down (the middleware logs the failure in one line)."""
    return PlainTextResponse(
        "Sessions are unavailable, try again shortly.", status_code=503, headers={"Retry-After": "5"}
    )


def create_app(store: SessionStore | None = None, other_side: tuple[str, str] | None = None) -> Starlette:
    """``other_side``: (url, name) of the other framework's app sharing the session, to link to."""
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/count", count, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
        ],
        middleware=[
            # cookie_https_only=False as the demo runs on plain http; keep the default in production.
            Middleware(
                SessionMiddleware,
                store=store or make_store(),
                lifetime=3600,
                cookie_https_only=False,
                user_key="user",  # names the user: `dualsessions revoke-user NAME` ends their sessions
                on_store_error=sessions_unavailable,  # a 503 while the store is down, loading or saving
            ),
            Middleware(SessionAutoloadMiddleware),
        ],
    )
    app.state.other_side = other_side
    return app


app = create_app()
