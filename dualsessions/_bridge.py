"""The one place where a store or serializer of one flavour is made to serve the other.

Adapters are built once, when a middleware is built, never per call. Built-in stores serve both
flavours natively and pass through untouched.

- Sync under async: calls run on a pool of worker threads (asgiref's ``sync_to_async`` with
  ``thread_sensitive=False``), so the event loop never blocks and requests don't queue on one thread.
- Async under sync: calls run on one long-lived event loop in a daemon thread (the portal), because
  async clients (``redis.asyncio`` and the like) keep connections that belong to the loop that made
  them; a loop per call (``async_to_sync`` from a plain thread) breaks them and costs a thread a call.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import logging
import os
import threading
import typing

from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async

from .exceptions import ImproperlyConfigured
from .serializers import AsyncSerializer, Serializer
from .stores.base import DualSessionStore, NoIOStore, SessionStore, SyncSessionStore, describe, touches

AnyStore: typing.TypeAlias = "SessionStore | SyncSessionStore"
AnySerializer: typing.TypeAlias = "Serializer | AsyncSerializer"
T = typing.TypeVar("T")
logger = logging.getLogger("dualsessions")

#: Threads that run sync stores' calls for async front ends. Not asgiref's thread-sensitive mode, which
#: runs every such call of the process on one thread, one after another.
STORE_THREADS = 32
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


class _StoreThreads(concurrent.futures.Executor):
    """The worker pool of this process, made on first use (again in a forked child, whose parent's
    worker threads don't exist)."""

    def submit(
        self, fn: typing.Callable[..., T], /, *args: typing.Any, **kwargs: typing.Any
    ) -> concurrent.futures.Future[T]:
        global _executor
        executor = _executor
        if executor is None:
            with _executor_lock:
                if _executor is None:
                    _executor = concurrent.futures.ThreadPoolExecutor(STORE_THREADS, "dualsessions-store")
                executor = _executor
        return executor.submit(fn, *args, **kwargs)


_store_threads = _StoreThreads()


def _is_async_store(store: object) -> bool:
    if isinstance(store, SessionStore):
        return True
    if isinstance(store, SyncSessionStore):
        return False
    read = getattr(store, "read", None)
    if read is None or not all(callable(getattr(store, name, None)) for name in ("write", "remove")):
        raise ImproperlyConfigured(
            f"store must be a SessionStore or SyncSessionStore (or have read/write/remove methods), "
            f"got {type(store).__name__}"
        )
    return inspect.iscoroutinefunction(read)


class _Completed:
    """A duck-typed store (one that doesn't subclass a contract) with the contract's default for each
    optional method it lacks; everything else is the store's own."""

    def __init__(self, store: object, contract: type[AnyStore]) -> None:
        self._store = store
        self._contract = contract
        self.description = describe(store)

    def __getattr__(self, name: str) -> typing.Any:
        method = getattr(self._store, name, None)
        if method is None and callable(getattr(self._contract, name, None)):
            return getattr(self._contract, name).__get__(self)  # the default, calling our methods
        if method is None:
            raise AttributeError(name)
        return method


def _completed(store: T, contract: type[AnyStore]) -> T:
    """``store``, completed with the contract's defaults if it is duck-typed (done once, here, for
    both flavours and the adapters alike)."""
    if isinstance(store, (SessionStore, SyncSessionStore)):
        return store
    return typing.cast(T, _Completed(store, contract))


class _ThreadedStore(SessionStore):
    """A sync store driven from an event loop: every call runs on a worker thread."""

    def __init__(self, store: SyncSessionStore) -> None:
        def run(method: typing.Callable[..., typing.Any]) -> typing.Any:
            executor = typing.cast(concurrent.futures.ThreadPoolExecutor, _store_threads)
            return sync_to_async(method, thread_sensitive=False, executor=executor)

        self._read = run(store.read)
        self._write = run(store.write)
        self._remove = run(store.remove)
        self._exists = run(store.exists)
        self._read_and_touch = run(store.read_and_touch)
        self._replace = run(store.replace)
        self._take = run(store.take)
        self._add_user_session = run(store.add_user_session)
        self._remove_user_session = run(store.remove_user_session)
        self._user_sessions = run(store.user_sessions)
        self._purge_expired = run(store.purge_expired)
        self._read_many = run(store.read_many)
        self._remaining_ttl = run(store.remaining_ttl)
        self._count_sessions = run(store.count_sessions)
        self._revoke_user = run(store.revoke_user)
        self._update = run(store.update)
        self._next = run(next)
        self._store = store
        self.description = describe(store)

    async def read(self, session_id: str, lifetime: int) -> bytes:
        return typing.cast(bytes, await self._read(session_id, lifetime))

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        return typing.cast(str, await self._write(session_id, data, lifetime, ttl))

    async def remove(self, session_id: str) -> None:
        await self._remove(session_id)

    async def exists(self, session_id: str) -> bool:
        return typing.cast(bool, await self._exists(session_id))

    async def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        return typing.cast(bytes, await self._read_and_touch(session_id, lifetime, ttl))

    async def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        return typing.cast("str | None", await self._replace(session_id, data, lifetime, ttl))

    async def take(self, session_id: str) -> bytes:
        return typing.cast(bytes, await self._take(session_id))

    def session_ids(self) -> typing.AsyncIterator[str]:
        return self._each(iter(self._store.session_ids()))  # a store that can't list refuses at once

    async def _each(self, ids: typing.Iterator[str]) -> typing.AsyncIterator[str]:
        while (session_id := await self._next(ids, None)) is not None:
            yield session_id

    async def read_many(self, session_ids: list[str]) -> list[bytes]:
        return typing.cast(list[bytes], await self._read_many(session_ids))

    async def remaining_ttl(self, session_id: str) -> int | None:
        return typing.cast("int | None", await self._remaining_ttl(session_id))

    async def count_sessions(self) -> int:
        return typing.cast(int, await self._count_sessions())

    async def revoke_user(self, user: str) -> int:
        return typing.cast(int, await self._revoke_user(user))

    async def add_user_session(self, user: str, session_id: str) -> None:
        await self._add_user_session(user, session_id)

    async def remove_user_session(self, user: str, session_id: str) -> None:
        await self._remove_user_session(user, session_id)

    async def user_sessions(self, user: str) -> list[str]:
        return typing.cast(list[str], await self._user_sessions(user))

    async def purge_expired(self) -> int:
        return typing.cast(int, await self._purge_expired())

    async def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        return typing.cast("str | None", await self._update(session_id, change, lifetime, ttl))


class _InlineSerializer(AsyncSerializer):
    """A sync serializer called straight from async code: it only computes, so no thread hop."""

    def __init__(self, serializer: Serializer) -> None:
        self.wrapped = serializer
        self.serialize_sync = serializer.serialize
        self.deserialize_sync = serializer.deserialize

    async def serialize(self, data: typing.Any) -> bytes:
        return self.serialize_sync(data)

    async def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        return self.deserialize_sync(data)


def async_store(store: AnyStore) -> tuple[SessionStore, bool]:
    """``store`` in the async flavour, and whether it can touch a record while reading it."""
    if _is_async_store(store):
        return _completed(typing.cast(SessionStore, store), SessionStore), touches(store)
    sync = typing.cast(SyncSessionStore, store)
    return _ThreadedStore(_completed(sync, SyncSessionStore)), touches(sync)


def async_serializer(serializer: AnySerializer) -> AsyncSerializer:
    if isinstance(serializer, AsyncSerializer):
        return serializer
    serialize = getattr(serializer, "serialize", None)
    if not callable(serialize) or not callable(getattr(serializer, "deserialize", None)):
        raise ImproperlyConfigured(
            f"serializer must be a Serializer or AsyncSerializer, got {type(serializer).__name__}"
        )
    if inspect.iscoroutinefunction(serialize):
        return typing.cast(AsyncSerializer, serializer)
    return _InlineSerializer(serializer)


class _Portal:
    """An event loop running forever on a daemon thread, for async calls made from sync code.

    A sync caller that runs inside an async server (a WSGI app under asgiref's ``WsgiToAsgi``, whose
    threads asgiref marks) is sent back to the server's own loop instead, where the ASGI side uses the
    same store: clients tied to a loop then stay on one loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: typing.Coroutine[typing.Any, typing.Any, T]) -> T:
        if _server_loop() is not None:
            return async_to_sync(_awaiting)(coroutine)
        loop = self._running_loop()
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("dualsessions: a sync store call was made from the portal's own loop")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and loop.is_running():
            return loop
        with self._lock:
            if self._loop is None or not self._loop.is_running():  # none yet, or it died
                loop = asyncio.new_event_loop()
                running = threading.Event()
                loop.call_soon(running.set)
                thread = threading.Thread(
                    target=_run_forever, args=(loop,), name="dualsessions-portal", daemon=True
                )
                thread.start()
                running.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Shut the loop down as asyncio.run does (stores close their clients), then stop it."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=5)
        except Exception:  # closing on exit: nothing left to tell
            logger.debug("closing the portal loop", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def retire(self, loop: asyncio.AbstractEventLoop) -> None:
        """``loop`` has stopped: the next call starts a new one."""
        with self._lock:
            if self._loop is loop:
                self._loop = self._thread = None

    def forget(self) -> None:
        """In a forked child: the parent's loop thread doesn't exist here; start afresh when needed."""
        self._lock = threading.Lock()
        self._loop = self._thread = None


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    except BaseException:  # the next call starts a new portal rather than waiting forever
        logger.exception("the background event loop stopped")
    finally:  # calls still waiting get an error rather than waiting forever
        portal.retire(loop)
        while pending := asyncio.all_tasks(loop):
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop of the async server that started this thread through asgiref, if any."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


async def _awaiting(coroutine: typing.Coroutine[typing.Any, typing.Any, T]) -> T:
    return await coroutine


portal = _Portal()
atexit.register(portal.close)


def _after_fork_in_child() -> None:
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()  # the parent's worker threads aren't here
    portal.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _PortalStore(SyncSessionStore):
    """An async store driven from sync code, on the portal's loop."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self.description = describe(store)

    def read(self, session_id: str, lifetime: int) -> bytes:
        return portal.run(self._store.read(session_id, lifetime))

    def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        return portal.run(self._store.write(session_id, data, lifetime, ttl))

    def remove(self, session_id: str) -> None:
        portal.run(self._store.remove(session_id))

    def exists(self, session_id: str) -> bool:
        return portal.run(self._store.exists(session_id))

    def read_and_touch(self, session_id: str, lifetime: int, ttl: int) -> bytes:
        return portal.run(self._store.read_and_touch(session_id, lifetime, ttl))

    def replace(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str | None:
        return portal.run(self._store.replace(session_id, data, lifetime, ttl))

    def take(self, session_id: str) -> bytes:
        return portal.run(self._store.take(session_id))

    def session_ids(self) -> typing.Iterator[str]:
        return self._each(self._store.session_ids())  # a store that can't list refuses at once

    def read_many(self, session_ids: list[str]) -> list[bytes]:
        return portal.run(self._store.read_many(session_ids))

    def remaining_ttl(self, session_id: str) -> int | None:
        return portal.run(self._store.remaining_ttl(session_id))

    def count_sessions(self) -> int:
        return portal.run(self._store.count_sessions())

    def revoke_user(self, user: str) -> int:
        return portal.run(self._store.revoke_user(user))

    def _each(self, ids: typing.AsyncIterator[str]) -> typing.Iterator[str]:
        try:
            while True:
                try:
                    yield portal.run(_anext(ids))
                except StopAsyncIteration:
                    return
        finally:
            portal.run(_aclose(ids))

    def add_user_session(self, user: str, session_id: str) -> None:
        portal.run(self._store.add_user_session(user, session_id))

    def remove_user_session(self, user: str, session_id: str) -> None:
        portal.run(self._store.remove_user_session(user, session_id))

    def user_sessions(self, user: str) -> list[str]:
        return portal.run(self._store.user_sessions(user))

    def purge_expired(self) -> int:
        return portal.run(self._store.purge_expired())

    def update(
        self, session_id: str, change: typing.Callable[[bytes], bytes | None], lifetime: int, ttl: int
    ) -> str | None:
        return portal.run(self._store.update(session_id, change, lifetime, ttl))


async def _anext(iterator: typing.AsyncIterator[str]) -> str:
    return await iterator.__anext__()


async def _aclose(iterator: typing.AsyncIterator[str]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


class _PortalSerializer(Serializer):
    """An async serializer called from sync code, on the portal's loop."""

    def __init__(self, serializer: AsyncSerializer) -> None:
        self._serializer = serializer

    def serialize(self, data: typing.Any) -> bytes:
        return portal.run(self._serializer.serialize(data))

    def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        return portal.run(self._serializer.deserialize(data))


def direct_store(store: AnyStore) -> SyncSessionStore | None:
    """The sync flavour of a store whose calls never wait (memory, cookie), to call from async code
    without a coroutine per call; None for the others."""
    return store.sync if isinstance(store, NoIOStore) else None


def direct_serializer(serializer: AnySerializer) -> Serializer | None:
    """A sync serializer, which only computes: called directly from async code too."""
    if isinstance(serializer, _InlineSerializer):
        return serializer.wrapped
    return serializer if isinstance(serializer, Serializer) else None


def sync_store(store: AnyStore) -> tuple[SyncSessionStore, bool]:
    """``store`` in the sync flavour, and whether it can touch a record while reading it."""
    if isinstance(store, DualSessionStore):
        return store.sync, touches(store)
    if _is_async_store(store):
        return _PortalStore(_completed(typing.cast(SessionStore, store), SessionStore)), touches(store)
    return _completed(typing.cast(SyncSessionStore, store), SyncSessionStore), touches(store)


def sync_serializer(serializer: AnySerializer) -> Serializer:
    adapted = async_serializer(serializer)
    if isinstance(adapted, _InlineSerializer):
        return typing.cast(Serializer, serializer)
    return _PortalSerializer(adapted)
