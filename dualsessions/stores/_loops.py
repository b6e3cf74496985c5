"""One resource per running event loop (an async client, an async engine): made when a loop first
needs it and closed when that loop shuts down, since async connections belong to the loop that made
them (Starlette's ``TestClient`` runs each request on a new loop; ``asyncio.run`` makes one per call)."""

from __future__ import annotations

import asyncio
import threading
import typing

T = typing.TypeVar("T")


class PerLoop(typing.Generic[T]):
    """``make()`` gives the loop's resource, ``close(resource)`` ends it as the loop shuts down.

    An async generator started on the loop is closed by the loop when it shuts down (``asyncio.run``,
    anyio and uvicorn all do): its ``finally`` closes the resource while its connections' loop still
    runs. Loops closed without that shutdown are dropped when the next loop arrives.
    """

    def __init__(
        self, make: typing.Callable[[], T], close: typing.Callable[[T], typing.Awaitable[None]]
    ) -> None:
        self._make = make
        self._close = close
        self._lock = threading.Lock()
        self._made: dict[asyncio.AbstractEventLoop, tuple[T, typing.AsyncGenerator[None, None]]] = {}

    def __len__(self) -> int:
        """How many loops have their resource now."""
        return len(self._made)

    def now(self) -> T | None:
        """The running loop's resource if it has one yet (a dict lookup: no coroutine)."""
        entry = self._made.get(asyncio.get_running_loop())
        return entry[0] if entry is not None else None

    async def get(self) -> T:
        """The running loop's resource, made on first use."""
        loop = asyncio.get_running_loop()
        entry = self._made.get(loop)
        if entry is not None:
            return entry[0]
        resource = self._make()
        guard = self._guard(loop, resource)
        with self._lock:
            for closed in [known for known in list(self._made) if known.is_closed()]:
                del self._made[closed]
            self._made[loop] = (resource, guard)
        await guard.asend(None)
        return resource

    async def _guard(self, loop: asyncio.AbstractEventLoop, resource: T) -> typing.AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._release(loop, resource)

    async def release(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close ``loop``'s resource now (``aclose()`` of a store), and end its guard with it: a guard
        merely dropped would have the loop schedule its ``aclose()`` for later, a task left pending
        if the loop is closed next without ``shutdown_asyncgens``."""
        entry = self._made.get(loop)
        if entry is not None:
            await entry[1].aclose()  # its ``finally`` releases the resource

    async def _release(self, loop: asyncio.AbstractEventLoop, resource: T) -> None:
        with self._lock:  # only if it is still this loop's (not a newer one made after a release)
            entry = self._made.get(loop)
            if entry is None or entry[0] is not resource:
                return
            del self._made[loop]
        await self._close(resource)
