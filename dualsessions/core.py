"""The sans-I/O heart of dualsessions: the session object and every rule of when to read, write, remove
and send a cookie.

Nothing here does I/O or knows a framework. A front end (the ASGI or WSGI middleware, the scripts API)
creates one :class:`SessionState` per request and drives it:

1. ``state.read_plan()`` says which record to read, if any, and whether the read may extend its expiry;
2. the front end reads the store, deserializes, and hands the result to ``state.load(data, touched)``;
3. the application uses ``state.session``;
4. ``state.save_plan()`` says what to write and what to remove; the front end serializes and performs it;
5. ``state.response_headers(written_id, mount_point)`` gives the ``Set-Cookie`` and ``Vary`` headers.

Because both front ends run exactly this code, they cannot disagree on a rule.
"""

from __future__ import annotations

import datetime
import logging
import math
import secrets
import typing
from dataclasses import dataclass, field

from . import _clock
from .cookies import CookieRules
from .exceptions import ImproperlyConfigured, SessionNotLoaded
from .types import SessionMetadata

METADATA_KEY = "__metadata__"
_MISSING = object()
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})

logger = logging.getLogger("dualsessions")

Lifetime: typing.TypeAlias = "int | datetime.timedelta"


class Encryptor(typing.Protocol):
    """Encrypts session payloads (see :mod:`dualsessions.crypto`); raises on a payload it can't decrypt."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


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
    return math.ceil(seconds)


class Session(dict[str, typing.Any]):
    """The session data: a dict that notes when it is changed.

    Every mutating method sets ``modified``. A change inside a nested value (``session["cart"].append(x)``)
    can't be seen from here: assign the value again, or set ``session.modified = True``.
    It stays a real ``dict`` so that ``JSONResponse(request.session)`` and ``dict(session)`` just work.
    """

    __slots__ = ("modified",)

    def __init__(self, data: typing.Mapping[str, typing.Any] | None = None, /) -> None:
        if data:
            super().__init__(data)
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


@dataclass(frozen=True)
class SessionConfig:
    """The options every front end takes, validated once when the middleware is built."""

    lifetime: int = 0
    rolling: bool = False
    cookie: CookieRules = field(default_factory=CookieRules)
    #: The store can extend a record's expiry while reading it (one command instead of read + write).
    store_touches: bool = False
    #: The session key naming the session's user, for per-user revocation (``None``: only explicit).
    user_key: str | None = None
    #: ``concurrency="merge"``: a change to an existing session is merged key by key into the record
    #: as it is when written, so concurrent requests changing different keys lose nothing.
    merge: bool = False

    @classmethod
    def from_options(
        cls,
        *,
        lifetime: Lifetime = 0,
        rolling: bool = False,
        cookie_name: str = "session",
        cookie_same_site: str = "lax",
        cookie_https_only: bool = True,
        cookie_domain: str | None = None,
        cookie_path: str | None = None,
        user_key: str | None = None,
        concurrency: str = "last-writer-wins",
        store_touches: bool = False,
    ) -> SessionConfig:
        cookie = CookieRules(
            name=cookie_name,
            same_site=cookie_same_site,
            secure=bool(cookie_https_only),
            domain=cookie_domain or None,  # "" (an unset environment variable, say) means none
            path=cookie_path or None,
        )
        if user_key is not None and (not isinstance(user_key, str) or not user_key):
            raise ImproperlyConfigured(f"user_key must be the name of a session key, got {user_key!r}")
        if concurrency not in ("last-writer-wins", "merge"):
            raise ImproperlyConfigured(
                f"concurrency must be 'last-writer-wins' or 'merge', got {concurrency!r}"
            )
        merge = concurrency == "merge"
        return cls(lifetime_seconds(lifetime), bool(rolling), cookie, store_touches, user_key, merge)


class Write(typing.NamedTuple):
    """Write ``data`` (metadata included) under ``session_id``, kept ``ttl`` seconds (0: store default)."""

    session_id: str
    data: dict[str, typing.Any]
    lifetime: int
    ttl: int


class IndexChange(typing.NamedTuple):
    """Add ``session_id`` to ``user``'s sessions, or take it out."""

    add: bool
    user: str
    session_id: str


class SavePlan(typing.NamedTuple):
    write: Write | None
    #: Records to remove, after the write succeeded (an old id after regeneration, an emptied session).
    remove: tuple[str, ...]
    #: Changes to the per-user index of sessions, after the write and the removals.
    users: tuple[IndexChange, ...] = ()
    #: Merge the write into the record as it is now, key by key (``concurrency="merge"``).
    merge: bool = False


_NOTHING = SavePlan(None, ())

_KEEP, _SET, _DELETE = 0, 1, 2


class SessionState:
    """One request's view of one session, and the decisions about it.

    ``session_id`` is the id of the record in play: first the candidate from the cookie, after loading
    the id of a live record (None for a new session: a client-chosen id is never adopted), after
    ``regenerate()`` the fresh id, after saving the id the store returned.
    """

    __slots__ = (
        "_cookie",
        "_extend",
        "_id",
        "_lifetime_set",
        "_new_id",
        "_owner",
        "_raw",
        "_record_id",
        "_rolling",
        "_stale_id",
        "_stale_owner",
        "_stored_metadata",
        "_touched",
        "_user",
        "_write_reasons",
        "config",
        "initially_empty",
        "metadata",
        "session",
    )

    def __init__(self, config: SessionConfig, cookie_value: str | None, extend: bool = True) -> None:
        """``extend=False`` for a look from outside a request: reading never extends a session."""
        self.config = config
        self._rolling = config.rolling  # the loaded record's own, once loaded (see load)
        self._extend = extend
        self._lifetime_set = False
        self._owner: str | None = None  # the loaded record's user
        self._stale_owner: str | None = None
        self._user: object = _MISSING  # set_user()'s user, else derived from data at save time
        self._id = cookie_value
        self._new_id: str | None = None  # set by regenerate()
        self.session: Session | None = None
        self.metadata: SessionMetadata | None = None
        self.initially_empty = True
        self._record_id: str | None = None  # the record that was loaded, if any
        self._stale_id: str | None = None  # an expired record found on load, to remove
        self._raw = b""  # the record's bytes as read, to see changes made inside nested values
        self._stored_metadata: object = _MISSING
        self._touched = False  # the read already extended the record's expiry
        self._write_reasons = False  # regeneration or lifetime change: write even if data is unchanged
        self._cookie = _KEEP

    @property
    def loaded(self) -> bool:
        return self.session is not None

    @property
    def session_id(self) -> str | None:
        """The id of the session's record: None before loading (a cookie's id counts only once the
        store knows it) and for a new session until it is saved."""
        if self._new_id is not None:
            return self._new_id
        return self._id if self.session is not None else None

    @property
    def recorded_last_access(self) -> float | None:
        """When the record was last written (``metadata`` shows this request's time instead)."""
        stored = self._stored_metadata
        value = stored.get("last_access") if isinstance(stored, dict) else None
        return typing.cast(float, value) if _is_time(value) else None

    @property
    def is_new(self) -> bool:
        """No record was loaded: the session gets an id and a record when it is first saved."""
        return self._record_id is None

    # -- 1. reading ----------------------------------------------------------------------------------

    def read_plan(self) -> tuple[str, int, int | None] | None:
        """``(session_id, lifetime, touch_ttl)`` to read, or None when there is nothing to look up.

        ``touch_ttl`` is set when the read should also extend the record's expiry (a rolling session on a
        store that can do both at once); it assumes the configured lifetime, and ``load`` checks that.
        """
        if self._id is None or self.loaded:
            return None
        config = self.config
        touch = config.lifetime if config.rolling and config.store_touches and self._extend else None
        return self._id, config.lifetime, touch

    def load(
        self, data: object, touched: bool = False, raw: bytes = b"", into: Session | None = None
    ) -> Session:
        """Take what the store held: ``data`` deserialized (None, or anything but a dict, for "nothing
        usable"), ``raw`` the bytes it came from, ``touched`` whether the read extended its expiry.
        The data goes into ``into`` when given (a framework's own lazy session), else a new Session.

        A record that is missing, undecodable, not a mapping, or past its expiry gives a new empty
        session that will get a new id if it is ever saved.
        """
        if self.session is not None:
            return self.session
        now = _clock.now()
        config = self.config
        metadata: SessionMetadata = {"lifetime": config.lifetime, "created": now, "last_access": now}
        values: dict[str, typing.Any] = {}
        candidate, self._id = self._id, None
        if isinstance(data, dict) and data:
            stored = data.pop(METADATA_KEY, _MISSING)
            last_access = now
            owner = None
            if _valid_metadata(stored):
                metadata["lifetime"] = stored["lifetime"]
                metadata["created"] = stored["created"]
                last_access = stored.get("last_access", now)
                owner = stored.get("user") if isinstance(stored.get("user"), str) else None
                if isinstance(stored.get("rolling"), bool):  # the session's own rule, like its lifetime
                    self._rolling = stored["rolling"]
            if self._expired(metadata, last_access, now):
                self._stale_id, self._stale_owner = candidate, owner
                self._rolling = config.rolling
                metadata = {"lifetime": config.lifetime, "created": now, "last_access": now}
            else:
                if owner is not None:
                    metadata["user"] = self._owner = owner
                values = data
                self._id = self._record_id = candidate
                self._raw, self._stored_metadata = raw, stored
                self._touched = touched and metadata["lifetime"] == config.lifetime
        self.metadata = metadata
        if into is None:
            into = Session(values)
        else:
            dict.update(into, values)  # filling, not changing: don't mark it modified
            into.modified = False
        self.session = into
        self.initially_empty = not values
        return self.session

    def _expired(self, metadata: SessionMetadata, last_access: object, now: float) -> bool:
        """Past its deadline: ``created + lifetime``, or for a rolling session ``last_access +
        lifetime`` where every load rewrites the record (stores that can't extend expiry themselves,
        which may not expire records at all). Other rolling sessions live by their store's expiry."""
        lifetime = metadata["lifetime"]
        if lifetime <= 0:
            return False
        if not self._rolling:
            return now >= metadata["created"] + lifetime
        if self.config.store_touches or not _is_time(last_access):
            return False
        return now >= typing.cast(float, last_access) + lifetime

    # -- 2. what the application may change besides data ---------------------------------------------

    def regenerate(self) -> str:
        """Move the session to a fresh id; the old record is removed when the new one is written."""
        self._new_id = generate_session_id()
        self._write_reasons = True
        return self._new_id

    def set_lifetime(self, lifetime: Lifetime) -> None:
        """Give this session its own lifetime ("remember me"), obeyed by the cookie and the store."""
        if self.metadata is None:
            raise SessionNotLoaded("Load the session before setting its lifetime.")
        self.metadata["lifetime"] = lifetime_seconds(lifetime)
        self._lifetime_set = self._write_reasons = True

    def set_user(self, user: str | None) -> None:
        """Mark whose session this is (None: nobody's), for revoking a user's sessions everywhere."""
        if self.metadata is None:
            raise SessionNotLoaded("Load the session before setting its user.")
        if user is not None and (not isinstance(user, str) or not user):
            raise ValueError(f"a session's user is a non-empty string, got {user!r}")
        self._user = user
        self._write_reasons = True

    @property
    def user(self) -> str | None:
        """Whose session this is: set by ``set_user``, else the ``user_key`` value, else as loaded."""
        if isinstance(self._user, str) or self._user is None:
            return self._user
        key, session = self.config.user_key, self.session
        if key is not None and session is not None:
            value = session.get(key)
            return None if value is None or value == "" else str(value)
        return self._owner

    def remaining_seconds(self) -> int:
        """Seconds before the session expires (0 for a session-only cookie)."""
        if self.metadata is None:
            raise SessionNotLoaded("Cannot read session metadata because session was not loaded.")
        lifetime = self.metadata["lifetime"]
        if lifetime <= 0:
            return 0
        if self._rolling:
            return lifetime
        return max(0, math.ceil(self.metadata["created"] + lifetime - _clock.now()))

    # -- 3. saving -----------------------------------------------------------------------------------

    @property
    def raw(self) -> bytes:
        """The loaded record's bytes."""
        return self._raw

    def unchanged_record(self) -> dict[str, typing.Any] | None:
        """The loaded record as it would be serialized if nothing had changed, when the session would
        otherwise not be written; None when there is no need to look (it will be written anyway, or
        there is nothing to write). If it serializes to other bytes than ``raw``, a value inside the
        session was changed in place: set ``session.modified``.
        """
        session = self.session
        if (
            not session
            or session.modified
            or all(type(value) in _IMMUTABLE for value in session.values())  # nothing to change in place
            or self._write_reasons
            or self._record_id is None
            or not self._raw
            or (self._rolling and self._extend and not self._touched)  # rewritten anyway
        ):
            return None
        record = dict(session)
        if self._stored_metadata is not _MISSING:
            record[METADATA_KEY] = self._stored_metadata
        return record

    def save_plan(self) -> SavePlan:
        """What the store must do at the end of the request. Call once, then ``response_headers``."""
        session = self.session
        if session is None:
            return _NOTHING
        stale = (self._stale_id,) if self._stale_id is not None else ()
        unindex = []
        if self._stale_id is not None and self._stale_owner is not None:
            unindex.append(IndexChange(False, self._stale_owner, self._stale_id))
        record_id, owner = self._record_id, self._owner
        if not session:
            if record_id is None:
                return SavePlan(None, stale, tuple(unindex))  # never had data: no record, no cookie
            self._cookie = _DELETE
            self._id = self._new_id = None
            if owner is not None:
                unindex.append(IndexChange(False, owner, record_id))
            return SavePlan(None, (record_id, *stale), tuple(unindex))
        if not (session.modified or self._write_reasons or record_id is None):
            if not self._rolling or not self._extend:
                return SavePlan(None, (), tuple(unindex)) if unindex else _NOTHING
            if self._touched:  # the read already extended the record: just re-send the cookie
                self._cookie = _SET if self.metadata and self.metadata["lifetime"] > 0 else _KEEP
                return _NOTHING
        metadata = typing.cast(SessionMetadata, self.metadata)
        now = _clock.now()
        metadata["last_access"] = now
        ttl = self._ttl(metadata, now)
        session_id = self.session_id if self.session_id is not None else generate_session_id()
        moved = record_id is not None and record_id != session_id
        remove = (record_id, *stale) if moved else stale
        user = self.user
        if user is None:
            metadata.pop("user", None)
        else:
            metadata["user"] = user
        metadata["rolling"] = self._rolling
        index = unindex
        if owner is not None and record_id is not None and (moved or owner != user):
            index.append(IndexChange(False, owner, record_id))
        if user is not None and (moved or user != owner or record_id is None):
            index.append(IndexChange(True, user, session_id))
        self._cookie = _SET
        data = dict(session)
        data[METADATA_KEY] = metadata
        merge = self.config.merge and record_id is not None and not moved
        return SavePlan(Write(session_id, data, metadata["lifetime"], ttl), remove, tuple(index), merge)

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
        return changes

    def write_skipped(self) -> None:
        """The store found nothing to merge into (the session ended meanwhile): send no cookie."""
        self._cookie = _KEEP

    def _ttl(self, metadata: SessionMetadata, now: float) -> int:
        lifetime = metadata["lifetime"]
        if lifetime <= 0:
            return 0
        if self._rolling:
            return lifetime
        return max(1, math.ceil(metadata["created"] + lifetime - now))

    def response_headers(
        self, written_id: str | None, mount_point: str = "", https: bool = True
    ) -> list[tuple[str, str]]:
        """The headers to add to the response, given the id the store returned from the write, if any.

        ``mount_point`` is where the app is mounted (the default cookie path); ``https`` whether the
        request came over TLS, to warn once when a Secure cookie is sent where it won't come back.
        """
        if self.session is None:
            return []
        if written_id is not None:
            self._id, self._new_id = written_id, None
        if self._cookie == _KEEP:
            return [("Vary", "Cookie")]
        cookie = self.config.cookie
        path = cookie.path_for(mount_point)
        if self._cookie == _DELETE:
            return [("Set-Cookie", cookie.delete_cookie(path)), ("Vary", "Cookie")]
        if not https and cookie.secure:
            _warn_insecure_once(cookie.name)
        metadata = typing.cast(SessionMetadata, self.metadata)
        max_age = self._ttl(metadata, _clock.now()) if metadata["lifetime"] > 0 else None
        value = typing.cast(str, self.session_id)
        return [("Set-Cookie", cookie.set_cookie(value, max_age, path)), ("Vary", "Cookie")]


_warned_insecure: set[str] = set()


def _warn_insecure_once(cookie_name: str) -> None:
    if cookie_name not in _warned_insecure:
        _warned_insecure.add(cookie_name)
        logger.warning(
            "dualsessions: the %r cookie is Secure but this request came over plain http, so browsers "
            "and test clients won't send it back. Serve over https, or pass cookie_https_only=False "
            "for local development.",
            cookie_name,
        )


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


def _valid_metadata(value: object) -> typing.TypeGuard[SessionMetadata]:
    if type(value) is not dict:
        return False
    lifetime = value.get("lifetime")
    return type(lifetime) is int and lifetime >= 0 and _is_time(value.get("created"))


def _is_time(value: object) -> bool:
    kind = type(value)
    return (kind is float and math.isfinite(typing.cast(float, value))) or kind is int
