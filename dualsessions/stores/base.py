"""The store contracts, one per flavour.

``SessionStore`` is the async contract of starsessions, unchanged, so a store written for it keeps
working. ``SyncSessionStore`` is the same contract without ``async``. A store written in one flavour is
bridged to the other once, when a middleware is built (:mod:`dualsessions._bridge`).

The built-in stores are :class:`DualSessionStore`: async methods for the contract, and ``store.sync``,
a :class:`SyncSessionStore` over the same records, so no call ever crosses threads or event loops.
"""

from __future__ import annotations

import typing

from ..cookies import is_session_id
from ._async_contract import SessionStore as SessionStore
from ._sync_contract import SyncSessionStore as SyncSessionStore


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

    async def remaining_ttl(self, session_id: str) -> int | None:
        return self.sync.remaining_ttl(session_id)

    async def count_sessions(self) -> int:
        return self.sync.count_sessions()

    async def revoke_user(self, user: str) -> int:
        return self.sync.revoke_user(user)

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


def index_holds_ids(store: object) -> bool:
    """Whether ``store``'s per-user index holds the sessions' ids, which listing a user's sessions
    and keeping one of them need (a store that hashes ids at rest sets ``index_holds_ids = False``:
    its index holds names, which only its own ``revoke_user`` can use)."""
    return bool(getattr(store, "index_holds_ids", True))


def describe(store: object) -> str:
    """How error messages name a store."""
    return getattr(store, "description", None) or type(store).__name__
