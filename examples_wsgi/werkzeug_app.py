"""A plain Werkzeug app with the WSGI session middleware: log in, count visits, log out.

Run it with ``scripts/demo werkzeug``. Set REDIS_URL=redis://... to keep sessions in Redis.
"""

from __future__ import annotations

import html

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from dualsessions import SessionStore, SessionStoreError
from dualsessions.wsgi import SessionMiddleware, get_session, regenerate_session_id
from examples_asgi.store import make_store  # the same store as the ASGI examples

PAGE = """<!doctype html>
<title>dualsessions demo (Werkzeug)</title>
<h1>dualsessions on Werkzeug</h1>
<p>{status}</p>
<p>Visits counted in this session: <b>{count}</b></p>
<form method="post" action="/count"><button>Count a visit</button></form>
{form}
"""
LOGIN_FORM = """<form method="post" action="/login">
<input name="user" placeholder="your name" required><button>Log in</button></form>"""
LOGOUT_FORM = '<form method="post" action="/logout"><button>Log out</button></form>'

URLS = Map(
    [
        Rule("/", endpoint="home", methods=["GET"]),
        Rule("/login", endpoint="login", methods=["POST"]),
        Rule("/count", endpoint="count", methods=["POST"]),
        Rule("/logout", endpoint="logout", methods=["POST"]),
    ]
)


def home(request: Request) -> Response:
    session = get_session(request.environ)
    user = session.get("user")
    status = f"Logged in as <b>{html.escape(user)}</b>." if user else "Not logged in."
    page = PAGE.format(status=status, count=session.get("count", 0), form=LOGOUT_FORM if user else LOGIN_FORM)
    return Response(page, content_type="text/html; charset=utf-8")


def login(request: Request) -> Response:
    user = request.form.get("user", "").strip()[:100]
    if user:
        regenerate_session_id(request.environ)  # a new id at login: no session fixation
        get_session(request.environ)["user"] = user
    return redirect("/", code=303)


def count(request: Request) -> Response:
    session = get_session(request.environ)
    session["count"] = session.get("count", 0) + 1
    return redirect("/", code=303)


def logout(request: Request) -> Response:
    get_session(request.environ).clear()  # removes the record and deletes the cookie
    return redirect("/", code=303)


VIEWS = {"home": home, "login": login, "count": count, "logout": logout}


@Request.application  # type: ignore[arg-type]
def application(request: Request) -> Response:
    try:
        endpoint, _ = URLS.bind_to_environ(request.environ).match()
    except (NotFound, MethodNotAllowed) as error:
        return error  # type: ignore[return-value]
    except HTTPException as error:  # pragma: no cover
        return error  # type: ignore[return-value]
    return VIEWS[endpoint](request)


def sessions_unavailable(environ: dict[str, object], exc: SessionStoreError) -> Response:
    """The answer while the store is down (Redis stopped, say): a 503, logged as one line."""
    return Response("Sessions are unavailable, try again shortly.", 503, {"Retry-After": "5"})


def create_app(store: SessionStore | None = None) -> SessionMiddleware:
    # cookie_https_only=False as the demo runs on plain http; keep the default in production.
    return SessionMiddleware(
        application,
        store=store or make_store(),
        lifetime=3600,
        cookie_https_only=False,
        user_key="user",
        on_store_error=sessions_unavailable,
    )


app = create_app()
