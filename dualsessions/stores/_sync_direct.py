"""The two commands of every request, GET and SET, sent by the store itself on a pooled connection,
in the sync flavour.

redis-py wraps each command in layers a session's read and write don't need: a retry loop, metrics
hooks, reply callbacks. With redis-py 8 they are 5% of a read-only ASGI request's instructions, 10%
of a changing one's and 8% of a WSGI read's. :func:`direct` gives a stand-in for the client whose
``get`` and ``set`` skip them: each takes a connection from the client's pool, sends the command as
the connection packs it, reads the reply and puts the connection back.

Only where nothing is lost by it: a client of redis-py's own class (a subclass may change any of its
layers) that retries nothing by itself (a URL's, as the store makes them), on a plain pool (not
Sentinel's, which finds the master per connection; not a cluster), not a single-connection one,
without client-side caching, whose ``execute_command``, ``get`` and ``set`` are redis-py's own (not
instrumented: Sentry and OpenTelemetry see every command as before), and while redis-py records no
metrics of its own. The client is judged when the store first uses it and again whenever what that
rests on has changed (instrumentation or a retry policy set up later); the metrics, at every command.

A read whose connection turns out broken as it goes out (a restarted server, a proxy that dropped
it) is sent once more, the client's way: a GET changes nothing. A write is not: the server may have
applied it, and sending it again could undo a newer write of another request.

Generated from ``_async_direct.py`` by ``scripts/unasync.py``: edit that file, then run the script.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types
import typing
import weakref

from ._redis_common import SyncRedis, redis

_PLAIN_POOLS = (redis.ConnectionPool, redis.BlockingConnectionPool)
_SKIPPED = ("execute_command", "get", "set")  # what an instrumentation would wrap
_REDIS_FILES = os.path.dirname(redis.__file__) + os.sep


def _connection_args() -> tuple[str, ...]:
    """What ``get_connection`` is called with: redis-py before 5.3 needs a command name, later ones
    warn when given one."""
    parameter = inspect.signature(redis.ConnectionPool.get_connection).parameters.get("command_name")
    return ("GET",) if parameter is not None and parameter.default is inspect.Parameter.empty else ()


def _observability() -> typing.Callable[[], typing.Any] | None:
    """redis-py's switch for metrics of its own commands (redis-py 7 and later), which only its own
    way of sending feeds."""
    try:
        return importlib.import_module("redis.observability.providers").get_observability_instance  # type: ignore[no-any-return]
    except ImportError:  # redis-py before 7
        return None


_CONNECTION_ARGS = _connection_args()
_OBSERVABILITY = _observability()
#: What the store found about each client it used (see :func:`direct`).
_judged: weakref.WeakKeyDictionary[typing.Any, _Verdict] = weakref.WeakKeyDictionary()


class _Verdict(typing.NamedTuple):
    pool: typing.Any  # the pool to send on, or None: the client's own way
    judged_on: tuple[typing.Any, ...]  # what could change afterwards (see _looks)


def direct(client: SyncRedis) -> typing.Any:
    """``client``, or a stand-in whose ``get`` and ``set`` send on its connections directly. The
    client is judged on first use, and again whenever what the judgement rests on changed since:
    instrumentation installed later, a retry policy set later, another pool."""
    looks = _looks(client)
    try:
        verdict = _judged.get(client)
        if verdict is None or verdict.judged_on != looks:
            verdict = _judged[client] = _Verdict(_pool_to_use(client), looks)
    except TypeError:  # a client that can't be a dictionary's weak key: its own way
        return client
    if verdict.pool is None or (_OBSERVABILITY is not None and _OBSERVABILITY().is_enabled()):
        return client
    return _Direct(client, verdict.pool)


def _looks(client: typing.Any) -> tuple[typing.Any, ...]:
    """What about ``client`` may change after the store first used it: its pool and that pool's
    retry policy, its class and the class's methods (instrumentation patches them in place), its own
    overrides."""
    pool = getattr(client, "connection_pool", None)
    cls, own = type(client), vars(client)
    return (
        pool,
        getattr(pool, "connection_kwargs", _NOTHING).get("retry"),
        cls,
        cls.execute_command,
        cls.get,
        cls.set,
        "execute_command" in own or "get" in own or "set" in own,
    )


_NOTHING: dict[str, typing.Any] = {}


def _pool_to_use(client: typing.Any) -> typing.Any:
    """``client``'s pool, if sending on its connections loses nothing (see the module), else None."""
    if type(client) is not redis.Redis:  # (a subclass may do anything in any of its layers)
        return None
    pool = client.connection_pool
    if type(pool) not in _PLAIN_POOLS or getattr(pool, "cache", None) is not None:
        return None
    options = pool.connection_kwargs
    if _retries(options.get("retry")) or options.get("retry_on_timeout") or options.get("retry_on_error"):
        return None  # its own policy decides what is sent again
    if (
        getattr(client, "single_connection_client", False)
        or getattr(client, "_single_connection_client", False)  # (the sync client's, redis-py 6 and later)
        or getattr(client, "connection", None) is not None
    ):
        return None
    for name in _SKIPPED:  # redis-py's own functions, run from its own files (not a wrapper's)
        method = getattr(type(client), name, None)
        if name in vars(client) or not (
            type(method) is types.FunctionType and method.__code__.co_filename.startswith(_REDIS_FILES)
        ):
            return None
    return pool


def _retries(retry: typing.Any) -> int:
    """How many times a client's ``Retry`` sends a command again (redis-py 6 tells; 5 keeps it)."""
    if retry is None:
        return 0
    return int(retry.get_retries() if hasattr(retry, "get_retries") else getattr(retry, "_retries", 0))


class _Direct:
    __slots__ = ("_client", "_pool")

    def __init__(self, client: SyncRedis, pool: typing.Any) -> None:
        self._client = client
        self._pool = pool

    def get(self, key: str) -> typing.Any:
        reply = self._send(b"GET", key, again=True)
        return self._client.get(key) if reply is _BROKEN else reply

    def set(self, key: str, value: bytes, *, ex: int, xx: bool) -> typing.Any:
        """``SET key value EX ex``, with ``XX`` when ``xx``: ``OK``, or None when ``XX`` found no key."""
        return self._send(b"SET", key, value, b"EX", ex, *((b"XX",) if xx else ()), again=False)

    def _send(self, *command: typing.Any, again: bool) -> typing.Any:
        """The reply; ``_BROKEN`` if the connection broke and ``again`` says the command may go again.
        (A pool that has no connection to give fails as the client would: waiting again won't help.)"""
        pool = self._pool
        connection = pool.get_connection(*_CONNECTION_ARGS)
        try:
            connection.send_packed_command(connection.pack_command(*command))
            return connection.read_response()
        except redis.ConnectionError:  # (redis-py has dropped the connection)
            if not again:
                raise
        finally:
            pool.release(connection)
        return _BROKEN


_BROKEN = object()
