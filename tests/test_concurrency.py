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

REQUESTS = 100


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
def test_a_hundred_concurrent_changes_to_different_keys_all_survive(
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
        response = other.get("/")
    assert response.status_code == 200
    assert cookie not in store.data
    assert "set-cookie" not in response.headers  # no cookie for a session that is gone


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


def test_merges_count_equal_values_of_another_type_as_changes() -> None:
    from dualsessions.core import SessionConfig, SessionState

    state = SessionState(SessionConfig.from_options({"concurrency": "merge"}), "a" * 32)
    session = state.load({"flag": 1, "ratio": 1, "same": 1}, raw=b"x")
    session["flag"], session["ratio"], session["same"] = True, 1.0, 1
    assert state.changes_since({"flag": 1, "ratio": 1, "same": 1}) == ({"flag": True, "ratio": 1.0}, ())


def test_a_merge_keeps_metadata_another_request_changed_meanwhile() -> None:
    from dualsessions.core import METADATA_KEY, merge_record

    current = {"a": 1, METADATA_KEY: {"lifetime": 2592000, "created": 1.0, "last_access": 5.0, "user": "ada"}}
    merged = merge_record(current, {"b": 2}, ("a",), {"last_access": 9.0})
    assert merged == {
        "b": 2,
        METADATA_KEY: {"lifetime": 2592000, "created": 1.0, "last_access": 9.0, "user": "ada"},
    }
    assert merge_record(None, {"b": 2}, (), {"last_access": 9.0}) is None
    logged_out = merge_record(current, {}, (), {"last_access": 9.0, "user": None})
    assert logged_out is not None and "user" not in logged_out[METADATA_KEY]
