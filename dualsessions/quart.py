"""Quart integration: ``quart.session`` becomes the dualsessions session.

    from dualsessions.quart import DualSessions

    app = Quart(__name__)
    DualSessions(app, store=RedisStore(url="redis://..."))

or, with an application factory, ``sessions = DualSessions(store=...)`` then ``sessions.init_app(app)``.
The twin of :mod:`dualsessions.flask` on Quart, over the async engine: the same options, the same
configuration keys (``SESSION_COOKIE_*``, ``SESSION_REFRESH_EACH_REQUEST``,
``PERMANENT_SESSION_LIFETIME``, ``SECRET_KEY_FALLBACKS``), the same ``session.permanent`` and the same
serializer (:class:`~dualsessions.TaggedJsonSerializer`), so a session passes between Quart, Flask and
Starlette apps sharing a store.

When the session is read: Quart's session is a dict that views use without ``await``, while reading a
store waits. So it is read where Quart opens it, in its async ``open_session`` step before the view
runs, and only if the request carries a session cookie (without one there is nothing to read). Until
the application uses it, it counts as never used: a request that doesn't use it costs that one read
and nothing else (no write, no ``Set-Cookie``, no ``Vary``). If the read fails, the
:class:`~dualsessions.SessionStoreError` is raised where the application first uses the session (so
Quart's error handlers see it), and a request that never uses it is not failed by it.

The session is written in Quart's ``save_session`` step (errors reach Quart's error handlers), only
when it changed. In a WebSocket handler the session is read when the connection opens and is read-only:
once the connection is accepted no cookie can reach the browser, so changes are not saved (and a
warning says so); make them in an HTTP request. Requires ``dualsessions[quart]``.
"""

from __future__ import annotations

import logging
import typing

try:
    import quart
    from quart.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("dualsessions.quart needs Quart: pip install 'dualsessions[quart]'") from exc

from ._async_engine import AsyncEngine, AsyncSessionHandle
from ._bridge import AnyStore
from ._pallets import NOT_LOADED_KEY, AppSession, add_session_headers, resolve_options, verifying_fallbacks
from .cookies import find_cookie, id_in_headers
from .core import CHANGES, Client, Lifetime, Options, Phase, UserSession
from .exceptions import ImproperlyConfigured, SessionStoreError
from .types import SessionMetadata

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack
    from werkzeug.wrappers import Response as WerkzeugResponse

__all__ = [
    "DualSessions",
    "QuartSession",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "get_user_sessions",
    "regenerate_session_id",
    "revoke_other_sessions",
    "set_session_lifetime",
    "set_session_user",
]

logger = logging.getLogger("dualsessions")


class QuartSession(AppSession, SessionMixin):  # type: ignore[override]  # new: read-only
    """``quart.session``: a dict, read from the store before the view runs, with Flask's session
    attributes; in play (saved, given headers) once the application uses it."""

    handle: AsyncSessionHandle
    #: The store's failure while reading ahead, raised when the application uses the session.
    failure: SessionStoreError | None = None
    _used = False
    _failure_raised = False

    def __init__(self, handle: AsyncSessionHandle, permanent_lifetime: int, mount: str, https: bool) -> None:
        super().__init__(handle, permanent_lifetime, mount, https)
        handle.into = self  # the read fills this dict (and so empties it first)

    async def _read_ahead(self) -> None:
        """Read the session before the view runs: not in play until used; a failure kept for then."""
        self._used = True  # the engine looks into the data as it loads it: that is not the app's use
        try:
            await self.handle.load(ahead=True)
        except SessionStoreError as exc:
            self.failure = exc
            return
        finally:
            self._used = False
        if not dict.__len__(self):  # not empty underneath until used (see AppSession)
            dict.__setitem__(self, NOT_LOADED_KEY, None)

    @property
    def accessed(self) -> bool:
        return self._ready()

    @accessed.setter
    def accessed(self, value: bool) -> None:
        """Quart (0.23 and later) sets this whenever its context's session is read, its own response
        processing included: so it says nothing of the application's use, which every way into the
        data sees (and the data is there already, read ahead)."""

    def _load(self) -> None:
        if self._used:
            return
        if self.failure is not None:
            self._failure_raised = True
            raise self.failure
        if not self.handle.state.in_play:
            self.handle.use()
        dict.pop(self, NOT_LOADED_KEY, None)
        self._used = True

    def _ready(self) -> bool:
        return self.handle.state.in_play


class _Interface(SessionInterface):
    """Opens a :class:`QuartSession` per request (read ahead) and saves it through the shared core."""

    def __init__(self, engine: AsyncEngine, permanent_lifetime: int) -> None:
        self.engine = engine
        self.permanent_lifetime = permanent_lifetime

    async def open_session(
        self, app: quart.Quart, request: quart.wrappers.BaseRequestWebsocket
    ) -> QuartSession:
        engine = self.engine
        config = engine.config
        if config.header is None:
            header = "; ".join(request.headers.getlist("Cookie"))  # HTTP/2 may send several
            session_id = find_cookie(header, config.cookie.name, engine.accepts_id)
        else:  # header sessions (session_header): cookies are not looked at
            session_id = id_in_headers(request.headers.getlist(config.header), engine.accepts_id)
        client = (
            Client(request.headers.get("User-Agent"), request.remote_addr) if config.track_devices else None
        )
        handle = engine.begin(session_id, client=client)
        session = QuartSession(handle, self.permanent_lifetime, request.root_path, request.is_secure)
        await session._read_ahead()
        return session

    async def save_session(
        self, app: quart.Quart, session: SessionMixin, response: quart.Response | WerkzeugResponse | None
    ) -> None:
        if not isinstance(session, QuartSession):
            return
        handle = session.handle
        if not handle.in_play:
            handle.state.response_started_unused()
            if session.failure is not None and not session._failure_raised:  # (not needed: not raised)
                logger.warning("session store failed, unused by this request: %s", session.failure)
            return
        # Quart calls this again for the error page when the first call failed: decided once, saved once.
        if handle.state.phase not in (Phase.UNLOADED, Phase.LOADED):
            return
        dict.pop(session, NOT_LOADED_KEY, None)  # (a session in play that the app never looked into)
        if response is None:  # the end of an accepted WebSocket: too late for a cookie
            await handle.engine.tell_load(handle.state)
            if handle.state.phase is Phase.LOADED and handle.state.decide(None).situation in CHANGES:
                logger.warning(
                    "the session was changed in a WebSocket handler and is not saved: no cookie can be "
                    "sent once the connection is accepted. Change the session in an HTTP request."
                )
            return
        await handle.save(response.status_code)
        add_session_headers(response.headers, handle.headers(session.mount, session.https))


class DualSessions:
    """The Quart extension: ``DualSessions(app, store=...)`` or ``DualSessions(store=...).init_app(app)``."""

    def __init__(
        self, app: quart.Quart | None = None, *, store: AnyStore, **options: Unpack[Options]
    ) -> None:
        self.store = store
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: quart.Quart) -> None:
        options, permanent_lifetime = resolve_options(app.config, self.options)
        engine = AsyncEngine(verifying_fallbacks(self.store, app.config), options, "quart")
        app.session_interface = _Interface(engine, permanent_lifetime)  # type: ignore[assignment]  # (typed as Quart's own)
        app.extensions["dualsessions"] = self


def _current() -> QuartSession:
    session = quart.session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(session, QuartSession):
        raise ImproperlyConfigured(
            "quart.session is not a dualsessions session: call DualSessions(app, store=...)."
        )
    return session


def get_session_id() -> str | None:
    """The current session id: None for a session that has no record yet (it gets one when saved)."""
    return _current().loaded_id()


def regenerate_session_id() -> str:
    """Move the session to a new id (after login, against session fixation); the old record ends."""
    return _current().handle.regenerate()


def get_session_metadata() -> SessionMetadata:
    """``created``, ``last_access`` and ``lifetime`` of the session."""
    return _current().loaded_metadata()


def get_session_remaining_seconds() -> int:
    """Seconds before the session expires; 0 for a session-only cookie."""
    return _current().remaining_seconds()


def set_session_user(user: str | None) -> None:
    """Mark whose session this is (None: nobody's), so ``revoke_user_sessions`` can end it."""
    _current().handle.set_user(user)


def set_session_lifetime(lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    _current().handle.set_lifetime(lifetime)


async def get_user_sessions() -> list[UserSession]:
    """The sessions of this session's user ("your devices"), the most recently seen first, this one
    marked ``current``; with their non-secret ``reference``, never their ids. None without a user."""
    return await _current().handle.user_sessions()


async def revoke_other_sessions() -> int:
    """Sign this session's user out everywhere else: end all their sessions but this one; how many
    live ones ended (0 without a user)."""
    return await _current().handle.revoke_others()
