"""The sans-I/O heart of dualsessions: the session object and every rule of when to read, write, remove
and send a cookie.

Nothing here does I/O or knows a framework. A front end (the ASGI or WSGI middleware, Flask, the scripts
API) creates one :class:`SessionState` per request and drives it through its phases::

    UNLOADED --load()--> LOADED --decide(status)--> DECIDED --stored(outcome)--> DONE

1. ``state.read_plan()`` says which record to read, if any, and whether the read may extend its expiry;
2. the engine reads the store, deserializes, and hands the result to ``state.load(...)``; when the read
   extended the record's expiry by a guess that turned out wrong, ``state.expiry_fix`` says by how much
   to correct it, at once. A front end that must read before the application runs (Quart, whose
   session is used synchronously) loads ``ahead``: the session is then in play only once
   ``state.use()`` says the application used it;
3. the application uses ``state.session``; ``regenerate``, ``set_lifetime`` and ``set_user`` may be
   called before loading too (the engine then loads before deciding);
4. ``state.decide(status)`` reads the one table of situations, :data:`RULES`, and says what the store
   does (write, conditional write, move, remove, index changes) and what the cookie does;
5. the engine carries the decision out and reports with ``state.stored(written)``: the id written
   under, or None when a conditional write found the session ended meanwhile;
6. ``state.response_headers(...)`` gives ``Set-Cookie`` and ``Vary``, a pure function of the above.

A call in the wrong phase raises :class:`~dualsessions.exceptions.SessionLifecycleError`. Because every
front end runs exactly this code, they cannot disagree on a rule.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import logging
import math
import secrets
import typing
from dataclasses import dataclass, field

from . import _clock
from .cookies import CookieRules, validate_header_name
from .exceptions import ImproperlyConfigured, SessionLifecycleError, SessionNotLoaded
from .types import DeviceMetadata, SessionMetadata

if typing.TYPE_CHECKING:
    from .events import EventHook
    from .serializers import AsyncSerializer, Serializer

METADATA_KEY = "__metadata__"
_MISSING = object()
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})
_NUMBERS = frozenset({int, float})

logger = logging.getLogger("dualsessions")

Lifetime: typing.TypeAlias = "int | datetime.timedelta"


class Encryptor(typing.Protocol):
    """Encrypts session payloads (see :mod:`dualsessions.crypto`); raises on a payload it can't decrypt."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


class Options(typing.TypedDict, total=False):
    """Every option of the middlewares, ``DualSessions`` and ``open_session``, declared once.

    The front ends take them as keyword arguments typed by this dict, so mypy checks their names; the
    defaults and the validation are :meth:`SessionConfig.from_options`'s.
    """

    lifetime: Lifetime  # seconds or a timedelta; 0: a browser-session cookie
    rolling: bool  # every use extends the session by its lifetime
    cookie_name: str
    cookie_same_site: str  # "lax", "strict" or "none"
    cookie_https_only: bool  # the Secure attribute
    cookie_domain: str | None
    cookie_path: str | None  # None: where the app is mounted
    cookie_httponly: bool  # the HttpOnly attribute (True: page scripts can't read the cookie)
    cookie_partitioned: bool  # the Partitioned attribute (CHIPS, for embedded apps; needs Secure)
    serializer: Serializer | AsyncSerializer | None  # None: JsonSerializer
    user_key: str | None  # the session key naming its user, for per-user revocation
    encryptor: Encryptor | None  # encrypts records at rest (dualsessions.crypto)
    accept_unbound_records: bool  # with encryptor: still read records encrypted before ids were bound
    concurrency: str  # "last-writer-wins" or "merge"
    idle_timeout: Lifetime | None  # a session unused this long ends (None: no idle timeout)
    absolute_timeout: Lifetime | None  # a session ends this long after it was created, used or not
    session_header: str | None  # the id travels in this request and response header, not a cookie
    track_devices: bool  # record each session's user agent, address and last seen ("your devices")
    event_hooks: typing.Sequence[EventHook] | None  # called with each event (dualsessions.events)


#: starsessions' positional order of the middleware options after ``app`` and ``store``.
POSITIONAL_OPTIONS = (
    "lifetime",
    "rolling",
    "cookie_name",
    "cookie_same_site",
    "cookie_https_only",
    "cookie_domain",
    "cookie_path",
    "serializer",
)


def options_from(args: tuple[typing.Any, ...], options: Options, owner: str) -> Options:
    """``options`` with the positional ``args`` a starsessions-style call passed, by their names."""
    if len(args) > len(POSITIONAL_OPTIONS):
        raise TypeError(f"{owner} takes at most {len(POSITIONAL_OPTIONS)} options by position")
    merged = dict(options)
    for name, value in zip(POSITIONAL_OPTIONS, args, strict=False):
        if name in merged:
            raise TypeError(f"{owner} got {name!r} both by position and by name")
        merged[name] = value
    return typing.cast(Options, merged)


# -- encrypted records know their id ----------------------------------------------------------------

#: What starts a plaintext bound to its session id (a serializer's output never starts with NUL).
_BOUND = b"\x00dualsessions-id:"


class UnboundRecord(ValueError):
    """An encrypted record that names another session, or (when those are refused) none."""


def bind(session_id: str, payload: bytes) -> bytes:
    """``payload`` with the id it belongs to in front, to be encrypted together: a ciphertext copied
    under another session's id then names the wrong session, and is refused (:func:`unbind`)."""
    return _BOUND + _id_digest(session_id) + payload


def unbind(session_id: str, plaintext: bytes, accept_unbound: bool) -> tuple[bytes, bool]:
    """The payload of a decrypted record read under ``session_id``, and whether it was bound to it
    (False: written before records were bound, and accepted). Raises :class:`UnboundRecord`."""
    if plaintext.startswith(_BOUND):
        head = _BOUND + _id_digest(session_id)
        if not plaintext.startswith(head):
            raise UnboundRecord("the encrypted record belongs to another session id")
        return plaintext[len(head) :], True
    if not accept_unbound:
        raise UnboundRecord("the encrypted record names no session id (accept_unbound_records=False)")
    return plaintext, False


def _id_digest(session_id: str) -> bytes:
    return hashlib.blake2b(session_id.encode(), digest_size=16).digest()


#: The longest lifetime a session may have (a hundred years): beyond it no store keeps a TTL, and a
#: record claiming more was not written by us.
MAX_LIFETIME = 100 * 365 * 24 * 3600
#: How far in the future a record's creation time may lie (clocks of servers sharing a store differ).
_CLOCK_SKEW = 24 * 3600


def _stamp(moment: float) -> float:
    """A time as records keep it: to the millisecond, rounded down (never after ``moment``). Its JSON
    is 14 digits instead of up to 17, which a record's every reader parses on ``float()``'s fast path.
    """
    thousandths = math.floor(moment * 1000)  # (the product may round up past a whole thousandth)
    stamp = thousandths / 1000
    return stamp if stamp <= moment else (thousandths - 1) / 1000


def generate_session_id() -> str:
    """A new session id: 192 bits from :mod:`secrets`, URL-safe (32 characters), never starting with
    ``-`` (which command lines would take for an option)."""
    while (session_id := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return session_id


def lifetime_seconds(value: Lifetime | float | str, option: str = "lifetime") -> int:
    """Whole seconds from seconds (int, float, or a string of digits, as starsessions took) or a
    timedelta; zero means a browser-session cookie. A part second counts as a whole one."""
    seconds: float | None = None
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ImproperlyConfigured(
            f"{option} must be 0 (a session-only cookie), a number of seconds or a timedelta, "
            f"not negative, got {value!r}"
        )
    if seconds > MAX_LIFETIME:
        raise ImproperlyConfigured(
            f"{option} must be at most {MAX_LIFETIME} seconds (100 years), got {value!r}"
        )
    return math.ceil(seconds)


def rolls(rolling: bool, lifetime: int, extend: bool = True, idle_timeout: int | None = None) -> bool:
    """Whether using a session extends it: the one place that decides "rolling".

    Only a session with a lifetime rolls (a browser-session cookie has no expiry to extend, so it is
    never re-sent for being read, as Flask does), or one with an idle timeout (each use moves its idle
    deadline), and only in a request (a script's look never extends).
    """
    return extend and ((rolling and lifetime > 0) or idle_timeout is not None)


def deadline(
    lifetime: int,
    rolling: bool,
    created: float,
    last_access: float | None,
    idle_timeout: int | None = None,
    absolute_timeout: int | None = None,
) -> float | None:
    """When a session ends: the nearest of ``lifetime`` seconds after its last access if it rolls, else
    after it was created; ``idle_timeout`` seconds after its last access; ``absolute_timeout`` seconds
    after it was created. None when none applies: a browser session (lifetime 0), which ends with the
    browser. ``last_access`` None: not known here (a store that extends records as they are read keeps
    the time of their last write only), so the terms counted from it are left to the store's expiry.
    The one place of the expiry arithmetic: the TTL, the cookie's Max-Age, the remaining seconds and
    expiry on load use it."""
    end = None
    if lifetime > 0:
        if not rolling:
            end = created + lifetime
        elif last_access is not None:
            end = last_access + lifetime
    if idle_timeout is not None and last_access is not None:
        idle_end = last_access + idle_timeout
        end = idle_end if end is None else min(end, idle_end)
    if absolute_timeout is not None:
        cap = created + absolute_timeout
        end = cap if end is None else min(end, cap)
    return end


def _seconds_until(end: float | None, now: float, least: int) -> int:
    """Whole seconds from ``now`` to ``end`` (0 for no end), at least ``least``."""
    if end is None:
        return 0
    try:
        return min(max(least, math.ceil(end - now)), MAX_LIFETIME)
    except (OverflowError, ValueError):  # a deadline beyond any clock: as far as a TTL may go
        return MAX_LIFETIME


# -- devices (track_devices=True) ---------------------------------------------------------------------

#: A session's device is refreshed by a write of its own at most this often (seconds); writes the
#: session makes anyway refresh it for free.
DEVICE_REFRESH = 60
#: The longest user agent kept (longer ones are cut), and the longest address (longer ones are not one).
MAX_USER_AGENT = 256
MAX_ADDRESS = 64
_DEVICE_FIELDS = frozenset({"seen", "user_agent", "address"})


class Client(typing.NamedTuple):
    """The facts about a request a front end passes to the core when ``track_devices`` is on: its
    ``User-Agent`` header and the client's address as the app sees it (after its proxy middleware:
    ASGI ``scope["client"]``, WSGI ``REMOTE_ADDR``). Either may be None (not sent, a Unix socket)."""

    user_agent: str | None
    address: str | None


def device_record(client: Client, now: float) -> DeviceMetadata:
    """What is stored of ``client``: the user agent cut to :data:`MAX_USER_AGENT` characters with
    unprintable ones replaced, the address if it is printable and at most :data:`MAX_ADDRESS` long
    (anything else is no address), and the time. Only what :func:`_is_device` accepts."""
    device: DeviceMetadata = {"seen": now}
    user_agent = client.user_agent
    if user_agent:
        user_agent = user_agent[:MAX_USER_AGENT]
        if not user_agent.isprintable():
            user_agent = "".join(c if c.isprintable() else "\ufffd" for c in user_agent)
        device["user_agent"] = user_agent
    address = client.address
    if address and len(address) <= MAX_ADDRESS and address.isprintable():
        device["address"] = address
    return device


def _is_device(stored: object, latest: float) -> bool:
    """Whether a record's ``device`` metadata is what :func:`device_record` writes."""
    if type(stored) is not dict or not _DEVICE_FIELDS.issuperset(stored):
        return False
    seen, user_agent, address = stored.get("seen"), stored.get("user_agent", ""), stored.get("address", "")
    return (
        (type(seen) is float or type(seen) is int)
        and 0 <= seen <= latest
        and type(user_agent) is str
        and len(user_agent) <= MAX_USER_AGENT
        and user_agent.isprintable()
        and type(address) is str
        and len(address) <= MAX_ADDRESS
        and address.isprintable()
    )


def session_reference(session_id: str) -> str:
    """A name for a session that can be shown and sent to a browser (it can't be turned back into the
    id): 16 hex characters of a BLAKE2b hash of the id."""
    return hashlib.blake2b(session_id.encode(), digest_size=8, person=b"dualsess-ref").hexdigest()


@dataclass(frozen=True)
class UserSession:
    """One of a user's live sessions, as "your devices" lists them (:func:`user_session_row`).

    ``session_id`` is the secret id (scripts and the CLI get it, as ``session_ids`` gives it; request
    helpers leave it None: never send one session's id to another); ``reference`` names the session
    safely anywhere. ``user_agent``, ``address`` and ``last_seen`` are None for a session recorded
    without ``track_devices``.
    """

    reference: str
    created: float
    last_seen: float | None
    user_agent: str | None
    address: str | None
    current: bool = False
    session_id: str | None = field(default=None, repr=False)


def user_session_row(session_id: str, state: SessionState, current: bool, with_id: bool) -> UserSession:
    """The :class:`UserSession` of a session loaded (without extending it) into ``state``."""
    metadata = typing.cast(SessionMetadata, state.metadata)
    device = metadata.get("device")
    return UserSession(
        reference=session_reference(session_id),
        created=metadata["created"],
        last_seen=None if device is None else device["seen"],
        user_agent=None if device is None else device.get("user_agent"),
        address=None if device is None else device.get("address"),
        current=current,
        session_id=session_id if with_id else None,
    )


class Session(dict[str, typing.Any]):
    """The session data: a dict that notes when it is changed.

    Every mutating method sets ``modified``. A change inside a nested value (``session["cart"].append(x)``)
    can't be seen from here: the engine finds it by serializing the session's lists and dicts again at
    the end of the request; ``session.modified = True`` forces a write. It stays a real ``dict`` so
    that ``JSONResponse(request.session)`` and ``dict(session)`` just work.
    """

    __slots__ = ("modified",)

    def __init__(self, data: typing.Mapping[str, typing.Any] | None = None, /) -> None:
        if data:
            dict.update(self, data)
        self.modified = False

    def __setitem__(self, key: str, value: typing.Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def __ior__(self, other: typing.Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        if self:
            self.modified = True
        super().clear()

    def update(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        super().update(*args, **kwargs)
        if kwargs or any(args):  # an empty mapping changes nothing
            self.modified = True

    def pop(self, key: str, *default: typing.Any) -> typing.Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, typing.Any]:
        item = super().popitem()
        self.modified = True
        return item

    def setdefault(self, key: str, default: typing.Any = None) -> typing.Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


#: The cookie options, and the :class:`CookieRules` field each one sets (the defaults are its own).
_COOKIE_OPTIONS = {
    "cookie_name": "name",
    "cookie_same_site": "same_site",
    "cookie_https_only": "secure",
    "cookie_domain": "domain",
    "cookie_path": "path",
    "cookie_httponly": "httponly",
    "cookie_partitioned": "partitioned",
}


@dataclass(frozen=True)
class SessionConfig:
    """The options the core needs, validated once when the middleware is built (the defaults are
    those of :class:`Options`, the cookie's those of :class:`CookieRules`)."""

    lifetime: int
    rolling: bool
    cookie: CookieRules
    #: The store can extend a record's expiry while reading it (one command instead of read + write).
    store_touches: bool
    #: The session key naming the session's user, for per-user revocation (``None``: only explicit).
    user_key: str | None
    #: ``concurrency="merge"``: a change to an existing session is merged key by key into the record
    #: as it is when written, so concurrent requests changing different keys lose nothing.
    merge: bool
    #: A session unused this long ends (each use moves the deadline); None: no idle timeout.
    idle_timeout: int | None = None
    #: A session ends this long after it was created, however much it is used; None: no cap.
    absolute_timeout: int | None = None
    #: The header the session id travels in, both ways (``session_header``), instead of the cookie.
    header: str | None = None
    #: Record the user agent, address and last-seen time of each session (see :class:`Client`).
    track_devices: bool = False
    #: The TTL a read gives the record as it reads it (sessions that roll, on stores that can), else
    #: None: the lifetime of a rolling session, or the idle timeout if nearer.
    touch_ttl: int | None = field(init=False)

    def __post_init__(self) -> None:
        touch_ttl = None
        if rolls(self.rolling, self.lifetime, idle_timeout=self.idle_timeout) and self.store_touches:
            window = self.lifetime if self.rolling and self.lifetime > 0 else None
            idle = self.idle_timeout
            touch_ttl = idle if window is None else window if idle is None else min(window, idle)
        object.__setattr__(self, "touch_ttl", touch_ttl)

    @classmethod
    def from_options(cls, options: Options, *, store_touches: bool = False) -> SessionConfig:
        """The defaults and the validation of every option (``serializer``, ``encryptor``,
        ``accept_unbound_records`` and ``event_hooks`` are the engine's, and are not looked at here)."""
        unknown = sorted(set(options) - set(Options.__annotations__))
        if unknown:
            raise TypeError(
                f"unknown session option(s) {', '.join(map(repr, unknown))}; the options are "
                f"{', '.join(Options.__annotations__)}"
            )
        cookie: dict[str, typing.Any] = {
            name: options[option]  # type: ignore[literal-required]
            for option, name in _COOKIE_OPTIONS.items()
            if option in options
        }
        for flag in ("secure", "httponly", "partitioned"):
            if flag in cookie:
                cookie[flag] = bool(cookie[flag])
        for name in ("domain", "path"):  # "" (an unset environment variable, say) means none
            if name in cookie:
                cookie[name] = cookie[name] or None
        user_key = options.get("user_key")
        if user_key is not None and (not isinstance(user_key, str) or not user_key):
            raise ImproperlyConfigured(f"user_key must be the name of a session key, got {user_key!r}")
        concurrency = options.get("concurrency", "last-writer-wins")
        if concurrency not in ("last-writer-wins", "merge"):
            raise ImproperlyConfigured(
                f"concurrency must be 'last-writer-wins' or 'merge', got {concurrency!r}"
            )
        return cls(
            lifetime=lifetime_seconds(options.get("lifetime", 0)),
            rolling=bool(options.get("rolling", False)),
            cookie=CookieRules(**cookie),
            store_touches=store_touches,
            user_key=user_key,
            merge=concurrency == "merge",
            idle_timeout=_timeout(options.get("idle_timeout"), "idle_timeout"),
            absolute_timeout=_timeout(options.get("absolute_timeout"), "absolute_timeout"),
            header=_header(options.get("session_header")),
            track_devices=bool(options.get("track_devices", False)),
        )


def _header(name: str | None) -> str | None:
    return None if name is None else validate_header_name(name)


def _timeout(value: Lifetime | None, option: str) -> int | None:
    """``idle_timeout`` or ``absolute_timeout`` in whole seconds; None (or absent): none."""
    if value is None:
        return None
    seconds = lifetime_seconds(value, option)
    if seconds == 0:
        raise ImproperlyConfigured(
            f"{option} must be a positive number of seconds or a timedelta (None: none)"
        )
    return seconds


class Phase(enum.Enum):
    """Where a :class:`SessionState` is in its request."""

    UNLOADED = "not loaded"
    LOADED = "loaded"
    DECIDED = "decided"
    DONE = "done"


_UNLOADED, _LOADED, _DECIDED, _DONE = Phase.UNLOADED, Phase.LOADED, Phase.DECIDED, Phase.DONE


class Store(enum.Enum):
    """What the store does at the end of a request."""

    NOTHING = "nothing"
    CREATE = "write a new record under a new id"
    REPLACE = "write, only if the loaded record still exists"
    MOVE = "take the loaded record away, and write it under the new id only if it was still there"
    REMOVE = "remove the loaded record"


class Cookie(enum.Enum):
    """What the response says about the cookie."""

    NONE = "no header: the session was never used"
    KEEP = "no Set-Cookie, Vary: Cookie"
    SET = "Set-Cookie with the id, Vary: Cookie"
    DELETE = "a deleting Set-Cookie, Vary: Cookie"


FAILED = "failed: status >= 500 or an exception"

#: The rules table: each situation at the end of a request, and what the store and the cookie do.
#: The docs' table of rules (docs/rules.md) says the same, row by row.
RULES: dict[str, tuple[Store, Cookie]] = {
    "never loaded": (Store.NOTHING, Cookie.NONE),
    FAILED: (Store.NOTHING, Cookie.KEEP),
    "never had data": (Store.NOTHING, Cookie.KEEP),
    "emptied": (Store.REMOVE, Cookie.DELETE),
    "new data": (Store.CREATE, Cookie.SET),
    "regenerated": (Store.MOVE, Cookie.SET),
    "changed": (Store.REPLACE, Cookie.SET),
    "read, rolling, extended by the read": (Store.NOTHING, Cookie.SET),
    "read, rolling": (Store.REPLACE, Cookie.SET),
    "read, device seen over a minute ago": (Store.REPLACE, Cookie.KEEP),
    "read": (Store.NOTHING, Cookie.KEEP),
}


#: The situations in which the application changed the session; in the others it only read it (or
#: never used it), and whatever is written or sent only keeps the session going.
CHANGES = frozenset({"emptied", "new data", "regenerated", "changed"})


class IndexChange(typing.NamedTuple):
    """Add ``session_id`` to ``user``'s sessions, or take it out."""

    add: bool
    user: str
    session_id: str


class Decision(typing.NamedTuple):
    """What happens at the end of a request, decided once from :data:`RULES`."""

    situation: str
    store: Store
    cookie: Cookie
    #: The id to write under (CREATE, REPLACE, MOVE), and the loaded record's (REPLACE, MOVE, REMOVE).
    session_id: str | None = None
    record_id: str | None = None
    #: The record to write, metadata included, and the lifetime and TTL it is written with.
    data: dict[str, typing.Any] | None = None
    lifetime: int = 0
    ttl: int = 0
    #: Merge the write into the record as the store has it then, key by key (``concurrency="merge"``).
    merge: bool = False
    #: Expired records found on load, removed whatever else happens.
    stale: tuple[str, ...] = ()
    #: Changes to the per-user index, made once the store action succeeded (the stale ones always).
    users: tuple[IndexChange, ...] = ()
    stale_users: tuple[IndexChange, ...] = ()
    #: The cookie's Max-Age (None: a browser-session cookie) when it is set.
    max_age: int | None = None
    #: A script's write of a session whose expiry only the store knows (it rolls, on a store that
    #: extends records as they are read): the TTL is at most what the record has left there.
    expiry_from_store: bool = False


_UNSET = object()
_UNDECIDED = Decision("not decided yet", Store.NOTHING, Cookie.NONE)
#: The decisions that carry nothing but their row, made once.
_PLAIN = {
    situation: Decision(situation, store, cookie)
    for situation, (store, cookie) in RULES.items()
    if store is Store.NOTHING and cookie is not Cookie.SET
}
_VARY = ("Vary", "Cookie")


class SessionState:
    """One request's view of one session, its phase, and the decision about it.

    ``session_id`` is the id of the record in play: None before loading (a cookie's id counts only once
    the store knows it) and for a new session until it is saved, the fresh id after ``regenerate()``,
    the id the store wrote under once done.
    """

    # The defaults, as class attributes: a request writes only what it changes, since most requests
    # change nothing.
    phase: Phase = _UNLOADED
    #: The session was loaded, or a change was asked for: the end of the request has a decision to
    #: make (a request that never used its session costs nothing more).
    in_play = False
    session: Session | None = None
    metadata: SessionMetadata | None = None
    initially_empty = True
    #: After loading: the TTL to give the record at once, when the read extended it by the configured
    #: lifetime and the session has another (its own lifetime, or it doesn't roll).
    expiry_fix: int | None = None
    #: After loading: why the record read was not used (the engine reports it), when it was refused.
    rejected: str | None = None
    _record_id: str | None = None  # the live record that was loaded, if any
    _owner: str | None = None  # the loaded record's user
    _stale: tuple[str, str | None] | None = None  # an expired record found on load, and its user
    _raw = b""  # the record's bytes as read (a merge finds its changes against them)
    _mutable_keys: tuple[str, ...] = ()  # the loaded keys whose values can change in place
    #: The loaded session's mutable values (lists, dicts, ...), serialized by the engine after loading:
    #: serialized again at the end, they show a change made inside them.
    snapshot = b""
    _stored_metadata: object = _MISSING
    _touched = False  # the read extended the record's expiry
    _new_id: str | None = None  # set by regenerate()
    _pending_lifetime: int | None = None  # set_lifetime() before loading
    _lifetime_set = False
    _user: object = _UNSET  # set_user()'s user, else derived from the data at decision time
    _decision: Decision = _UNDECIDED
    _written: str | None = None
    _client: Client | None = None  # the request's facts, when devices are tracked
    _device_seen: float | None = None  # when the loaded record's device was recorded
    _unused_at_response = False  # set by response_started_unused()
    #: The event of a read made ahead, which the engine keeps until the application uses the session:
    #: nothing is told of a session that a request never used.
    load_event: object = None
    #: A script's look (``extend=False``) at a record: when it was last used, which a script's write
    #: keeps (it is not a use); and whether only the store knows when it expires (``expiry_from_store``).
    _kept_last_access: float | None = None
    _expiry_from_store = False

    def __init__(
        self,
        config: SessionConfig,
        cookie_value: str | None,
        extend: bool = True,
        client: Client | None = None,
    ) -> None:
        """``extend=False`` for a look from outside a request: reading never extends a session.
        ``client``: the request's facts (ignored unless ``track_devices``; a script has none)."""
        self.config = config
        self._cookie_id = cookie_value
        self._extend = extend
        self._rolling = config.rolling  # the loaded record's own rule, once loaded
        if client is not None and config.track_devices and extend:
            self._client = client

    def _refuse(self, operation: str, *phases: Phase) -> typing.NoReturn:
        raise SessionLifecycleError(
            f"can't {operation} a session that is {self.phase.value} "
            f"(only when {' or '.join(phase.value for phase in phases)})"
        )

    @property
    def loaded(self) -> bool:
        return self.session is not None

    @property
    def session_id(self) -> str | None:
        if self.phase is _DONE:
            return self._written
        if self._new_id is not None:
            return self._new_id
        return self._record_id

    @property
    def record_id(self) -> str | None:
        """The id of the record loaded (None: none), which the per-user index holds until the end of
        the request, even when the session is regenerated."""
        return self._record_id

    @property
    def recorded_last_access(self) -> float | None:
        """When the record was last written (``metadata`` shows this request's time instead)."""
        stored = self._stored_metadata
        value = stored.get("last_access") if isinstance(stored, dict) else None
        return value if _is_time(value) else None

    @property
    def owner(self) -> str | None:
        """The loaded record's user (None: nobody's, or nothing loaded)."""
        return self._owner

    @property
    def stale_record(self) -> tuple[str, str | None] | None:
        """After loading: the id and user of a record found past its deadline (removed when the
        request ends), else None."""
        return self._stale

    @property
    def extends(self) -> bool:
        """A request's use of the session, which may extend it (a script's look never does)."""
        return self._extend

    @property
    def is_new(self) -> bool:
        """No record was loaded: the session gets an id and a record when it is first saved."""
        return self._record_id is None

    @property
    def must_load_to_decide(self) -> bool:
        """A change was asked for before loading (a regeneration, a lifetime): load, then decide."""
        return self.in_play and self.phase is _UNLOADED

    def needs_load(self, status: int | None) -> bool:
        """Whether the engine must load the session before deciding: a change was asked for before
        loading, and the request did not fail (a failed one changes nothing, so reads nothing)."""
        return self.phase is _UNLOADED and self.in_play and not _failed(status)

    # -- 1. reading ----------------------------------------------------------------------------------

    def read_plan(self) -> tuple[str, int, int | None] | None:
        """``(session_id, lifetime, touch_ttl)`` to read, or None when there is nothing to look up.

        ``touch_ttl`` is set when the read should also extend the record's expiry (a rolling session on a
        store that can do both at once). It assumes the configured lifetime; ``expiry_fix`` corrects it.
        """
        if self.phase is not _UNLOADED:
            self._refuse("read", _UNLOADED)
        if self._cookie_id is None:
            return None
        config = self.config
        return self._cookie_id, config.lifetime, config.touch_ttl if self._extend else None

    def load(
        self,
        data: object,
        touched: bool = False,
        raw: bytes = b"",
        into: Session | None = None,
        *,
        ahead: bool = False,
    ) -> Session:
        """Take what the store held: ``data`` deserialized (None, or anything but a dict, for "nothing
        usable"), ``raw`` the bytes it came from, ``touched`` whether the read extended its expiry.
        The data goes into ``into`` when given (a framework's own lazy session), else a new Session.
        ``ahead``: read by the front end before the application ran, so not in play until :meth:`use`.

        A record that is missing, undecodable, not a mapping, or past its expiry gives a new empty
        session that will get a new id if it is ever saved.
        """
        if self.phase is not _UNLOADED:
            self._refuse("load", _UNLOADED)
        now = _clock.now()  # what the rules judge by
        stamp = _stamp(now)  # what the metadata records
        config = self.config
        values: dict[str, typing.Any] = {}
        metadata: SessionMetadata | None = None
        if isinstance(data, dict):
            stored = data.pop(METADATA_KEY, _MISSING) if data else _MISSING
            # its own rules (a starsessions record has none: the app's apply)
            own = (
                (config.lifetime, stamp, now, None, None, config.rolling)
                if stored is _MISSING
                else _own_rules(stored, now, config.rolling)
            )
            if own is None:
                self.rejected = "its metadata is not what dualsessions writes"  # so nothing of it is used
            elif data:
                lifetime, created, last_access, owner, device, rolling = own
                # A session that rolls, on a store that extends records as they are read, keeps the
                # time of its last write only: what is counted from its last use is the store's
                # expiry's to enforce.
                known = not (config.store_touches and (rolling or config.idle_timeout is not None))
                end = deadline(
                    lifetime,
                    rolling,
                    created,
                    last_access if known else None,
                    config.idle_timeout,
                    config.absolute_timeout,
                )
                if end is not None and now >= end:
                    self._stale = (typing.cast(str, self._cookie_id), owner)
                else:  # (what is left at its class default is not written: this runs on every request)
                    values = data
                    self._record_id = self._cookie_id
                    self._raw, self._stored_metadata = raw, stored
                    metadata = {"lifetime": lifetime, "created": created, "last_access": stamp}
                    if not self._extend:  # a script's look: its writes keep the last use
                        self._kept_last_access, self._expiry_from_store = last_access, not known
                        metadata["last_access"] = last_access
                    if rolling is not config.rolling:
                        self._rolling = rolling
                    if owner is not None:
                        metadata["user"] = self._owner = owner
                    if device is not None:  # kept as it is until a request records its own
                        metadata["device"] = typing.cast(DeviceMetadata, dict(device))
                        self._device_seen = device["seen"]
                    if touched:  # by config.touch_ttl: the record's own rules may want another
                        self._touched = True
                        end = deadline(
                            lifetime, rolling, created, now, config.idle_timeout, config.absolute_timeout
                        )
                        ttl = _seconds_until(end, now, 1)
                        if ttl != config.touch_ttl or not rolls(
                            rolling, lifetime, idle_timeout=config.idle_timeout
                        ):
                            self.expiry_fix = ttl
        elif data is not None:
            self.rejected = f"it holds a {type(data).__name__}, not a session"
        if metadata is None:
            metadata = {"lifetime": config.lifetime, "created": stamp, "last_access": stamp}
        self.metadata = metadata
        if into is None:
            into = Session(values)
        else:  # a framework's lazy session: emptied, then filled; filling is not a change
            dict.clear(into)
            dict.update(into, values)
            into.modified = False
        self.session = into
        if values:
            self.initially_empty = False
        self.phase = _LOADED
        if not ahead:
            self.in_play = True
        if self._pending_lifetime is not None:
            self.set_lifetime(self._pending_lifetime)
        return into

    def use(self) -> None:
        """The application used a session its front end loaded ahead: the end of the request decides
        about it as about any loaded session. Until then, it counts as never loaded: nothing written,
        no header sent, whatever the read found."""
        if self.phase is not _LOADED:
            self._refuse("use", _LOADED)
        self.in_play = True

    # -- 2. what the application may change besides data ---------------------------------------------

    def _may_change(self, operation: str) -> None:
        """Refuse a change that the end of the request can no longer carry out."""
        if self._unused_at_response:
            raise SessionLifecycleError(
                f"can't {operation} a session after its response started: nothing is left to carry "
                "the change out"
            )
        if self.phase is not _UNLOADED and self.phase is not _LOADED:
            self._refuse(operation, _UNLOADED, _LOADED)

    def response_started_unused(self) -> None:
        """The response started while the session was not in play, so nothing was decided about it:
        a change asked for after this (in a background task, say) is refused, as it is once a used
        session is done, rather than accepted and never carried out. Reading it is still allowed."""
        self._unused_at_response = True

    def regenerate(self) -> str:
        """Move the session to a fresh id; the old record ends when the new one is written. Before
        loading too: the engine then loads the session to move it."""
        self._may_change("regenerate")
        self.in_play = True
        self._new_id = generate_session_id()
        return self._new_id

    def set_lifetime(self, lifetime: Lifetime) -> None:
        """Give this session its own lifetime ("remember me"), obeyed by the cookie and the store.
        Setting the lifetime it has already is not a change."""
        self._may_change("set the lifetime of")
        seconds = lifetime_seconds(lifetime)
        self.in_play = True
        if self.metadata is None:
            self._pending_lifetime = seconds
        elif self.metadata["lifetime"] != seconds:
            self.metadata["lifetime"] = seconds
            self._lifetime_set = True

    def set_user(self, user: str | None) -> None:
        """Mark whose session this is (None: nobody's), for revoking a user's sessions everywhere."""
        self._may_change("set the user of")
        if user is not None and (not isinstance(user, str) or not user):
            raise ValueError(f"a session's user is a non-empty string, got {user!r}")
        self._user = user
        self.in_play = True

    @property
    def user(self) -> str | None:
        """Whose session this is: set by ``set_user``, else the ``user_key`` value, else as loaded."""
        if self._user is not _UNSET:
            return typing.cast("str | None", self._user)
        key, session = self.config.user_key, self.session
        if key is not None and session is not None:
            value = session.get(key)
            return None if value is None or value == "" else str(value)
        return self._owner

    def remaining_seconds(self) -> int:
        """Seconds before the session expires (0 for a session-only cookie)."""
        if self.metadata is None:
            raise SessionNotLoaded("Cannot read session metadata because session was not loaded.")
        return self._ttl(least=0)

    def _ttl(self, least: int = 1) -> int:
        metadata = typing.cast(SessionMetadata, self.metadata)
        config, now = self.config, _clock.now()
        # A request uses the session now, and so does a script that sets its lifetime; a script's
        # other changes leave its last use as recorded (where the store keeps it instead, the engine
        # bounds the TTL by the store's: ``expiry_from_store``).
        kept = self._kept_last_access
        end = deadline(
            metadata["lifetime"],
            self._rolling,
            metadata["created"],
            now if kept is None or self._lifetime_set or self._expiry_from_store else kept,
            config.idle_timeout,
            config.absolute_timeout,
        )
        return _seconds_until(end, now, least)

    # -- 3. deciding -----------------------------------------------------------------------------------

    @property
    def raw(self) -> bytes:
        """The loaded record's bytes."""
        return self._raw

    def mutable_values(self) -> dict[str, typing.Any] | None:
        """The loaded session's values that can change in place (lists, dicts, ...), to be serialized
        into :attr:`snapshot` right after loading; None when there are none (most sessions), or no
        record was loaded. Finding in-place changes then costs what those values cost, not the whole
        session."""
        session = self.session
        if not session or self._record_id is None or _IMMUTABLE.issuperset(map(type, session.values())):
            return None  # (the common case, checked in C)
        mutable = {key: value for key, value in session.items() if type(value) not in _IMMUTABLE}
        self._mutable_keys = tuple(mutable)
        return mutable

    def unchanged_mutable_values(self) -> dict[str, typing.Any] | None:
        """The mutable values of :meth:`mutable_values` as they are now, when the session would
        otherwise not be written; None when there is no need to look (it will be written anyway, or
        nothing could have changed in place). If they serialize to other bytes than :attr:`snapshot`,
        a value inside the session was changed in place: set ``session.modified``.
        """
        session = self.session
        if not self._mutable_keys or self.phase is not _LOADED or session is None or session.modified:
            return None
        if RULES[self._situation(None)][0] is not Store.NOTHING:  # written anyway
            return None
        return {key: session.get(key) for key in self._mutable_keys}

    def unchanged_record(self) -> dict[str, typing.Any] | None:
        """The loaded record as it would be serialized if nothing had changed, when the session would
        otherwise not be written; None when there is no need to look. If it serializes to other bytes
        than ``raw``, a value inside the session was changed in place: set ``session.modified``.
        For serializers that must wait (an async one), which the engine doesn't call on every load:
        with a sync serializer, :meth:`mutable_values` costs what the mutable values cost.
        """
        session = self.session
        if (
            self.phase is not _LOADED
            or not session
            or session.modified
            or self._record_id is None
            or not self._raw
            or _IMMUTABLE.issuperset(map(type, session.values()))  # nothing to change in place
        ):
            return None
        situation = self._situation(None)
        if RULES[situation][0] is not Store.NOTHING:  # written anyway
            return None
        record = dict(session)
        if self._stored_metadata is not _MISSING:
            record[METADATA_KEY] = self._stored_metadata
        return record

    def _situation(self, status: int | None) -> str:
        """Which row of :data:`RULES` this request is in."""
        session = self.session
        if session is None or not self.in_play:  # (or loaded ahead, and never used)
            return "never loaded"
        if _failed(status):
            return FAILED
        if not session:
            return "emptied" if self._record_id is not None else "never had data"
        if self._record_id is None:
            return "new data"
        if self._new_id is not None:
            return "regenerated"
        if (
            session.modified
            or self._lifetime_set
            # a user was set, or the data names it (user_key): it may differ from the loaded one
            or ((self._user is not _UNSET or self.config.user_key is not None) and self.user != self._owner)
        ):
            return "changed"
        metadata: SessionMetadata = self.metadata  # type: ignore[assignment]  # loaded
        device_due = self._client is not None and self._device_due()  # (no call without track_devices)
        if not rolls(self._rolling, metadata["lifetime"], self._extend, self.config.idle_timeout):
            return "read, device seen over a minute ago" if device_due else "read"
        if self._touched and not device_due:
            return "read, rolling, extended by the read"
        return "read, rolling"

    def _device_due(self) -> bool:
        """The one refresh rule of ``track_devices``: a request (not a script's look) whose session's
        device was recorded over :data:`DEVICE_REFRESH` seconds ago, or never, writes it anew."""
        if self._client is None:
            return False
        seen = self._device_seen
        return seen is None or abs(_clock.now() - seen) >= DEVICE_REFRESH  # (ahead: another clock)

    def decide(self, status: int | None = None) -> Decision:
        """What the store and the cookie do at the end of the request (``status``: the response's, None
        outside a request). Decided once: until the store reports back, later calls return the same
        decision."""
        phase = self.phase
        if phase is _DECIDED:
            return self._decision
        if phase is not _LOADED and phase is not _UNLOADED:
            self._refuse("decide about", _UNLOADED, _LOADED)
        situation = self._situation(status)
        self.phase = _DECIDED
        plain = _PLAIN.get(situation)
        if plain is not None and (self._stale is None or situation == FAILED):
            self._decision = plain
            return plain
        store, cookie = RULES[situation]
        stale: tuple[str, ...] = ()
        stale_users: tuple[IndexChange, ...] = ()
        if self._stale is not None and situation != FAILED:  # an expired record found on load
            stale_id, stale_owner = self._stale
            stale = (stale_id,)
            if stale_owner is not None:
                stale_users = (IndexChange(False, stale_owner, stale_id),)
        if store is Store.REMOVE:
            record_id = typing.cast(str, self._record_id)
            index = (IndexChange(False, self._owner, record_id),) if self._owner is not None else ()
            decision = Decision(situation, store, cookie, record_id=record_id, stale=stale, users=index)
        elif store is not Store.NOTHING:
            decision = self._write_decision(situation, store, cookie, stale)
        else:  # a cookie set here was extended by the read: it says so too
            max_age = self._max_age() if cookie is Cookie.SET else None
            decision = Decision(situation, store, cookie, stale=stale, max_age=max_age)
        if stale_users:
            decision = decision._replace(stale_users=stale_users)
        self._decision = decision
        return decision

    def _max_age(self) -> int | None:
        metadata = typing.cast(SessionMetadata, self.metadata)
        return self._ttl() if metadata["lifetime"] > 0 else None

    def _write_decision(
        self, situation: str, store: Store, cookie: Cookie, stale: tuple[str, ...]
    ) -> Decision:
        metadata = typing.cast(SessionMetadata, self.metadata)
        if self._kept_last_access is None or self._lifetime_set:  # a use: a request's write, a new lifetime
            metadata["last_access"] = _stamp(_clock.now())
        record_id, owner, user = self._record_id, self._owner, self.user
        session_id = self._new_id or record_id or generate_session_id()
        if user is None:
            metadata.pop("user", None)
        else:
            metadata["user"] = user
        metadata["rolling"] = self._rolling
        if self._client is not None:  # any write of a request records its device: it costs nothing more
            metadata["device"] = device_record(self._client, metadata["last_access"])
        moved = record_id is not None and record_id != session_id
        index = []
        if owner is not None and record_id is not None and (moved or owner != user):
            index.append(IndexChange(False, owner, record_id))
        if user is not None and (moved or user != owner or record_id is None):
            index.append(IndexChange(True, user, session_id))
        data = dict(typing.cast(Session, self.session))
        data[METADATA_KEY] = metadata
        ttl = self._ttl()
        return Decision(
            situation,
            store,
            cookie,
            session_id=session_id,
            record_id=record_id,
            data=data,
            lifetime=metadata["lifetime"],
            ttl=ttl,
            merge=self.config.merge and store is not Store.CREATE,
            stale=stale,
            users=tuple(index),
            max_age=ttl if metadata["lifetime"] > 0 else None,
            # (a lifetime a script sets is a use: it counts from now, as a request's would)
            expiry_from_store=self._expiry_from_store and record_id is not None and not self._lifetime_set,
        )

    def bound_by_store(self, remaining: int | None) -> Decision:
        """A script's write of a session whose expiry only the store knows (``expiry_from_store``):
        the decision with a TTL no longer than what the record has left there (``remaining``; None:
        the store can't tell, and the TTL stays as decided)."""
        decision = self._decision
        if remaining is not None and (remaining < decision.ttl or decision.ttl == 0):  # (0: the store's)
            decision = self._decision = decision._replace(ttl=remaining)
        return decision

    # -- 4. after the store --------------------------------------------------------------------------

    def stored(self, written: str | None) -> tuple[IndexChange, ...]:
        """The store carried the decision's action out: ``written`` is the id it wrote under (the
        cookie's value), or None when nothing was written (a conditional write found the session ended
        meanwhile). Returns the per-user index changes to make now: those of the stale record always,
        the session's own only if its record was written or removed (a refused write changes no index).
        """
        if self.phase is not _DECIDED:
            self._refuse("report the store's work on", _DECIDED)
        decision = self._decision
        action = decision.store
        if action is Store.NOTHING:
            written = self._record_id  # the session keeps its id (if it has one)
        self._written = written
        self.phase = _DONE
        if written is not None or action is Store.REMOVE:
            return decision.stale_users + decision.users
        return decision.stale_users

    def response_headers(self, mount_point: str = "", https: bool = True) -> list[tuple[str, str]]:
        """The headers to add to the response.

        ``mount_point`` is where the app is mounted (the default cookie path); ``https`` whether the
        request came over TLS, to warn once when a Secure cookie is sent where it won't come back.
        """
        if self.phase is not _DONE:
            self._refuse("give the response headers of", _DONE)
        decision = self._decision
        cookie = decision.cookie
        value = self._written
        if cookie is Cookie.KEEP or (cookie is Cookie.SET and value is None):  # the session ended meanwhile
            return [_VARY] if self.config.header is None else [("Vary", self.config.header)]
        if cookie is Cookie.NONE:
            return []
        header = self.config.header
        if header is not None:  # the id travels in a header: the new one, or none (ended)
            if cookie is Cookie.DELETE or value is None:
                return [(header, ""), ("Vary", header)]
            return [(header, value), ("Vary", header)]
        rules = self.config.cookie
        if cookie is Cookie.DELETE or value is None:
            return [("Set-Cookie", rules.delete_cookie(rules.path_for(mount_point))), _VARY]
        if not https and rules.secure:
            _warn_insecure_once(rules.name)
        return [("Set-Cookie", rules.set_cookie(value, decision.max_age, rules.path_for(mount_point))), _VARY]

    # -- merging (concurrency="merge") ------------------------------------------------------------------

    def changes_since(self, original: dict[str, typing.Any]) -> tuple[dict[str, typing.Any], tuple[str, ...]]:
        """What this request did to the data loaded as ``original``: keys set (or changed in place),
        and keys deleted."""
        session = typing.cast(Session, self.session)
        updates = {
            key: value
            for key, value in session.items()
            if key not in original or _differ(original[key], value)
        }
        return updates, tuple(key for key in original if key not in session)

    def metadata_changes(self) -> dict[str, typing.Any]:
        """The metadata this request changed (None: remove the field), to merge into the record's."""
        metadata = typing.cast(SessionMetadata, self.metadata)
        changes: dict[str, typing.Any] = {"last_access": metadata["last_access"]}
        if self._lifetime_set:
            changes["lifetime"] = metadata["lifetime"]
        if self.user != self._owner:
            changes["user"] = self.user
        if self._client is not None:
            changes["device"] = metadata.get("device")
        return changes


_warned_insecure: set[str] = set()


def _warn_insecure_once(cookie_name: str) -> None:
    if cookie_name not in _warned_insecure:
        _warned_insecure.add(cookie_name)
        logger.warning(
            "the %r cookie is Secure but this request came over plain http: browsers send it back over "
            "http only to localhost (Chromium and Firefox do), and httpx-based test clients such as "
            "Starlette's TestClient never do. Serve over https, or pass cookie_https_only=False for "
            "plain-http development and tests.",
            cookie_name,
        )


def _failed(status: int | None) -> bool:
    return status is not None and status >= 500


def merge_record(
    current: object,
    updates: dict[str, typing.Any],
    deletions: tuple[str, ...],
    metadata_changes: dict[str, typing.Any],
) -> dict[str, typing.Any] | None:
    """The record as it is now with one request's changes applied, its metadata too (so a lifetime
    or user set meanwhile by another request stays); None if it is gone (ended by a concurrent
    request, say: a merge never brings a session back)."""
    if not isinstance(current, dict) or not current:
        return None
    merged = {key: value for key, value in current.items() if key != METADATA_KEY and key not in deletions}
    merged.update(updates)
    stored = current.get(METADATA_KEY)
    metadata = dict(stored) if isinstance(stored, dict) else {}
    for name, value in metadata_changes.items():
        if value is None:
            metadata.pop(name, None)
        else:
            metadata[name] = value
    merged[METADATA_KEY] = metadata
    return merged


def _differ(before: object, after: object) -> bool:
    """A change, counting 1 -> True and 1 -> 1.0 as changes (they are equal, not the same value)."""
    return type(before) is not type(after) or before != after


def _own_rules(
    stored: object, now: float, rolling: bool
) -> tuple[int, float, float, str | None, DeviceMetadata | None, bool] | None:
    """A record's metadata as ``(lifetime, created, last_access, user, device, rolling)``, with the
    fields it may leave out as dualsessions reads them (``last_access``: ``now``; ``rolling``: the
    configured ``rolling``); None when it is not what dualsessions writes: a lifetime of at most a
    hundred years, times after 1970 and not in the future (beyond clock skew), a string user, a device
    as :func:`device_record` writes it."""
    if type(stored) is not dict:
        return None
    get: typing.Callable[..., typing.Any] = stored.get
    lifetime, created, last_access = get("lifetime"), get("created"), get("last_access", now)
    user, device, rolling = get("user"), get("device"), get("rolling", rolling)
    latest = now + _CLOCK_SKEW
    if (  # (the range checks refuse NaN and infinities too)
        type(lifetime) is int
        and 0 <= lifetime <= MAX_LIFETIME
        and type(created) in _NUMBERS
        and 0 <= created <= latest
        and type(last_access) in _NUMBERS
        and 0 <= last_access <= latest
        and type(rolling) is bool
        and ((type(user) is str and user != "") if user is not None else "user" not in stored)
        and (_is_device(device, latest) if device is not None else "device" not in stored)
    ):
        return lifetime, created, last_access, user, device, rolling
    return None


def _is_time(value: object) -> typing.TypeGuard[float]:
    return type(value) is int or (type(value) is float and math.isfinite(value))
