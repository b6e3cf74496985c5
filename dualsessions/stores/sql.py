"""Sessions in a SQL database, on SQLAlchemy 2, natively in both flavours: a sync ``Engine`` for sync
code and an ``AsyncEngine`` per event loop for async code.

Requires the ``sql`` extra: ``pip install 'dualsessions[sql]'`` (SQLAlchemy, with ``aiosqlite`` and
``psycopg`` for SQLite and PostgreSQL in both flavours).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sqlite3
import threading
import time
import typing
import weakref

from ..exceptions import ImproperlyConfigured
from ._async_sql import AsyncSQLOperations
from ._loops import PerLoop
from ._sync_sql import SyncSQLOperations
from .base import DualSessionStore, NoIOStore

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("SQLStore needs SQLAlchemy: pip install 'dualsessions[sql]'") from exc

__all__ = ["SQLStore", "session_table"]

DEFAULT_GC_TTL = 30 * 24 * 3600
_MERGE_PATIENCE = 10.0
#: The drivers each flavour uses when the store makes its engine of the other flavour from a URL.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg"}
_SYNC_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
_ASYNC_ONLY = {"aiosqlite", "asyncpg", "psycopg_async"}
#: Every SQLStore, so that a forked child (gunicorn --preload) drops the connections it inherited.
_STORES: weakref.WeakSet[SQLStore] = weakref.WeakSet()


def session_table(
    metadata: sa.MetaData | None = None, name: str = "dualsessions", schema: str | None = None
) -> sa.Table:
    """The sessions table, for your own migrations (Alembic): put it in your ``MetaData``.

    ``id`` is the session id (with ``hash_ids``, a keyed hash of it), ``data`` the record's bytes,
    ``expires`` when it ends (Unix time; rows past it are never read and ``purge_expired`` deletes
    them), ``owner`` the user the per-user index files it under."""
    return sa.Table(
        name,
        metadata if metadata is not None else sa.MetaData(),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("expires", sa.Float, nullable=False, index=True),
        sa.Column("owner", sa.String(255), nullable=True, index=True),
        schema=schema,
    )


class SQLStore(AsyncSQLOperations, DualSessionStore):
    """Stores sessions in one table (:func:`session_table`), in the database of ``url`` or ``engine``.

    ``engine`` may be a sync ``Engine``, an ``AsyncEngine``, or one of each; the missing flavour is
    made from the same URL (SQLite: ``pysqlite``/``aiosqlite``; PostgreSQL: ``psycopg`` for both).
    Async engines belong to an event loop, so each running loop gets its own, disposed of when that
    loop shuts down. ``sqlite://`` (in memory) has one connection, used by both flavours directly.
    Create the table with :meth:`create_table` / :meth:`acreate_table`, or in your migrations.
    """

    expires_records = True

    def __new__(cls, *args: typing.Any, **kwargs: typing.Any) -> SQLStore:
        url = kwargs.get("url", args[0] if args else None)
        if cls is SQLStore and url is not None and _in_memory(sa.make_url(url)):
            return super().__new__(_InMemorySQLStore)
        return super().__new__(cls)

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: sa.Engine | AsyncEngine | typing.Sequence[sa.Engine | AsyncEngine] | None = None,
        table_name: str = "dualsessions",
        schema: str | None = None,
        gc_ttl: int = DEFAULT_GC_TTL,
        hash_ids: str | bytes | None = None,
        timeout: float | None = 5.0,
        page_size: int = 1000,
    ) -> None:
        if (url is None) == (engine is None):
            raise ImproperlyConfigured("SQLStore needs either 'url' or 'engine' (and not both).")
        if gc_ttl < 1:
            raise ImproperlyConfigured(f"gc_ttl must be a positive number of seconds, got {gc_ttl!r}")
        if hash_ids is not None and not hash_ids:
            raise ImproperlyConfigured("hash_ids must be a non-empty secret key")
        self.gc_ttl = gc_ttl
        self.page_size = page_size
        self._timeout = timeout
        self._id_key = hash_ids.encode() if isinstance(hash_ids, str) else hash_ids
        self.table = session_table(name=table_name, schema=schema)
        self.record_columns = (self.table.c.data, self.table.c.expires)
        self.errors: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError)
        self._sync_engine: sa.Engine | None = None
        self._given_async: AsyncEngine | None = None
        given = list(engine) if isinstance(engine, (list, tuple)) else [engine] if engine is not None else []
        for one in given:
            if isinstance(one, AsyncEngine):
                self._given_async = one
            elif isinstance(one, sa.Engine):
                self._sync_engine = one
            else:
                raise ImproperlyConfigured(
                    f"engine must be a SQLAlchemy Engine or AsyncEngine, got {type(one)!r}"
                )
        source = self._sync_engine or self._given_async
        self._url = sa.make_url(url) if url is not None else typing.cast(typing.Any, source).url
        self._lock = threading.Lock()
        self._async_engines: PerLoop[AsyncEngine] = PerLoop(self._make_async, _dispose)
        self._backend = self._url.get_backend_name()
        if self._backend not in ("sqlite", "postgresql"):
            raise ImproperlyConfigured(f"SQLStore supports SQLite and PostgreSQL, not {self._backend!r}")
        #: The database can return rows from UPDATE and DELETE (one statement for a rolling read or a
        #: take): PostgreSQL, and SQLite from 3.35 (the library Python links, not a dialect default).
        returning = self._backend == "postgresql" or sqlite3.sqlite_version_info >= (3, 35)
        self.update_returns = self.delete_returns = returning
        self.description = f"SQLStore({self._url.render_as_string(hide_password=True)})"
        self._store = self
        self.sync: SyncSQLOperations = SyncSQLOperations(self)
        if _in_memory(self._url) and not isinstance(self, _InMemorySQLStore):
            raise ImproperlyConfigured(
                "an in-memory SQLite database is one connection: use SQLStore('sqlite://') itself (not a "
                "subclass, not an engine of yours)"
            )
        _STORES.add(self)

    # -- engines and transactions ----------------------------------------------------------------------

    def sync_engine(self) -> sa.Engine:
        engine = self._sync_engine
        if engine is None:
            with self._lock:
                if self._sync_engine is None:
                    url = self._driven(_SYNC_DRIVERS, sync=True)
                    self._sync_engine = sa.create_engine(url, **self._options(url))
                engine = self._sync_engine
        return engine

    def _make_async(self) -> AsyncEngine:
        given, self._given_async = self._given_async, None  # the caller's engine serves the first loop
        if given is not None:
            return given
        url = self._driven(_ASYNC_DRIVERS, sync=False)
        return create_async_engine(url, **self._options(url))

    def _driven(self, drivers: dict[str, str], sync: bool) -> sa.URL:
        """The URL with a driver of the flavour wanted (the one given when it is of that flavour)."""
        driver = self._url.get_driver_name()
        explicit = "+" in self._url.drivername  # (without one, SQLAlchemy's default may not be installed)
        if explicit and (driver == "psycopg" or (driver in _ASYNC_ONLY) != sync):  # psycopg 3 serves both
            return self._url
        wanted = drivers.get(self._backend)
        if wanted is None:
            raise ImproperlyConfigured(
                f"{self.description} can't make its {'sync' if sync else 'async'} engine from the URL: "
                "pass engine=(a sync Engine, an AsyncEngine)"
            )
        return self._url.set(drivername=f"{self._backend}+{wanted}")

    def _options(self, url: sa.URL) -> dict[str, typing.Any]:
        """One statement, one round trip: autocommit (no BEGIN and COMMIT around it), no ping (a dead
        connection is replaced when it fails); a connect timeout where the driver takes one."""
        options: dict[str, typing.Any] = {"isolation_level": "AUTOCOMMIT"}
        driver = url.get_driver_name()
        if self._timeout is not None and driver in ("psycopg", "psycopg2"):
            options["connect_args"] = {"connect_timeout": max(1, int(self._timeout))}
        elif self._timeout is not None and driver == "asyncpg":
            options["connect_args"] = {"timeout": self._timeout}
        return options

    @contextlib.contextmanager
    def sync_transaction(self) -> typing.Iterator[sa.Connection]:
        """A connection for one operation, committed after it (a no-op on the store's own engines,
        which autocommit; an engine of yours gets its BEGIN and COMMIT)."""
        with self.sync_engine().connect() as connection:
            yield connection
            connection.commit()

    @contextlib.asynccontextmanager
    async def async_transaction(self) -> typing.AsyncIterator[AsyncConnection]:
        engine = self._async_engines.now() or await self._async_engines.get()
        async with engine.connect() as connection:
            yield connection
            await connection.commit()

    def create_table(self) -> None:
        """Create the table (and its indexes) if it doesn't exist."""
        self.table.create(self.sync_engine(), checkfirst=True)

    async def acreate_table(self) -> None:
        async with self.async_transaction() as connection:
            await connection.run_sync(lambda sync: self.table.create(sync, checkfirst=True))

    def close(self) -> None:
        """Close the sync engine's connections (an in-memory database ends with its one connection)."""
        if self._sync_engine is not None:
            self._sync_engine.dispose()

    def _forked(self) -> None:
        """In a forked child: forget the parent's connections without touching them (they are the
        parent's sockets), and its event loops' engines."""
        if self._sync_engine is not None:
            self._sync_engine.dispose(close=False)
        self._async_engines = PerLoop(self._make_async, _dispose)

    async def aclose(self) -> None:
        import asyncio

        await self._async_engines.release(asyncio.get_running_loop())

    def __repr__(self) -> str:
        return self.description

    # -- ids -------------------------------------------------------------------------------------------

    def key(self, session_id: str) -> str:
        """The row's id: the session id, or with ``hash_ids`` a keyed hash of it (a dump of the table
        then gives no id a cookie could replay)."""
        if self._id_key is None:
            return session_id
        return hmac.new(self._id_key, session_id.encode(), hashlib.sha256).hexdigest()

    def refuse_listing(self) -> None:
        if self._id_key is not None:
            raise ImproperlyConfigured(
                "session ids are hashed at rest (hash_ids): they can't be listed, by design; counting, "
                "revoking a user's sessions and purging still work"
            )

    def expiry(self, now: float, ttl: int) -> float:
        return now + (ttl if ttl > 0 else self.gc_ttl)

    def merge_deadline(self) -> float:
        return time.monotonic() + (self._timeout if self._timeout is not None else _MERGE_PATIENCE)

    # -- statements (no I/O: the operations run them) ---------------------------------------------------

    def select_data(self, session_id: str, now: float) -> sa.Select[typing.Any]:
        t = self.table.c
        return sa.select(t.data).where(t.id == self.key(session_id), t.expires > now)

    def select_record(self, session_id: str) -> sa.Select[typing.Any]:
        return sa.select(*self.record_columns).where(self.table.c.id == self.key(session_id))

    def touch(self, session_id: str, now: float, ttl: int) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(t.id == self.key(session_id), t.expires > now)
            .values(expires=self.expiry(now, ttl))
        )

    def upsert(self, session_id: str, data: bytes, now: float, ttl: int) -> sa.Executable:
        values = {"id": self.key(session_id), "data": data, "expires": self.expiry(now, ttl)}
        if self._backend in ("sqlite", "postgresql"):
            insert = (sqlite_insert if self._backend == "sqlite" else postgresql_insert)(self.table)
            return insert.values(**values).on_conflict_do_update(
                index_elements=[self.table.c.id], set_={"data": data, "expires": values["expires"]}
            )
        raise ImproperlyConfigured(f"{self.description}: SQLStore supports SQLite and PostgreSQL")

    def overwrite(self, session_id: str, data: bytes, now: float, ttl: int) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(t.id == self.key(session_id), t.expires > now)
            .values(data=data, expires=self.expiry(now, ttl))
        )

    def compare_and_set(self, session_id: str, old: bytes, new: bytes, now: float, ttl: int) -> sa.Update:
        return self.overwrite(session_id, new, now, ttl).where(self.table.c.data == old)

    def delete(self, session_id: str) -> sa.Delete:
        return sa.delete(self.table).where(self.table.c.id == self.key(session_id))

    def page_of_ids(self, after: str, now: float) -> sa.Select[typing.Any]:
        t = self.table.c
        return sa.select(t.id).where(t.expires > now, t.id > after).order_by(t.id).limit(self.page_size)

    def select_many(self, session_ids: list[str], now: float) -> sa.Select[typing.Any]:
        t = self.table.c
        return sa.select(t.id, t.data).where(
            t.id.in_([self.key(one) for one in session_ids]), t.expires > now
        )

    def count(self, now: float) -> sa.Select[typing.Any]:
        return sa.select(sa.func.count()).select_from(self.table).where(self.table.c.expires > now)

    def set_owner(self, session_id: str, user: str) -> sa.Update:
        return sa.update(self.table).where(self.table.c.id == self.key(session_id)).values(owner=user)

    def clear_owner(self, session_id: str, user: str) -> sa.Update:
        t = self.table.c
        return sa.update(self.table).where(t.id == self.key(session_id), t.owner == user).values(owner=None)

    def owned(self, user: str, now: float) -> sa.Select[typing.Any]:
        t = self.table.c
        return sa.select(t.id).where(t.owner == user, t.expires > now).order_by(t.id)

    def count_owned(self, user: str, now: float) -> sa.Select[typing.Any]:
        t = self.table.c
        return sa.select(sa.func.count()).select_from(self.table).where(t.owner == user, t.expires > now)

    def delete_owned(self, user: str) -> sa.Delete:
        return sa.delete(self.table).where(self.table.c.owner == user)

    def delete_expired(self, now: float) -> sa.Delete:
        t = self.table.c
        batch = sa.select(t.id).where(t.expires <= now).limit(self.page_size).scalar_subquery()
        return sa.delete(self.table).where(t.id.in_(batch))


class _InMemorySQLStore(NoIOStore, SQLStore):
    """``sqlite://``: one in-memory database on one connection, which both flavours use directly (it
    never waits on I/O), one transaction at a time."""

    def sync_engine(self) -> sa.Engine:
        engine = self._sync_engine
        if engine is None:
            with self._lock:
                if self._sync_engine is None:
                    self._sync_engine = sa.create_engine(
                        self._url.set(drivername="sqlite+pysqlite"),
                        poolclass=sa.pool.StaticPool,
                        connect_args={"check_same_thread": False},
                    )
                    self._one_at_a_time = threading.RLock()
                    self.table.create(self._sync_engine, checkfirst=True)  # (nothing outlives it anyway)
                engine = self._sync_engine
        return engine

    @contextlib.contextmanager
    def sync_transaction(self) -> typing.Iterator[sa.Connection]:
        engine = self.sync_engine()
        with self._one_at_a_time, engine.begin() as connection:
            yield connection

    async def acreate_table(self) -> None:
        self.create_table()  # (its one database is the sync connection's)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _in_memory(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


async def _dispose(engine: AsyncEngine) -> None:
    await engine.dispose()
