"""What both flavours of :class:`~dualsessions.stores.redis.RedisStore` share: the redis-py import,
the errors it raises, and small helpers of no flavour."""

from __future__ import annotations

import functools
import typing

from ..exceptions import NotARecord, SessionError, SessionStoreError

try:
    import redis
    import redis.asyncio
    import redis.asyncio.connection
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStore needs redis-py: pip install 'dualsessions[redis]'") from exc

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
