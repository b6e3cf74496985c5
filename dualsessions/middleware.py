"""The ASGI front end: session middlewares for Starlette, FastAPI and any ASGI app."""

from __future__ import annotations

import re
import typing

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._async_engine import AsyncEngine
from ._bridge import AnySerializer, AnyStore
from .cookies import add_vary_cookie, find_cookie
from .core import Encryptor, Lifetime, SessionState
from .exceptions import ImproperlyConfigured, SessionNotLoaded
from .serializers import JsonSerializer
from .session import SessionHandler

_SAVE_ON = frozenset({"http.response.start", "websocket.accept"})


class _NotLoaded:
    """Stands in ``scope["session"]`` until the session is loaded, and says so when used."""

    __slots__ = ()

    def _raise(self, *args: typing.Any, **kwargs: typing.Any) -> typing.NoReturn:
        raise SessionNotLoaded("Attempt to access session that has not been loaded yet.")

    # Every dict operation raises; other attributes are simply missing (frameworks probe with hasattr).
    __getitem__ = __setitem__ = __delitem__ = __contains__ = __iter__ = __len__ = _raise
    get = keys = values = items = pop = popitem = setdefault = update = clear = copy = _raise

    def __repr__(self) -> str:
        return "<session not loaded>"


NOT_LOADED = _NotLoaded()


class SessionMiddleware:
    """Gives every HTTP and WebSocket connection a session, saved when the response starts.

    The options are those of starsessions 2.1.2, validated here. The session is loaded on demand
    (``load_session`` or :class:`SessionAutoloadMiddleware`). The store is written only when the
    session changed (or rolls on a store that can't touch), and a cookie is sent only when it changed.
    On WebSocket connections, changes made before ``accept()`` are saved with the handshake.
    """

    def __init__(
        self,
        app: ASGIApp,
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
        self.serializer = serializer if serializer is not None else JsonSerializer()
        self.engine = AsyncEngine(
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
        self.store = store
        config = self.engine.config
        # The starsessions attributes, read-only in effect: the validated values.
        self.lifetime, self.rolling = config.lifetime, config.rolling
        self.cookie_name, self.cookie_path, self.cookie_domain = cookie_name, cookie_path, cookie_domain
        self._cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        cookie = None
        cookie_headers = [value for name, value in scope["headers"] if name == b"cookie"]
        if cookie_headers:
            cookie = find_cookie(b"; ".join(cookie_headers).decode("latin-1"), self._cookie_name)
        engine = self.engine
        state = SessionState(engine.config, cookie)
        scope["session"] = NOT_LOADED
        scope["session_handler"] = SessionHandler(engine, state, scope)

        async def send_with_session(message: Message) -> None:
            if state.session is not None and message["type"] in _SAVE_ON:
                written = await engine.save(state)
                https = scope.get("scheme") in ("https", "wss")
                headers = state.response_headers(written, scope.get("root_path", ""), https)
                message["headers"] = _with_headers(message.get("headers", ()), headers)
            await send(message)

        await self.app(scope, receive, send_with_session)


def _with_headers(
    raw: typing.Iterable[tuple[bytes, bytes]], added: list[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    headers = list(raw)
    for name, value in added:
        if name == "Vary":
            for index, (key, existing) in enumerate(headers):
                if key.lower() == b"vary":
                    merged = add_vary_cookie(existing.decode("latin-1"))
                    headers[index] = (key, merged.encode("latin-1"))
                    break
            else:
                headers.append((b"vary", b"Cookie"))
        else:
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return headers


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
