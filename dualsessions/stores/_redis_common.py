"""What both flavours of :class:`~dualsessions.stores.redis.RedisStore` share: the redis-py import,
the errors it raises, small helpers of no flavour, and the sync flavour's reader of a GET's reply."""

from __future__ import annotations

import functools
import socket
import typing

from ..exceptions import NotARecord, SessionError, SessionStoreError

try:
    import redis
    import redis.asyncio
    import redis.asyncio.connection
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStore needs redis-py: pip install 'dualsessions[redis]'") from exc
try:  # the buffer of redis-py's own parsers (not hiredis'), which read_bulk must find empty
    from redis._parsers.socket import SocketBuffer
except ImportError:  # pragma: no cover - a redis-py that moved it: every reply read its way
    SocketBuffer = None  # type: ignore[assignment,misc]

__all__ = ["redis"]

if typing.TYPE_CHECKING:
    SyncRedis = redis.Redis
    AsyncRedis = redis.asyncio.Redis
else:
    SyncRedis = AsyncRedis = typing.Any

STORE_ERRORS = (RedisError, OSError)
#: ... and what a client made with ``decode_responses=True`` raises for bytes that aren't UTF-8.
COMMAND_ERRORS = (*STORE_ERRORS, UnicodeDecodeError)
Operation: typing.TypeAlias = "str | typing.Callable[..., typing.Any]"

READ, WRITE, REMOVE, LOOK_UP = ("read a session", "write a session", "remove a session", "look up a session")
READ_MANY = "read sessions"
LIST, INDEX = "list sessions", "update the per-user index"
SCAN_BATCH = 1000
#: GETEX for servers before Redis 6.2, in one round trip: the key's value, whose expiry is set to
#: ARGV[1] seconds only if it is a record (GET fails on a value of another type, which is left alone).
GET_AND_EXPIRE = """
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return value
"""
#: Writes ARGV[2] (with ARGV[3] seconds to live) only if KEYS[1] still holds ARGV[1]: a merge's write.
COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def alive(keys: list[list[str]], found: list[typing.Any]) -> list[bool]:
    """For each member's keys, whether any of them exists (``found``: one answer per key, in order)."""
    result, start = [], 0
    for member in keys:
        result.append(any(found[start : start + len(member)]))
        start += len(member)
    return result


def ended(keys: list[list[str]], deleted: list[typing.Any]) -> int:
    """How many members had a record among their keys (``deleted``: DEL's answer per key)."""
    return sum(alive(keys, deleted))


def too_busy() -> RedisError:
    return RedisError("the record kept changing: gave up merging after the store's timeout")


def text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def as_bytes(value: bytes | str | None) -> bytes:
    """Record bytes; a client made with ``decode_responses=True`` hands back str."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return value or b""


def command_failure(description: str, action: str, exc: BaseException) -> SessionError:
    """What a failed command raises: :class:`NotARecord` when reading one session found something
    else under its key (a value of another type; bytes a ``decode_responses`` client can't decode),
    else :class:`SessionStoreError`."""
    if action == READ:
        if isinstance(exc, ResponseError) and "WRONGTYPE" in str(exc):  # (in a script, quoted)
            return NotARecord("its key holds a Redis value of another type")
        if isinstance(exc, UnicodeDecodeError):
            return NotARecord("its key holds bytes the client can't decode as text (decode_responses)")
    return SessionStoreError(description, action, exc)


def unknown_command(error: SessionStoreError) -> bool:
    cause = error.__cause__
    return isinstance(cause, ResponseError) and "unknown command" in str(cause).lower()


def bind(client: typing.Any, operation: Operation) -> typing.Any:
    """A client's command by name, or a function of the client (a pipeline)."""
    return getattr(client, operation) if isinstance(operation, str) else functools.partial(operation, client)


def pipeline(client: typing.Any, transaction: bool) -> typing.Any:
    """A pipeline of either flavour (typed loosely: the two flavours' differ in what they await)."""
    return client.pipeline(transaction=transaction)


#: What a command sent directly (see ``_async_direct``) gives instead of a reply: send it again, the
#: client's way, which reads and raises what the server says as redis-py does.
AGAIN = object()
_CHUNK = 65536
_CLOSED = "Connection closed by the Redis server."


def read_bulk(connection: typing.Any) -> typing.Any:
    """The reply to a GET just sent on a sync ``connection``, read off its socket: the value, None
    when there is none, or :data:`AGAIN` for anything else (an error reply, a pushed message).

    This is redis-py's reading without its reply parser, whose buffered reading runs some 450 Python
    bytecodes a reply: a tenth of a WSGI request that reads its session from Redis. It reads only
    when redis-py's own parser holds nothing read ahead (a message the server pushed, which redis-py
    8 leaves on pooled connections), and for a client that wants bytes: else the reply is redis-py's
    to read (hiredis' parser, ``decode_responses``). An error reply is read to its end (the
    connection stays clean); a reply that is not read to its exact end, or a socket that fails,
    disconnects the connection, as redis-py's own reading does: a timeout raises redis-py's
    ``TimeoutError``, a lost connection its ``ConnectionError``. (A health check,
    ``health_check_interval``, counts from the last reply redis-py read: one ``PING`` an interval.)
    """
    buffered = getattr(connection._parser, "_buffer", None)
    if type(buffered) is not SocketBuffer or buffered.unread_bytes() or connection.encoder.decode_responses:
        return connection.read_response()
    sock = connection._sock
    try:
        data = _received(sock)
        head = data.find(b"\r\n")
        while head < 0:  # (the first line in pieces)
            data += _received(sock)
            head = data.find(b"\r\n")
        kind = data[:1]
        if kind == b"$":
            end = head + 2 + int(data[1:head])  # (not a number: ValueError, read as unsound)
            if end < head + 2:
                if data == b"$-1\r\n":
                    return None
            else:
                if len(data) < end + 2:  # the rest of a long value, into one buffer
                    data = _received_to(sock, data, end + 2)
                if len(data) == end + 2 and data.endswith(b"\r\n"):
                    return data[head + 2 : end]
        elif data == b"_\r\n":  # RESP3's null
            return None
        elif kind == b"-" and head == len(data) - 2:  # one error line, read whole
            return AGAIN
    except TimeoutError:  # (socket.timeout)
        connection.disconnect()
        raise redis.TimeoutError("Timeout reading from the Redis server") from None
    except ValueError:
        pass
    except OSError as exc:
        connection.disconnect()
        raise redis.ConnectionError(f"Error while reading from the Redis server: {exc.args}") from None
    except BaseException:
        connection.disconnect()
        raise
    connection.disconnect()  # not what a GET is answered with, or not read to its exact end
    return AGAIN


def _received(sock: socket.socket) -> bytes:
    data = sock.recv(_CHUNK)
    if not data:
        raise redis.ConnectionError(_CLOSED)
    return data


def _received_to(sock: socket.socket, data: bytes, size: int) -> bytes:
    """``data`` and what follows it on ``sock``, ``size`` bytes in all (the end of a reply)."""
    buffer = bytearray(size)
    buffer[: len(data)] = data
    view, filled = memoryview(buffer), len(data)
    while filled < size:
        count = sock.recv_into(view[filled:])
        if not count:
            raise redis.ConnectionError(_CLOSED)
        filled += count
    return bytes(buffer)
