"""One process, two frameworks, one session: the Starlette example at /, the Flask example at /flask.

Run it with ``scripts/demo`` and open http://127.0.0.1:8000: log in on one side, and the other side
knows you. Both apps get the same store object (in memory, or Redis when REDIS_URL is set) and the
same cookie rules (name ``session``, path ``/``).
"""

from __future__ import annotations

from asgiref.wsgi import WsgiToAsgi
from starlette.applications import Starlette
from starlette.routing import Mount

from dualsessions import SessionStore
from examples_asgi import starlette_app
from examples_asgi.store import make_store
from examples_wsgi import flask_app


def create_app(store: SessionStore | None = None) -> Starlette:
    store = store or make_store()
    flask_side = flask_app.create_app(store, other_side=("/", "The Starlette side of this session"))
    starlette_side = starlette_app.create_app(store, other_side=("/flask/", "The Flask side of this session"))
    return Starlette(routes=[Mount("/flask", app=WsgiToAsgi(flask_side)), Mount("/", app=starlette_side)])


app = create_app()
