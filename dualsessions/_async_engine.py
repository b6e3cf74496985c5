"""Performing what the core decides, in the async flavour.

An engine holds one store and one serializer, adapted to its flavour once, and the validated options.
Every front end drives a session through one handle of its flavour (sync for WSGI, Flask and
scripts; async for ASGI): load, change, save, headers. The handle holds no rule: it asks the core
(:class:`~dualsessions.core.SessionState`) and carries out what the core decides.

This file is the source of ``_sync_engine.py``, which ``scripts/unasync.py`` generates from it.
"""

from __future__ import annotations

import logging
import typing

from . import _bridge, events
from .cookies import check_cookie_value
from .core import (
    METADATA_KEY,
    Client,
    Decision,
    Encryptor,
    Lifetime,
    Options,
    Session,
    SessionConfig,
    SessionState,
    Store,
    UnboundRecord,
    UserSession,
    bind,
    merge_record,
    unbind,
    user_session_row,
)
from .exceptions import (
    ImproperlyConfigured,
    NotARecord,
    SerializationError,
    SessionError,
    SessionStoreError,
)
from .serializers import JsonSerializer, Serializer
from .stores.base import describe, id_check, implements, index_holds_ids, indexes_users, is_stateless

logger = logging.getLogger("dualsessions")


class AsyncEngine:
    def __init__(
        self, store: _bridge.AnyStore, options: Options, frontend: events.Frontend = "script"
    ) -> None:
        serializer = options.get("serializer")
        if serializer is None:
            serializer = JsonSerializer()
        #: Encrypts payloads after serializing and decrypts them before (``encryptor=``): CPU only.
        self.encryptor = options.get("encryptor")
        if self.encryptor is not None and not all(
            callable(getattr(self.encryptor, method, None)) for method in ("encrypt", "decrypt")
        ):
            raise ImproperlyConfigured("encryptor must have encrypt(bytes) and decrypt(bytes) methods")
        #: Encrypted records carry their session id, so a ciphertext copied under another id is refused
        #: (not with CookieStore: its cookie *is* the record, and copying it is copying the session).
        self.binds_ids = self.encryptor is not None and not is_stateless(store)
        #: Records encrypted before ids were bound are still read (and bound when the request ends).
        self.accept_unbound = bool(options.get("accept_unbound_records", True))
        self.store, touches = _bridge.async_store(store)
        self.serializer = _bridge.async_serializer(serializer)
        # A serializer that only computes is called directly: no coroutine per call.
        self.direct_serializer = _bridge.direct_serializer(serializer)
        #: Neither the store nor the serializer ever waits (memory, cookie; a sync serializer): the
        #: ASGI front end then drives the sync engine, with no coroutine at all.
        #: ``event_hooks``, validated (empty: no events are built); where the events happen.
        self.hooks = events.checked_hooks(options.get("event_hooks"), may_await=True)
        self.frontend: events.Frontend = frontend
        self.store_kind = type(store).__name__  # (events name the class: no URL, few values)
        self.stateless = is_stateless(store)
        self.never_waits = (
            _bridge.direct_store(store) is not None
            and self.direct_serializer is not None
            and not any(map(events.is_async, self.hooks))
        )
        self.config = SessionConfig.from_options(options, store_touches=touches)
        self.store_name = describe(store)
        #: Whether a cookie's value may name one of the store's records (the store's own rule; a store
        #: that never waits: its sync side's, called directly).
        self.accepts_id = id_check(_bridge.direct_store(store) or store)
        #: The store keeps the per-user index (``user_key``, ``set_session_user``, revocation).
        self.indexes_users = indexes_users(store)
        #: ... of session ids, so that a user's sessions can be listed (not hashed names).
        self.index_holds_ids = index_holds_ids(store)
        if self.config.user_key is not None and not self.indexes_users:
            raise ImproperlyConfigured(
                f"user_key needs a store that indexes sessions by user, and {self.store_name} doesn't"
            )
        if self.config.track_devices and not self.indexes_users:
            raise ImproperlyConfigured(
                "track_devices lists a user's sessions through the store's per-user index, and "
                f"{self.store_name} keeps none: use the memory, Redis or SQL store"
            )
        if self.config.merge and not (implements(store, "update") and self.direct_serializer is not None):
            raise ImproperlyConfigured(
                "concurrency='merge' needs a store that updates records atomically (memory, Redis, SQL) "
                f"and a sync serializer; {self.store_name} with {type(self.serializer).__name__} can't"
            )

    def begin(
        self, session_id: str | None, *, extend: bool = True, client: Client | None = None
    ) -> AsyncSessionHandle:
        """A handle on the session named by ``session_id`` (a cookie's value; None: no cookie);
        ``extend=False`` for a look from outside a request; ``client``: the request's facts, for
        ``track_devices`` (the core decides whether and when to record them)."""
        return AsyncSessionHandle(self, SessionState(self.config, session_id, extend, client))

    async def load(self, state: SessionState, into: Session | None = None, *, ahead: bool = False) -> Session:
        """Read the session's record (if the request named one) and hand it to the core, which fills
        ``into`` (a lazy session of a framework) or a new :class:`Session`; ``ahead``: before the
        application runs, in play only once it uses the session (``state.use()``)."""
        plan = state.read_plan()
        if plan is None:
            return state.load(None, into=into, ahead=ahead)
        session_id, lifetime, touch_ttl = plan
        try:
            if touch_ttl is None:
                raw = await self.store.read(session_id, lifetime)
            else:
                raw = await self.store.read_and_touch(session_id, lifetime, touch_ttl)
        except NotARecord as exc:  # someone else's value under the key: never used, never removed
            raw, state.rejected = b"", str(exc)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionStoreError(self.store_name, "read a session", exc) from exc
        session = await self.decode(state, session_id, raw, touch_ttl is not None, into, ahead=ahead)
        if state.expiry_fix is not None:  # the read guessed the expiry wrong: put it right at once
            await self._store_call(
                "correct a session's expiry",
                self.store.read_and_touch,
                session_id,
                lifetime,
                state.expiry_fix,
            )
        if self.hooks:
            event = events.after_load(state, session_id, self.stateless, self.frontend, self.store_kind)
            if ahead:  # told once the application uses the session (never, for a request that doesn't)
                state.load_event = event
            else:
                await self._emit(event)
        return session

    async def tell_load(self, state: SessionState) -> None:
        """Tell the hooks of a read made ahead, now that the application used the session."""
        if state.load_event is not None:
            event, state.load_event = state.load_event, None
            await self._emit(typing.cast(events.SessionEvent, event))

    async def decode(
        self,
        state: SessionState,
        session_id: str,
        raw: bytes,
        touched: bool = False,
        into: Session | None = None,
        *,
        for_changes: bool = True,
        ahead: bool = False,
    ) -> Session:
        """Hand the record ``raw`` (read under ``session_id``; ``touched``: the read extended it) to
        the core: decrypted and deserialized, or refused with a warning that gives the reason, never
        the contents. Listing many sessions decodes records read in batches this way
        (``for_changes=False``: nothing will be saved, so no snapshot to find changes against)."""
        data = None
        rebind = False
        if raw:
            try:
                if self.encryptor is not None:  # what changes are compared with is the plaintext
                    raw, rebind = self._decrypt(raw, session_id)
                if self.direct_serializer is not None:
                    data = self.direct_serializer.deserialize(raw)
                else:
                    data = await self.serializer.deserialize(raw)
            except Exception as exc:  # undecodable record: a new session, never a 500
                state.rejected = (
                    str(exc) if isinstance(exc, UnboundRecord) else f"undecodable: {type(exc).__name__}"
                )
        session = state.load(data, touched=touched, raw=raw, into=into, ahead=ahead)
        mutable = state.mutable_values() if for_changes and self.direct_serializer is not None else None
        if mutable is not None:  # what a change made inside them will be seen against
            state.snapshot = self._serialize_now(mutable)
        if state.rejected is not None:
            logger.warning("%s held a session record that was refused: %s", self.store_name, state.rejected)
        elif rebind and state.extends and not state.is_new:  # a request's use, not a script's look
            session.modified = True  # written before ids were bound: bound when saved
        return session

    async def save(self, state: SessionState, status: int | None = None) -> None:
        """Decide (``status``: the response's, None outside a request) and carry the decision out."""
        if state.load_event is not None:  # read ahead, then used: its read is told first
            await self.tell_load(state)
        if state.needs_load(status):
            await self.load(state)
        if self.direct_serializer is not None:  # its mutable values, serialized again: any change?
            mutable = state.unchanged_mutable_values()
            if mutable is not None and self._serialize_now(mutable) != state.snapshot:
                typing.cast(Session, state.session).modified = True  # changed inside a nested value
        else:  # a serializer that waits is called once more only when nothing else is written
            unchanged = state.unchanged_record()
            if unchanged is not None and await self._serialize(unchanged) != state.raw:
                typing.cast(Session, state.session).modified = True
        decision = state.decide(status)
        if decision.store is Store.NOTHING and not decision.stale and not decision.stale_users:
            state.stored(None)  # most requests: nothing to write, remove or index
            return
        store = self.store
        written = None
        try:
            if decision.expiry_from_store:  # a script's write keeps the expiry requests gave the record
                decision = state.bound_by_store(
                    await store.remaining_ttl(typing.cast(str, decision.record_id))
                )
            action = decision.store
            if action is Store.CREATE:
                session_id = typing.cast(str, decision.session_id)
                written = await self._put(store.write, session_id, await self._payload(decision), decision)
            elif action is Store.REPLACE:  # only if the session didn't end meanwhile
                session_id = typing.cast(str, decision.session_id)
                if decision.merge:
                    change = self._sealing(self._merger(state, session_id), session_id)
                    written = await store.update(session_id, change, decision.lifetime, decision.ttl)
                else:
                    written = await self._put(
                        store.replace, session_id, await self._payload(decision), decision
                    )
            elif action is Store.MOVE:  # the old record is taken away; gone already: nothing to move
                old_id, new_id = typing.cast(str, decision.record_id), typing.cast(str, decision.session_id)
                taken = await store.take(old_id)
                payload = None
                if taken:
                    if decision.merge:
                        payload = self._merger(state, old_id)(taken)
                    else:
                        payload = await self._payload(decision)
                if payload is not None:
                    written = await self._put(store.write, new_id, payload, decision)
            elif action is Store.REMOVE:
                await store.remove(typing.cast(str, decision.record_id))
            if written is not None:
                check_cookie_value(self.store_name, self.config.cookie.name, written)
                if not self.accepts_id(written):  # the next request would not even look it up
                    raise ImproperlyConfigured(
                        f"{self.store_name}.write() returned {written!r}, an id its accepts_id() refuses: "
                        "the session would be lost on the next request. A store that issues ids of its "
                        "own overrides accepts_id() to take them."
                    )
            for session_id in decision.stale:
                await store.remove(session_id)
            changes = state.stored(written)
            # After the write: a session that lives is always in its user's index (a revocation
            # that missed it finds it the next time).
            for add, user, session_id in changes if self.indexes_users else ():
                if add:
                    await store.add_user_session(user, session_id)
                else:
                    await store.remove_user_session(user, session_id)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionStoreError(self.store_name, "save a session", exc) from exc
        if self.hooks:
            await self._emit(events.after_save(state, decision, self.frontend, self.store_kind))

    async def _emit(self, event: events.SessionEvent | None) -> None:
        """Hand ``event`` to every hook: the one place events leave the engine, after the store acted
        (a hook that fails is logged, never raised)."""
        if event is not None:
            await events.adispatch(self.hooks, (event,))

    async def _store_call(
        self, action: str, method: typing.Callable[..., typing.Any], *args: typing.Any
    ) -> typing.Any:
        try:
            return await method(*args)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionStoreError(self.store_name, action, exc) from exc

    async def _payload(self, decision: Decision) -> bytes:
        """The decided data, serialized (not yet encrypted)."""
        return await self._serialize(typing.cast(dict[str, typing.Any], decision.data))

    async def _put(
        self, method: typing.Callable[..., typing.Any], session_id: str, payload: bytes, decision: Decision
    ) -> str | None:
        """``write`` or ``replace`` ``payload`` under ``session_id``, encrypted. A store may name the
        record itself (its ``write`` returns another id): an encrypted record is then bound to that
        name, with one more (conditional) write."""
        written: str | None = await method(
            session_id, self._encrypt(payload, session_id), decision.lifetime, decision.ttl
        )
        if self.binds_ids and written is not None and written != session_id:
            sealed = self._encrypt(payload, written)
            named = written
            written = await self.store.replace(named, sealed, decision.lifetime, decision.ttl)
            if written not in (None, named):
                raise ImproperlyConfigured(
                    f"{self.store_name} names a record anew on every write, so an encrypted record can't "
                    "be bound to its id; a store whose cookie is the record sets stateless = True"
                )
        return written

    def _encrypt(self, payload: bytes, session_id: str) -> bytes:
        if self.encryptor is None:
            return payload
        return self.encryptor.encrypt(bind(session_id, payload) if self.binds_ids else payload)

    def _decrypt(self, record: bytes, session_id: str) -> tuple[bytes, bool]:
        """The payload of an encrypted record read under ``session_id``, and whether it must be bound
        to its id when next written (it was encrypted before ids were bound)."""
        plaintext = typing.cast(Encryptor, self.encryptor).decrypt(record)
        if not self.binds_ids:
            return plaintext, False
        payload, bound = unbind(session_id, plaintext, self.accept_unbound)
        return payload, not bound

    def _merger(self, state: SessionState, read_as: str) -> typing.Callable[[bytes], bytes | None]:
        """The change a merge applies to the record as the store has it when writing (kept under the
        id ``read_as``): this request's updates and deletions (found against the record it loaded),
        and its metadata. It gives the merged record serialized, not yet encrypted (None: gone)."""
        serializer = typing.cast(Serializer, self.direct_serializer)
        original = serializer.deserialize(state.raw)
        original.pop(METADATA_KEY, None)
        updates, deletions = state.changes_since(original)
        metadata = state.metadata_changes()

        def change(current: bytes) -> bytes | None:
            try:
                payload = self._decrypt(current, read_as)[0] if self.encryptor is not None else current
                record = serializer.deserialize(payload)
            except Exception:  # gone, or unreadable: nothing to merge into
                record = None
            merged = merge_record(record if current else None, updates, deletions, metadata)
            return None if merged is None else serializer.serialize(merged)

        return change

    def _sealing(
        self, change: typing.Callable[[bytes], bytes | None], session_id: str
    ) -> typing.Callable[[bytes], bytes | None]:
        """``change`` with its result encrypted for ``session_id`` (unchanged without an encryptor)."""
        if self.encryptor is None:
            return change

        def sealed(current: bytes) -> bytes | None:
            merged = change(current)
            return None if merged is None else self._encrypt(merged, session_id)

        return sealed

    def _serialize_now(self, data: dict[str, typing.Any]) -> bytes:
        """``data`` through the sync (direct) serializer."""
        try:
            return typing.cast(Serializer, self.direct_serializer).serialize(data)
        except SessionError:
            raise
        except Exception as exc:
            raise SerializationError(f"the session could not be serialized: {exc}") from exc

    async def _serialize(self, data: dict[str, typing.Any]) -> bytes:
        try:
            if self.direct_serializer is not None:
                return self.direct_serializer.serialize(data)
            return await self.serializer.serialize(data)
        except SessionError:
            raise
        except Exception as exc:
            raise SerializationError(f"the session could not be serialized: {exc}") from exc

    async def user_sessions(
        self, user: str, current: str | None = None, *, with_ids: bool = True
    ) -> list[UserSession]:
        """``user``'s live sessions, the most recently seen first (``current``: the id to mark as
        the current one; ``with_ids=False``: rows without the secret ids, for a page). Two store
        calls (the index, then the records in one batch); reading extends none of them."""
        self.require_user_index()
        ids = self._listable(await self._store_call("list a user's sessions", self.store.user_sessions, user))
        records = await self._store_call("read a user's sessions", self.store.read_many, ids) if ids else []
        rows = []
        for session_id, raw in zip(ids, records, strict=True):
            if not raw:  # expired since it was indexed
                continue
            state = self.begin(session_id, extend=False).state
            await self.decode(state, session_id, raw, for_changes=False)
            if not state.is_new and state.user == user:
                rows.append(user_session_row(session_id, state, session_id == current, with_ids))
        rows.sort(key=lambda row: (row.last_seen or row.created, row.created), reverse=True)
        return rows

    async def revoke_user(self, user: str, keep: str | None = None) -> int:
        """End every session of ``user`` but ``keep`` (None: all of them); how many live ones ended.
        Each is taken away at once, so a request still using one can't write it back."""
        self.require_user_index()
        store = self.store
        if keep is None:
            return typing.cast(
                int, await self._store_call("revoke a user's sessions", store.revoke_user, user)
            )
        ended = 0
        ids = self._listable(await self._store_call("list a user's sessions", store.user_sessions, user))
        for session_id in ids:
            if session_id != keep:
                ended += bool(await self._store_call("revoke a session", store.take, session_id))
                await self._store_call("revoke a session", store.remove_user_session, user, session_id)
        return ended

    def _listable(self, ids: list[str]) -> list[str]:
        """The index's entries, refused when they are not session ids (a store that hashes ids at rest
        indexes names that can't be read, nor told apart from the session to keep)."""
        if not self.index_holds_ids:
            raise ImproperlyConfigured(
                f"{self.store_name} indexes users' sessions by names that are not their ids (ids hashed "
                "at rest): a user's sessions can't be listed or kept, only all revoked"
            )
        return ids

    def require_user_index(self) -> None:
        """Refuse to mark a session's user on a store that keeps no per-user index."""
        if not self.indexes_users:
            raise ImproperlyConfigured(f"{self.store_name} can't index sessions by user")


class AsyncSessionHandle:
    """One session in one request (or script), as every front end drives it.

    Front ends wrap it thinly: ``load`` when the app first uses the session, the change methods for the
    app's helpers, ``save`` with the response's status when the response starts, then ``headers``.
    """

    __slots__ = ("engine", "into", "state")

    def __init__(self, engine: AsyncEngine, state: SessionState, into: Session | None = None) -> None:
        self.engine = engine
        self.state = state
        self.into = into

    @property
    def in_play(self) -> bool:
        """Whether the session was used, so that the end of the request has something to decide."""
        return self.state.in_play

    async def load(self, *, ahead: bool = False) -> Session:
        """The session, read from the store on first use (``ahead``: before the application runs,
        which puts it in play only once it uses it)."""
        session = self.state.session
        if session is None:
            session = await self.engine.load(self.state, self.into, ahead=ahead)
        return session

    def use(self) -> None:
        """The application used the session loaded ahead."""
        self.state.use()

    @property
    def session_id(self) -> str | None:
        return self.state.session_id

    def regenerate(self) -> str:
        return self.state.regenerate()

    def set_user(self, user: str | None) -> None:
        self.engine.require_user_index()
        self.state.set_user(user)

    def set_lifetime(self, lifetime: Lifetime) -> None:
        self.state.set_lifetime(lifetime)

    async def user_sessions(self) -> list[UserSession]:
        """The sessions of this session's user (none without a user), this one marked ``current``;
        without their ids."""
        await self.load()
        user = self.state.user
        if user is None:
            return []
        return await self.engine.user_sessions(user, self.state.record_id, with_ids=False)

    async def revoke_others(self) -> int:
        """Sign this session's user out everywhere else: end every session of theirs but this one."""
        await self.load()
        user = self.state.user
        if user is None:
            return 0
        return await self.engine.revoke_user(user, keep=self.state.record_id)

    async def save(self, status: int | None = None) -> None:
        await self.engine.save(self.state, status)

    def headers(self, mount_point: str = "", https: bool = True) -> list[tuple[str, str]]:
        return self.state.response_headers(mount_point, https)
