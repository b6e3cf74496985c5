"""The WSGI front end: a session middleware for Werkzeug and any PEP 3333 application.

It takes exactly the options of the ASGI :class:`dualsessions.SessionMiddleware` and drives the same
core, so both front ends read and write the same cookie and the same records. The session is loaded
on first use::

    from dualsessions.wsgi import SessionMiddleware, get_session

    def app(environ, start_response):
        session = get_session(environ)
        session["visits"] = session.get("visits", 0) + 1
        ...

    app = SessionMiddleware(app, store=InMemoryStore())

The store is written, and the ``Set-Cookie`` and ``Vary`` headers added, when the application calls
``start_response``: before the status line goes out. A store failure raises
:class:`~dualsessions.exceptions.SessionStoreError` there, as under ASGI.
"""

from __future__ import annotations

import typing

from ._bridge import AnySerializer, AnyStore
from ._sync_engine import SyncEngine
from .cookies import add_vary_cookie, find_cookie
from .core import Lifetime, Session, SessionState
from .exceptions import ImproperlyConfigured, SessionNotLoaded
from .serializers import JsonSerializer
from .types import SessionMetadata

if typing.TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

__all__ = [
    "ENVIRON_KEY",
    "RequestSession",
    "SessionMiddleware",
    "get_session",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "is_loaded",
    "regenerate_session_id",
    "set_session_lifetime",
]

ENVIRON_KEY = "dualsessions.session"


class RequestSession:
    """One request's session under the WSGI middleware, found at ``environ["dualsessions.session"]``."""

    __slots__ = ("engine", "state")

    def __init__(self, engine: SyncEngine, state: SessionState) -> None:
        self.engine = engine
        self.state = state

    def load(self, into: Session | None = None) -> Session:
        """The session, read from the store on first use."""
        session = self.state.session
        if session is None:
            session = self.engine.load(self.state, into)
        return session

    def save(self, mount_point: str, https: bool) -> list[tuple[str, str]]:
        """Write what changed; the headers to add to the response."""
        written = self.engine.save(self.state)
        return self.state.response_headers(written, mount_point, https)


class SessionMiddleware:
    """Gives every request of a WSGI application a session, loaded on first use.

    The options are those of the ASGI middleware, with the same defaults and validation.
    """

    def __init__(
        self,
        app: WSGIApplication,
        store: AnyStore,
        lifetime: Lifetime = 0,
        rolling: bool = False,
        cookie_name: str = "session",
        cookie_same_site: str = "lax",
        cookie_https_only: bool = True,
        cookie_domain: str | None = None,
        cookie_path: str | None = None,
        serializer: AnySerializer | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.serializer = serializer if serializer is not None else JsonSerializer()
        self.engine = SyncEngine(
            store,
            self.serializer,
            {
                "lifetime": lifetime,
                "rolling": rolling,
                "cookie_name": cookie_name,
                "cookie_same_site": cookie_same_site,
                "cookie_https_only": cookie_https_only,
                "cookie_domain": cookie_domain,
                "cookie_path": cookie_path,
            },
        )
        self.cookie_name = cookie_name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> typing.Iterable[bytes]:
        cookie = find_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        request_session = RequestSession(self.engine, SessionState(self.engine.config, cookie))
        environ[ENVIRON_KEY] = request_session
        added: list[tuple[str, str]] | None = None

        def start_response_with_session(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> typing.Callable[[bytes], object]:
            nonlocal added
            if request_session.state.loaded:
                if added is None:  # once: a second call (with exc_info) replaces the headers only
                    https = environ.get("wsgi.url_scheme") == "https"
                    added = request_session.save(environ.get("SCRIPT_NAME", ""), https)
                headers = with_headers(headers, added)
            return start_response(status, headers, exc_info)

        # The wrapped iterable goes back to the server as it is, so the server calls its close().
        return self.app(environ, start_response_with_session)


def with_headers(headers: list[tuple[str, str]], added: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` plus the session's, merging ``Vary``; the application's list is not changed."""
    result = list(headers)
    for name, value in added:
        if name == "Vary":
            for index, (key, existing) in enumerate(result):
                if key.lower() == "vary":
                    result[index] = (key, add_vary_cookie(existing))
                    break
            else:
                result.append((name, value))
        else:
            result.append((name, value))
    return result


def _request_session(environ: WSGIEnvironment) -> RequestSession:
    try:
        return typing.cast(RequestSession, environ[ENVIRON_KEY])
    except KeyError:
        raise ImproperlyConfigured(
            "No session here: wrap the application in dualsessions.wsgi.SessionMiddleware."
        ) from None


def get_session(environ: WSGIEnvironment) -> Session:
    """This request's session (a dict), read from the store on first use."""
    return _request_session(environ).load()


def is_loaded(environ: WSGIEnvironment) -> bool:
    return _request_session(environ).state.loaded


def get_session_id(environ: WSGIEnvironment) -> str | None:
    """The current session id: None for a session that has no record yet (it gets one when saved)."""
    request_session = _request_session(environ)
    request_session.load()  # the cookie's id counts only once the store knows it
    return request_session.state.session_id


def regenerate_session_id(environ: WSGIEnvironment) -> str:
    """Move the session to a new id (after login, against session fixation); the old record is removed."""
    request_session = _request_session(environ)
    request_session.load()
    return request_session.state.regenerate()


def get_session_metadata(environ: WSGIEnvironment) -> SessionMetadata:
    """``created``, ``last_access`` and ``lifetime`` of the session (loading it if needed)."""
    request_session = _request_session(environ)
    request_session.load()
    metadata = request_session.state.metadata
    if metadata is None:  # pragma: no cover - load() always sets it
        raise SessionNotLoaded("the session has no metadata")
    return metadata


def get_session_remaining_seconds(environ: WSGIEnvironment) -> int:
    """Seconds before the session expires; 0 for a session-only cookie."""
    request_session = _request_session(environ)
    request_session.load()
    return request_session.state.remaining_seconds()


def set_session_lifetime(environ: WSGIEnvironment, lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    request_session = _request_session(environ)
    request_session.load()
    request_session.state.set_lifetime(lifetime)
