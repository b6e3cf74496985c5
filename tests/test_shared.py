"""One session across front ends: what one app writes, the others read and change."""

from __future__ import annotations

import typing

import pytest

from dualsessions import CookieStore, InMemoryStore
from dualsessions.stores.redis import RedisStore

from .apps import asgi_client, flask_client, quart_client, wsgi_client
from .conftest import SECRET


def stores(kind: str, redis_url: str) -> typing.Iterator[typing.Any]:
    """What each app is given: one InMemoryStore object, or a store per app sharing a secret or a server."""
    shared = InMemoryStore()
    while True:
        if kind == "memory":
            yield shared
        elif kind == "cookie":
            yield CookieStore(SECRET)
        else:
            yield RedisStore(url=redis_url)


@pytest.mark.parametrize("kind", ["memory", "cookie", "redis"])
@pytest.mark.parametrize(
    "order",
    [
        ("asgi", "wsgi", "flask"),
        ("flask", "wsgi", "asgi"),
        ("wsgi", "asgi", "flask"),
        ("quart", "flask", "asgi"),
        ("flask", "quart", "wsgi"),
    ],
    ids="-".join,
)
def test_a_session_passes_between_front_ends(
    kind: str, order: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    make = {"asgi": asgi_client, "wsgi": wsgi_client, "flask": flask_client, "quart": quart_client}
    supply = stores(kind, url)
    clients = [make[name](next(supply), lifetime=3600) for name in order]
    cookie = ""
    expected: dict[str, str] = {}
    for step, client in enumerate(clients * 2):  # twice round: each app reads the others' writes
        if cookie:
            client.headers["cookie"] = f"session={cookie}"
            assert client.get("/read").json() == expected
        expected[f"key{step}"] = order[step % len(order)]
        response = client.get("/set", params={f"key{step}": expected[f"key{step}"]})
        cookie = response.headers["set-cookie"].partition(";")[0].partition("=")[2]
    assert len(expected) == 2 * len(order)


def test_one_store_object_serves_both_middlewares_at_once() -> None:
    store = InMemoryStore()
    asgi, wsgi = asgi_client(store), wsgi_client(store)
    wsgi.get("/set?user=alice")
    asgi.headers["cookie"] = f"session={wsgi.cookies['session']}"
    asgi.get("/regenerate")  # the ASGI app moves the session to a new id: the old one is gone for all
    old = wsgi.cookies["session"]
    wsgi.headers["cookie"] = f"session={old}"
    assert wsgi.get("/read").json() == {}
    wsgi.headers["cookie"] = f"session={asgi.cookies['session']}"
    assert wsgi.get("/read").json() == {"user": "alice"}
