"""Flask integration: ``flask.session`` becomes the dualsessions session.

    from dualsessions.flask import DualSessions

    app = Flask(__name__)
    DualSessions(app, store=RedisStore(url="redis://..."))

or, with an application factory, ``sessions = DualSessions(store=...)`` then ``sessions.init_app(app)``.
Options are those of the middlewares; those not passed fall back to Flask's configuration:
``SESSION_COOKIE_NAME``, ``SESSION_COOKIE_DOMAIN``, ``SESSION_COOKIE_PATH`` (else ``APPLICATION_ROOT``),
``SESSION_COOKIE_SECURE``, ``SESSION_COOKIE_SAMESITE`` (``None`` becomes ``"lax"``),
``SESSION_COOKIE_HTTPONLY``, ``SESSION_COOKIE_PARTITIONED``, ``SESSION_REFRESH_EACH_REQUEST``
(``rolling``) and ``PERMANENT_SESSION_LIFETIME``; ``SECRET_KEY_FALLBACKS`` verify a ``CookieStore``'s
old cookies. Values are stored with :class:`~dualsessions.TaggedJsonSerializer` (Flask's value types)
unless a ``serializer`` is given; ``migrate_from="flask"`` moves Flask's own cookie sessions in.

``session.permanent`` maps onto lifetimes: without a ``lifetime`` option, sessions start as browser
sessions (Flask's default) and ``session.permanent = True`` gives the session the lifetime
``PERMANENT_SESSION_LIFETIME``; with a ``lifetime`` option, sessions start with that lifetime (and are
permanent) and ``session.permanent = False`` makes one a browser session.

The session is read from the store only when first used, and written (by Flask's ``save_session``
step, so errors reach Flask's error handlers) only when it changed. Requires ``dualsessions[flask]``.
"""

from __future__ import annotations

import hashlib
import typing

import itsdangerous

try:
    import flask
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("dualsessions.flask needs Flask: pip install 'dualsessions[flask]'") from exc

from ._bridge import AnyStore
from ._pallets import AppSession, add_session_headers, resolve_options, verifying_fallbacks
from ._sync_engine import SyncEngine, SyncSessionHandle
from .cookies import environ_key, find_cookie, id_in_header, is_session_id
from .core import Lifetime, Options, Phase, UserSession
from .exceptions import ImproperlyConfigured
from .serializers import TaggedJsonSerializer
from .types import SessionMetadata
from .wsgi import client_of

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DualSessions",
    "FlaskSession",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "get_user_sessions",
    "regenerate_session_id",
    "revoke_other_sessions",
    "set_session_lifetime",
    "set_session_user",
]


class FlaskSession(AppSession, SessionMixin):  # type: ignore[override]  # new: read-only
    """``flask.session``: a dict, read from the store on first use, with Flask's session attributes."""

    handle: SyncSessionHandle

    def __init__(self, handle: SyncSessionHandle, permanent_lifetime: int, mount: str, https: bool) -> None:
        super().__init__(handle, permanent_lifetime, mount, https)
        handle.into = self  # whoever loads the session fills this dict (and so empties it first)

    def _load(self) -> None:
        if self.handle.state.session is not self:
            self.handle.load()

    def _ready(self) -> bool:
        return self.handle.state.session is self

    @property
    def loaded(self) -> bool:
        return self._ready()


class _Interface(SessionInterface):
    """Opens a lazy :class:`FlaskSession` per request and saves it through the shared core."""

    def __init__(
        self,
        engine: SyncEngine,
        permanent_lifetime: int,
        migrate: typing.Callable[[str], dict[str, typing.Any] | None] | None = None,
    ) -> None:
        self.engine = engine
        self.permanent_lifetime = permanent_lifetime
        self.migrate = migrate
        self.id_key = environ_key(engine.config.header)

    def open_session(self, app: flask.Flask, request: flask.Request) -> FlaskSession:
        engine = self.engine
        header = request.environ.get("HTTP_COOKIE", "")
        if self.id_key is None:
            cookie = find_cookie(header, engine.config.cookie.name, engine.accepts_id)
        else:  # header sessions (session_header): cookies are not looked at
            cookie = id_in_header(request.environ.get(self.id_key), engine.accepts_id)
        handle = engine.begin(
            cookie, client=client_of(request.environ) if engine.config.track_devices else None
        )
        session = FlaskSession(handle, self.permanent_lifetime, request.script_root, request.is_secure)
        if self.migrate is not None:
            value = find_cookie(header, engine.config.cookie.name)
            if value is not None:
                session._load()  # (a cookie naming a dualsessions session is never migrated)
                data = self.migrate(value) if handle.state.is_new else None
                if data:  # the old library's session: moved into the store, under a new id, once
                    permanent = data.pop("_permanent", False)
                    session.update(data)
                    if permanent:
                        session.permanent = True
        return session

    def save_session(self, app: flask.Flask, session: SessionMixin, response: flask.Response) -> None:
        if not isinstance(session, FlaskSession):
            return
        handle = session.handle
        if not handle.in_play:
            handle.state.response_started_unused()
            return
        # Flask calls this again for the error page when the first call failed: decided once, saved once.
        if handle.state.phase not in (Phase.UNLOADED, Phase.LOADED):
            return
        handle.save(response.status_code)
        add_session_headers(response.headers, handle.headers(session.mount, session.https))


class DualSessions:
    """The Flask extension: ``DualSessions(app, store=...)`` or ``DualSessions(store=...).init_app(app)``."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        store: AnyStore,
        migrate_from: str | None = None,
        **options: Unpack[Options],
    ) -> None:
        if migrate_from not in _MIGRATIONS:
            raise ImproperlyConfigured(
                f"migrate_from must be 'flask' (Flask's cookie session) or 'flask-session' (Flask-Session's "
                f"Redis records), got {migrate_from!r}"
            )
        self.store = store
        self.migrate_from = migrate_from
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        options, permanent_lifetime = resolve_options(app.config, self.options)
        engine = SyncEngine(verifying_fallbacks(self.store, app.config), options, "flask")
        reader = _MIGRATIONS[self.migrate_from]
        migrate = reader(app, permanent_lifetime) if reader is not None else None
        app.session_interface = _Interface(engine, permanent_lifetime, migrate)
        app.extensions["dualsessions"] = self


class _FlaskJson:
    """Flask's tagged JSON, as itsdangerous calls a serializer."""

    def __init__(self) -> None:
        self._tagged = TaggedJsonSerializer()

    def loads(self, text: str | bytes) -> typing.Any:
        return self._tagged.deserialize(text)

    def dumps(self, value: typing.Any) -> str:
        return self._tagged.serialize(value).decode("utf-8")


def _flask_cookie_reader(
    app: flask.Flask, permanent_lifetime: int
) -> typing.Callable[[str], dict[str, typing.Any] | None]:
    """Reads a cookie of Flask's own session: signed with ``SECRET_KEY`` or one of
    ``SECRET_KEY_FALLBACKS`` with Flask's salt and key derivation, no older than
    ``PERMANENT_SESSION_LIFETIME``; None for anything else (forged, expired, not Flask's)."""
    if not app.secret_key:
        raise ImproperlyConfigured(
            "migrate_from='flask' needs the app's SECRET_KEY, which signed its cookies"
        )
    keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key]  # the last one signs
    signer = itsdangerous.URLSafeTimedSerializer(
        keys,
        salt="cookie-session",
        serializer=_FlaskJson(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )

    def read(value: str) -> dict[str, typing.Any] | None:
        try:
            data = signer.loads(value, max_age=permanent_lifetime)
        except Exception:  # forged, expired, or not a Flask session at all: a new session
            return None
        return data if isinstance(data, dict) else None

    return read


def _flask_session_reader(
    app: flask.Flask, permanent_lifetime: int
) -> typing.Callable[[str], dict[str, typing.Any] | None]:
    """Takes a record of Flask-Session 0.8 out of its Redis (``SESSION_REDIS``, ``SESSION_KEY_PREFIX``,
    ``SESSION_USE_SIGNER`` as Flask-Session had them): MessagePack or JSON, never pickle. The record
    is removed as it is read, so it moves once. None for anything else."""
    client = app.config.get("SESSION_REDIS")
    if client is None:
        raise ImproperlyConfigured(
            "migrate_from='flask-session' reads Flask-Session's records from SESSION_REDIS: keep it set "
            "(a redis.Redis) as Flask-Session had it"
        )
    try:
        import msgspec
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImproperlyConfigured(
            "migrate_from='flask-session' needs msgspec: pip install 'dualsessions[flask-session]'"
        ) from None
    prefix = app.config.get("SESSION_KEY_PREFIX", "session:")
    signer = None
    if app.config.get("SESSION_USE_SIGNER"):
        if not app.secret_key:
            raise ImproperlyConfigured("SESSION_USE_SIGNER needs the SECRET_KEY that signed the session ids")
        signer = itsdangerous.Signer(app.secret_key, salt="flask-session", key_derivation="hmac")
    decoders = (msgspec.msgpack.Decoder(), msgspec.json.Decoder())

    def read(value: str) -> dict[str, typing.Any] | None:
        session_id = value
        if signer is not None:
            try:
                session_id = signer.unsign(value).decode("utf-8")
            except (itsdangerous.BadSignature, UnicodeDecodeError):
                return None
        if not is_session_id(session_id):
            return None
        with client.pipeline(transaction=True) as pipe:  # taken: it moves once
            pipe.get(prefix + session_id)
            pipe.delete(prefix + session_id)
            record, _ = pipe.execute()
        for decoder in decoders if record else ():
            try:
                data = decoder.decode(record)
            except msgspec.DecodeError:
                continue
            return data if isinstance(data, dict) else None
        return None

    return read


_MIGRATIONS: dict[str | None, typing.Callable[[flask.Flask, int], typing.Any] | None] = {
    None: None,
    "flask": _flask_cookie_reader,
    "flask-session": _flask_session_reader,
}


def _current() -> FlaskSession:
    session = flask.session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(session, FlaskSession):
        raise ImproperlyConfigured(
            "flask.session is not a dualsessions session: call DualSessions(app, store=...)."
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


def get_user_sessions() -> list[UserSession]:
    """The sessions of this session's user ("your devices"), the most recently seen first, this one
    marked ``current``; with their non-secret ``reference``, never their ids. None without a user."""
    return _current().handle.user_sessions()


def revoke_other_sessions() -> int:
    """Sign this session's user out everywhere else: end all their sessions but this one; how many
    live ones ended (0 without a user)."""
    return _current().handle.revoke_others()
