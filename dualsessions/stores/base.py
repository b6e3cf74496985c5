"""The store contracts, one per flavour.

``SessionStore`` is the async contract of starsessions, unchanged, so a store written for it keeps
working. ``SyncSessionStore`` is the same contract without ``async``. A store written in one flavour is
bridged to the other once, when a middleware is built (:mod:`dualsessions._bridge`).

The built-in stores are :class:`DualSessionStore`: async methods for the contract, and ``store.sync``,
a :class:`SyncSessionStore` over the same records, so no call ever crosses threads or event loops.
"""

from __future__ import annotations

import abc
import typing

from ..cookies import is_session_id


class SessionStore(abc.ABC):
    """Base class of async session stores.

    ``lifetime`` is the session's total lifetime in seconds (0: a browser-session cookie) and ``ttl`` is
    how long the record is still needed; a store may delete it after that. With ``lifetime == 0`` the
    end of the session is unknown and the store picks a time to keep the record (``gc_ttl``).
    """

    #: The session lives in the cookie's value itself (:class:`CookieStore`): the server keeps no
    #: record to end, list, index or bind to an id.
    stateless: typing.ClassVar[bool] = False

    @abc.abstractmethod
    async def read(self, session_id: str, lifetime: int) -> bytes:
        """The record's bytes, or ``b""`` when there is none."""

    @abc.abstractmethod
    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        """Store ``data``; return the id to put in the cookie (usually ``session_id``)."""

    @abc.abstractmethod
    async def remove(self, session_id: str) -> None:
        """Delete the record; a missing record is not an error."""

    @abc.abstractmethod
    async def exists(self, session_id: str) -> bool:
        """Whether there is a record for ``session_id``."""

    def accepts_id(self, session_id: str) -> bool:
        """Optional: whether a cookie's value may name one of this store's records, checked before the
        store is asked (a value it refuses is a new session, with no store call). The default takes
        values of the shape of the ids dualsessions issues (and starsessions did): 16 to 128 URL-safe
        characters, so a forged value (another kind of key, say) never reaches the store. A store that
        issues ids of its own from ``write`` says which it takes. Computes only: not ``async``."""
        return is_session_id(session_id)

    async def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        """Optional: read and give the record ``ttl`` more seconds in one step (rolling sessions);
        ``ttl`` 0 means as long as ``write`` keeps a record whose ttl is 0 (the store's choice).

        Stores that don't override it get a plain read followed by a write when a rolling session is
        only read, which costs one more store call.
        """
        raise NotImplementedError

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        """Write ``data`` only if a live record exists under ``session_id``: a session that ended
        meanwhile stays ended. The id written under (as :meth:`write` returns it), or None when there
        was no record and nothing was written.

        This default checks :meth:`exists`, then calls :meth:`write`: not atomic, so a removal between
        the two is undone. Stores that can should override it with one atomic step.
        """
        if not await self.exists(session_id):
            return None
        return await self.write(session_id, data, lifetime, ttl)

    async def take(self, session_id: str) -> bytes:
        """Remove the record and return the bytes it held (``b""`` when there was none).

        This default reads, then removes: not atomic. Stores that can should override it with one
        atomic step, so that two requests regenerating one session can't both get its data.
        """
        data = await self.read(session_id, 0)
        if data:
            await self.remove(session_id)
        return data

    # Optional, for operations outside requests (dualsessions.admin and the CLI):

    def session_ids(self) -> typing.AsyncIterator[str]:
        """Every live session's id, in constant memory."""
        raise NotImplementedError

    async def read_many(self, session_ids: list[str]) -> list[bytes]:
        """The records of many sessions (``b""`` for one that is gone), for listing them in batches.
        This default reads them one by one; a store that can should read them in one round trip."""
        return [await self.read(session_id, 0) for session_id in session_ids]

    async def add_user_session(self, user: str, session_id: str) -> None:
        """Note that ``session_id`` is one of ``user``'s sessions (per-user revocation)."""
        raise NotImplementedError

    async def remove_user_session(self, user: str, session_id: str) -> None:
        raise NotImplementedError

    async def user_sessions(self, user: str) -> list[str]:
        """The ids of ``user``'s sessions (some may have expired since)."""
        raise NotImplementedError

    async def purge_expired(self) -> int:
        """Drop expired records and index entries the store would otherwise keep; how many."""
        raise NotImplementedError

    async def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        """Atomically replace the record with ``change(record)`` (``concurrency="merge"``); leave it
        alone if ``change`` returns None. The id written under, or None."""
        raise NotImplementedError


class SyncSessionStore(abc.ABC):
    """Base class of synchronous session stores: :class:`SessionStore` without ``async``."""

    #: The session lives in the cookie's value itself (:class:`CookieStore`): the server keeps no
    #: record to end, list, index or bind to an id.
    stateless: typing.ClassVar[bool] = False

    @abc.abstractmethod
    def read(self, session_id: str, lifetime: int) -> bytes:
        """The record's bytes, or ``b""`` when there is none."""

    @abc.abstractmethod
    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        """Store ``data``; return the id to put in the cookie (usually ``session_id``)."""

    @abc.abstractmethod
    def remove(self, session_id: str) -> None:
        """Delete the record; a missing record is not an error."""

    @abc.abstractmethod
    def exists(self, session_id: str) -> bool:
        """Whether there is a record for ``session_id``."""

    def accepts_id(self, session_id: str) -> bool:
        """Optional: as :meth:`SessionStore.accepts_id`."""
        return is_session_id(session_id)

    def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        """Optional: read and give the record ``ttl`` more seconds in one step (rolling sessions);
        ``ttl`` 0 means as long as ``write`` keeps a record whose ttl is 0 (the store's choice)."""
        raise NotImplementedError

    def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        """Write ``data`` only if a live record exists under ``session_id``: a session that ended
        meanwhile stays ended. The id written under (as :meth:`write` returns it), or None when there
        was no record and nothing was written.

        This default checks :meth:`exists`, then calls :meth:`write`: not atomic, so a removal between
        the two is undone. Stores that can should override it with one atomic step.
        """
        if not self.exists(session_id):
            return None
        return self.write(session_id, data, lifetime, ttl)

    def take(self, session_id: str) -> bytes:
        """Remove the record and return the bytes it held (``b""`` when there was none).

        This default reads, then removes: not atomic. Stores that can should override it with one
        atomic step, so that two requests regenerating one session can't both get its data.
        """
        data = self.read(session_id, 0)
        if data:
            self.remove(session_id)
        return data

    # Optional, for operations outside requests (dualsessions.admin and the CLI):

    def session_ids(self) -> typing.Iterator[str]:
        """Every live session's id, in constant memory."""
        raise NotImplementedError

    def read_many(self, session_ids: list[str]) -> list[bytes]:
        """As :meth:`SessionStore.read_many`."""
        return [self.read(session_id, 0) for session_id in session_ids]

    def add_user_session(self, user: str, session_id: str) -> None:
        """Note that ``session_id`` is one of ``user``'s sessions (per-user revocation)."""
        raise NotImplementedError

    def remove_user_session(self, user: str, session_id: str) -> None:
        raise NotImplementedError

    def user_sessions(self, user: str) -> list[str]:
        """The ids of ``user``'s sessions (some may have expired since)."""
        raise NotImplementedError

    def purge_expired(self) -> int:
        """Drop expired records and index entries the store would otherwise keep; how many."""
        raise NotImplementedError

    def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        """Atomically replace the record with ``change(record)`` (``concurrency="merge"``); leave it
        alone if ``change`` returns None. The id written under, or None."""
        raise NotImplementedError


class DualSessionStore(SessionStore):
    """A store that serves both flavours natively: the async contract here, the sync one in ``sync``."""

    sync: SyncSessionStore


class NoIOStore(DualSessionStore):
    """A dual store whose work never waits (memory, cookie): the async methods call ``sync`` directly."""

    async def read(self, session_id: str, lifetime: int) -> bytes:
        return self.sync.read(session_id, lifetime)

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        return self.sync.write(session_id, data, lifetime, ttl)

    async def remove(self, session_id: str) -> None:
        self.sync.remove(session_id)

    async def exists(self, session_id: str) -> bool:
        return self.sync.exists(session_id)

    def accepts_id(self, session_id: str) -> bool:
        return self.sync.accepts_id(session_id)

    async def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        return self.sync.read_and_touch(session_id, lifetime, ttl)

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        return self.sync.replace(session_id, data, lifetime, ttl)

    async def take(self, session_id: str) -> bytes:
        return self.sync.take(session_id)

    async def session_ids(self) -> typing.AsyncIterator[str]:
        for session_id in self.sync.session_ids():
            yield session_id

    async def read_many(self, session_ids: list[str]) -> list[bytes]:
        return self.sync.read_many(session_ids)

    async def add_user_session(self, user: str, session_id: str) -> None:
        self.sync.add_user_session(user, session_id)

    async def remove_user_session(self, user: str, session_id: str) -> None:
        self.sync.remove_user_session(user, session_id)

    async def user_sessions(self, user: str) -> list[str]:
        return self.sync.user_sessions(user)

    async def purge_expired(self) -> int:
        return self.sync.purge_expired()

    async def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        return self.sync.update(session_id, change, lifetime, ttl)


def implements(store: object, method: str) -> bool:
    """Whether ``store`` has its own ``method`` of the optional ones (checked once, not per call)."""
    if isinstance(store, DualSessionStore):
        store = store.sync
    found = getattr(type(store), method, None)
    defaults = (getattr(SessionStore, method), getattr(SyncSessionStore, method))
    return found is not None and found not in defaults


def touches(store: object) -> bool:
    """Whether ``store`` can extend a record's expiry while reading it."""
    return implements(store, "read_and_touch")


def indexes_users(store: object) -> bool:
    """Whether ``store`` keeps the per-user index that revoking a user's sessions needs."""
    return all(implements(store, m) for m in ("add_user_session", "remove_user_session", "user_sessions"))


def id_check(store: object) -> typing.Callable[[str], bool]:
    """The store's ``accepts_id`` (a duck-typed store without one: the ids dualsessions issues)."""
    check = getattr(store, "accepts_id", None)
    return check if callable(check) else is_session_id


def is_stateless(store: object) -> bool:
    """Whether the session lives in the cookie itself (a duck-typed store: no)."""
    return bool(getattr(store, "stateless", False))


def describe(store: object) -> str:
    """How error messages name a store."""
    return getattr(store, "description", None) or type(store).__name__
