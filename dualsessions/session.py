"""Session helpers for Starlette and FastAPI handlers (the starsessions API).

``connection`` is a ``Request``, a ``WebSocket`` or any ``HTTPConnection`` whose app runs under
:class:`dualsessions.SessionMiddleware`. Changes (``regenerate_session_id``, ``set_session_lifetime``,
``set_session_user``) work before ``load_session`` too: the session is then loaded when the response
starts, and changed as asked. Reading it (its data, metadata, remaining seconds) needs it loaded.
"""

from __future__ import annotations

import typing

import anyio
from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._sync_engine import SyncEngine
from .core import Lifetime, Session, UserSession, generate_session_id
from .exceptions import ImproperlyConfigured, SessionNotLoaded
from .types import SessionMetadata

if typing.TYPE_CHECKING:
    from ._async_engine import AsyncSessionHandle
    from ._sync_engine import SyncSessionHandle

__all__ = [
    "SessionHandler",
    "generate_session_id",
    "get_session_handler",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "get_user_sessions",
    "is_loaded",
    "load_session",
    "regenerate_session_id",
    "revoke_other_sessions",
    "set_session_lifetime",
    "set_session_user",
]


class SessionHandler:
    """One connection's session under the ASGI middleware: the engine's handle, and the scope whose
    ``"session"`` it fills when loaded. Reach it with ``get_session_handler``."""

    __slots__ = ("_loading", "handle", "scope")

    def __init__(self, handle: AsyncSessionHandle | SyncSessionHandle, scope: Scope) -> None:
        self.handle = handle
        #: The connection's scope, until the middleware lets go of it when the application has
        #: returned (the scope holds the handler: together they would wait for the garbage collector).
        self.scope: Scope | None = scope
        #: While a load waits for the store: True, or the event that other loads of this connection
        #: wait on (made only when there are some).
        self._loading: anyio.Event | bool = False

    @property
    def session_id(self) -> str | None:
        return self.handle.session_id

    @property
    def is_loaded(self) -> bool:
        return self.handle.state.loaded

    @property
    def metadata(self) -> SessionMetadata | None:
        return self.handle.state.metadata

    @property
    def is_empty(self) -> bool:
        return not self.handle.state.session

    @property
    def initially_empty(self) -> bool:
        return self.handle.state.initially_empty

    def _at_hand(self) -> Session | None:
        """The session if it is had without waiting: loaded already, or read now from a store that
        never waits (the sync engine drives those); None when a read must be awaited."""
        handle = self.handle
        state = handle.state
        session = state.session
        engine = handle.engine
        if session is None and isinstance(engine, SyncEngine) and not self._loading:
            session = engine.load(state, handle.into)
            if self.scope is not None:  # (None once the application has returned)
                self.scope["session"] = session
        return session

    async def load(self) -> Session:
        """Read the session from the store, once; later calls return the loaded session. Tasks of
        one connection that load at the same time share the one read."""
        session = self._at_hand()
        return session if session is not None else await self._read()

    async def _read(self) -> Session:
        """Read the session from a store that waits, once: tasks that load meanwhile wait for that
        read (and try again if it failed)."""
        loading = self._loading
        if loading:  # another task is reading it
            if loading is True:
                loading = self._loading = anyio.Event()
            await loading.wait()
            return await self.load()
        handle = self.handle
        self._loading = True
        try:
            session = await typing.cast(
                "typing.Awaitable[Session]", handle.engine.load(handle.state, handle.into)
            )
        finally:
            waiting, self._loading = self._loading, False
            if isinstance(waiting, anyio.Event):
                waiting.set()
        if self.scope is not None:  # (None once the application has returned)
            self.scope["session"] = session
        return session

    def regenerate_id(self) -> str:
        return self.handle.regenerate()

    async def destroy(self) -> None:
        """End the session: its data is dropped, its record removed and its cookie deleted."""
        (await self.load()).clear()


def get_session_handler(connection: HTTPConnection) -> SessionHandler:
    """The low-level session handler of this connection."""
    try:
        return typing.cast(SessionHandler, connection.scope["session_handler"])
    except KeyError:
        raise ImproperlyConfigured(
            "No session here: add dualsessions.SessionMiddleware to the application's middleware."
        ) from None


async def load_session(connection: HTTPConnection) -> None:
    """Load the session; ``connection.session`` is usable afterwards. Loading twice is harmless."""
    handler = connection.scope.get("session_handler") or get_session_handler(connection)
    session = handler._at_hand()  # (a store that never waits: no coroutine)
    if session is None:
        session = await handler._read()
    # The connection's own scope: a middleware in between may have passed on a copy of the one the
    # handler filled.
    connection.scope["session"] = session


def is_loaded(connection: HTTPConnection) -> bool:
    return get_session_handler(connection).is_loaded


def get_session_id(connection: HTTPConnection) -> str | None:
    """The current session id: None before loading and for a session that has no record yet (it gets
    an id when saved); the new id once regenerated."""
    return get_session_handler(connection).session_id


def regenerate_session_id(connection: HTTPConnection) -> str:
    """Move the session to a new id (after login, against session fixation); the old record ends."""
    return get_session_handler(connection).regenerate_id()


def get_session_metadata(connection: HTTPConnection) -> SessionMetadata:
    """``created``, ``last_access`` and ``lifetime`` of the loaded session."""
    metadata = get_session_handler(connection).metadata
    if metadata is None:
        raise SessionNotLoaded("Cannot read session metadata because session was not loaded.")
    return metadata


def get_session_remaining_seconds(connection: HTTPConnection) -> int:
    """Seconds before the session expires; 0 for a session-only cookie."""
    return get_session_handler(connection).handle.state.remaining_seconds()


def set_session_user(connection: HTTPConnection, user: str | None) -> None:
    """Mark whose session this is (None: nobody's), so ``revoke_user_sessions`` can end it."""
    get_session_handler(connection).handle.set_user(user)


def set_session_lifetime(connection: HTTPConnection, lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    get_session_handler(connection).handle.set_lifetime(lifetime)


async def get_user_sessions(connection: HTTPConnection) -> list[UserSession]:
    """The sessions of this session's user ("your devices"), the most recently seen first, this one
    marked ``current``; with their non-secret ``reference``, never their ids. None without a user."""
    await load_session(connection)
    found = get_session_handler(connection).handle.user_sessions()
    return found if isinstance(found, list) else await found


async def revoke_other_sessions(connection: HTTPConnection) -> int:
    """Sign this session's user out everywhere else: end all their sessions but this one; how many
    live ones ended (0 without a user)."""
    await load_session(connection)
    ended = get_session_handler(connection).handle.revoke_others()
    return ended if isinstance(ended, int) else await ended
