"""Sessions in this process's memory: for development, tests, and one-process apps."""

from __future__ import annotations

import heapq
import math
import threading
import typing

from .. import _clock
from .base import NoIOStore, SyncSessionStore

DEFAULT_GC_TTL = 30 * 24 * 3600


#: The most expired records a write drops (the rest wait for the next writes, or a read finds them
#: expired): a million sessions expiring at once never stall one request.
_SWEEP_LIMIT = 64
#: The width of an expiry bucket, in seconds: records are swept up to this much after they expire
#: (a read never returns an expired one), and the buckets a record's expiry moves through are few.
_BUCKET = 60


class _MemoryRecords(SyncSessionStore):
    """The records, with their expiry times; shared by both flavours of one :class:`InMemoryStore`.

    Expired records are dropped when read, and swept a few at a time on writes: each record sits in
    the bucket of the minute it expires in, and a heap holds those minutes. Extending a record (a
    rolling session's every request) moves it between buckets, removing it takes it out of its
    bucket: O(1), and a bucket leaves when it empties, so memory follows the live records (a heap
    entry of an emptied bucket is skipped when its minute comes). A write drops at most
    ``_SWEEP_LIMIT`` expired records, so a million sessions expiring at once never stall a request.
    Per-user index entries leave with their records.
    """

    def __init__(self, gc_ttl: int) -> None:
        self.gc_ttl = gc_ttl
        self.data: dict[str, bytes] = {}
        self._expires: dict[str, float] = {}
        self._buckets: dict[int, set[str]] = {}  # minute -> the records expiring within it
        self._minutes: list[int] = []  # a heap of the buckets' minutes (some maybe emptied since)
        self._users: dict[str, set[str]] = {}
        self._owners: dict[str, str] = {}  # session id -> its user, so index entries leave with it
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

    def remaining_ttl(self, session_id: str) -> int | None:
        expires, now = self._expires.get(session_id), _clock.now()
        return None if expires is None or expires <= now else max(1, math.ceil(expires - now))

    def session_ids(self) -> typing.Iterator[str]:
        now = _clock.now()
        for session_id, expires in list(self._expires.items()):
            if expires > now:
                yield session_id

    def add_user_session(self, user: str, session_id: str) -> None:
        with self._lock:
            if session_id not in self._expires:  # ended already: nothing to index
                return
            previous = self._owners.get(session_id)
            if previous is not None and previous != user:
                self._unindex(previous, session_id)
            self._users.setdefault(user, set()).add(session_id)
            self._owners[session_id] = user

    def remove_user_session(self, user: str, session_id: str) -> None:
        with self._lock:
            if self._owners.get(session_id) == user:
                del self._owners[session_id]
            self._unindex(user, session_id)

    def user_sessions(self, user: str) -> list[str]:
        return sorted(self._users.get(user, ()))

    def purge_expired(self) -> int:
        """Drop every expired record now (writes drop them a few at a time), with their index
        entries: O(n)."""
        now = _clock.now()
        with self._lock:
            expired = [key for key, expires in self._expires.items() if expires <= now]
            for session_id in expired:
                self._drop(session_id)
        return len(expired)

    def _set_expiry(self, session_id: str, expires: float) -> None:
        previous = self._expires.get(session_id)
        self._expires[session_id] = expires
        minute = _minute(expires)
        if previous is not None:
            if _minute(previous) == minute:
                return
            self._leave_bucket(session_id, previous)
        bucket = self._buckets.get(minute)
        if bucket is None:
            bucket = self._buckets[minute] = set()
            heapq.heappush(self._minutes, minute)
        bucket.add(session_id)

    def _leave_bucket(self, session_id: str, expires: float) -> None:
        minute = _minute(expires)
        bucket = self._buckets.get(minute)
        if bucket is not None:
            bucket.discard(session_id)
            if not bucket:
                del self._buckets[minute]

    def _unindex(self, user: str, session_id: str) -> None:
        sessions = self._users.get(user)
        if sessions is not None:
            sessions.discard(session_id)
            if not sessions:
                del self._users[user]

    def _drop(self, session_id: str) -> None:
        self.data.pop(session_id, None)
        expires = self._expires.pop(session_id, None)
        if expires is not None:
            self._leave_bucket(session_id, expires)
        user = self._owners.pop(session_id, None)
        if user is not None:
            self._unindex(user, session_id)

    def _sweep(self, now: float) -> None:
        minutes, budget = self._minutes, _SWEEP_LIMIT
        while minutes and minutes[0] * _BUCKET <= now:
            bucket = self._buckets.get(minutes[0])
            while bucket:
                if not budget:
                    return  # the rest waits for the next writes
                self._drop(next(iter(bucket)))  # (which empties the bucket, and deletes it)
                budget -= 1
            heapq.heappop(minutes)


def _minute(expires: float) -> int:
    """The bucket of a record expiring at ``expires``: swept once that minute has passed, never before."""
    return math.ceil(expires / _BUCKET)


class InMemoryStore(NoIOStore):
    """Stores sessions in a dict, with expiry. Lost on restart and not shared between processes.

    One instance can be given to an ASGI and a WSGI middleware in the same process. Session-only
    sessions (``lifetime=0``) are kept ``gc_ttl`` seconds after their last write.
    """

    expires_records = True

    def __init__(self, gc_ttl: int = DEFAULT_GC_TTL) -> None:
        self.sync: _MemoryRecords = _MemoryRecords(gc_ttl)

    @property
    def data(self) -> dict[str, bytes]:
        """The live records by session id (expired ones may linger until read or swept)."""
        return self.sync.data
