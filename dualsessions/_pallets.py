"""What the Flask and Quart integrations share, with neither framework imported.

Both frameworks keep the session settings under the same configuration keys and give their session
the same attributes (``modified``, ``new``, ``accessed``, ``permanent``). Here are the keys read into
dualsessions options, and the session object over one request's handle; each integration adds only
how and when the data is read (:meth:`AppSession._load`) and its framework's ``SessionMixin``.
"""

from __future__ import annotations

import datetime
import typing

from ._bridge import AnyStore
from .cookies import add_vary
from .core import Lifetime, Options, Session, SessionState, lifetime_seconds
from .serializers import TaggedJsonSerializer
from .stores.cookie import CookieStore
from .types import SessionMetadata

__all__ = ["NOT_LOADED_KEY", "AppSession", "add_session_headers", "resolve_options", "verifying_fallbacks"]

#: What an unloaded session holds, so that it is not empty underneath (see :class:`AppSession`).
NOT_LOADED_KEY = "<not loaded>"


def resolve_options(config: typing.Mapping[str, typing.Any], given: Options) -> tuple[Options, int]:
    """The options ``given``, with the app's configuration where they were not given (None counts as
    not given), and the lifetime of a permanent session in seconds."""
    fallbacks: Options = {
        "cookie_name": config.get("SESSION_COOKIE_NAME") or "session",
        "cookie_same_site": config.get("SESSION_COOKIE_SAMESITE") or "lax",
        "cookie_https_only": bool(config.get("SESSION_COOKIE_SECURE", False)),
        "cookie_domain": config.get("SESSION_COOKIE_DOMAIN") or None,
        "cookie_path": config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
        "cookie_httponly": bool(config.get("SESSION_COOKIE_HTTPONLY", True)),
        "cookie_partitioned": bool(config.get("SESSION_COOKIE_PARTITIONED", False)),
        "rolling": bool(config.get("SESSION_REFRESH_EACH_REQUEST", True)),
        "lifetime": 0,  # Flask's default: a browser session until made permanent
        "serializer": TaggedJsonSerializer(),  # every value Flask's own session holds
    }
    options: Options = {**fallbacks, **{k: v for k, v in given.items() if v is not None}}  # type: ignore[typeddict-item]
    permanent = config.get("PERMANENT_SESSION_LIFETIME", datetime.timedelta(days=31))
    permanent_lifetime = lifetime_seconds(permanent, "PERMANENT_SESSION_LIFETIME")
    if lifetime_seconds(options.get("lifetime", 0)) > 0:
        permanent_lifetime = lifetime_seconds(options.get("lifetime", 0))
    return options, permanent_lifetime


def add_session_headers(headers: typing.Any, added: list[tuple[str, str]]) -> None:
    """Add the session's ``added`` headers to a response's Werkzeug ``Headers``, ``Vary`` merged into
    all of the application's own ``Vary`` lines by :func:`~dualsessions.cookies.add_vary`. (Not
    through ``response.vary``, which reads only the first line, and raises and catches an exception
    on a response that has none.)"""
    for name, value in added:
        if name != "Vary" or not (own := headers.getlist("Vary")):
            headers.add(name, value)
            continue
        joined = ", ".join(own)
        if (merged := add_vary(joined, value)) != joined:
            headers.set(name, merged)  # one line in place of the application's


def verifying_fallbacks(store: AnyStore, config: typing.Mapping[str, typing.Any]) -> AnyStore:
    """A :class:`CookieStore` that also accepts cookies signed with ``SECRET_KEY_FALLBACKS``, while
    keys rotate; any other store as it is."""
    fallbacks = list(config.get("SECRET_KEY_FALLBACKS") or ())
    if isinstance(store, CookieStore) and fallbacks:
        return store.also_verifying(fallbacks)
    return store


class _Handle(typing.Protocol):
    """What the session needs of a handle, sync (Flask) or async (Quart)."""

    @property
    def state(self) -> SessionState: ...

    @property
    def session_id(self) -> str | None: ...

    def set_lifetime(self, lifetime: Lifetime) -> None: ...


class AppSession(Session):
    """The framework's ``session``: a dict with Flask's session attributes, over one handle.

    Every way into the data goes through :meth:`_load` first, which the integration defines (Flask
    reads the store there; Quart, which read it before the view, notes that the app used it). The
    dict is not empty underneath until then: C code that looks at a dict's size before anything else
    (json's encoder writes "{}" for an empty one) goes on to ``items()``, which loads.
    """

    handle: _Handle

    def __init__(self, handle: _Handle, permanent_lifetime: int, mount: str, https: bool) -> None:
        super().__init__()
        dict.__setitem__(self, NOT_LOADED_KEY, None)
        self.handle = handle
        self.permanent_lifetime = permanent_lifetime
        self.mount, self.https = mount, https

    def _load(self) -> None:
        """Make the data ready for the application, at its first use."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """Whether the application has the data (``_load`` has nothing left to do)."""
        raise NotImplementedError

    @property
    def accessed(self) -> bool:
        return self._ready()

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask (3.1+) sets this whenever the flask.session proxy is used: load then, so that even C
        # code that reads the dict's storage directly (json's encoder) sees the data.
        if value:
            self._load()

    @property
    def new(self) -> bool:
        """True until the session has a record in the store."""
        self._load()
        return self.handle.state.is_new

    def loaded_id(self) -> str | None:
        """The session id, once loaded (a cookie's id counts only once the store knows it): the module
        helper ``get_session_id`` of each integration."""
        self._load()
        return self.handle.session_id

    def loaded_metadata(self) -> SessionMetadata:
        """``created``, ``last_access`` and ``lifetime``, once loaded (``get_session_metadata``)."""
        self._load()
        return typing.cast(SessionMetadata, self.handle.state.metadata)

    def remaining_seconds(self) -> int:
        """Seconds before the session expires, once loaded (``get_session_remaining_seconds``)."""
        self._load()
        return self.handle.state.remaining_seconds()

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session (its lifetime is not 0)."""
        self._load()
        return typing.cast(SessionMetadata, self.handle.state.metadata)["lifetime"] > 0

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self.handle.set_lifetime(self.permanent_lifetime if value else 0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self) if self._ready() else '(not loaded)'}>"


def _loading(name: str) -> typing.Any:
    method = getattr(Session, name)

    def load_first(self: AppSession, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        self._load()
        return method(self, *args, **kwargs)

    load_first.__name__ = name
    return load_first


# Every way into the data loads it first; C code (json, dict()) goes through keys()/items()/__iter__.
for _name in (
    "__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__len__", "__eq__",
    "__ne__", "__or__", "__ior__", "get", "keys", "values", "items", "pop", "popitem", "setdefault",
    "update", "clear", "copy",
):  # fmt: skip
    setattr(AppSession, _name, _loading(_name))
