"""One HTTP session for ASGI and WSGI apps.

The top level is the starsessions 2.1.2 API, plus what dualsessions adds (sync contracts, per-session
lifetime). The WSGI front end lives in :mod:`dualsessions.wsgi`, the Redis store in
:mod:`dualsessions.stores.redis`.
"""

import importlib
import typing

from .admin import OpenSession as OpenSession
from .admin import aopen_session as aopen_session
from .admin import arevoke_user_sessions as arevoke_user_sessions
from .admin import auser_sessions as auser_sessions
from .admin import open_session as open_session
from .admin import revoke_user_sessions as revoke_user_sessions
from .admin import user_sessions as user_sessions
from .core import Session as Session
from .core import UserSession as UserSession
from .core import generate_session_id as generate_session_id
from .exceptions import CookieTooLarge as CookieTooLarge
from .exceptions import ImproperlyConfigured as ImproperlyConfigured
from .exceptions import SerializationError as SerializationError
from .exceptions import SessionError as SessionError
from .exceptions import SessionLifecycleError as SessionLifecycleError
from .exceptions import SessionNotLoaded as SessionNotLoaded
from .exceptions import SessionStoreError as SessionStoreError
from .serializers import AsyncSerializer as AsyncSerializer
from .serializers import JsonSerializer as JsonSerializer
from .serializers import Serializer as Serializer
from .serializers import TaggedJsonSerializer as TaggedJsonSerializer
from .stores import CookieStore as CookieStore
from .stores import DualSessionStore as DualSessionStore
from .stores import InMemoryStore as InMemoryStore
from .stores import SessionStore as SessionStore
from .stores import SyncSessionStore as SyncSessionStore
from .types import SessionMetadata as SessionMetadata

if typing.TYPE_CHECKING:
    from .middleware import SessionAutoloadMiddleware as SessionAutoloadMiddleware
    from .middleware import SessionMiddleware as SessionMiddleware
    from .session import get_session_handler as get_session_handler
    from .session import get_session_id as get_session_id
    from .session import get_session_metadata as get_session_metadata
    from .session import get_session_remaining_seconds as get_session_remaining_seconds
    from .session import get_user_sessions as get_user_sessions
    from .session import is_loaded as is_loaded
    from .session import load_session as load_session
    from .session import regenerate_session_id as regenerate_session_id
    from .session import revoke_other_sessions as revoke_other_sessions
    from .session import set_session_lifetime as set_session_lifetime
    from .session import set_session_user as set_session_user

# The ASGI names need Starlette; importing them lazily (PEP 562) keeps ``import dualsessions.wsgi`` and
# ``import dualsessions.flask`` free of Starlette and anyio.
_LAZY: dict[str, str] = {
    "SessionAutoloadMiddleware": ".middleware",
    "SessionMiddleware": ".middleware",
    "get_session_handler": ".session",
    "get_session_id": ".session",
    "get_session_metadata": ".session",
    "get_session_remaining_seconds": ".session",
    "get_user_sessions": ".session",
    "is_loaded": ".session",
    "load_session": ".session",
    "regenerate_session_id": ".session",
    "revoke_other_sessions": ".session",
    "set_session_lifetime": ".session",
    "set_session_user": ".session",
}


#: The ASGI submodules, reachable as attributes as they were before they loaded lazily.
_LAZY_MODULES = frozenset({"middleware", "session"})


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)  # the import sets the attribute
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))


__version__ = "0.1.0"

__all__ = [
    "AsyncSerializer",
    "CookieStore",
    "CookieTooLarge",
    "DualSessionStore",
    "ImproperlyConfigured",
    "InMemoryStore",
    "JsonSerializer",
    "OpenSession",
    "SerializationError",
    "Serializer",
    "Session",
    "SessionAutoloadMiddleware",
    "SessionError",
    "SessionLifecycleError",
    "SessionMetadata",
    "SessionMiddleware",
    "SessionNotLoaded",
    "SessionStore",
    "SessionStoreError",
    "SyncSessionStore",
    "UserSession",
    "aopen_session",
    "arevoke_user_sessions",
    "auser_sessions",
    "generate_session_id",
    "get_session_handler",
    "get_session_id",
    "get_session_metadata",
    "get_session_remaining_seconds",
    "get_user_sessions",
    "is_loaded",
    "load_session",
    "open_session",
    "regenerate_session_id",
    "revoke_other_sessions",
    "revoke_user_sessions",
    "set_session_lifetime",
    "set_session_user",
    "user_sessions",
    "TaggedJsonSerializer",
]
