"""A Quart app with a dualsessions session: log in, count visits, log out.

Run it with ``scripts/demo quart`` (hypercorn) and open http://127.0.0.1:8000. Set REDIS_URL=redis://...
to keep sessions in Redis; the Flask and Starlette examples run with the same REDIS_URL share the login.
"""

from __future__ import annotations

import html
import typing

from quart import Quart, redirect, request, session, url_for

from dualsessions import SessionStore, SessionStoreError
from dualsessions.quart import DualSessions, regenerate_session_id, set_session_lifetime

from .store import make_store

PAGE = """<!doctype html>
<title>dualsessions demo (Quart)</title>
<h1>dualsessions on Quart</h1>
<p>{status}</p>
<p>Visits counted in this session: <b>{count}</b></p>
<form method="post" action="{count_url}"><button>Count a visit</button></form>
{form}
"""
LOGIN_FORM = """<form method="post" action="{url}">
<input name="user" placeholder="your name" required>
<label><input type="checkbox" name="remember" value="1"> remember me for 30 days</label>
<button>Log in</button></form>"""
LOGOUT_FORM = '<form method="post" action="{url}"><button>Log out</button></form>'


def create_app(store: SessionStore | None = None) -> Quart:
    app = Quart(__name__)
    # The Flask example's options, so that the two (and the Starlette example) share one session:
    # cookie_https_only=False as the demo runs on plain http; keep it on in production.
    DualSessions(
        app,
        store=store or make_store(),
        lifetime=3600,
        cookie_https_only=False,
        rolling=False,
        user_key="user",
    )

    @app.get("/")
    async def home() -> str:
        user = session.get("user")
        status = f"Logged in as <b>{html.escape(user)}</b>." if user else "Not logged in."
        form = (LOGOUT_FORM if user else LOGIN_FORM).format(url=url_for("logout" if user else "login"))
        count = session.get("count", 0)
        return PAGE.format(status=status, count=count, count_url=url_for("count"), form=form)

    @app.post("/login")
    async def login() -> typing.Any:
        form = await request.form
        user = form.get("user", "").strip()[:100]
        if user:
            regenerate_session_id()  # a new id at login: no session fixation
            session["user"] = user
            if form.get("remember"):
                set_session_lifetime(30 * 24 * 3600)
        return redirect(url_for("home"), code=303)

    @app.post("/count")
    async def count() -> typing.Any:
        session["count"] = session.get("count", 0) + 1
        return redirect(url_for("home"), code=303)

    @app.post("/logout")
    async def logout() -> typing.Any:
        session.clear()  # removes the record and deletes the cookie
        return redirect(url_for("home"), code=303)

    @app.errorhandler(500)  # sees store failures where the view uses the session, and while saving
    async def store_down(error: typing.Any) -> typing.Any:
        if isinstance(getattr(error, "original_exception", None), SessionStoreError):
            return "Sessions are unavailable, try again shortly.", 503, {"Retry-After": "5"}
        return "Internal Server Error", 500

    return app


app = create_app()
