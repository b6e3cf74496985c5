"""The exception tree: every error dualsessions raises is a :class:`SessionError`."""

from __future__ import annotations


class SessionError(Exception):
    """Base class for session errors."""


class SessionNotLoaded(SessionError):
    """The session was used before it was loaded (ASGI: call ``load_session`` first)."""

    solution = 'Call "dualsessions.load_session(connection)" to load session data.'


class ImproperlyConfigured(SessionError, ValueError):
    """An option passed to a middleware, store or serializer is invalid.

    The message says what to change. It is a ``ValueError`` too, since that is what a bad argument is.
    """


class SessionStoreError(SessionError):
    """A store could not be read or written (Redis unreachable, timed out, ...).

    ``store`` names the store, ``__cause__`` holds the original error.
    """

    def __init__(self, store: str, action: str, cause: BaseException) -> None:
        self.store = store
        self.action = action
        super().__init__(f"{store}: could not {action}: {type(cause).__name__}: {cause}")


class NotARecord(SessionError):
    """Raised by a store's ``read`` (or ``read_and_touch``) when the session's key holds something that
    is not a record (a Redis value of another type, bytes its client can't decode): the request gets a
    new session and a warning, as for a record it can't decode, never a store failure."""


class CookieTooLarge(SessionError):
    """A cookie-stored session outgrew the cookie size limit; raised before any header is sent."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"the session cookie would be {size} bytes, over the limit of {limit} bytes; "
            "store less in the session or use a server-side store (InMemoryStore, RedisStore)"
        )


class SerializationError(SessionError):
    """Session data could not be serialized; raised at save time, before any header is sent."""


class SessionLifecycleError(SessionError, RuntimeError):
    """A session was driven out of order. An app sees it when it regenerates the id, sets the
    lifetime or the user after the response started (in a background task, say), when no response is
    left to carry the change; data changes made then are not saved either. Within a front end, it
    marks a bug: loading twice, deciding after the store was written, headers before that."""
