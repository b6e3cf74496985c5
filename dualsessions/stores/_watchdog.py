"""Bounding each Redis round trip of one event loop, with one timer for all of them.

redis-py's own ``socket_timeout`` costs two timers a command, and on Python 3.10 and 3.11 a task of
its own for every send (``asyncio.wait_for``); ``asyncio.timeout`` still puts a timer in the loop's
heap for each command. Measured on a session read, that is about a tenth of the request. A watchdog
keeps the commands in flight in a dict instead, and one timer looks at them every quarter of the
timeout: a command still waiting past its deadline is cancelled and fails with ``TimeoutError``, so a
stalled server fails it between one and one and a quarter timeouts after it began.
"""

from __future__ import annotations

import asyncio
import sys
import typing

T = typing.TypeVar("T")

#: How often, in timeouts, the watchdog looks at the commands in flight.
_LOOK_EVERY = 0.25


class Watchdog:
    """Bounds the commands awaited through :meth:`bound` on one event loop to ``timeout`` seconds
    (None: unbounded, as for a client the application made and configured itself)."""

    __slots__ = ("_cancelled", "_loop", "_running", "_timeout", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        self._loop = loop
        self._timeout = timeout
        self._running: dict[asyncio.Task[typing.Any], float] = {}  # each command's task: its deadline
        self._cancelled: set[asyncio.Task[typing.Any]] = set()  # those the watchdog cancelled
        self._timer: asyncio.TimerHandle | None = None

    async def bound(self, command: typing.Awaitable[T]) -> T:
        """``await command``, failing with ``TimeoutError`` once it has waited past the timeout."""
        timeout, running = self._timeout, self._running
        task = asyncio.current_task()
        if timeout is None or task is None or task in running:  # (nested: the outer bound holds)
            return await command
        running[task] = self._loop.time() + timeout
        if self._timer is None:
            self._timer = self._loop.call_later(timeout * _LOOK_EVERY, self._look)
        try:
            return await command
        except asyncio.CancelledError:
            if task not in self._cancelled:
                raise  # cancelled by someone else: not a timeout
            self._cancelled.discard(task)
            if sys.version_info >= (3, 11):  # a cancellation turned into a timeout is not left counted
                task.uncancel()
            raise TimeoutError(f"Redis did not answer within {timeout:g} s") from None
        finally:
            del running[task]
            if self._cancelled:
                self._cancelled.discard(task)

    def iterate(self, items: typing.AsyncIterator[T]) -> typing.AsyncIterator[T]:
        """``items`` (an iterator that awaits commands now and then, such as ``scan_iter``), each step
        bounded."""
        return self._steps(items)

    async def _steps(self, items: typing.AsyncIterator[T]) -> typing.AsyncIterator[T]:
        while True:
            try:
                item = await self.bound(items.__anext__())
            except StopAsyncIteration:
                return
            yield item

    def _look(self) -> None:
        """Cancel the commands past their deadline; look again later while any is in flight."""
        self._timer = None
        running = self._running
        if not running:
            return  # the next command starts the timer again
        now = self._loop.time()
        for task, deadline in running.items():
            if now >= deadline and task not in self._cancelled:
                self._cancelled.add(task)
                task.cancel()
        self._timer = self._loop.call_later(typing.cast(float, self._timeout) * _LOOK_EVERY, self._look)
