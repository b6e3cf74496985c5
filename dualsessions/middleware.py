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
from ._sync_engine import SyncEngine
from .cookies import find_cookie, with_session_headers
from .core import Options, options_from
from .exceptions import ImproperlyConfigured, SessionNotLoaded, SessionStoreError
from .serializers import JsonSerializer
from .session import SessionHandler

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack

_SAVE_ON = frozenset({"http.response.start", "websocket.accept"})

logger = logging.getLogger("dualsessions")

#: ``on_store_error``: given the request and the store's error, the response to answer with (a
#: Starlette ``Response``, or any ASGI app), or an awaitable of it.
StoreErrorHandler = typing.Callable[[Request, SessionStoreError], typing.Any]


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
    loading or saving) before its response started: it returns the response (a 503, say), which is
    sent as it is, and the failure is logged as one line. The connection stays open, where an error
    raised on to the server would close it. A WebSocket handshake that fails so is refused (close code
    1013, "try again later"). Without it, the error is raised as any other.
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
        # The starsessions attributes, read-only in effect: the validated values.
        self.serializer = options.get("serializer") or JsonSerializer()
        self.lifetime, self.rolling = config.lifetime, config.rolling
        self.cookie_name = config.cookie.name
        self.cookie_path, self.cookie_domain = config.cookie.path, config.cookie.domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        cookie = header = None
        for name, value in scope["headers"]:
            if name == b"cookie":  # HTTP/2 may split the cookies over several headers
                header = value if header is None else header + b"; " + value
        if header is not None:
            cookie = find_cookie(header.decode("latin-1"), self.cookie_name, self._engine.accepts_id)
        engine = self._engine
        handle = engine.begin(cookie)
        state = handle.state
        scope["session"] = NOT_LOADED
        scope["session_handler"] = SessionHandler(handle, scope)

        started = False

        async def send_with_session(message: Message) -> None:
            nonlocal started
            if message["type"] in _SAVE_ON and state.in_play:
                if isinstance(engine, SyncEngine):
                    engine.save(state, message.get("status"))
                else:
                    await engine.save(state, message.get("status"))
                https = scope.get("scheme") in ("https", "wss")
                added = state.response_headers(scope.get("root_path", ""), https)
                message["headers"] = with_session_headers(message.get("headers", ()), added, as_bytes=True)
            started = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except SessionStoreError as exc:
            if self.on_store_error is None or started:
                raise
            await self._answer_store_error(exc, scope, receive, send)

    async def _answer_store_error(
        self, exc: SessionStoreError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer, in place of the app, a request whose session store failed (``on_store_error``)."""
        where = scope.get("path", "")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            logger.warning("session store failed, WebSocket %s refused: %s", where, _one_line(exc))
            return
        handler = typing.cast(StoreErrorHandler, self.on_store_error)
        response = handler(Request(scope, receive), exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)
        status = getattr(response, "status_code", "")
        logger.warning(
            "session store failed, %s %s answered %s: %s", scope["method"], where, status, _one_line(exc)
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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
            await handler.load()
        await self.app(scope, receive, send)

    def should_autoload(self, connection: HTTPConnection) -> bool:
        path = connection.scope["path"]
        return not self.paths or any(pattern.match(path) for pattern in self.paths)
