"""A Flask app with a dualsessions session: log in, count visits, log out.

Run it alone with ``scripts/demo flask``, or with the Starlette example in one process with
``scripts/demo`` (it is mounted under /flask there, sharing the session). Set REDIS_URL=redis://...
to keep sessions in Redis; the Starlette example run with the same REDIS_URL shares the login.
"""

from __future__ import annotations

import html
import typing

from flask import Flask, redirect, request, session, url_for

from dualsessions import SessionStore, SessionStoreError
from dualsessions.flask import DualSessions, regenerate_session_id, set_session_lifetime
from examples_asgi.store import make_store  # the same store as the ASGI examples

PAGE = """<!doctype html>
<title>dualsessions demo (Flask)</title>
<h1>dualsessions on Flask</h1>
<p>{status}</p>
<p>Visits counted in this session: <b>{count}</b></p>
<form method="post" action="{count_url}"><button>Count a visit</button></form>
{form}
{other}
"""
LOGIN_FORM = """<form method="post" action="{url}">
<input name="user" placeholder="your name" required>
<label><input type="checkbox" name="remember" value="1"> remember me for 30 days</label>
<button>Log in</button></form>"""
LOGOUT_FORM = '<form method="post" action="{url}"><button>Log out</button></form>'


def create_app(store: SessionStore | None = None, other_side: tuple[str, str] | None = None) -> Flask:
    app = Flask(__name__)
    # cookie_https_only=False as the demo runs on plain http; keep it on in production.
    # rolling=False as on the Starlette side, with which it shares the session in the combined demo.
    DualSessions(
        app,
        store=store or make_store(),
        lifetime=3600,
        cookie_https_only=False,
        rolling=False,
        user_key="user",
    )

    @app.get("/")
    def home() -> str:
        user = session.get("user")
        status = f"Logged in as <b>{html.escape(user)}</b>." if user else "Not logged in."
        form = (LOGOUT_FORM if user else LOGIN_FORM).format(url=url_for("logout" if user else "login"))
        other = f'<p><a href="{other_side[0]}">{other_side[1]}</a></p>' if other_side else ""
        count = session.get("count", 0)
        return PAGE.format(status=status, count=count, count_url=url_for("count"), form=form, other=other)

    @app.post("/login")
    def login() -> typing.Any:
        user = request.form.get("user", "").strip()[:100]
        if user:
            regenerate_session_id()  # a new id at login: no session fixation
            session["user"] = user
            if request.form.get("remember"):
                set_session_lifetime(30 * 24 * 3600)
        return redirect(url_for("home"), code=303)

    @app.post("/count")
    def count() -> typing.Any:
        session["count"] = session.get("count", 0) + 1
        return redirect(url_for("home"), code=303)

    @app.post("/logout")
    def logout() -> typing.Any:
        session.clear()  # removes the record and deletes the cookie
        return redirect(url_for("home"), code=303)

    @app.errorhandler(500)  # sees store failures while loading and while saving
    def store_down(error: typing.Any) -> typing.Any:
        if isinstance(getattr(error, "original_exception", None), SessionStoreError):
            return "Sessions are unavailable, try again shortly.", 503, {"Retry-After": "5"}
        return "Internal Server Error", 500

    return app


app = create_app()
