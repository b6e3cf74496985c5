"""Concurrent requests on one session: with ``concurrency="merge"`` changes to different keys made at
the same time all survive, on every front end; the default stays last-writer-wins."""

from __future__ import annotations

import asyncio
import threading
import typing

import httpx2
import pytest

from dualsessions import CookieStore, ImproperlyConfigured, InMemoryStore, SessionMiddleware
from dualsessions.stores.redis import RedisStore

from .apps import FRONTENDS, asgi_app, flask_app, wsgi_app
from .conftest import SECRET
from .test_asgi import SlowJsonSerializer

REQUESTS = 50


@pytest.fixture(params=["memory", "redis"])
def merge_store(request: pytest.FixtureRequest) -> typing.Any:
    return (
        RedisStore(url=request.getfixturevalue("redis_url")) if request.param == "redis" else InMemoryStore()
    )


def fire_asgi(app: typing.Any, cookie: str) -> list[int]:
    async def main() -> list[int]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
            client.headers["cookie"] = f"session={cookie}"
            responses = await asyncio.gather(*(client.get(f"/set?k{n}=1") for n in range(REQUESTS)))
        return [response.status_code for response in responses]

    return asyncio.run(main())


def fire_wsgi(app: typing.Any, cookie: str) -> list[int]:
    statuses: list[int] = []
    start = threading.Barrier(REQUESTS)

    def one(n: int) -> None:
        with httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver") as client:
            client.headers["cookie"] = f"session={cookie}"
            start.wait()
            statuses.append(client.get(f"/set?k{n}=1").status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.parametrize("frontend", ["asgi", "wsgi", "flask"])
def test_fifty_concurrent_changes_to_different_keys_all_survive(
    frontend: str, merge_store: typing.Any
) -> None:
    build = {"asgi": asgi_app, "wsgi": wsgi_app, "flask": lambda s, **o: flask_app(s, rolling=False, **o)}[
        frontend
    ]
    app = build(merge_store, concurrency="merge")
    client = FRONTENDS[frontend](merge_store, concurrency="merge")
    client.get("/set?seed=1")
    cookie = client.cookies["session"]

    statuses = (fire_asgi if frontend == "asgi" else fire_wsgi)(app, cookie)

    assert statuses == [200] * REQUESTS
    client.headers["cookie"] = f"session={cookie}"
    assert client.get("/read").json() == {"seed": "1", **{f"k{n}": "1" for n in range(REQUESTS)}}


def test_a_merge_never_brings_back_a_session_ended_meanwhile() -> None:
    store = InMemoryStore()
    client = FRONTENDS["wsgi"](store, concurrency="merge")
    client.get("/set?user=alice")
    cookie = client.cookies["session"]

    # A request loads the session, then another request logs out, then the first one saves.
    app = wsgi_app(store, concurrency="merge")
    import dualsessions.wsgi as wsgi_sessions

    def handler(environ: typing.Any, start_response: typing.Any) -> list[bytes]:
        session = wsgi_sessions.get_session(environ)
        store.sync.remove(cookie)  # the logout, landing between this request's load and save
        session["theme"] = "dark"
        start_response("200 OK", [])
        return [b"ok"]

    app.app = handler
    with httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="https://testserver") as other:
        other.headers["cookie"] = f"session={cookie}"
        assert other.get("/").status_code == 200
    assert cookie not in store.data


def test_merge_needs_a_store_and_serializer_that_can() -> None:
    with pytest.raises(ImproperlyConfigured, match="concurrency='merge' needs"):
        SessionMiddleware(lambda s, r, e: None, store=CookieStore(SECRET), concurrency="merge")  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="concurrency='merge' needs"):
        SessionMiddleware(
            lambda s, r, e: None,  # type: ignore[arg-type]
            store=InMemoryStore(),
            serializer=SlowJsonSerializer(),
            concurrency="merge",
        )
    with pytest.raises(ImproperlyConfigured, match="'last-writer-wins' or 'merge'"):
        SessionMiddleware(lambda s, r, e: None, store=InMemoryStore(), concurrency="optimistic")  # type: ignore[arg-type]
