"""Custom stores as users write them, in both flavours, and a spy that records store calls."""

from __future__ import annotations

import typing

from dualsessions import SessionStore, SyncSessionStore
from dualsessions.stores.base import NoIOStore


class DuckSyncStore:
    """A sync store with only the four required methods, that subclasses nothing (duck-typed)."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def read(self, session_id: str, lifetime: int) -> bytes:
        return self.records.get(session_id, b"")

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        self.records[session_id] = data
        return session_id

    def remove(self, session_id: str) -> None:
        self.records.pop(session_id, None)

    def exists(self, session_id: str) -> bool:
        return session_id in self.records


class DuckAsyncStore:
    """The same in the async flavour: the store the starsessions README shows, without its base."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    async def read(self, session_id: str, lifetime: int) -> bytes:
        return self.records.get(session_id, b"")

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        self.records[session_id] = data
        return session_id

    async def remove(self, session_id: str) -> None:
        self.records.pop(session_id, None)

    async def exists(self, session_id: str) -> bool:
        return session_id in self.records


class SyncDictStore(DuckSyncStore, SyncSessionStore):
    """A sync-only custom store with no TTL support (like a small SQL table), on the sync contract."""


class AsyncDictStore(DuckAsyncStore, SessionStore):
    """An async-only custom store, written exactly as the starsessions README shows."""


STORE_METHODS = ("read", "read_and_touch", "write", "remove", "replace", "take")
#: What a call does to the record, whichever method does it: a conditional write is a write, taking a
#: record away (to move it) is a removal.
_EFFECT = {"replace": "write", "take": "remove"}


def spy(store: typing.Any, ttls: list[int] | None = None) -> list[tuple[str, str]]:
    """Record ``(effect, session_id)`` for every call the middleware makes to ``store``, either flavour:
    ``read``, ``read_and_touch``, ``write`` (``write`` or ``replace``) or ``remove`` (``remove`` or
    ``take``). A call a store method makes to another one of the same store is not recorded again.
    ``ttls``, when given, gets the TTL of every call that sets one (touches and writes).

    The methods are wrapped on the instance, so the store keeps its class and its capabilities.
    """
    calls: list[tuple[str, str]] = []
    if isinstance(store, NoIOStore):  # its async methods call its sync ones: spy on those only
        targets = [store.sync]
    else:
        targets = [store, store.sync] if hasattr(store, "sync") else [store]
    for target in targets:
        for name in STORE_METHODS:
            method = getattr(target, name)
            setattr(target, name, _recording(calls, name, method, ttls))
    return calls


class _Depth:
    inside = 0


def _recording(
    calls: list[tuple[str, str]], name: str, method: typing.Any, ttls: list[int] | None
) -> typing.Any:
    import inspect

    effect = _EFFECT.get(name, name)
    sets_ttl = ttls is not None and name in ("read_and_touch", "write", "replace")

    def record(session_id: str, args: tuple[typing.Any, ...]) -> None:
        if not _Depth.inside:
            calls.append((effect, session_id))
            if sets_ttl:
                typing.cast("list[int]", ttls).append(args[-1])  # the ttl comes last

    if inspect.iscoroutinefunction(method):

        async def async_wrapper(session_id: str, *args: typing.Any) -> typing.Any:
            record(session_id, args)
            _Depth.inside += 1
            try:
                return await method(session_id, *args)
            finally:
                _Depth.inside -= 1

        return async_wrapper

    def wrapper(session_id: str, *args: typing.Any) -> typing.Any:
        record(session_id, args)
        _Depth.inside += 1
        try:
            return method(session_id, *args)
        finally:
            _Depth.inside -= 1

    return wrapper
