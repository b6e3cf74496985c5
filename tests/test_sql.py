"""SQLStore on SQLite (file and memory) and a real PostgreSQL server: statements per request, engines
of either flavour, the table as the user's, hashed ids, batches, and the CLI on SQL URLs. The rules
scenarios run on SQL too (``tests/test_rules.py``, ``tests/test_lifecycle.py``)."""

from __future__ import annotations

import asyncio
import json
import socket
import typing

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import dualsessions
from dualsessions import admin, generate_session_id
from dualsessions.stores.sql import SQLStore, session_table

from .conftest import Clock
from .test_lifecycle import HTTP, LOGIN, App, log_in

DATA = b'{"user":"ada"}'


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest, tmp_path: typing.Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/sessions.db"
    return typing.cast(str, request.getfixturevalue("postgres_url"))


@pytest.fixture
def sql_store(sql_url: str) -> typing.Iterator[SQLStore]:
    store = SQLStore(sql_url)
    store.create_table()
    yield store
    store.close()


class Statements:
    """Counts the statements the store's sync engine runs (not the table's creation)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.run: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: typing.Any) -> None:
        self.run.append(str(args[2]).split(None, 1)[0].upper())

    def __call__(self) -> list[str]:
        run, self.run = self.run, []
        return run


@pytest.mark.parametrize("front", ["wsgi", "flask"])
def test_statements_per_request(front: str, sql_store: SQLStore) -> None:
    """As on Redis: nothing for a request that never uses the session, one statement to read (a
    rolling one extends the row in the same UPDATE ... RETURNING), one to write, one for a new visitor."""
    statements = Statements(sql_store.sync_engine())
    app = App(front, sql_store, {"lifetime": 600})
    client, _ = log_in(app)
    assert statements() == ["INSERT"]  # the new visitor's record, one upsert
    client.get("/untouched")
    assert statements() == []
    assert client.get("/read").json() == LOGIN
    assert statements() == ["SELECT"]
    client.get("/set?theme=light")
    assert statements() == ["SELECT", "UPDATE"]  # read, then the conditional write
    rolling = App(front, sql_store, {"lifetime": 600, "rolling": True})
    rolling_client, _ = log_in(rolling)
    statements()
    assert rolling_client.get("/read").json() == LOGIN
    assert statements() == ["UPDATE"]  # read and extended in one statement


def test_an_async_app_uses_an_async_engine_and_a_wsgi_app_a_sync_one(sql_url: str) -> None:
    """Given a sync Engine, the store makes its AsyncEngine from the same URL (and the reverse)."""
    sync_engine = sa.create_engine(sql_url.replace("sqlite:", "sqlite+pysqlite:"))
    store = SQLStore(engine=sync_engine)
    store.create_table()
    session_id = generate_session_id()
    store.sync.write(session_id, DATA, 60, 60)

    async def read_async() -> tuple[bytes, str]:
        data = await store.read(session_id, 60)
        engine = store._async_engines.now()
        assert engine is not None
        return data, engine.dialect.driver

    data, driver = asyncio.run(read_async())
    assert data == DATA and driver in ("aiosqlite", "psycopg")
    store.close()

    async_only = SQLStore(engine=create_async_engine(sql_url.replace("sqlite:", "sqlite+aiosqlite:")))
    assert async_only.sync.read(session_id, 60) == DATA  # its sync engine, made from the URL
    assert async_only.sync_engine().dialect.driver in ("pysqlite", "psycopg")
    async_only.close()


def test_the_table_is_the_users(sql_url: str) -> None:
    """The table definition goes into the app's own metadata (its migrations create it); the store
    then finds it by name and schema."""
    metadata = sa.MetaData()
    table = session_table(metadata, name="web_sessions")
    engine = sa.create_engine(sql_url)
    metadata.create_all(engine)
    store = SQLStore(engine=engine, table_name="web_sessions")
    session_id = generate_session_id()
    store.sync.write(session_id, DATA, 60, 60)
    with engine.connect() as connection:
        assert connection.execute(sa.select(table.c.id)).scalars().all() == [session_id]
    assert [column.name for column in table.columns] == ["id", "data", "expires", "owner"]
    store.close()


def test_acreate_table_creates_it_from_async_code(sql_url: str) -> None:
    store = SQLStore(sql_url, table_name="made_async")

    async def scenario() -> bytes:
        await store.acreate_table()
        session_id = generate_session_id()
        await store.write(session_id, DATA, 60, 60)
        return await store.read(session_id, 60)

    assert asyncio.run(scenario()) == DATA
    store.close()


def test_in_memory_sqlite_serves_both_flavours_from_one_database() -> None:
    store = SQLStore("sqlite://")
    session_id = generate_session_id()
    store.sync.write(session_id, DATA, 60, 60)
    assert asyncio.run(store.read(session_id, 60)) == DATA
    for front in HTTP:
        app = App(front, store)
        _, new_id = log_in(app)
        assert app.read(new_id) == LOGIN
    store.close()  # (which ends the database: it is its one connection)


def test_hashed_ids_never_appear_in_the_table(sql_store: SQLStore, sql_url: str) -> None:
    hashed = SQLStore(sql_url, hash_ids="id key")
    app = App("wsgi", hashed, {"user_key": "user"})
    _, session_id = log_in(app)
    with hashed.sync_engine().connect() as connection:
        ids = connection.execute(sa.select(hashed.table.c.id)).scalars().all()
    assert session_id not in ids and ids == [hashed.key(session_id)]
    assert app.read(ids[0]) == {}  # a dumped row id is not a cookie
    assert dualsessions.revoke_user_sessions(hashed, "ada") == 1
    assert app.read(session_id) == {}
    with pytest.raises(dualsessions.ImproperlyConfigured, match="hashed"):
        admin.session_ids(hashed)
    hashed.close()


def test_listing_pages_and_purging_batches(sql_url: str, clock: Clock) -> None:
    store = SQLStore(sql_url, page_size=7)
    store.create_table()
    ids = sorted(generate_session_id() for _ in range(30))
    for n, session_id in enumerate(ids):
        store.sync.write(session_id, DATA, 60 if n % 2 else 600, 60 if n % 2 else 600)
    assert sorted(admin.session_ids(store)) == ids
    assert [session_id for session_id, _ in admin.session_records(store, batch=4)] == ids
    clock.advance(61)
    assert admin.count_sessions(store) == 15
    assert admin.purge_expired(store) == 15  # three DELETEs of at most 7 rows
    assert sorted(admin.session_ids(store)) == ids[::2]
    store.close()


def test_revoking_is_one_statement_and_counts_live_sessions(sql_store: SQLStore, clock: Clock) -> None:
    app = App("wsgi", sql_store, {"user_key": "user", "lifetime": 60})
    log_in(app)
    clock.advance(61)
    _, live = log_in(app)
    statements = Statements(sql_store.sync_engine())
    assert dualsessions.revoke_user_sessions(sql_store, "ada") == 1
    assert statements() == ["DELETE"]
    assert app.read(live) == {}


def test_the_command_works_on_sql_urls(
    sql_store: SQLStore, sql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from dualsessions import cli

    app = App("wsgi", sql_store, {"user_key": "user"})
    _, session_id = log_in(app)
    assert cli.main(["--store", sql_url, "--json", "count"]) == 0
    assert json.loads(capsys.readouterr().out) == {"count": 1}
    assert cli.main(["--store", sql_url, "show", session_id]) == 0
    assert "ada" in capsys.readouterr().out
    assert cli.main(["--store", sql_url, "revoke-user", "ada"]) == 0
    assert capsys.readouterr().out == "revoked 1 session(s) of ada\n"
    assert app.read(session_id) == {}


@pytest.mark.parametrize(
    ("url", "sync_driver", "async_driver"),
    [
        ("postgresql://app@db/app", "psycopg", "psycopg"),  # no driver named: the extra's
        ("postgresql+psycopg://app@db/app", "psycopg", "psycopg"),
        ("postgresql+asyncpg://app@db/app", "psycopg", "asyncpg"),
        ("postgresql+psycopg_async://app@db/app", "psycopg", "psycopg_async"),
        ("sqlite:///x.db", "pysqlite", "aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "pysqlite", "aiosqlite"),
    ],
)
def test_each_flavour_gets_a_driver_of_its_own(url: str, sync_driver: str, async_driver: str) -> None:
    from dualsessions.stores.sql import _ASYNC_DRIVERS, _SYNC_DRIVERS

    store = SQLStore(url)
    assert store._driven(_SYNC_DRIVERS, sync=True).get_driver_name() == sync_driver
    assert store._driven(_ASYNC_DRIVERS, sync=False).get_driver_name() == async_driver


def test_unsupported_databases_and_shared_memory_engines_are_refused_at_once() -> None:
    with pytest.raises(dualsessions.ImproperlyConfigured, match="SQLite and PostgreSQL"):
        SQLStore("mysql://app@db/app")
    with pytest.raises(dualsessions.ImproperlyConfigured, match="in-memory"):
        SQLStore(engine=sa.create_engine("sqlite://"))


def test_a_forked_worker_makes_connections_of_its_own(postgres_url: str) -> None:
    """gunicorn --preload forks after the app (and its store) was made: the child must not use the
    parent's pooled connection, or two processes would talk over one socket."""
    import os

    store = SQLStore(postgres_url)
    store.create_table()  # leaves a connection in the pool, as an app's startup does
    session_id = generate_session_id()
    store.sync.write(session_id, DATA, 60, 60)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        ok = all(store.sync.read(session_id, 60) == DATA for _ in range(50))
        os._exit(0 if ok else 1)
    parent_reads = [store.sync.read(session_id, 60) for _ in range(50)]
    _, status = os.waitpid(child, 0)
    assert status == 0 and parent_reads == [DATA] * 50
    store.close()


def test_the_test_postgres_starts_on_another_port_when_its_own_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite's PostgreSQL picks its port before starting: one taken meanwhile is not a failure."""
    from . import postgres_server

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        picks = [held]
        free_port = postgres_server.free_port
        monkeypatch.setattr(postgres_server, "free_port", lambda: picks.pop() if picks else free_port())
        with postgres_server.running_postgres() as url:
            assert f":{held}/" not in url
            engine = sa.create_engine(url)
            try:
                with engine.connect() as connection:
                    assert connection.execute(sa.text("select 1")).scalar() == 1
            finally:
                engine.dispose()
