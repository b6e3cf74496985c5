"""Beyond one Redis: a real 3-master Cluster and a master/replica/Sentinel set on loopback.

The rules scenarios also run on both (``redis-cluster`` and ``redis-sentinel`` in
``tests/test_rules.py``); here are what only they have: keys on different slots, and a failover.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterator

import pytest
import redis

from dualsessions import ImproperlyConfigured, revoke_user_sessions
from dualsessions.admin import count_sessions, purge_expired
from dualsessions.stores.redis import RedisStore

from .apps import FRONTENDS
from .redis_server import RedisSentinelSet


@pytest.mark.parametrize("frontend", ["asgi", "wsgi", "flask"])
def test_user_index_and_listing_across_cluster_slots(frontend: str, redis_cluster_url: str) -> None:
    store = RedisStore(url=redis_cluster_url)
    clients = [FRONTENDS[frontend](store, user_key="user") for _ in range(6)]
    for number, client in enumerate(clients):  # six sessions: their keys land on several slots
        client.get(f"/set?user={'ada' if number % 2 else 'bob'}")
    assert count_sessions(store) == 6  # SCAN on every master

    assert revoke_user_sessions(store, "ada") == 3
    assert count_sessions(store) == 3
    for number, client in enumerate(clients):
        assert client.get("/read").json() == ({} if number % 2 else {"user": "bob"})
    assert purge_expired(store) == 0
    store.close()


@pytest.fixture
def sentinel_set() -> Iterator[RedisSentinelSet]:
    servers = RedisSentinelSet()
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


def test_sessions_survive_a_sentinel_failover(sentinel_set: RedisSentinelSet) -> None:
    store = RedisStore(url=sentinel_set.url, timeout=1)
    clients = {name: FRONTENDS[name](store) for name in ("asgi", "wsgi")}
    for name, client in clients.items():
        client.get(f"/set?written_by={name}")
    host, port = sentinel_set.master_address()
    with redis.Redis(host=host, port=port) as master:
        assert master.wait(1, 5000) == 1  # the replica has every session

    sentinel_set.master.stop()
    deadline = time.monotonic() + 30
    while sentinel_set.master_address() == (host, port):
        assert time.monotonic() < deadline, "no failover"
        time.sleep(0.2)

    for name, client in clients.items():  # within the failover time, requests succeed again
        assert _eventually(lambda c=client: c.get("/read").json(), deadline) == {"written_by": name}
        client.get("/set?after=failover")
        assert client.get("/read").json() == {"written_by": name, "after": "failover"}
    store.close()


def _eventually(call: typing.Callable[[], typing.Any], deadline: float) -> typing.Any:
    from dualsessions import SessionStoreError

    while True:
        try:
            return call()
        except SessionStoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://localhost/", "is not host:port"),
        ("redis+sentinel://localhost:26379/", "names the master"),
        ("redis+sentinel://localhost:26379/mymaster/x", "names the master"),
        ("redis+cluster://a:1,b/", "is not host:port"),
    ],
)
def test_cluster_and_sentinel_urls_are_checked(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        RedisStore(url=url)


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://u:S3CRET@h:notaport/", "redis+sentinel://:S3CRET@h:1/", "redis://:S3CRET@h:99x/0"],
)
def test_url_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        RedisStore(url=url)
    assert "S3CRET" not in str(error.value)


def test_descriptions_name_every_seed_without_credentials() -> None:
    store = RedisStore(url="redis+sentinel://:secret@s1:26379,s2:26379/mymaster/2")
    assert repr(store) == "RedisStore(redis+sentinel://s1:26379,s2:26379/mymaster/2)"
