"""The sync store contract (starsessions' own, extended with optional methods), exported by
:mod:`dualsessions.stores.base`.

Generated from ``_async_contract.py`` by ``scripts/unasync.py``: edit that file, then run the script.
"""

from __future__ import annotations

import abc
import typing

from ..cookies import is_session_id


class SyncSessionStore(abc.ABC):
    """Base class of sync session stores.

    ``lifetime`` is the session's total lifetime in seconds (0: a browser-session cookie) and ``ttl`` is
    how long the record is still needed; a store may delete it after that. With ``lifetime == 0`` the
    end of the session is unknown and the store picks a time to keep the record (``gc_ttl``).
    """

    #: The session lives in the cookie's value itself (:class:`CookieStore`): the server keeps no
    #: record to end, list, index or bind to an id.
    stateless: typing.ClassVar[bool] = False
    #: The store drops a record once its ttl has passed (the built-in ones do; the core refuses an
    #: expired session on load anyway, so a store without TTLs is correct, only bigger).
    expires_records: typing.ClassVar[bool] = False

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
        """Optional: whether a cookie's value may name one of this store's records, checked before the
        store is asked (a value it refuses is a new session, with no store call). The default takes
        values of the shape of the ids dualsessions issues (and starsessions did): 16 to 128 URL-safe
        characters, so a forged value (another kind of key, say) never reaches the store. A store that
        issues ids of its own from ``write`` says which it takes. Computes only: not ``async``."""
        return is_session_id(session_id)

    def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        """Optional: read and give the record ``ttl`` more seconds in one step (rolling sessions);
        ``ttl`` 0 means as long as ``write`` keeps a record whose ttl is 0 (the store's choice).

        Stores that don't override it get a plain read followed by a write when a rolling session is
        only read, which costs one more store call.
        """
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

    # Optional, for operations outside requests (dualsessions.admin and the CLI). A store that can't
    # do one raises NotImplementedError (the defaults below), or an error saying why.

    def session_ids(self) -> typing.Iterator[str]:
        """Every live session's id, in constant memory."""
        raise NotImplementedError

    def count_sessions(self) -> int:
        """How many live sessions there are. This default counts :meth:`session_ids`."""
        count = 0
        for _ in self.session_ids():
            count += 1
        return count

    def remaining_ttl(self, session_id: str) -> int | None:
        """Seconds before the record of ``session_id`` expires; None when there is no such record, it
        never expires, or the store can't tell (this default). A script that changes a session which
        rolls keeps the expiry that requests gave it, rather than extending it."""
        return None

    def read_many(self, session_ids: list[str]) -> list[bytes]:
        """The records of many sessions (``b""`` for one that is gone), for listing them in batches.
        This default reads them one by one; a store that can should read them in one round trip."""
        return [self.read(session_id, 0) for session_id in session_ids]

    def add_user_session(self, user: str, session_id: str) -> None:
        """Note that ``session_id`` is one of ``user``'s sessions (per-user revocation)."""
        raise NotImplementedError

    def remove_user_session(self, user: str, session_id: str) -> None:
        raise NotImplementedError

    def user_sessions(self, user: str) -> list[str]:
        """The ids of ``user``'s sessions (some may have expired since)."""
        raise NotImplementedError

    def revoke_user(self, user: str) -> int:
        """End every session of ``user``; how many live ones it ended. This default takes each
        session in :meth:`user_sessions` away (:meth:`take`) and drops its index entry."""
        ended = 0
        for session_id in self.user_sessions(user):  # taken, not removed: only live ones count
            ended += bool(self.take(session_id))
            self.remove_user_session(user, session_id)
        return ended

    def purge_expired(self) -> int:
        """Drop expired records and index entries the store would otherwise keep; how many."""
        raise NotImplementedError

    def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        """Atomically replace the record with ``change(record)`` (``concurrency="merge"``); leave it
        alone if ``change`` returns None. The id written under, or None."""
        raise NotImplementedError
