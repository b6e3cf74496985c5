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

The status line goes out when the body starts (PEP 3333), so the session may be used until then,
even after ``start_response``: the store is written, and ``Set-Cookie`` and ``Vary`` added, just
before the headers are sent, at the first non-empty body chunk, the first ``write()``, or the end of
an empty body. A store failure raises :class:`~dualsessions.exceptions.SessionStoreError` there,
before anything was sent, as under ASGI.
"""

from __future__ import annotations

import typing

from ._bridge import AnySerializer, AnyStore
from ._sync_engine import SyncEngine
from .cookies import add_vary_cookie, find_cookie
from .core import Encryptor, Lifetime, Session, SessionState
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
    "set_session_user",
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
        *,
        user_key: str | None = None,
        encryptor: Encryptor | None = None,
        concurrency: str = "last-writer-wins",
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
                "user_key": user_key,
                "encryptor": encryptor,
                "concurrency": concurrency,
            },
        )
        self.cookie_name = cookie_name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> typing.Iterable[bytes]:
        cookie = find_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        request_session = RequestSession(self.engine, SessionState(self.engine.config, cookie))
        environ[ENVIRON_KEY] = request_session
        response = _Response(environ, start_response, request_session)
        result = self.app(environ, response.start_response)
        if isinstance(result, (list, tuple)):  # the app is done with the session: headers now
            if not response.sent:
                response.send_headers()
            return result
        return _Body(result, response)


class _Response:
    """Holds the application's status and headers until the body starts, then saves and sends them."""

    __slots__ = ("_start_response", "_write", "environ", "pending", "request_session", "sent")

    def __init__(
        self, environ: WSGIEnvironment, start_response: StartResponse, request_session: RequestSession
    ) -> None:
        self.environ = environ
        self.request_session = request_session
        self._start_response = start_response
        self._write: typing.Callable[[bytes], object] | None = None
        self.pending: tuple[str, list[tuple[str, str]], ExcInfo | None] | None = None
        self.sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> typing.Callable[[bytes], object]:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]  # PEP 3333
        self.pending = (status, headers, exc_info)
        return self.write

    def send_headers(self) -> None:
        if self.pending is None:
            raise RuntimeError("the WSGI application did not call start_response")
        status, headers, exc_info = self.pending
        if self.request_session.state.loaded:
            https = self.environ.get("wsgi.url_scheme") == "https"
            added = self.request_session.save(self.environ.get("SCRIPT_NAME", ""), https)
            headers = with_headers(headers, added)
        self._write = self._start_response(status, headers, exc_info)
        self.sent = True

    def write(self, data: bytes) -> object:
        if not self.sent:
            self.send_headers()
        assert self._write is not None
        return self._write(data)


class _Body:
    """The application's iterable, sending the headers before the first non-empty chunk.

    ``close()`` is passed on, so the server closing this closes the application's iterable.
    """

    __slots__ = ("_iterable", "_response")

    def __init__(self, iterable: typing.Iterable[bytes], response: _Response) -> None:
        self._iterable = iterable
        self._response = response

    def __iter__(self) -> typing.Iterator[bytes]:
        response = self._response
        for chunk in self._iterable:
            if chunk and not response.sent:
                response.send_headers()
            yield chunk
        if not response.sent:
            response.send_headers()

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()


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


def set_session_user(environ: WSGIEnvironment, user: str | None) -> None:
    """Mark whose session this is (None: nobody's), so ``revoke_user_sessions`` can end it."""
    request_session = _request_session(environ)
    request_session.engine.require_user_index()
    request_session.load()
    request_session.state.set_user(user)


def set_session_lifetime(environ: WSGIEnvironment, lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    request_session = _request_session(environ)
    request_session.load()
    request_session.state.set_lifetime(lifetime)
