"""The ASGI front end: session middlewares for Starlette, FastAPI and any ASGI app."""

from __future__ import annotations

import inspect
import logging
import re
import typing

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._async_engine import AsyncEngine
from ._bridge import AnyStore
from ._failures import answered, log_answered, one_line, store_failure
from ._sync_engine import SyncEngine
from .cookies import find_cookie, id_in_headers, with_session_headers
from .core import Client, Options, options_from
from .exceptions import ImproperlyConfigured, SessionNotLoaded, SessionStoreError
from .serializers import JsonSerializer
from .session import SessionHandler

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack

_SAVE_ON = frozenset({"http.response.start", "websocket.accept"})

logger = logging.getLogger("dualsessions")

#: ``on_store_error``: given the request (a ``Request``; for a WebSocket handshake, its
#: ``HTTPConnection``) and the store's error, the response to answer with (a Starlette ``Response``, or
#: any ASGI app), or an awaitable of it.
StoreErrorHandler = typing.Callable[[typing.Any, SessionStoreError], typing.Any]


class _NotLoaded(dict):  # type: ignore[type-arg]
    """Stands in ``scope["session"]`` until the session is loaded, and says so when used: a dict, so
    that code expecting one gets ``SessionNotLoaded`` rather than a ``TypeError``, whatever it does."""

    __slots__ = ()

    def __init__(self) -> None:
        # Not empty underneath: C code that checks a dict's size before using it (json's encoder
        # writes "{}" for an empty one) goes on to items(), which raises.
        dict.__setitem__(self, "<not loaded>", None)

    def _raise(self, *args: typing.Any, **kwargs: typing.Any) -> typing.NoReturn:
        raise SessionNotLoaded("Attempt to access session that has not been loaded yet.")

    # Every dict operation raises: json's C encoder and dict() go through keys()/items() on a subclass.
    __getitem__ = __setitem__ = __delitem__ = __contains__ = __iter__ = __len__ = __bool__ = _raise
    __eq__ = __ne__ = __or__ = __ror__ = __ior__ = __reversed__ = __copy__ = __deepcopy__ = _raise
    get = keys = values = items = pop = popitem = setdefault = update = clear = copy = _raise
    __hash__ = None

    def __repr__(self) -> str:
        return "<session not loaded>"


NOT_LOADED = _NotLoaded()


class SessionMiddleware:
    """Gives every HTTP and WebSocket connection a session, saved when the response starts.

    The options are those of starsessions 2.1.2 (by position too: ``lifetime``, ``rolling``,
    ``cookie_name``, ``cookie_same_site``, ``cookie_https_only``, ``cookie_domain``, ``cookie_path``,
    ``serializer``), plus ``user_key``, ``encryptor``, ``concurrency``, ``event_hooks`` (sync or async
    callables) and the rest: see
    :class:`dualsessions.core.Options`. The session is loaded on demand (``load_session`` or
    :class:`SessionAutoloadMiddleware`). The store is written only when the session changed (or rolls
    on a store that can't touch), and a cookie is sent only when it changed. On WebSocket connections,
    changes made before ``accept()`` are saved with the handshake.

    ``on_store_error(request, exc)`` answers a request whose store failed (``SessionStoreError``, while
    loading or saving; also when another layer re-raised it wrapped, or in an exception group) before
    its response started: it returns the response (a 503, say), which is sent as it is, and the failure
    is logged as one line. The connection stays open, where an error raised on to the server would
    close it. Give the middleware to Starlette (``middleware=[...]``, ``add_middleware``), so that it
    runs inside Starlette's error middleware: wrapped around a Starlette app from outside, it would
    see the error only after Starlette answered 500. A WebSocket handshake whose store fails is
    denied with the handler's response where the server supports it (the ``websocket.http.response``
    extension), else closed (code 1013), which servers answer with 403. Without it, the error is
    raised as any other.
    """

    def __init__(
        self,
        app: ASGIApp,
        store: AnyStore,
        *args: typing.Any,
        on_store_error: StoreErrorHandler | None = None,
        **options: Unpack[Options],
    ) -> None:
        if on_store_error is not None and not callable(on_store_error):
            raise ImproperlyConfigured(
                f"on_store_error must be a callable (request, exc) -> response, got {on_store_error!r}"
            )
        self.app = app
        self.store = store
        self.on_store_error = on_store_error
        options = options_from(args, options, "SessionMiddleware")
        self.engine = AsyncEngine(store, options, "asgi")
        # A store and serializer that never wait (memory, cookie) are driven without coroutines.
        self._engine: AsyncEngine | SyncEngine = (
            SyncEngine(store, options, "asgi") if self.engine.never_waits else self.engine
        )
        config = self.engine.config
        self._tracks_devices = config.track_devices
        # The starsessions attributes, read-only in effect: the validated values.
        self.serializer = options.get("serializer") or JsonSerializer()
        self.lifetime, self.rolling = config.lifetime, config.rolling
        self.cookie_name = config.cookie.name
        #: ``session_header``: the request header the id comes in (lowercase bytes, as ASGI has names).
        self._id_header = config.header.lower().encode("latin-1") if config.header is not None else None
        self.cookie_path, self.cookie_domain = config.cookie.path, config.cookie.domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        cookie = header = None
        if self._id_header is None:
            for name, value in scope["headers"]:
                if name == b"cookie":  # HTTP/2 may split the cookies over several headers
                    header = value if header is None else header + b"; " + value
            if header is not None:
                cookie = find_cookie(header.decode("latin-1"), self.cookie_name, self._engine.accepts_id)
        else:  # header sessions: the id is the header's value, and cookies are not looked at
            values = [value.decode("latin-1") for name, value in scope["headers"] if name == self._id_header]
            cookie = id_in_headers(values, self._engine.accepts_id)
        engine = self._engine
        handle = engine.begin(cookie, client=_client(scope) if self._tracks_devices else None)
        state = handle.state
        scope["session"] = NOT_LOADED
        scope["session_handler"] = handler = SessionHandler(handle, scope)

        started = False

        async def send_with_session(message: Message) -> None:
            nonlocal started
            if message["type"] in _SAVE_ON:
                if state.in_play:
                    status = message.get("status")
                    if isinstance(engine, SyncEngine):
                        engine.save(state, status)
                    else:
                        if state.needs_load(status):  # (through the handler: a read in flight is shared)
                            await handler.load()
                        await engine.save(state, status)
                    https = scope.get("scheme") in ("https", "wss")
                    added = state.response_headers(scope.get("root_path", ""), https)
                    message["headers"] = with_session_headers(
                        message.get("headers", ()), added, as_bytes=True
                    )
                else:  # nothing to decide: a change asked for later is refused
                    state.response_started_unused()
            started = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except Exception as exc:
            failure = store_failure(exc) if self.on_store_error is not None and not started else None
            if failure is None:
                raise
            await self._answer_store_error(failure, scope, receive, send)
        finally:  # the scope and its handler hold each other: freed by reference counting, not left to gc
            handler.scope = None

    async def _answer_store_error(
        self, exc: SessionStoreError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer, in place of the app, a request whose session store failed (``on_store_error``)."""
        handler = typing.cast(StoreErrorHandler, self.on_store_error)
        connection = Request(scope, receive) if scope["type"] == "http" else HTTPConnection(scope)
        response = handler(connection, exc)
        if inspect.isawaitable(response):
            response = await response
        if not callable(response):
            raise TypeError(f"on_store_error returned {response!r}, not a response") from exc
        status, where = getattr(response, "status_code", None), scope.get("path", "")
        if scope["type"] != "websocket":
            log_answered(scope["method"], where, status, exc)
            await response(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):  # the handshake denied with it
            logger.warning(
                "session store failed, WebSocket %s %s: %s", where, answered(status), one_line(exc)
            )
            await response(scope, receive, _as_denial(send))
        else:
            logger.warning(
                "session store failed, WebSocket %s closed (its handshake denied): %s", where, one_line(exc)
            )
            await send({"type": "websocket.close", "code": 1013})


def _as_denial(send: Send) -> Send:
    """``send`` for an HTTP response that denies a WebSocket handshake (its messages renamed)."""

    async def deny(message: Message) -> None:
        kind = message["type"]  # (a Starlette response of 0.37 or later renames them itself)
        await send(message if kind.startswith("websocket.") else {**message, "type": "websocket." + kind})

    return deny


def _client(scope: Scope) -> Client:
    """The request's facts for ``track_devices``: its user agent, and the client's address as the app
    sees it (``scope["client"]``, which a proxy-headers middleware rewrites)."""
    user_agent = next((value for name, value in scope["headers"] if name == b"user-agent"), None)
    client = scope.get("client")
    return Client(
        None if user_agent is None else user_agent.decode("latin-1"),
        None if not client else str(client[0]),
    )


class SessionAutoloadMiddleware:
    """Loads the session before the app runs: always, or only when the path matches one of ``paths``.

    A path is a regular expression (a string or a compiled pattern) matched at the start of the
    request path, as in starsessions.
    """

    def __init__(self, app: ASGIApp, paths: typing.Sequence[str | re.Pattern[str]] | None = None) -> None:
        self.app = app
        self.paths = [re.compile(path) if isinstance(path, str) else path for path in paths or ()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.should_autoload(HTTPConnection(scope)):
            handler: SessionHandler | None = scope.get("session_handler")
            if handler is None:
                raise ImproperlyConfigured(
                    "SessionAutoloadMiddleware must come after SessionMiddleware in the middleware list."
                )
            scope["session"] = await handler.load()  # (this scope may be a copy of the one it filled)
        await self.app(scope, receive, send)

    def should_autoload(self, connection: HTTPConnection) -> bool:
        path = connection.scope["path"]
        return not self.paths or any(pattern.match(path) for pattern in self.paths)
