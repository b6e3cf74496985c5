"""Flask integration: ``flask.session`` becomes the dualsessions session.

    from dualsessions.flask import DualSessions

    app = Flask(__name__)
    DualSessions(app, store=RedisStore(url="redis://..."))

or, with an application factory, ``sessions = DualSessions(store=...)`` then ``sessions.init_app(app)``.
Options are those of the middlewares; those not passed fall back to Flask's configuration:
``SESSION_COOKIE_NAME``, ``SESSION_COOKIE_DOMAIN``, ``SESSION_COOKIE_PATH`` (else ``APPLICATION_ROOT``),
``SESSION_COOKIE_SECURE``, ``SESSION_COOKIE_SAMESITE`` (``None`` becomes ``"lax"``),
``SESSION_REFRESH_EACH_REQUEST`` (``rolling``) and ``PERMANENT_SESSION_LIFETIME``. The cookie is always
HttpOnly and never Partitioned (``SESSION_COOKIE_HTTPONLY``, ``SESSION_COOKIE_PARTITIONED`` are not read).

``session.permanent`` maps onto lifetimes: without a ``lifetime`` option, sessions start as browser
sessions (Flask's default) and ``session.permanent = True`` gives the session the lifetime
``PERMANENT_SESSION_LIFETIME``; with a ``lifetime`` option, sessions start with that lifetime (and are
permanent) and ``session.permanent = False`` makes one a browser session.

The session is read from the store only when first used, and written (by Flask's ``save_session``
step, so errors reach Flask's error handlers) only when it changed. Requires ``dualsessions[flask]``.
"""

from __future__ import annotations

import datetime
import typing

try:
    import flask
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("dualsessions.flask needs Flask: pip install 'dualsessions[flask]'") from exc

from ._bridge import AnySerializer, AnyStore
from ._sync_engine import SyncEngine
from .cookies import find_cookie
from .core import Encryptor, Lifetime, Session, SessionState, lifetime_seconds
from .exceptions import ImproperlyConfigured
from .types import SessionMetadata
from .wsgi import RequestSession

__all__ = [
    "DualSessions",
    "FlaskSession",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "regenerate_session_id",
    "set_session_lifetime",
    "set_session_user",
]


class FlaskSession(Session, SessionMixin):
    """``flask.session``: a dict, read from the store on first use, with Flask's session attributes."""

    def __init__(
        self, request_session: RequestSession, permanent_lifetime: int, mount: str, https: bool
    ) -> None:
        super().__init__()
        self.request_session = request_session
        self.permanent_lifetime = permanent_lifetime
        self.mount, self.https = mount, https
        self.saved = False

    def _load(self) -> None:
        if self.request_session.state.session is not self:
            self.request_session.load(into=self)

    @property
    def loaded(self) -> bool:
        return self.request_session.state.session is self

    @property
    def accessed(self) -> bool:
        return self.loaded

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask (3.1+) sets this whenever the flask.session proxy is used: load then, so that even C
        # code that reads the dict's storage directly (json's encoder) sees the data.
        if value:
            self._load()

    @property
    def new(self) -> bool:  # type: ignore[override]
        """True until the session has a record in the store."""
        self._load()
        return self.request_session.state.is_new

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session (its lifetime is not 0)."""
        self._load()
        return typing.cast(SessionMetadata, self.request_session.state.metadata)["lifetime"] > 0

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self._load()
        state = self.request_session.state
        lifetime = self.permanent_lifetime if value else 0
        if typing.cast(SessionMetadata, state.metadata)["lifetime"] != lifetime:  # no write for no change
            state.set_lifetime(lifetime)

    def __repr__(self) -> str:
        return f"<FlaskSession {dict.__repr__(self) if self.loaded else '(not loaded)'}>"


def _loading(name: str) -> typing.Any:
    method = getattr(Session, name)

    def load_first(self: FlaskSession, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if self.request_session.state.session is not self:
            self.request_session.load(into=self)
        return method(self, *args, **kwargs)

    load_first.__name__ = name
    return load_first


# Every way into the data loads it first; C code (json, dict()) goes through keys()/items()/__iter__.
for _name in (
    "__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__len__", "__eq__",
    "__ne__", "__or__", "__ior__", "get", "keys", "values", "items", "pop", "popitem", "setdefault",
    "update", "clear", "copy",
):  # fmt: skip
    setattr(FlaskSession, _name, _loading(_name))


class _Interface(SessionInterface):
    """Opens a lazy :class:`FlaskSession` per request and saves it through the shared core."""

    def __init__(self, engine: SyncEngine, permanent_lifetime: int) -> None:
        self.engine = engine
        self.permanent_lifetime = permanent_lifetime

    def open_session(self, app: flask.Flask, request: flask.Request) -> FlaskSession:
        cookie = find_cookie(request.environ.get("HTTP_COOKIE", ""), self.engine.config.cookie.name)
        request_session = RequestSession(self.engine, SessionState(self.engine.config, cookie))
        return FlaskSession(request_session, self.permanent_lifetime, request.script_root, request.is_secure)

    def save_session(self, app: flask.Flask, session: SessionMixin, response: flask.Response) -> None:
        if not isinstance(session, FlaskSession) or not session.loaded or session.saved:
            return  # not used, or saved already (Flask saves again for the error page of a failure)
        session.saved = True
        for name, value in session.request_session.save(session.mount, session.https):
            if name == "Vary":
                response.vary.add("Cookie")
            else:
                response.headers.add(name, value)


class DualSessions:
    """The Flask extension: ``DualSessions(app, store=...)`` or ``DualSessions(store=...).init_app(app)``."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        store: AnyStore,
        lifetime: Lifetime | None = None,
        rolling: bool | None = None,
        cookie_name: str | None = None,
        cookie_same_site: str | None = None,
        cookie_https_only: bool | None = None,
        cookie_domain: str | None = None,
        cookie_path: str | None = None,
        serializer: AnySerializer | None = None,
        user_key: str | None = None,
        encryptor: Encryptor | None = None,
        concurrency: str = "last-writer-wins",
    ) -> None:
        self.store = store
        self.serializer = serializer
        self.options: dict[str, typing.Any] = {
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
        }
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        options, permanent_lifetime = self._resolve(app.config)
        engine = SyncEngine(self.store, self.serializer, options)
        app.session_interface = _Interface(engine, permanent_lifetime)
        app.extensions["dualsessions"] = self

    def _resolve(self, config: flask.Config) -> tuple[dict[str, typing.Any], int]:
        """The options, with Flask's configuration where they were not given."""
        given = self.options
        fallbacks = {
            "cookie_name": config.get("SESSION_COOKIE_NAME") or "session",
            "cookie_same_site": config.get("SESSION_COOKIE_SAMESITE") or "lax",
            "cookie_https_only": bool(config.get("SESSION_COOKIE_SECURE", False)),
            "cookie_domain": config.get("SESSION_COOKIE_DOMAIN") or None,
            "cookie_path": config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
            "rolling": bool(config.get("SESSION_REFRESH_EACH_REQUEST", True)),
        }
        options = {
            key: fallbacks[key] if value is None and key in fallbacks else value
            for key, value in given.items()
        }
        permanent = config.get("PERMANENT_SESSION_LIFETIME", datetime.timedelta(days=31))
        permanent_lifetime = lifetime_seconds(permanent, "PERMANENT_SESSION_LIFETIME")
        if options["lifetime"] is None:
            options["lifetime"] = 0  # Flask's default: a browser session until made permanent
        elif lifetime_seconds(options["lifetime"]) > 0:
            permanent_lifetime = lifetime_seconds(options["lifetime"])
        return options, permanent_lifetime


def _current() -> FlaskSession:
    session = flask.session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(session, FlaskSession):
        raise ImproperlyConfigured(
            "flask.session is not a dualsessions session: call DualSessions(app, store=...)."
        )
    return session


def get_session_id() -> str | None:
    """The current session id: None for a session that has no record yet (it gets one when saved)."""
    session = _current()
    session._load()  # the cookie's id counts only once the store knows it
    return session.request_session.state.session_id


def regenerate_session_id() -> str:
    """Move the session to a new id (after login, against session fixation); the old record is removed."""
    session = _current()
    session._load()
    return session.request_session.state.regenerate()


def get_session_metadata() -> SessionMetadata:
    """``created``, ``last_access`` and ``lifetime`` of the session."""
    session = _current()
    session._load()
    return typing.cast(SessionMetadata, session.request_session.state.metadata)


def get_session_remaining_seconds() -> int:
    """Seconds before the session expires; 0 for a session-only cookie."""
    session = _current()
    session._load()
    return session.request_session.state.remaining_seconds()


def set_session_user(user: str | None) -> None:
    """Mark whose session this is (None: nobody's), so ``revoke_user_sessions`` can end it."""
    session = _current()
    session.request_session.engine.require_user_index()
    session._load()
    session.request_session.state.set_user(user)


def set_session_lifetime(lifetime: Lifetime) -> None:
    """Give this session its own lifetime in seconds or a timedelta ("remember me"); 0: session-only."""
    session = _current()
    session._load()
    session.request_session.state.set_lifetime(lifetime)
