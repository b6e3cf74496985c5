"""The two commands of every request, GET and SET, sent by the store itself on a pooled connection,
in the sync flavour.

redis-py wraps each command in layers a session's read and write don't need: a retry loop, metrics
hooks, reply callbacks. With redis-py 8 they are 5% of a read-only ASGI request's instructions, 10%
of a changing one's and 8% of a WSGI read's. :func:`direct` gives a stand-in for the client whose
``get`` and ``set`` skip them: each takes a connection from the client's pool, sends the command
packed as redis-py packs it, reads the reply and puts the connection back. The sync flavour reads a
GET's reply off the socket itself (:func:`~._redis_common.read_bulk`); the async one leaves every
reply to redis-py, whose reading is undone if the command is cancelled (by the store's watchdog, at
its timeout).

Only where nothing is lost by it: a client of redis-py's own class (a subclass may change any of its
layers) that retries nothing by itself (a URL's, as the store makes them), on a plain pool (not
Sentinel's, which finds the master per connection; not a cluster) of redis-py's own connections,
not a single-connection one, without client-side caching, whose ``execute_command``, ``get`` and
``set`` are redis-py's own (not instrumented: Sentry and OpenTelemetry see every command as before),
and while redis-py records no metrics of its own. The client is judged when the store first uses
it and again whenever what that rests on has changed (instrumentation or a retry policy set up
later); the metrics, at every command.

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

from ._redis_common import AGAIN, SyncRedis, read_bulk, redis

_PLAIN_POOLS = (redis.ConnectionPool, redis.BlockingConnectionPool)
_OWN_CONNECTIONS = (
    redis.Connection,
    redis.SSLConnection,
    redis.UnixDomainSocketConnection,
)
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
    encoding: tuple[str, str]  # how its connections encode a key
    judged_on: tuple[typing.Any, ...]  # what could change afterwards (see _looks)


def direct(client: SyncRedis) -> typing.Any:
    """``client``, or a stand-in whose ``get`` and ``set`` send on its connections directly. The
    client is judged on first use, and again whenever what the judgement rests on changed since:
    instrumentation installed later, a retry policy set later, another pool."""
    looks = _looks(client)
    try:
        verdict = _judged.get(client)
        if verdict is None or verdict.judged_on != looks:
            verdict = _judged[client] = _verdict(client, looks)
    except TypeError:  # a client that can't be a dictionary's weak key: its own way
        return client
    if verdict.pool is None or (_OBSERVABILITY is not None and _OBSERVABILITY().is_enabled()):
        return client
    return _Direct(client, verdict.pool, verdict.encoding)


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


def _verdict(client: typing.Any, looks: tuple[typing.Any, ...]) -> _Verdict:
    pool = _pool_to_use(client)
    options = pool.connection_kwargs if pool is not None else _NOTHING
    return _Verdict(pool, (options.get("encoding", "utf-8"), options.get("encoding_errors", "strict")), looks)


def _pool_to_use(client: typing.Any) -> typing.Any:
    """``client``'s pool, if sending on its connections loses nothing (see the module), else None."""
    if type(client) is not redis.Redis:  # (a subclass may do anything in any of its layers)
        return None
    pool = client.connection_pool
    if type(pool) not in _PLAIN_POOLS or getattr(pool, "cache", None) is not None:
        return None
    if getattr(pool, "connection_class", None) not in _OWN_CONNECTIONS:  # (the sync flavour reads the socket)
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
    __slots__ = ("_client", "_encoding", "_pool")

    def __init__(self, client: SyncRedis, pool: typing.Any, encoding: tuple[str, str]) -> None:
        self._client = client
        self._pool = pool
        self._encoding = encoding

    def get(self, key: str) -> typing.Any:
        encoded = key.encode(*self._encoding) if isinstance(key, str) else key  # (a prefix function's bytes)
        command = _packed(b"GET", encoded)
        reply = self._send(command, _get_reply, again=True)
        return self._client.get(key) if reply is AGAIN else reply

    def set(self, key: str, value: bytes, *, ex: int, xx: bool) -> typing.Any:
        """``SET key value EX ex``, with ``XX`` when ``xx``: ``OK``, or None when ``XX`` found no key."""
        encoded = key.encode(*self._encoding) if isinstance(key, str) else key
        parts = (b"SET", encoded, value, b"EX", b"%d" % ex)
        return self._send(_packed(*parts, b"XX") if xx else _packed(*parts), _reply, again=False)

    def _send(
        self, command: bytes, read: typing.Callable[[typing.Any], typing.Any], *, again: bool
    ) -> typing.Any:
        """The reply, as ``read`` reads it; ``AGAIN`` if it says so, or if the connection broke and
        ``again`` says the command may go again. (A pool that has no connection to give fails as the
        client would: waiting again won't help.)"""
        pool = self._pool
        connection = pool.get_connection(*_CONNECTION_ARGS)
        try:
            connection.send_packed_command((command,))
            return read(connection)
        except redis.ConnectionError:  # (the connection was dropped)
            if not again:
                raise
        finally:
            pool.release(connection)
        return AGAIN


def _packed(*parts: bytes) -> bytes:
    """A command as redis-py sends it: an array of bulk strings."""
    return b"*%d\r\n%s" % (len(parts), b"".join([b"$%d\r\n%s\r\n" % (len(part), part) for part in parts]))


def _reply(connection: typing.Any) -> typing.Any:
    return connection.read_response()


def _get_reply(connection: typing.Any) -> typing.Any:
    """A GET's reply: the value, or None. The sync flavour reads it off the socket (``read_bulk``),
    which gives ``AGAIN`` for an error reply: sent again the client's way, which raises it."""
    return read_bulk(connection)
