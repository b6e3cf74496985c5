"""What :class:`~dualsessions.stores.redis.RedisStore` does with Redis, in the async flavour: every
contract method, over the store's keys and clients.

This file is the source of ``_sync_redis.py``, which ``scripts/unasync.py`` generates from it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import typing

from ..exceptions import SessionStoreError
from ._async_contract import SessionStore
from ._async_direct import direct
from ._redis_common import (
    COMMAND_ERRORS,
    COMPARE_AND_SET,
    GET_AND_EXPIRE,
    INDEX,
    LIST,
    LOOK_UP,
    READ,
    READ_MANY,
    REMOVE,
    SCAN_BATCH,
    STORE_ERRORS,
    WRITE,
    AsyncRedis,
    Operation,
    as_bytes,
    bind,
    command_failure,
    ended,
    pipeline,
    text,
    too_busy,
    unknown_command,
)
from ._retry import backoff

if typing.TYPE_CHECKING:
    from .redis import RedisStore


class AsyncRedisOperations(SessionStore):
    """The store contract on Redis in the async flavour (``store`` holds the keys and clients)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    async def _command(
        self, action: str, operation: Operation, *args: typing.Any, **kwargs: typing.Any
    ) -> typing.Any:
        store = self._store
        try:
            client, watchdog = store.loop_client() or await store.async_client()
            return await watchdog.bound(bind(client, operation)(*args, **kwargs))
        except COMMAND_ERRORS as exc:
            raise command_failure(store.description, action, exc) from exc

    async def read(self, session_id: str, lifetime: int) -> bytes:
        store = self._store
        if store.legacy_ids:
            return await self._migrate(session_id)
        try:  # the hot path of every request that loads a session: _command, without its indirection
            client, watchdog = store.loop_client() or await store.async_client()
            value = await watchdog.bound(direct(client).get(store.record_key(session_id)))
        except COMMAND_ERRORS as exc:
            raise command_failure(store.description, READ, exc) from exc
        return value if type(value) is bytes else as_bytes(value)

    async def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        store = self._store
        if store.legacy_ids:
            await self._migrate(session_id)
        key, seconds = store.record_key(session_id), store.expiry(ttl)
        if store.has_getex:
            try:
                return as_bytes(await self._command(READ, "getex", key, ex=seconds))
            except SessionStoreError as exc:
                if not unknown_command(exc):
                    raise
                store.has_getex = False
        return as_bytes(await self._command(READ, "eval", GET_AND_EXPIRE, 1, key, seconds))

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        store = self._store
        await self._command(WRITE, "set", store.record_key(session_id), data, ex=store.expiry(ttl))
        return session_id

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        store = self._store
        try:  # the hot path of every request that changes a session: _command, without its indirection
            client, watchdog = store.loop_client() or await store.async_client()
            key, seconds = store.record_key(session_id), store.expiry(ttl)
            written = await watchdog.bound(direct(client).set(key, data, ex=seconds, xx=True))  # SET XX
        except STORE_ERRORS as exc:
            raise SessionStoreError(store.description, WRITE, exc) from exc
        return session_id if written else None

    async def take(self, session_id: str) -> bytes:
        store = self._store
        if store.legacy_ids:
            await self._migrate(session_id)
        key = store.record_key(session_id)
        if store.has_getdel:
            try:
                return as_bytes(await self._command(REMOVE, "getdel", key))
            except SessionStoreError as exc:
                if not unknown_command(exc):
                    raise
                store.has_getdel = False
        value, _ = await self._command(REMOVE, _get_and_delete, key)
        return as_bytes(value)

    async def remove(self, session_id: str) -> None:
        await self._command(REMOVE, "delete", *self._store.all_keys(session_id))

    async def exists(self, session_id: str) -> bool:
        return bool(await self._command(LOOK_UP, "exists", *self._store.all_keys(session_id)))

    async def remaining_ttl(self, session_id: str) -> int | None:
        milliseconds = await self._command(LOOK_UP, "pttl", self._store.record_key(session_id))
        return max(1, math.ceil(milliseconds / 1000)) if milliseconds > 0 else None  # (-2: none, -1: forever)

    async def _migrate(self, session_id: str) -> bytes:
        """Read a session, moving a record still under its plain id to the hashed key (TTL kept)."""
        script = self._store.migration(session_id)
        if script is None:
            return b""
        return as_bytes(await self._command(READ, "eval", *script))

    # -- listing ---------------------------------------------------------------------------------------

    def session_ids(self) -> typing.AsyncIterator[str]:
        store = self._store
        pattern, start = store.scan_pattern()  # refused at once when ids can't be listed (hash_ids)
        return self._scan(pattern, start)

    async def _scan(self, pattern: str, start: int) -> typing.AsyncIterator[str]:
        store = self._store
        try:
            client, watchdog = store.loop_client() or await store.async_client()
            async for key in watchdog.iterate(client.scan_iter(match=pattern, count=SCAN_BATCH)):
                session_id = text(key)[start:]
                if store.accepts_id(session_id):
                    yield session_id
        except STORE_ERRORS as exc:
            raise SessionStoreError(store.description, LIST, exc) from exc

    async def read_many(self, session_ids: list[str]) -> list[bytes]:
        store = self._store
        keys = [store.record_key(session_id) for session_id in session_ids]
        return [as_bytes(value) for value in await self._command(READ_MANY, store.mget, keys)] if keys else []

    # -- concurrency="merge" ---------------------------------------------------------------------------

    async def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        """Optimistic: read, change, then write only if the record is still what was read (one Lua
        compare-and-set on one key: a cluster runs it too); again if another write came in between,
        with a growing random pause, until the store's merge deadline. Two commands a merge."""
        store = self._store
        key = store.record_key(session_id)
        deadline = store.merge_deadline()
        for attempt in itertools.count():
            current = as_bytes(await self._command(READ, "get", key))
            if not current:  # ended meanwhile: it stays ended
                return None
            new = change(current)
            if new is None:
                return None
            if await self._command(WRITE, "eval", COMPARE_AND_SET, 1, key, current, new, store.expiry(ttl)):
                return session_id
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(backoff(attempt))
        raise SessionStoreError(store.description, WRITE, too_busy())

    # -- the per-user index ----------------------------------------------------------------------------

    async def add_user_session(self, user: str, session_id: str) -> None:
        store = self._store
        await self._command(INDEX, "sadd", store.user_key(user), store.name(session_id))

    async def remove_user_session(self, user: str, session_id: str) -> None:
        store = self._store
        await self._command(INDEX, "srem", store.user_key(user), *store.index_members(session_id))

    async def user_sessions(self, user: str) -> list[str]:
        store = self._store
        return store.split_members(await self._command(INDEX, "smembers", store.user_key(user)))[0]

    async def revoke_user(self, user: str) -> int:
        """End every session of ``user``: the index holds record names, so delete those keys (one
        round trip); how many live records it ended."""
        store = self._store
        refusal = store.refusal(await self._command(LOOK_UP, "get", store.moved_marker))
        if refusal is not None:
            raise refusal
        names = await self.user_sessions(user)
        keys = [store.member_keys(name) for name in names]
        try:
            client, watchdog = store.loop_client() or await store.async_client()
            async with pipeline(client, False) as pipe:
                for key in itertools.chain.from_iterable(keys):
                    pipe.delete(key)
                deleted = await watchdog.bound(pipe.execute())
        except STORE_ERRORS as exc:
            raise SessionStoreError(store.description, REMOVE, exc) from exc
        if names:  # only those read: a session indexed meanwhile stays in the index, revocable
            await self._command(INDEX, "srem", store.user_key(user), *names)
        return ended(keys, deleted)

    async def purge_expired(self) -> int:
        """Redis expires records itself; this drops index entries of sessions that are gone (see
        :meth:`RedisStore.plan_purge`), a thousand sets at a time."""
        store = self._store
        pattern, _ = store.scan_pattern(store.user_key(""))
        purged = 0
        try:
            client, watchdog = store.loop_client() or await store.async_client()
            moved = await watchdog.bound(client.get(store.moved_marker))
            refusal = store.refusal(moved)
            if refusal is not None:
                raise refusal
            sets: list[str] = []
            async for key in watchdog.iterate(client.scan_iter(match=pattern, count=SCAN_BATCH)):
                sets.append(text(key))
                if len(sets) >= SCAN_BATCH:
                    purged += await watchdog.bound(self._purge_sets(client, sets))
                    sets = []
            if sets:
                purged += await watchdog.bound(self._purge_sets(client, sets))
        except COMMAND_ERRORS as exc:
            raise SessionStoreError(store.description, INDEX, exc) from exc
        return purged

    async def _purge_sets(self, client: AsyncRedis, sets: list[str]) -> int:
        store = self._store
        async with pipeline(client, False) as pipe:  # three round trips a batch of sets
            for key in sets:
                pipe.smembers(key)
            split = [store.split_members(members) for members in await pipe.execute()]
        async with pipeline(client, False) as pipe:
            store.queue_existence(pipe, [names for names, _ in split])
            found = iter(await pipe.execute())
        purged = 0
        async with pipeline(client, False) as pipe:
            for key, (names, foreign) in zip(sets, split, strict=True):
                purged += store.plan_purge(key, names, found, pipe, foreign)
            await pipe.execute()
        return purged


async def _get_and_delete(client: typing.Any, key: str) -> list[typing.Any]:
    """GETDEL for servers before Redis 6.2: GET and DEL in one MULTI/EXEC, so still atomic."""
    async with pipeline(client, True) as pipe:
        pipe.get(key)
        pipe.delete(key)
        return typing.cast(list[typing.Any], await pipe.execute())
