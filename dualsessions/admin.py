"""Sessions outside a request: for scripts, admin tools, cron jobs and support consoles.

Everything comes in a sync flavour for plain scripts and an async twin for async ones (an ``a``
prefix, as Django's ``aget``). The rules are the middlewares' own, from the same core::

    from dualsessions import open_session, revoke_user_sessions

    with open_session(store, session_id) as session:   # an unknown id gives an empty session
        session["plan"] = "pro"                         # saved on exit; nothing written if unchanged

    revoke_user_sessions(store, "ada")                  # log ada out everywhere

Reading never extends a session and never creates one. Pass ``lifetime``, ``rolling`` and
``user_key`` as the app does, so that expiry and the per-user index follow the same rules.
"""

from __future__ import annotations

import copy
import itertools
import types
import typing

from . import _bridge
from ._async_engine import AsyncEngine, AsyncSessionHandle
from ._sync_engine import SyncEngine, SyncSessionHandle
from .cookies import is_valid_cookie_value
from .core import Lifetime, Options, Session, SessionState
from .exceptions import ImproperlyConfigured, SessionError
from .stores.base import describe, id_check, implements, indexes_users, is_stateless

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "OpenSession",
    "acount_sessions",
    "adelete_session",
    "aopen_session",
    "apurge_expired",
    "arevoke_user_sessions",
    "asession_ids",
    "asession_records",
    "count_sessions",
    "delete_session",
    "open_session",
    "purge_expired",
    "revoke_user_sessions",
    "session_ids",
    "session_records",
]


class OpenSession:
    """A session opened outside a request. ``with`` (``async with`` for :func:`aopen_session`) gives
    the session dict; leaving the block without an exception saves it, with the middlewares' rules:
    a session that ended meanwhile (revoked, deleted, regenerated elsewhere) stays ended.

    Afterwards ``session_id`` is the id it was saved under: a new one if data was given to an unknown
    id (ids are never adopted), None if the session was emptied (its record removed), never existed,
    or ended meanwhile. For a :class:`CookieStore`, pass the cookie's value: such a session can only
    be read.
    """

    def __init__(self, engine: SyncEngine | AsyncEngine, session_id: str, read_only: bool) -> None:
        if not isinstance(session_id, str) or not is_valid_cookie_value(session_id):
            raise SessionError(f"{session_id!r} is not a session id")
        # A value the store would never issue names no session: looked at as unknown, never sent.
        self._handle = engine.begin(session_id if engine.accepts_id(session_id) else None, extend=False)
        self._read_only = read_only
        self._before: dict[str, typing.Any] | None = None
        self.session_id: str | None = session_id

    @property
    def exists(self) -> bool:
        """Whether the id named a live session (known once opened)."""
        return not self._handle.state.is_new

    @property
    def state(self) -> SessionState:
        """The core's view of the session: metadata, user, ``set_lifetime``, ``set_user``."""
        return self._handle.state

    def regenerate(self) -> str:
        """Move the session to a new id when it is saved; the old record ends."""
        return self._handle.regenerate()

    def set_user(self, user: str | None) -> None:
        """Mark whose session this is (None: nobody's), for per-user revocation."""
        self._handle.set_user(user)

    def set_lifetime(self, lifetime: Lifetime) -> None:
        """Give the session its own lifetime (seconds or a timedelta; 0: a browser session)."""
        self._handle.set_lifetime(lifetime)

    def __enter__(self) -> Session:
        return self._opened(typing.cast(SyncSessionHandle, self._handle).load())

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if kind is None:
            self._refuse_cookie_changes()
            typing.cast(SyncSessionHandle, self._handle).save()
            self.session_id = self._handle.session_id

    async def __aenter__(self) -> Session:
        return self._opened(await typing.cast(AsyncSessionHandle, self._handle).load())

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if kind is None:
            self._refuse_cookie_changes()
            await typing.cast(AsyncSessionHandle, self._handle).save()
            self.session_id = self._handle.session_id

    def _opened(self, session: Session) -> Session:
        self.session_id = self._handle.session_id
        if self._read_only:
            self._before = copy.deepcopy(dict(session))
        return session

    def _refuse_cookie_changes(self) -> None:
        session = self._handle.state.session
        if self._read_only and session is not None and (session.modified or dict(session) != self._before):
            raise SessionError(
                "a CookieStore session can't be changed from a script: its data lives in the browser's "
                "cookie. Change it in a request, or use a server-side store."
            )


def open_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> OpenSession:
    """Open a session by id in a plain (sync) script: ``with open_session(store, id) as session:``.
    Pass the app's options (``lifetime``, ``rolling``, ``user_key``, ``serializer``, ``encryptor``)
    so that expiry, the per-user index and decoding follow the same rules."""
    return OpenSession(SyncEngine(store, options), session_id, is_stateless(store))


def aopen_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> OpenSession:
    """Open a session by id in async code: ``async with aopen_session(store, id) as session:``."""
    return OpenSession(AsyncEngine(store, options), session_id, is_stateless(store))


def delete_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> bool:
    """Remove a session (and its place in the per-user index); True if a live session's record was
    there (an expired one still kept is removed too, and counts as not found).

    Pass the app's options (``encryptor``, ``serializer``, ``user_key``) so that its user's index
    is updated too; a record these options can't read (encrypted with other keys, say) is removed all
    the same, and counts as found."""
    opened = open_session(store, session_id, **options)
    with opened as session:
        session.clear()
    if opened.exists:
        return True
    return id_check(store)(session_id) and bool(_bridge.sync_store(store)[0].take(session_id))


async def adelete_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> bool:
    opened = aopen_session(store, session_id, **options)
    async with opened as session:
        session.clear()
    if opened.exists:
        return True
    return id_check(store)(session_id) and bool(await _bridge.async_store(store)[0].take(session_id))


# -- listing, counting, revoking, purging ---------------------------------------------------------------


def _require(store: object, *methods: str) -> None:
    if all(implements(store, method) for method in methods):
        return
    if is_stateless(store):
        raise ImproperlyConfigured(
            "CookieStore sessions live in the browsers' cookies: the server can't list, count, revoke "
            "or purge them. Rotate the secret key to end them all."
        )
    raise ImproperlyConfigured(f"{describe(store)} can't do this: it doesn't implement {', '.join(methods)}")


def session_ids(store: _bridge.AnyStore) -> typing.Iterator[str]:
    """Every live session's id, in constant memory (Redis: SCAN over the prefix)."""
    _require(store, "session_ids")
    return _bridge.sync_store(store)[0].session_ids()


def asession_ids(store: _bridge.AnyStore) -> typing.AsyncIterator[str]:
    _require(store, "session_ids")
    return _bridge.async_store(store)[0].session_ids()


def session_records(store: _bridge.AnyStore, batch: int = 1000) -> typing.Iterator[tuple[str, bytes]]:
    """Every live session's id and record bytes, read ``batch`` at a time (Redis: one ``MGET`` a
    batch), in constant memory: for listing many sessions. Decode them as the apps do with an engine
    (the CLI's ``list``)."""
    _require(store, "session_ids")
    native = _bridge.sync_store(store)[0]
    for ids in _batches(native.session_ids(), batch):
        for session_id, raw in zip(ids, native.read_many(ids), strict=True):
            if raw:  # (expired since it was listed)
                yield session_id, raw


async def asession_records(
    store: _bridge.AnyStore, batch: int = 1000
) -> typing.AsyncIterator[tuple[str, bytes]]:
    _require(store, "session_ids")
    native = _bridge.async_store(store)[0]
    ids: list[str] = []
    async for session_id in native.session_ids():
        ids.append(session_id)
        if len(ids) >= batch:
            for found in zip(ids, await native.read_many(ids), strict=True):
                if found[1]:
                    yield found
            ids = []
    for found in zip(ids, await native.read_many(ids), strict=True):
        if found[1]:
            yield found


def _batches(items: typing.Iterator[str], size: int) -> typing.Iterator[list[str]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def count_sessions(store: _bridge.AnyStore) -> int:
    return sum(1 for _ in session_ids(store))


async def acount_sessions(store: _bridge.AnyStore) -> int:
    return sum([1 async for _ in asession_ids(store)])


def revoke_user_sessions(store: _bridge.AnyStore, user: str) -> int:
    """End every session of ``user``, in every app sharing the store; how many live ones it ended."""
    if not indexes_users(store):
        _require(store, "add_user_session", "remove_user_session", "user_sessions")
    sync = _bridge.sync_store(store)[0]
    native = getattr(sync, "revoke_user", None)
    if native is not None:  # the store's own (RedisStore: its index names records, maybe hashed)
        return typing.cast(int, native(user))
    ended = 0
    for session_id in sync.user_sessions(user):  # taken, not removed: only live records count
        ended += bool(sync.take(session_id))
        sync.remove_user_session(user, session_id)
    return ended


async def arevoke_user_sessions(store: _bridge.AnyStore, user: str) -> int:
    if not indexes_users(store):
        _require(store, "add_user_session", "remove_user_session", "user_sessions")
    native = _bridge.async_store(store)[0]
    revoke = getattr(native, "revoke_user", None)
    if revoke is not None:
        return typing.cast(int, await revoke(user))
    ended = 0
    for session_id in await native.user_sessions(user):  # taken, not removed: only live records count
        ended += bool(await native.take(session_id))
        await native.remove_user_session(user, session_id)
    return ended


def purge_expired(store: _bridge.AnyStore) -> int:
    """Drop what has expired but is still kept (for stores without TTLs, and index entries)."""
    _require(store, "purge_expired")
    return _bridge.sync_store(store)[0].purge_expired()


async def apurge_expired(store: _bridge.AnyStore) -> int:
    _require(store, "purge_expired")
    return await _bridge.async_store(store)[0].purge_expired()
