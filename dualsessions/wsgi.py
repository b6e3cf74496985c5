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
before anything was sent, as under ASGI; ``on_store_error`` answers it instead (a 503, say).
"""

from __future__ import annotations

import typing

from ._bridge import AnyStore
from ._failures import log_answered, store_failure
from ._sync_engine import SyncEngine, SyncSessionHandle
from .cookies import environ_key, find_cookie, id_in_header, with_session_headers
from .core import Client, Lifetime, Options, Session, UserSession, options_from
from .exceptions import ImproperlyConfigured, SessionStoreError
from .serializers import JsonSerializer
from .types import SessionMetadata

if typing.TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

__all__ = [
    "ENVIRON_KEY",
    "RequestSession",
    "SessionMiddleware",
    "get_session",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "get_user_sessions",
    "is_loaded",
    "regenerate_session_id",
    "revoke_other_sessions",
    "set_session_lifetime",
    "set_session_user",
]

ENVIRON_KEY = "dualsessions.session"

#: One request's session under the WSGI middleware, found at ``environ["dualsessions.session"]``.
RequestSession = SyncSessionHandle

#: ``on_store_error``: given the request's environ and the store's error, the WSGI application that
#: answers in place of the one that failed (a Werkzeug ``Response``, say).
StoreErrorHandler = typing.Callable[["WSGIEnvironment", SessionStoreError], "WSGIApplication"]


class SessionMiddleware:
    """Gives every request of a WSGI application a session, loaded on first use.

    The options are those of the ASGI middleware (:class:`dualsessions.core.Options`), with the same
    defaults and validation, by position too.

    ``on_store_error(environ, exc)`` answers a request whose store failed (``SessionStoreError``, while
    loading or saving, also when the application raised it wrapped) before its headers were sent: it
    returns the WSGI application to answer with (a Werkzeug ``Response``, say), and the failure is
    logged as one line, without a traceback. Without it, the error is raised to the server.
    """

    def __init__(
        self,
        app: WSGIApplication,
        store: AnyStore,
        *args: typing.Any,
        on_store_error: StoreErrorHandler | None = None,
        **options: Unpack[Options],
    ) -> None:
        if on_store_error is not None and not callable(on_store_error):
            raise ImproperlyConfigured(
                "on_store_error must be a callable (environ, exc) -> WSGI application, "
                f"got {on_store_error!r}"
            )
        self.app = app
        self.store = store
        self.on_store_error = on_store_error
        options = options_from(args, options, "SessionMiddleware")
        self.serializer = options.get("serializer") or JsonSerializer()
        self.engine = SyncEngine(store, options, "wsgi")
        self.cookie_name = self.engine.config.cookie.name
        #: ``session_header``: where the id comes in, as PEP 3333 names it (None: the cookie).
        self._id_key = environ_key(self.engine.config.header)
        self._tracks_devices = self.engine.config.track_devices

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> typing.Iterable[bytes]:
        engine = self.engine
        if self._id_key is None:
            session_id = find_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name, engine.accepts_id)
        else:
            session_id = id_in_header(environ.get(self._id_key), engine.accepts_id)
        handle = engine.begin(session_id, client=client_of(environ) if self._tracks_devices else None)
        environ[ENVIRON_KEY] = handle
        response = _Response(environ, start_response, handle, self.on_store_error)
        try:
            result = self.app(environ, response.start_response)
            if isinstance(result, (list, tuple)):  # the app is done with the session: headers now
                if not response.sent:
                    response.send_headers()
                return result
        except Exception as exc:
            answer = response.answer(exc)
            if answer is None:
                raise
            return answer
        return _Body(result, response)


class _Response:
    """Holds the application's status and headers until the body starts, then saves and sends them;
    or, when the store failed before that, the answer of ``on_store_error``."""

    __slots__ = ("_on_store_error", "_start_response", "_write", "environ", "handle", "pending", "sent")

    def __init__(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        handle: SyncSessionHandle,
        on_store_error: StoreErrorHandler | None = None,
    ) -> None:
        self.environ = environ
        self.handle = handle
        self._start_response = start_response
        self._on_store_error = on_store_error
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
        handle = self.handle
        if handle.in_play:
            handle.save(_status_code(status, exc_info))
            https = self.environ.get("wsgi.url_scheme") == "https"
            headers = with_session_headers(
                headers, handle.headers(self.environ.get("SCRIPT_NAME", ""), https)
            )
        else:
            handle.state.response_started_unused()
        self._write = self._start_response(status, headers, exc_info)
        self.sent = True

    def write(self, data: bytes) -> object:
        if not self.sent:
            self.send_headers()
        assert self._write is not None
        return self._write(data)

    def answer(self, exc: Exception) -> typing.Iterable[bytes] | None:
        """The body of ``on_store_error``'s answer to the store failure behind ``exc``, its status and
        headers sent; None when ``exc`` is to be raised (no handler, not the store's failure, or the
        headers went out already)."""
        failure = store_failure(exc) if self._on_store_error is not None and not self.sent else None
        if failure is None:
            return None
        application = typing.cast(StoreErrorHandler, self._on_store_error)(self.environ, failure)
        if not callable(application):
            raise TypeError(f"on_store_error returned {application!r}, not a WSGI application") from exc
        environ = self.environ
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        log_answered(
            environ.get("REQUEST_METHOD", ""), path, getattr(application, "status_code", None), failure
        )
        self.sent = True  # (nothing of the application's is sent after this)
        return application(environ, self._start_response)


def _status_code(status: str, exc_info: ExcInfo | None) -> int:
    """The status line's code; an error response (``exc_info``) or a malformed line counts as 500."""
    code = status[:3]
    if (exc_info is not None and exc_info[0] is not None) or not code.isdigit():
        return 500
    return int(code)


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
        try:
            for chunk in self._iterable:
                if chunk and not response.sent:
                    response.send_headers()
                yield chunk
            if not response.sent:
                response.send_headers()
            return
        except Exception as exc:  # (before the first chunk went out: answered by on_store_error)
            answer = response.answer(exc)
            if answer is None:
                raise
        try:
            yield from answer
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()


def client_of(environ: WSGIEnvironment) -> Client:
    """The request's facts for ``track_devices``: its user agent, and the client's address as the app
    sees it (``REMOTE_ADDR``, which werkzeug's ``ProxyFix`` rewrites)."""
    return Client(environ.get("HTTP_USER_AGENT"), environ.get("REMOTE_ADDR") or None)


def _handle(environ: WSGIEnvironment) -> SyncSessionHandle:
    try:
        return typing.cast(SyncSessionHandle, environ[ENVIRON_KEY])
    except KeyError:
        raise ImproperlyConfigured(
            "No session here: wrap the application in dualsessions.wsgi.SessionMiddleware."
        ) from None


def get_session(environ: WSGIEnvironment) -> Session:
    """This request's session (a dict), read from the store on first use."""
    return _handle(environ).load()


def is_loaded(environ: WSGIEnvironment) -> bool:
    return _handle(environ).state.loaded


def get_session_id(environ: WSGIEnvironment) -> str | None:
    """The current session id: None for a session that has no record yet (it gets one when saved)."""
    handle = _handle(environ)
    handle.load()  # the cookie's id counts only once the store knows it
    return handle.session_id


def regenerate_session_id(environ: WSGIEnvironment) -> str:
    """Move the session to a new id (after login, against session fixation); the old record ends."""
    return _handle(environ).regenerate()


def get_session_metadata(environ: WSGIEnvironment) -> SessionMetadata:
    """``created``, ``last_access`` and ``lifetime`` of the session (loading it if needed)."""
    handle = _handle(environ)
    handle.load()
    return typing.cast(SessionMetadata, handle.state.metadata)


def get_session_remaining_seconds(environ: WSGIEnvironment) -> int:
    """Seconds before the session expires; 0 for a session-only cookie."""
    handle = _handle(environ)
    handle.load()
    return handle.state.remaining_seconds()


def set_session_user(environ: WSGIEnvironment, user: str | None) -> None:
    """Mark whose session this is (None: nobody's), so ``revoke_user_sessions`` can end it."""
    _handle(environ).set_user(user)


def set_session_lifetime(environ: WSGIEnvironment, lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    _handle(environ).set_lifetime(lifetime)


def get_user_sessions(environ: WSGIEnvironment) -> list[UserSession]:
    """The sessions of this session's user ("your devices"), the most recently seen first, this one
    marked ``current``; with their non-secret ``reference``, never their ids. None without a user."""
    return _handle(environ).user_sessions()


def revoke_other_sessions(environ: WSGIEnvironment) -> int:
    """Sign this session's user out everywhere else: end all their sessions but this one; how many
    live ones ended (0 without a user)."""
    return _handle(environ).revoke_others()
