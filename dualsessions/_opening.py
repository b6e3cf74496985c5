"""A session opened outside a request (:func:`dualsessions.admin.open_session`), in either flavour."""

from __future__ import annotations

import copy
import types
import typing

from ._async_engine import AsyncEngine, AsyncSessionHandle
from ._sync_engine import SyncEngine, SyncSessionHandle
from .cookies import is_valid_cookie_value
from .core import Lifetime, Session, SessionState
from .exceptions import SessionError


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
