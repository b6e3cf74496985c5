"""Sessions outside a request, in the async flavour, as :mod:`dualsessions.admin` exports them.

This file is the source of ``_sync_admin.py``, which ``scripts/unasync.py`` generates from it.
"""

from __future__ import annotations

import contextlib
import typing

from . import _bridge, events
from ._async_engine import AsyncEngine
from ._opening import OpenSession
from .core import Options, UserSession
from .exceptions import ImproperlyConfigured
from .stores.base import describe, id_check, is_stateless

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack


def aopen_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> OpenSession:
    """Open a session by id: ``async with aopen_session(store, id) as session:``. Pass the app's
    options (``lifetime``, ``rolling``, ``user_key``, ``serializer``, ``encryptor``) so that expiry,
    the per-user index and decoding follow the same rules."""
    return OpenSession(AsyncEngine(store, options, "script"), session_id, is_stateless(store))


async def adelete_session(store: _bridge.AnyStore, session_id: str, **options: Unpack[Options]) -> bool:
    """Remove a session (and its place in the per-user index); True if a live session's record was
    there (an expired one still kept is removed too, and counts as not found).

    Pass the app's options (``encryptor``, ``serializer``, ``user_key``) so that its user's index
    is updated too; a record these options can't read (encrypted with other keys, say) is removed all
    the same, and counts as found."""
    opened = aopen_session(store, session_id, **options)
    async with opened as session:
        session.clear()
    if opened.exists:
        return True
    return id_check(store)(session_id) and bool(await _bridge.async_store(store)[0].take(session_id))


# -- listing, counting, revoking, purging: the store's own methods --------------------------------------


@contextlib.contextmanager
def _capability(store: object, what: str) -> typing.Iterator[None]:
    """Say clearly that ``store`` can't do ``what`` (its contract method raised NotImplementedError)."""
    if is_stateless(store):
        raise ImproperlyConfigured(
            "CookieStore sessions live in the browsers' cookies: the server can't list, count, revoke "
            "or purge them. Rotate the secret key to end them all."
        )
    try:
        yield
    except NotImplementedError:
        raise ImproperlyConfigured(f"{describe(store)} can't {what}: it doesn't implement it") from None


def asession_ids(store: _bridge.AnyStore) -> typing.AsyncIterator[str]:
    """Every live session's id, in constant memory (Redis: SCAN over the prefix)."""
    with _capability(store, "list sessions"):
        return _bridge.async_store(store)[0].session_ids()


async def asession_records(
    store: _bridge.AnyStore, batch: int = 1000
) -> typing.AsyncIterator[tuple[str, bytes]]:
    """Every live session's id and record bytes, read ``batch`` at a time (Redis: one ``MGET`` a
    batch), in constant memory: for listing many sessions. Decode them as the apps do with an engine
    (the CLI's ``list``)."""
    native = _bridge.async_store(store)[0]
    ids: list[str] = []
    async for session_id in asession_ids(store):
        ids.append(session_id)
        if len(ids) >= batch:
            for found in zip(ids, await native.read_many(ids), strict=True):
                if found[1]:  # (expired since it was listed)
                    yield found
            ids = []
    for found in zip(ids, await native.read_many(ids), strict=True):
        if found[1]:
            yield found


async def acount_sessions(store: _bridge.AnyStore) -> int:
    """How many live sessions there are."""
    with _capability(store, "count sessions"):
        return await _bridge.async_store(store)[0].count_sessions()


async def arevoke_user_sessions(
    store: _bridge.AnyStore,
    user: str,
    *,
    keep: str | None = None,
    event_hooks: typing.Sequence[events.EventHook] | None = None,
) -> int:
    """End every session of ``user``, in every app sharing the store; how many live ones it ended.

    ``keep``: a session id to leave alone ("sign out everywhere else": the current session's). Every
    other session is taken away, so a request still using one can't write it back. ``event_hooks`` get
    one :class:`~dualsessions.events.SessionRevoked` event."""
    hooks = events.checked_hooks(event_hooks, may_await=True)
    with _capability(store, "revoke a user's sessions (it keeps no per-user index)"):
        if keep is None:
            count = await _bridge.async_store(store)[0].revoke_user(user)
        else:
            count = await AsyncEngine(store, {}).revoke_user(user, keep)
    if hooks:
        await events.adispatch(hooks, (events.revoked(user, count, type(store).__name__),))
    return count


async def auser_sessions(store: _bridge.AnyStore, user: str, **options: Unpack[Options]) -> list[UserSession]:
    """``user``'s live sessions with their devices (``track_devices``), the most recently seen first:
    rows of :class:`~dualsessions.core.UserSession` with the session ids. Pass the app's options
    (``encryptor``, ``serializer``, ``user_key``) so that the records are read as the apps read them.
    Reading extends none of them."""
    with _capability(store, "list a user's sessions (it keeps no per-user index)"):
        return await AsyncEngine(store, options).user_sessions(user)


async def apurge_expired(store: _bridge.AnyStore) -> int:
    """Drop what has expired but is still kept (for stores without TTLs, and index entries)."""
    with _capability(store, "purge expired sessions"):
        return await _bridge.async_store(store)[0].purge_expired()
