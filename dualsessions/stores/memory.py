"""Sessions in this process's memory: for development, tests, and one-process apps."""

from __future__ import annotations

import heapq
import threading
import typing

from .. import _clock
from .base import NoIOStore, SyncSessionStore

DEFAULT_GC_TTL = 30 * 24 * 3600


class _MemoryRecords(SyncSessionStore):
    """The records, with their expiry times; shared by both flavours of one :class:`InMemoryStore`.

    Expired records are dropped when read, and swept on writes from a heap ordered by expiry, so a write
    costs O(log n) whatever the number of live sessions.
    """

    def __init__(self, gc_ttl: int) -> None:
        self.gc_ttl = gc_ttl
        self.data: dict[str, bytes] = {}
        self._expires: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._users: dict[str, set[str]] = {}
        self._lock = threading.RLock()  # update() reads under it

    def read(self, session_id: str, lifetime: int) -> bytes:
        return self._live(session_id)

    def _live(self, session_id: str) -> bytes:
        expires = self._expires.get(session_id)
        if expires is None:
            return b""
        if expires <= _clock.now():
            with self._lock:
                if self._expires.get(session_id) == expires:
                    self._drop(session_id)
            return b""
        return self.data.get(session_id, b"")

    def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        data = self._live(session_id)
        if data:
            with self._lock:
                if session_id in self.data:
                    self._set_expiry(session_id, _clock.now() + (ttl if ttl > 0 else self.gc_ttl))
        return data

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        now = _clock.now()
        with self._lock:
            self.data[session_id] = data
            self._set_expiry(session_id, now + (ttl if ttl > 0 else self.gc_ttl))
            self._sweep(now)
        return session_id

    def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        now = _clock.now()
        with self._lock:  # checked and written in one step: a concurrent remove() wins or waits
            if not self._live(session_id):
                return None
            self.data[session_id] = data
            self._set_expiry(session_id, now + (ttl if ttl > 0 else self.gc_ttl))
            self._sweep(now)
        return session_id

    def take(self, session_id: str) -> bytes:
        with self._lock:
            data = self._live(session_id)
            self._drop(session_id)
        return data

    def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        with self._lock:  # writers wait for each other, so no change is lost
            new = change(self._live(session_id))
            if new is None:
                return None
            now = _clock.now()
            self.data[session_id] = new
            self._set_expiry(session_id, now + (ttl if ttl > 0 else self.gc_ttl))
        return session_id

    def remove(self, session_id: str) -> None:
        with self._lock:
            self._drop(session_id)

    def exists(self, session_id: str) -> bool:
        expires = self._expires.get(session_id)
        return expires is not None and expires > _clock.now()

    def session_ids(self) -> typing.Iterator[str]:
        now = _clock.now()
        for session_id, expires in list(self._expires.items()):
            if expires > now:
                yield session_id

    def add_user_session(self, user: str, session_id: str) -> None:
        with self._lock:
            self._users.setdefault(user, set()).add(session_id)

    def remove_user_session(self, user: str, session_id: str) -> None:
        with self._lock:
            sessions = self._users.get(user)
            if sessions is not None:
                sessions.discard(session_id)
                if not sessions:
                    del self._users[user]

    def user_sessions(self, user: str) -> list[str]:
        return sorted(self._users.get(user, ()))

    def purge_expired(self) -> int:
        """Drop every expired record now (writes drop them a few at a time), and index entries of
        sessions that are gone."""
        now = _clock.now()
        purged = 0
        with self._lock:
            for session_id in [key for key, expires in self._expires.items() if expires <= now]:
                self._drop(session_id)
                purged += 1
            for user, sessions in list(self._users.items()):
                sessions.intersection_update(self._expires)
                if not sessions:
                    del self._users[user]
        return purged

    def _set_expiry(self, session_id: str, expires: float) -> None:
        self._expires[session_id] = expires
        heapq.heappush(self._heap, (expires, session_id))
        if len(self._heap) > 2 * len(self._expires) + 64:  # mostly superseded entries: rebuild
            self._heap = [(when, key) for key, when in self._expires.items()]
            heapq.heapify(self._heap)

    def _drop(self, session_id: str) -> None:
        self.data.pop(session_id, None)
        self._expires.pop(session_id, None)

    def _sweep(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires, session_id = heapq.heappop(heap)
            if self._expires.get(session_id) == expires:
                self._drop(session_id)


class InMemoryStore(NoIOStore):
    """Stores sessions in a dict, with expiry. Lost on restart and not shared between processes.

    One instance can be given to an ASGI and a WSGI middleware in the same process. Session-only
    sessions (``lifetime=0``) are kept ``gc_ttl`` seconds after their last write.
    """

    def __init__(self, gc_ttl: int = DEFAULT_GC_TTL) -> None:
        self.sync: _MemoryRecords = _MemoryRecords(gc_ttl)

    @property
    def data(self) -> dict[str, bytes]:
        """The live records by session id (expired ones may linger until read or swept)."""
        return self.sync.data
