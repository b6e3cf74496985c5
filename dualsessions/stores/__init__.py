from .base import DualSessionStore as DualSessionStore
from .base import SessionStore as SessionStore
from .base import SyncSessionStore as SyncSessionStore
from .cookie import CookieStore as CookieStore
from .memory import InMemoryStore as InMemoryStore

__all__ = ["CookieStore", "DualSessionStore", "InMemoryStore", "SessionStore", "SyncSessionStore"]
