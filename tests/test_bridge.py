"""Stores of one flavour serving the other front end: across asgiref's WsgiToAsgi, forks, and a
background loop that dies."""

from __future__ import annotations

import asyncio
import os
import typing

import flask
import pytest
from asgiref.wsgi import WsgiToAsgi
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

import dualsessions
from dualsessions import InMemoryStore, SessionStoreError, _bridge
from dualsessions.flask import DualSessions
from dualsessions.wsgi import SessionMiddleware as WsgiSessionMiddleware

from .apps import wsgi_client
from .stores import AsyncDictStore, SyncDictStore
from .test_wsgi import AsyncRedisStore


async def count_on_starlette(request: Request) -> Response:
    await dualsessions.load_session(request)
    request.session["count"] = request.session.get("count", 0) + 1
    return JSONResponse(request.session)


def test_async_store_shared_by_an_asgi_app_and_a_wsgi_app_mounted_in_it(redis_url: str) -> None:
    """Under WsgiToAsgi the WSGI side's store calls go back to the server's loop, the loop the ASGI
    side uses: a client tied to a loop (redis.asyncio) is never used from two loops."""
    store = AsyncRedisStore(redis_url)
    flask_app = flask.Flask(__name__)
    DualSessions(flask_app, store=store, cookie_https_only=True, rolling=False)

    @flask_app.get("/count")
    def count_on_flask() -> typing.Any:
        flask.session["count"] = flask.session.get("count", 0) + 1
        return dict(flask.session)

    app = Starlette(routes=[Route("/count", count_on_starlette), Mount("/flask", app=WsgiToAsgi(flask_app))])
    app.add_middleware(dualsessions.SessionMiddleware, store=store)
    with TestClient(app, base_url="https://testserver") as client:
        counts = [client.get(path).json()["count"] for path in ["/count", "/flask/count"] * 10]
        client.portal.call(store.client.aclose)  # type: ignore[union-attr]
    assert counts == list(range(1, 21))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a process with threads
def test_stores_work_in_a_forked_child() -> None:
    """A child inherits neither the parent's worker threads nor its background loop's thread."""
    threaded = _bridge.async_store(SyncDictStore())[0]
    bridged = _bridge.sync_store(AsyncDictStore())[0]
    asyncio.run(threaded.write("parent", b"x", 0, 60))
    bridged.write("parent", b"x", 0, 60)

    pid = os.fork()
    if pid == 0:  # the child: both must work, not wait forever on threads that aren't there
        try:
            asyncio.run(asyncio.wait_for(threaded.write("child", b"y", 0, 60), 5))
            bridged.write("child", b"y", 0, 60)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


class StopsTheLoop(AsyncDictStore):
    """An async store that stops the loop it runs on, once: the worst a store can do to the portal."""

    stopped = False

    async def read(self, session_id: str, lifetime: int) -> bytes:
        if not self.stopped:
            self.stopped = True
            asyncio.get_running_loop().stop()
            await asyncio.sleep(3600)
        return await super().read(session_id, lifetime)


def test_a_dead_background_loop_fails_the_call_and_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    client = wsgi_client(StopsTheLoop())
    client.headers["cookie"] = "session=0123456789abcdef0123456789abcdef"
    with pytest.raises(SessionStoreError, match="CancelledError"):
        client.get("/read")
    assert client.get("/read").json() == {}  # a new background loop serves the next request


def test_sync_store_under_wsgi_and_memory_store_need_no_bridge() -> None:
    sync_store = SyncDictStore()
    assert _bridge.sync_store(sync_store)[0] is sync_store
    memory = InMemoryStore()
    assert _bridge.sync_store(memory)[0] is memory.sync
    assert _bridge.async_store(memory)[0] is memory
    assert WsgiSessionMiddleware(lambda e, s: [], store=memory).engine.store is memory.sync
