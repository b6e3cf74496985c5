"""Performing what the core decides, in the sync flavour.

An engine holds one store and one serializer, adapted to its flavour once, and the validated options.
For each session it performs the reads and writes that :class:`~dualsessions.core.SessionState` plans.

Generated from ``_async_engine.py`` by ``scripts/unasync.py``: edit that file, then run the script.
"""

from __future__ import annotations

import logging
import typing

from . import _bridge
from .cookies import check_cookie_value
from .core import METADATA_KEY, Session, SessionConfig, SessionState, merge_record
from .exceptions import ImproperlyConfigured, SerializationError, SessionError, SessionStoreError
from .serializers import JsonSerializer, Serializer
from .stores.base import describe, implements, indexes_users

logger = logging.getLogger("dualsessions")


class SyncEngine:
    def __init__(
        self,
        store: _bridge.AnyStore,
        serializer: _bridge.AnySerializer | None,
        options: dict[str, typing.Any],
    ) -> None:
        options = dict(options)
        #: Encrypts payloads after serializing and decrypts them before (``encryptor=``): CPU only.
        self.encryptor = options.pop("encryptor", None)
        if self.encryptor is not None and not all(
            callable(getattr(self.encryptor, method, None)) for method in ("encrypt", "decrypt")
        ):
            raise ImproperlyConfigured("encryptor must have encrypt(bytes) and decrypt(bytes) methods")
        self.store, touches = _bridge.sync_store(store)
        self.serializer = _bridge.sync_serializer(serializer if serializer is not None else JsonSerializer())
        # Stores and serializers that never wait are called directly: no coroutine per call.
        self.direct_store = _bridge.direct_store(store)
        self.direct_serializer = _bridge.direct_serializer(
            serializer if serializer is not None else self.serializer
        )
        self.config = SessionConfig.from_options(**options, store_touches=touches)
        self.store_name = describe(store)
        #: The store keeps the per-user index (``user_key``, ``set_session_user``, revocation).
        self.indexes_users = indexes_users(store)
        if self.config.user_key is not None and not self.indexes_users:
            raise ImproperlyConfigured(
                f"user_key needs a store that indexes sessions by user, and {self.store_name} doesn't"
            )
        if self.config.merge and not (implements(store, "update") and self.direct_serializer is not None):
            raise ImproperlyConfigured(
                f"concurrency='merge' needs a store that updates records atomically (memory, Redis) and a "
                f"sync serializer; {self.store_name} with {type(self.serializer).__name__} can't"
            )

    def require_user_index(self) -> None:
        """Refuse to mark a session's user on a store that keeps no per-user index."""
        if not self.indexes_users:
            raise ImproperlyConfigured(f"{self.store_name} can't index sessions by user")

    def load(self, state: SessionState, into: Session | None = None) -> Session:
        """Read the session's record (if the request named one) and hand it to the core, which fills
        ``into`` (a lazy session of a framework) or a new :class:`Session`."""
        plan = state.read_plan()
        if plan is None:
            return state.load(None, into=into)
        session_id, lifetime, touch_ttl = plan
        try:
            direct = self.direct_store
            if touch_ttl is None:
                raw = (
                    direct.read(session_id, lifetime)
                    if direct
                    else self.store.read(session_id, lifetime)
                )
            elif direct is not None:
                raw = direct.read_and_touch(session_id, lifetime, touch_ttl)
            else:
                raw = self.store.read_and_touch(session_id, lifetime, touch_ttl)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionStoreError(self.store_name, "read a session", exc) from exc
        data = None
        if raw:
            try:
                if self.encryptor is not None:  # what changes are compared with is the plaintext
                    raw = self.encryptor.decrypt(raw)
                if self.direct_serializer is not None:
                    data = self.direct_serializer.deserialize(raw)
                else:
                    data = self.serializer.deserialize(raw)
            except Exception:  # undecodable record: a new session, never a 500
                logger.warning(
                    "dualsessions: %s held an undecodable session record", self.store_name, exc_info=True
                )
        return state.load(data, touched=touch_ttl is not None, raw=raw, into=into)

    def save(self, state: SessionState) -> str | None:
        """Write and remove what the core asks for; return the id the store wrote under, if any."""
        unchanged = state.unchanged_record()
        if unchanged is not None and self._serialize(unchanged) != state.raw:
            typing.cast(Session, state.session).modified = True  # changed inside a nested value
        plan = state.save_plan()
        written = None
        try:
            if plan.write is not None and plan.merge:
                session_id, data, lifetime, ttl = plan.write
                written = self.store.update(session_id, self._merger(state), lifetime, ttl)
                if written is None:  # the session ended meanwhile: nothing to merge into
                    state.write_skipped()
                    return None
            elif plan.write is not None:
                session_id, data, lifetime, ttl = plan.write
                payload = self._serialize(data)
                if self.encryptor is not None:
                    payload = self.encryptor.encrypt(payload)
                written = self.store.write(session_id, payload, lifetime, ttl)
            if written is not None:
                check_cookie_value(self.store_name, self.config.cookie.name, written)
            for session_id in plan.remove:
                self.store.remove(session_id)
            if self.indexes_users:
                for add, user, session_id in plan.users:
                    if add:
                        self.store.add_user_session(user, session_id)
                    else:
                        self.store.remove_user_session(user, session_id)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionStoreError(self.store_name, "save a session", exc) from exc
        return written

    def _merger(self, state: SessionState) -> typing.Callable[[bytes], bytes | None]:
        """The change a merge applies to the record as the store has it when writing: this request's
        updates and deletions (found against the record it loaded), and its metadata."""
        serializer = typing.cast(Serializer, self.direct_serializer)
        encryptor = self.encryptor
        original = serializer.deserialize(state.raw)
        original.pop(METADATA_KEY, None)
        updates, deletions = state.changes_since(original)
        metadata = state.metadata_changes()

        def change(current: bytes) -> bytes | None:
            try:
                record = serializer.deserialize(encryptor.decrypt(current) if encryptor else current)
            except Exception:  # gone, or unreadable: nothing to merge into
                record = None
            merged = merge_record(record if current else None, updates, deletions, metadata)
            if merged is None:
                return None
            payload = serializer.serialize(merged)
            return encryptor.encrypt(payload) if encryptor else payload

        return change

    def _serialize(self, data: dict[str, typing.Any]) -> bytes:
        try:
            if self.direct_serializer is not None:
                return self.direct_serializer.serialize(data)
            return self.serializer.serialize(data)
        except SessionError:
            raise
        except Exception as exc:
            raise SerializationError(f"the session could not be serialized: {exc}") from exc
