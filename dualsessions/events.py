"""Session events, for audit logs, metrics and tracing.

Register callables with the ``event_hooks`` option (every middleware, ``DualSessions``,
``open_session``/``aopen_session``); each is called with one :class:`SessionEvent` per fact::

    from dualsessions.events import logging_hook

    app.add_middleware(SessionMiddleware, store=store, event_hooks=[logging_hook()])

An event never carries the session's contents, nor its id (a bearer credential): ``ref`` is a short,
stable digest of the id (:func:`session_ref`), the same in every app and process sharing the store,
so log lines about one session can be found together without the id being written anywhere.

The engine emits the events, after the store acted, in one place for every front end. With no hook
registered nothing is built. A hook that raises is logged (one warning on the ``dualsessions`` logger)
and the request goes on. Under the ASGI middleware and ``aopen_session`` a hook may be async (it is
awaited); elsewhere hooks are called synchronously, and an async one is refused when the middleware
is built. Hooks run inline, in the request: keep them quick, and hand slow work to a queue.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import logging
import typing

from . import _clock
from .exceptions import ImproperlyConfigured

if typing.TYPE_CHECKING:
    from .core import Decision, SessionState

__all__ = [
    "EventHook",
    "Frontend",
    "RejectReason",
    "SessionCreated",
    "SessionEnded",
    "SessionEvent",
    "SessionExpired",
    "SessionLoaded",
    "SessionRegenerated",
    "SessionRejected",
    "SessionRevoked",
    "SessionSaved",
    "logging_hook",
    "session_ref",
]

logger = logging.getLogger("dualsessions")

#: Where an event happened: the ASGI middleware, the WSGI middleware, the Flask integration, or a
#: script (``open_session``, the admin functions, the CLI).
Frontend = typing.Literal["asgi", "wsgi", "flask", "quart", "script"]


class RejectReason(str, enum.Enum):
    """Why a session the request named was not used."""

    #: A :class:`~dualsessions.CookieStore` cookie that no key verifies, or whose signed expiry has
    #: passed (the store reports both as "nothing here").
    BAD_SIGNATURE = "bad signature"
    #: A server-side store holds no record under the id: never issued, ended, or expired and dropped
    #: by the store's own expiry.
    UNKNOWN_ID = "unknown id"
    #: A record was found past its deadline (lifetime, idle or absolute timeout): see
    #: :class:`SessionExpired`.
    EXPIRED = "expired"
    #: A record that can't be decrypted or deserialized, or isn't what dualsessions writes.
    UNDECODABLE = "undecodable"


def session_ref(session_id: str) -> str:
    """The reference events give a session: 16 hex digits of a BLAKE2b digest of its id. It can't be
    turned back into the id, and is the same everywhere, so ``session_ref(an_id)`` finds an id's
    events in a log."""
    return hashlib.blake2b(session_id.encode(), digest_size=8, person=b"dualsessions-ev").hexdigest()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionEvent:
    """What every event says."""

    #: The event's name: ``created``, ``loaded``, ``saved``, ``regenerated``, ``ended``, ``revoked``,
    #: ``rejected`` or ``expired``.
    kind: typing.ClassVar[str] = "event"

    #: :func:`session_ref` of the session's id (None for :class:`SessionRevoked`).
    ref: str | None
    #: The session's user when known (``set_session_user``/``user_key``), else None.
    user: str | None
    frontend: Frontend
    #: The store's class name (``RedisStore``, ...).
    store: str
    #: When it happened, in seconds since the epoch (dualsessions' clock).
    at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(SessionEvent):
    """A new session was written under a new id (a new visitor stored data)."""

    kind: typing.ClassVar[str] = "created"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionLoaded(SessionEvent):
    """A request (or script) read a live session from the store."""

    kind: typing.ClassVar[str] = "loaded"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionSaved(SessionEvent):
    """An existing session was written again."""

    kind: typing.ClassVar[str] = "saved"

    #: False when only its expiry moved (a rolling session that was read, on a store that can't
    #: extend a record as it reads it).
    changed: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRegenerated(SessionEvent):
    """The session moved to a new id (``ref``); the record under the old one is gone."""

    kind: typing.ClassVar[str] = "regenerated"

    #: :func:`session_ref` of the id it had.
    previous_ref: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(SessionEvent):
    """The session was emptied, so its record was removed and its cookie deleted (a logout, or
    ``delete_session``)."""

    kind: typing.ClassVar[str] = "ended"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRevoked(SessionEvent):
    """Every session of ``user`` was ended by ``revoke_user_sessions`` (or ``dualsessions
    revoke-user``); ``ref`` is None."""

    kind: typing.ClassVar[str] = "revoked"

    #: How many live sessions were ended.
    count: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRejected(SessionEvent):
    """The session the request named was not used: the request goes on with a new, empty session.
    ``ref`` is the digest of the value the client sent."""

    kind: typing.ClassVar[str] = "rejected"

    reason: RejectReason
    #: More about the reason, never the record's contents (``undecodable: JSONDecodeError``).
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionExpired(SessionRejected):
    """A rejection whose reason is :attr:`RejectReason.EXPIRED`: the store still held the record, past
    its deadline; it is removed. ``user`` is the expired session's."""

    kind: typing.ClassVar[str] = "expired"

    reason: RejectReason = RejectReason.EXPIRED


#: A hook: called with each event. Under the ASGI middleware and ``aopen_session`` it may return an
#: awaitable, which is awaited.
EventHook = typing.Callable[[SessionEvent], object]


def checked_hooks(hooks: typing.Iterable[EventHook] | None, *, may_await: bool) -> tuple[EventHook, ...]:
    """The ``event_hooks`` option, validated: callables, and none async where nothing awaits them."""
    if hooks is None:
        return ()
    if callable(hooks):
        raise ImproperlyConfigured(f"event_hooks is a list of callables, got one callable: [{hooks!r}]")
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise ImproperlyConfigured(f"each event hook must be a callable (event) -> None, got {hook!r}")
        if not may_await and is_async(hook):
            raise ImproperlyConfigured(
                f"event hook {hook!r} is async, and WSGI, Flask and open_session call hooks "
                "synchronously: give them a sync callable (async hooks work under the ASGI middleware "
                "and aopen_session)"
            )
    return checked


def is_async(hook: EventHook) -> bool:
    """Whether calling ``hook`` gives a coroutine (an ``async def`` function or ``__call__``)."""
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004  # an object whose __call__ is async
    )


def dispatch(hooks: tuple[EventHook, ...], events: typing.Iterable[SessionEvent]) -> None:
    """Call every hook with every event; one that raises is logged and skipped."""
    for event in events:
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.iscoroutine(result):  # a sync callable that made a coroutine: not awaited here
                    result.close()
                    raise TypeError("it returned a coroutine, which nothing awaits here")
            except Exception as exc:
                _hook_failed(hook, event, exc)


async def adispatch(hooks: tuple[EventHook, ...], events: typing.Iterable[SessionEvent]) -> None:
    """Call every hook with every event, awaiting what they return if it is awaitable; one that raises
    is logged and skipped."""
    for event in events:
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                _hook_failed(hook, event, exc)


def _hook_failed(hook: EventHook, event: SessionEvent, exc: Exception) -> None:
    message = " ".join(str(exc).split())
    logger.warning(
        "event hook %s failed on the %s event: %s: %s", _name(hook), event.kind, type(exc).__name__, message
    )
    logger.debug("the event hook's error", exc_info=exc)


def _name(hook: object) -> str:
    return getattr(hook, "__qualname__", None) or type(hook).__qualname__


# -- what happened, from the core's view: the engine calls these after the store acted ---------------


def after_load(
    state: SessionState, cookie_id: str, stateless: bool, frontend: Frontend, store: str
) -> SessionEvent:
    """The event of reading the session named ``cookie_id``: loaded, expired or rejected."""
    at = _clock.now()
    stale = state.stale_record
    if stale is not None:
        return SessionExpired(ref=session_ref(stale[0]), user=stale[1], frontend=frontend, store=store, at=at)
    if state.rejected is not None:
        return SessionRejected(
            ref=session_ref(cookie_id),
            user=None,
            frontend=frontend,
            store=store,
            at=at,
            reason=RejectReason.UNDECODABLE,
            detail=state.rejected,
        )
    if state.is_new:
        reason = RejectReason.BAD_SIGNATURE if stateless else RejectReason.UNKNOWN_ID
        return SessionRejected(
            ref=session_ref(cookie_id), user=None, frontend=frontend, store=store, at=at, reason=reason
        )
    return SessionLoaded(ref=session_ref(cookie_id), user=state.user, frontend=frontend, store=store, at=at)


def after_save(
    state: SessionState, decision: Decision, frontend: Frontend, store: str
) -> SessionEvent | None:
    """The event of carrying ``decision`` out (None: nothing happened to tell, or a conditional write
    found the session ended meanwhile)."""
    from .core import Store

    action = decision.store
    if action is Store.REMOVE:
        return SessionEnded(
            ref=session_ref(typing.cast(str, decision.record_id)),
            user=state.owner,
            frontend=frontend,
            store=store,
            at=_clock.now(),
        )
    written = state.session_id
    if written is None or action is Store.NOTHING:
        return None
    ref, user, at = session_ref(written), state.user, _clock.now()
    if action is Store.CREATE:
        return SessionCreated(ref=ref, user=user, frontend=frontend, store=store, at=at)
    if action is Store.MOVE:
        previous = session_ref(typing.cast(str, decision.record_id))
        return SessionRegenerated(
            ref=ref, user=user, frontend=frontend, store=store, at=at, previous_ref=previous
        )
    changed = decision.situation != "read, rolling"
    return SessionSaved(ref=ref, user=user, frontend=frontend, store=store, at=at, changed=changed)


def revoked(user: str, count: int, store: str) -> SessionRevoked:
    return SessionRevoked(ref=None, user=user, frontend="script", store=store, at=_clock.now(), count=count)


# -- integrations --------------------------------------------------------------------------------------


def logging_hook(logger: logging.Logger | None = None, level: int = logging.INFO) -> EventHook:
    """A hook that logs one line per event on ``logger`` (default: ``dualsessions.events``), e.g.
    ``session created ref=3f0c9a1e2b7d4c55 user=ada frontend=asgi store=RedisStore``."""
    target = logger if logger is not None else logging.getLogger("dualsessions.events")

    def log_event(event: SessionEvent) -> None:
        if target.isEnabledFor(level):
            target.log(level, "session %s %s", event.kind, describe(event))

    return log_event


def describe(event: SessionEvent) -> str:
    """The event's fields as ``name=value`` pairs, those that are None or empty left out (``at`` too:
    a log record has its own time)."""
    parts = []
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if value is None or value == "" or field.name == "at":
            continue
        if isinstance(value, RejectReason):
            value = repr(value.value)
        elif isinstance(value, str) and " " in value:
            value = repr(value)
        parts.append(f"{field.name}={value}")
    return " ".join(parts)
