"""One process, two frameworks, one session: the Starlette example at /, the Flask example at /flask.

Run it with ``scripts/demo`` and open http://127.0.0.1:8000: log in on one side, and the other side
knows you. Both apps get the same store object (in memory, or Redis when REDIS_URL is set) and the
same cookie rules (name ``session``, path ``/``).

The Flask app is mounted through a2wsgi's ``WSGIMiddleware``, which runs each Flask request on a
pool of worker threads. asgiref's ``WsgiToAsgi`` is not used here: under uvicorn, the second Flask
request of a kept-alive connection failed in it with "CurrentThreadExecutor already quit or is
broken" (a 500), and browsers keep their connections alive.
"""

from __future__ import annotations

from a2wsgi import WSGIMiddleware
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
    # workers: at most this many Flask requests run at once (each on its own thread, blocking on the
    # store while it waits); more wait their turn. 10 is a2wsgi's default, written out to be seen.
    flask_side_asgi = WSGIMiddleware(flask_side, workers=10)
    return Starlette(routes=[Mount("/flask", app=flask_side_asgi), Mount("/", app=starlette_side)])


app = create_app()
