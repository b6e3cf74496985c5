"""What :class:`~dualsessions.stores.sql.SQLStore` does with its database, in the async flavour: every
contract method, one statement each where the database allows it.

This file is the source of ``_sync_sql.py``, which ``scripts/unasync.py`` generates from it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import typing

from .. import _clock
from ..exceptions import SessionStoreError
from ._async_contract import SessionStore
from ._retry import backoff

if typing.TYPE_CHECKING:
    from .sql import SQLStore

_READ, _WRITE, _REMOVE, _LIST, _INDEX = (
    "read a session",
    "write a session",
    "remove a session",
    "list sessions",
    "update the per-user index",
)


class AsyncSQLOperations(SessionStore):
    """The store contract on SQL in the async flavour (``store`` holds the table and engines)."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store

    async def _run(self, action: str, statement: typing.Any) -> typing.Any:
        """One statement in its own transaction; its result, fetched."""
        store = self._store
        try:
            async with store.async_transaction() as connection:
                result = await connection.execute(statement)
                return result.all() if result.returns_rows else result.rowcount
        except store.errors as exc:
            raise SessionStoreError(store.description, action, exc) from exc

    async def read(self, session_id: str, lifetime: int) -> bytes:
        rows = await self._run(_READ, self._store.select_data(session_id, _clock.now()))
        return bytes(rows[0][0]) if rows else b""

    async def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        store = self._store
        now = _clock.now()
        if store.update_returns:  # one statement: UPDATE ... RETURNING
            rows = await self._run(_READ, store.touch(session_id, now, ttl).returning(store.table.c.data))
            return bytes(rows[0][0]) if rows else b""
        try:
            async with store.async_transaction() as connection:
                await connection.execute(store.touch(session_id, now, ttl))
                rows = (await connection.execute(store.select_data(session_id, now))).all()
        except store.errors as exc:
            raise SessionStoreError(store.description, _READ, exc) from exc
        return bytes(rows[0][0]) if rows else b""

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        await self._run(_WRITE, self._store.upsert(session_id, data, _clock.now(), ttl))
        return session_id

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        written = await self._run(_WRITE, self._store.overwrite(session_id, data, _clock.now(), ttl))
        return session_id if written else None

    async def take(self, session_id: str) -> bytes:
        store = self._store
        now = _clock.now()
        if store.delete_returns:  # one statement: DELETE ... RETURNING
            rows = await self._run(_REMOVE, store.delete(session_id).returning(*store.record_columns))
        else:
            try:
                async with store.async_transaction() as connection:
                    rows = (await connection.execute(store.select_record(session_id))).all()
                    await connection.execute(store.delete(session_id))
            except store.errors as exc:
                raise SessionStoreError(store.description, _REMOVE, exc) from exc
        return bytes(rows[0][0]) if rows and rows[0][1] > now else b""

    async def remove(self, session_id: str) -> None:
        await self._run(_REMOVE, self._store.delete(session_id))

    async def exists(self, session_id: str) -> bool:
        return bool(await self._run(_READ, self._store.select_data(session_id, _clock.now())))

    async def remaining_ttl(self, session_id: str) -> int | None:
        rows, now = await self._run(_READ, self._store.select_record(session_id)), _clock.now()
        return max(1, math.ceil(rows[0][1] - now)) if rows and rows[0][1] > now else None

    # -- listing ---------------------------------------------------------------------------------------

    def session_ids(self) -> typing.AsyncIterator[str]:
        self._store.refuse_listing()  # at once: hashed ids can't be listed
        return self._pages()

    async def _pages(self) -> typing.AsyncIterator[str]:
        """Keyset pagination: one statement a page of ids, each after the last one seen."""
        store = self._store
        after = ""
        while True:
            rows = await self._run(_LIST, store.page_of_ids(after, _clock.now()))
            for row in rows:
                yield row[0]
            if len(rows) < store.page_size:
                return
            after = rows[-1][0]

    async def read_many(self, session_ids: list[str]) -> list[bytes]:
        store = self._store
        if not session_ids:
            return []
        rows = await self._run(_READ, store.select_many(session_ids, _clock.now()))
        found = {row[0]: bytes(row[1]) for row in rows}
        return [found.get(store.key(session_id), b"") for session_id in session_ids]

    async def count_sessions(self) -> int:
        return int((await self._run(_LIST, self._store.count(_clock.now())))[0][0])

    # -- concurrency="merge" ---------------------------------------------------------------------------

    async def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        """Optimistic: read, change, then write only if the record is still what was read; again if
        another write came in between, until the store's merge deadline."""
        store = self._store
        deadline = store.merge_deadline()
        for attempt in itertools.count():
            now = _clock.now()
            rows = await self._run(_READ, store.select_data(session_id, now))
            current = bytes(rows[0][0]) if rows else b""
            new = change(current)
            if new is None or not current:
                return None
            if await self._run(_WRITE, store.compare_and_set(session_id, current, new, now, ttl)):
                return session_id
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(backoff(attempt))
        raise SessionStoreError(store.description, _WRITE, RuntimeError("the record kept changing"))

    # -- the per-user index: a column ------------------------------------------------------------------

    async def add_user_session(self, user: str, session_id: str) -> None:
        await self._run(_INDEX, self._store.set_owner(session_id, user))

    async def remove_user_session(self, user: str, session_id: str) -> None:
        await self._run(_INDEX, self._store.clear_owner(session_id, user))

    async def user_sessions(self, user: str) -> list[str]:
        return [row[0] for row in await self._run(_INDEX, self._store.owned(user, _clock.now()))]

    async def revoke_user(self, user: str) -> int:
        """One statement: every record of ``user`` goes; how many of them were live."""
        store = self._store
        now = _clock.now()
        if store.delete_returns:
            rows = await self._run(_REMOVE, store.delete_owned(user).returning(store.table.c.expires))
            return sum(1 for row in rows if row[0] > now)
        try:
            async with store.async_transaction() as connection:
                live = (await connection.execute(store.count_owned(user, now))).all()[0][0]
                await connection.execute(store.delete_owned(user))
        except store.errors as exc:
            raise SessionStoreError(store.description, _REMOVE, exc) from exc
        return int(live)

    async def purge_expired(self) -> int:
        """Expired rows, deleted a bounded batch per statement."""
        store = self._store
        purged = 0
        while True:
            deleted = int(await self._run(_REMOVE, store.delete_expired(_clock.now())))
            purged += deleted
            if deleted < store.page_size:
                return purged
