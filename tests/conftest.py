from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy

import dualsessions
from dualsessions import _clock
from dualsessions.stores.redis import RedisStore

from .apps import FRONTENDS
from .postgres_server import running_postgres
from .redis_server import RedisCluster, RedisSentinelSet, RedisServer, running_redis
from .stores import AsyncDictStore, SyncDictStore

SECRET = "test secret"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of the test's own, which the test may stop and start."""
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    for node in redis_cluster.nodes:
        with node.client() as client:
            client.flushall()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinelSet]:
    servers = RedisSentinelSet()
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


@pytest.fixture
def redis_sentinel_url(redis_sentinel: RedisSentinelSet) -> str:
    host, port = redis_sentinel.master_address()
    with redis.Redis(host=host, port=port) as client:
        client.flushall()
    return redis_sentinel.url


STORE_KINDS = [
    "memory",
    "cookie",
    "redis",
    "redis-hashed-ids",
    "redis-cluster",
    "redis-sentinel",
    "sync-custom",
    "async-custom",
    "sql-sqlite",
    "sql-postgres",
]
URL_FIXTURES = {
    "redis": "redis_url",
    "redis-hashed-ids": "redis_url",
    "redis-cluster": "redis_cluster_url",
    "redis-sentinel": "redis_sentinel_url",
}


def build_store(kind: str, redis_url: str | None = None) -> typing.Any:
    if kind == "memory":
        return dualsessions.InMemoryStore()
    if kind == "cookie":
        return dualsessions.CookieStore(SECRET)
    if kind == "redis-hashed-ids":
        assert redis_url is not None
        return RedisStore(url=redis_url, hash_ids="id hashing key")
    if kind.startswith("redis"):
        assert redis_url is not None
        return RedisStore(url=redis_url)
    if kind == "sync-custom":
        return SyncDictStore()
    if kind == "async-custom":
        return AsyncDictStore()
    raise ValueError(kind)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The server's URL, its sessions table emptied first (tests that build a store create it)."""
    engine = sqlalchemy.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))  # every test's tables
        connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_server


def build_sql_store(url: str) -> typing.Any:
    from dualsessions.stores.sql import SQLStore

    store = SQLStore(url)
    store.create_table()
    return store


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return typing.cast(str, request.param)


@pytest.fixture
def store(store_kind: str, request: pytest.FixtureRequest) -> Iterator[typing.Any]:
    if store_kind.startswith("sql-"):
        url = (
            f"sqlite:///{request.getfixturevalue('tmp_path')}/sessions.db"
            if store_kind == "sql-sqlite"
            else request.getfixturevalue("postgres_url")
        )
        sql_store = build_sql_store(url)
        yield sql_store
        sql_store.close()
        return
    url = request.getfixturevalue(URL_FIXTURES[store_kind]) if store_kind in URL_FIXTURES else None
    yield build_store(store_kind, url)


@pytest.fixture(params=sorted(FRONTENDS))
def frontend(request: pytest.FixtureRequest) -> typing.Callable[..., typing.Any]:
    """Makes a cookie-keeping client for an app on one front end: ``frontend(store, **options)``."""
    return FRONTENDS[request.param]


class Clock:
    """Time as dualsessions sees it, moved by the test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(float(int(_clock.now())))  # a whole second: records keep times to the millisecond
    monkeypatch.setattr(_clock, "now", fake)
    return fake


Run = typing.Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv)``: the ``dualsessions`` command run in-process; its exit status, stdout and stderr."""
    from dualsessions import cli

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
