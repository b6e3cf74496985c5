"""Sessions in Redis, natively in both flavours: a ``redis.Redis`` for sync code and a
``redis.asyncio.Redis`` per event loop for async code.

Requires the ``redis`` extra: ``pip install 'dualsessions[redis]'``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import importlib
import re
import threading
import time
import typing
import urllib.parse

from ..exceptions import ImproperlyConfigured
from ._async_redis import AsyncRedisOperations
from ._loops import PerLoop
from ._redis_common import AsyncRedis, SyncRedis, redis
from ._sync_redis import SyncRedisOperations
from ._watchdog import Watchdog
from .base import DualSessionStore

Prefix: typing.TypeAlias = "str | typing.Callable[[str], str]"


DEFAULT_GC_TTL = 30 * 24 * 3600
# Options that hold objects of one flavour and can't be handed to a client of the other.
_FLAVOUR_BOUND_OPTIONS = ("retry", "redis_connect_func", "connection_pool")


#: How long a merge keeps retrying when other writes keep changing the record (with ``timeout=None``).
_MERGE_PATIENCE = 10.0
_GLOB_SPECIAL = re.compile(r"[*?\[\]\\]")
#: What ``hash_ids`` names look like (a hex HMAC-SHA256); no session id is ever one.
_HASHED_NAME = re.compile(r"[0-9a-f]{64}")
# Moves a record kept under its plain id (KEYS[2]) to its hashed key (KEYS[1]), TTL kept, in one
# atomic step, and returns the record: a revocation can't slip between the read and the move. It also
# sets the marker KEYS[3], which tells stores without hash_ids that records have moved.
_MIGRATE = """
local value = redis.call('GET', KEYS[1])
if value then return value end
value = redis.call('GET', KEYS[2])
if not value then return false end
local ttl = redis.call('PTTL', KEYS[2])
if ttl <= 0 then ttl = tonumber(ARGV[1]) end
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], '1')
return value
"""


def _prefixed(prefix: str, session_id: str) -> str:
    return prefix + session_id


class RedisStore(AsyncRedisOperations, DualSessionStore):
    """Stores sessions in Redis under ``prefix + session_id``, with the session's TTL.

    Give ``url`` (clients of both flavours are made from it when first needed) or ``connection``: a
    ``redis.Redis``, a ``redis.asyncio.Redis``, or one of each; the missing flavour is made with the
    same connection options. Async clients belong to an event loop, so each running loop gets its own,
    closed when that loop shuts down: ``TestClient`` requests and repeated ``asyncio.run`` calls just
    work. ``timeout`` bounds connecting and each command, or batch of commands, of the clients the
    store makes (the async ones by a watchdog of the store's: see ``_watchdog.py``); a client given as
    ``connection`` keeps the timeouts it was made with.

    Errors reaching Redis raise :class:`~dualsessions.exceptions.SessionStoreError`; the next call
    reconnects, so the app recovers by itself once Redis is back.
    """

    expires_records = True

    def __init__(
        self,
        url: str | None = None,
        connection: SyncRedis | AsyncRedis | typing.Sequence[SyncRedis | AsyncRedis] | None = None,
        prefix: Prefix = "starsessions.",
        gc_ttl: int = DEFAULT_GC_TTL,
        *,
        timeout: float | None = 5.0,
        hash_ids: str | bytes | None = None,
        legacy_ids: bool = False,
    ) -> None:
        if (url is None) == (connection is None):
            raise ImproperlyConfigured("RedisStore needs either 'url' or 'connection' (and not both).")
        if gc_ttl < 1:
            raise ImproperlyConfigured(f"gc_ttl must be a positive number of seconds, got {gc_ttl!r}")
        self.gc_ttl = gc_ttl
        if hash_ids is not None and not hash_ids:
            raise ImproperlyConfigured("hash_ids must be a non-empty secret key")
        if legacy_ids and hash_ids is None:
            raise ImproperlyConfigured("legacy_ids is for switching to hash_ids: pass hash_ids too")
        self._id_key = hash_ids.encode() if isinstance(hash_ids, str) else hash_ids
        #: The per-user sets hold ids (not their hashes): a user's sessions can be listed.
        self.index_holds_ids = hash_ids is None
        #: Also read (and move under the hashed key) records kept under plain ids, while switching.
        self.legacy_ids = legacy_ids
        self.key: typing.Callable[[str], str] = (
            functools.partial(_prefixed, prefix) if isinstance(prefix, str) else prefix
        )
        self._prefix = prefix if isinstance(prefix, str) else None
        self._plain_prefix = self._prefix if hash_ids is None else None
        self._topology = _topology(url) if url is not None else None
        if legacy_ids and self._topology is not None and self._topology.kind == "cluster":
            raise ImproperlyConfigured(
                "legacy_ids moves each record from its plain key to its hashed key in one atomic step, "
                "which Redis Cluster can't do across slots: switch to hash_ids on a single server or "
                "Sentinel, or switch without legacy_ids (sessions under plain ids then end)"
            )
        self._url = url
        self._timeout = timeout
        self._lock = threading.Lock()  # guards making clients, never a command
        self._sync: SyncRedis | None = None
        self._sync_owned = True
        self._async_given: AsyncRedis | None = None
        self._template: dict[str, typing.Any] = {}
        if connection is not None:
            self._adopt(connection)
        #: False once the server turned out to predate GETEX (Redis < 6.2): GET + EXPIRE in one round trip.
        self.has_getex = True
        #: False once the server turned out to predate GETDEL (Redis < 6.2): GET + DEL in one MULTI/EXEC.
        self.has_getdel = True
        # One async client per event loop, closed when its loop shuts down.
        self._async_clients: PerLoop[LoopClient] = PerLoop(self._client_for_a_loop, self._close_async)
        self._callers_async = self._async_given
        self.description = f"RedisStore({self._where()})"
        self._store = self  # the async operations are the store's own methods
        self.sync: SyncRedisOperations = SyncRedisOperations(self)

    def _adopt(self, connection: typing.Any) -> None:
        clients = list(connection) if isinstance(connection, (list, tuple)) else [connection]
        for client in clients:
            if isinstance(client, redis.asyncio.Redis):
                self._async_given = client
            elif isinstance(client, redis.Redis):
                self._sync, self._sync_owned = client, False
            else:
                raise ImproperlyConfigured(
                    f"connection must be a redis.Redis or redis.asyncio.Redis client, got {type(client)!r}"
                )
        source = self._sync if self._sync is not None else self._async_given
        assert source is not None
        pool = source.connection_pool
        name = pool.connection_class.__name__
        if not (hasattr(redis.connection, name) and hasattr(redis.asyncio.connection, name)):
            raise ImproperlyConfigured(
                f"RedisStore can't make more clients like the one given (its connections are {name}); "
                "pass url= instead"
            )
        options = {k: v for k, v in pool.connection_kwargs.items() if k not in _FLAVOUR_BOUND_OPTIONS}
        self._template = {"class": name, "options": options}

    def _where(self) -> str:
        if self._url is not None:
            parts = urllib.parse.urlsplit(self._url)
            netloc = parts.netloc.rpartition("@")[2]  # never show credentials
            return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        options = self._template["options"]
        if "path" in options:
            return f"unix://{options['path']}"
        return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}/{options.get('db', 0)}"

    def name(self, session_id: str) -> str:
        """What a session's record is called in Redis: its id, or with ``hash_ids`` a keyed hash of
        it, so that a dump of the keys (or of the per-user sets) gives no id a cookie could replay."""
        if self._id_key is None:
            return session_id
        return hmac.new(self._id_key, session_id.encode(), hashlib.sha256).hexdigest()

    def record_key(self, session_id: str) -> str:
        if self._plain_prefix is not None:  # the common case, without two calls on every request
            return self._plain_prefix + session_id
        return self.key(self.name(session_id))

    def all_keys(self, session_id: str) -> list[str]:
        """The session's record key, and its legacy plain one while switching to hashed ids."""
        keys = [self.record_key(session_id)]
        if self.legacy_ids and not _HASHED_NAME.fullmatch(session_id):
            keys.append(self.key(session_id))
        return keys

    def migration(self, session_id: str) -> tuple[str, int, str, str, str, int] | None:
        """The arguments of the atomic move of a record from its plain id to its hashed key (EVAL), or
        None when ``session_id`` can't be a plain id: a hashed name (from a dump, or a per-user
        index) is never one, so it can't be replayed as a cookie to take a session over."""
        if _HASHED_NAME.fullmatch(session_id):
            return None
        plain_key, moved = self.key(session_id), self.moved_marker
        return (_MIGRATE, 3, self.record_key(session_id), plain_key, moved, self.gc_ttl * 1000)

    def member_keys(self, member: str) -> list[str]:
        """The record keys a per-user index member may name: a hashed name's key, or for a plain id
        indexed before ``hash_ids`` was turned on, its plain key and the hashed key it moves to."""
        if self._id_key is None or _HASHED_NAME.fullmatch(member):
            return [self.key(member)]
        return [self.key(member), self.record_key(member)]

    @property
    def moved_marker(self) -> str:
        """The key the move to hashed keys sets (``:`` is never in a session id, so no clash)."""
        return self.key("meta:records-moved-to-hashed-keys")

    def split_members(self, members: typing.Iterable[bytes | str]) -> tuple[list[str], list[bytes | str]]:
        """A per-user set's members: the names of sessions it holds (sorted), and what else is there as
        Redis has it (bytes that aren't text, values no store writes), never taken for a session."""
        names: list[str] = []
        foreign: list[bytes | str] = []
        for member in members:
            try:
                name = member.decode("utf-8") if isinstance(member, bytes) else member
            except UnicodeDecodeError:
                name = None
            if name is not None and (self.accepts_id(name) or _HASHED_NAME.fullmatch(name) is not None):
                names.append(name)
            else:
                foreign.append(member)
        return sorted(names), foreign

    def plan_purge(
        self,
        set_key: str,
        members: list[str],
        found: typing.Iterator[typing.Any],
        pipe: typing.Any,
        foreign: typing.Sequence[bytes | str] = (),
    ) -> int:
        """Queue on ``pipe`` what purging one per-user set does, from ``found`` (EXISTS per key of
        :meth:`member_keys`, in order, taken from the iterator); how many entries it drops.

        Entries whose records are gone leave. With ``hash_ids``, an entry that is still a plain id
        (indexed before the switch) is renamed to its hashed name once its record lives under the
        hashed key, and with ``legacy_ids`` its record is moved there first (not on a cluster, which
        can't move a key atomically across slots): a dump of the sets then gives no ids. Without
        ``legacy_ids`` a record still under its plain id is left alone: the apps can't read it, and
        revoking still finds it. ``foreign`` members (see :meth:`split_members`) leave as they are."""
        gone: list[bytes | str] = list(foreign)
        for member in members:
            exists = [bool(next(found)) for _ in self.member_keys(member)]
            if not any(exists):
                gone.append(member)
            elif len(exists) == 2:  # a plain id, with hash_ids on
                plain_exists, hashed_exists = exists
                movable = self.legacy_ids and (self._topology is None or self._topology.kind != "cluster")
                if plain_exists and movable:
                    pipe.eval(*typing.cast(tuple[typing.Any, ...], self.migration(member)))
                if hashed_exists or (plain_exists and movable):
                    pipe.sadd(set_key, self.name(member))
                    pipe.srem(set_key, member)
        if gone:
            pipe.srem(set_key, *gone)
        return len(gone)

    def queue_existence(self, pipe: typing.Any, memberships: list[list[str]]) -> None:
        """Queue an EXISTS for every key each member of each set may name (see :meth:`plan_purge`)."""
        for members in memberships:
            for member in members:
                for record_key in self.member_keys(member):
                    pipe.exists(record_key)

    def refusal(self, moved: object) -> ImproperlyConfigured | None:
        """Why a store without ``hash_ids`` must not revoke or purge (``moved``: the marker's value):
        records were moved to hashed keys it can't name, so it would count live sessions as gone."""
        if self._id_key is None and moved is not None:
            return ImproperlyConfigured(
                "the apps keep sessions under hashed ids (hash_ids): revoke and purge with their store "
                "(RedisStore(..., hash_ids=...); the CLI: --store module:factory)"
            )
        return None

    def index_members(self, session_id: str) -> list[str]:
        """How ``session_id`` may be spelled in a per-user index (its plain id too, with ``hash_ids``)."""
        name = self.name(session_id)
        return [name] if name == session_id else [name, session_id]

    @property
    def mget(self) -> str:
        """The command that reads many keys in one round trip: MGET, or on a cluster redis-py's MGET
        split by slot (a cluster refuses one across slots)."""
        return "mget_nonatomic" if self._topology is not None and self._topology.kind == "cluster" else "mget"

    def merge_deadline(self) -> float:
        """Until when (``time.monotonic()``) a merge retries while other writes change the record: as
        long as the store's ``timeout``, so a healthy Redis under contention never makes one give up."""
        return time.monotonic() + (self._timeout if self._timeout is not None else _MERGE_PATIENCE)

    def expiry(self, ttl: int) -> int:
        """Seconds to keep a record: the session's ttl, or ``gc_ttl`` for session-only sessions."""
        return ttl if ttl > 0 else self.gc_ttl

    # -- clients ---------------------------------------------------------------------------------------

    def _make(self, client_class: typing.Any, connections: typing.Any) -> typing.Any:
        flavour = redis.asyncio if connections is redis.asyncio.connection else redis
        # Async commands are bounded by the loop's watchdog, at a fraction of redis-py's cost.
        command_timeout = None if flavour is redis.asyncio else self._timeout
        timeouts = {"socket_timeout": command_timeout, "socket_connect_timeout": self._timeout}
        if self._topology is not None and self._topology.kind == "cluster":
            cluster = importlib.import_module(f"{flavour.__name__}.cluster")
            nodes = [cluster.ClusterNode(host, port) for host, port in self._topology.hosts]
            return cluster.RedisCluster(startup_nodes=nodes, **self._topology.auth, **timeouts)
        if self._topology is not None and self._topology.kind == "sentinel":
            sentinel = importlib.import_module(f"{flavour.__name__}.sentinel")
            watchers = sentinel.Sentinel(
                self._topology.hosts,
                sentinel_kwargs={"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout},
                **timeouts,
            )
            return watchers.master_for(
                self._topology.service, db=self._topology.db, **self._topology.auth, **timeouts
            )
        if self._url is not None:
            client = client_class.from_url(self._url, **timeouts)
        else:
            connection_class = getattr(connections, self._template["class"])
            pool = connections.ConnectionPool(connection_class=connection_class, **self._template["options"])
            client = client_class.from_pool(pool)  # the client owns the pool and closes it
        return client

    def sync_client(self) -> SyncRedis:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = typing.cast(SyncRedis, self._make(redis.Redis, redis.connection))
                client = self._sync
        return client

    def loop_client(self) -> LoopClient | None:
        """The async client of the running loop and its watchdog, if it has them yet (a dict lookup:
        no coroutine)."""
        return self._async_clients.now()

    async def async_client(self) -> LoopClient:
        """The async client of the running loop and its watchdog, made and bound to it on first use."""
        return await self._async_clients.get()

    def _client_for_a_loop(self) -> LoopClient:
        """A new loop's client. The caller's own async client serves the first loop that uses it; its
        connections can't move to another loop, so later loops get clients of their own."""
        with self._lock:
            given, self._async_given = self._async_given, None
        loop = asyncio.get_running_loop()
        if given is not None:  # its own timeouts hold, as do those copied from a given client
            return LoopClient(given, Watchdog(loop, None))
        return LoopClient(self._make_async(), Watchdog(loop, self._timeout if self._url else None))

    def _make_async(self) -> AsyncRedis:
        return typing.cast(AsyncRedis, self._make(redis.asyncio.Redis, redis.asyncio.connection))

    async def _close_async(self, made: LoopClient) -> None:
        client = made.client
        if client is self._callers_async:  # not ours to close, but its connections die with its loop
            await client.connection_pool.disconnect()
            return
        await client.aclose()
        for watcher in _sentinels(client):  # the connections that found the master
            await watcher.aclose()

    # -- keys ------------------------------------------------------------------------------------------

    def user_key(self, user: str) -> str:
        """The key of ``user``'s set of session ids. ``:`` is never in a session id, so no clash."""
        return self.key("user:" + user)

    def scan_pattern(self, key: str | None = None) -> tuple[str, int]:
        """A SCAN pattern for keys starting like ``key`` (the prefix), and where the id starts."""
        if key is None and self._id_key is not None:
            raise ImproperlyConfigured(
                "session ids are hashed at rest (hash_ids): they can't be listed or counted, by design; "
                "revoking a user's sessions and purging still work"
            )
        if self._prefix is None:
            raise ImproperlyConfigured(
                "listing sessions needs RedisStore(prefix=...) to be a string, not a function"
            )
        start = self._prefix if key is None else key
        return _GLOB_SPECIAL.sub(r"\\\g<0>", start) + "*", len(start)

    # -- closing ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync client if this store made it."""
        if self._sync is not None and self._sync_owned:
            self._sync.close()
            for watcher in _sentinels(self._sync):
                watcher.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the async client of the running loop (only disconnect it, if it was given)."""
        await self._async_clients.release(asyncio.get_running_loop())

    def __repr__(self) -> str:
        return self.description


class LoopClient(typing.NamedTuple):
    """An event loop's async client, and the watchdog that bounds its commands."""

    client: AsyncRedis
    watchdog: Watchdog


class _Topology(typing.NamedTuple):
    """Where the data lives: one server (``redis://``), a cluster or a Sentinel-managed master."""

    kind: str  # "single", "cluster" or "sentinel"
    hosts: list[tuple[str, int]]
    service: str = ""
    db: int = 0
    auth: dict[str, str] = {}  # noqa: RUF012 - never mutated


def _topology(url: str) -> _Topology:
    """Check a URL when the store is built: ``redis://``, ``rediss://``, ``unix://``, and
    ``redis+cluster://host:port[,host:port...]/``, ``redis+sentinel://host:port[,...]/service[/db]``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis+cluster", "redis+sentinel"):
        try:
            redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise ImproperlyConfigured(f"RedisStore url {_masked(url)!r} is not a Redis URL: {exc}") from None
        return _Topology("single", [])
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    auth = {}
    if userinfo:
        username, _, password = userinfo.partition(":")
        auth = {"username": urllib.parse.unquote(username)} if username else {}
        if password:
            auth["password"] = urllib.parse.unquote(password)
    hosts = []
    for address in hostlist.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"RedisStore url {_masked(url)!r}: {address!r} is not host:port")
        hosts.append((host, int(port)))
    if parts.scheme == "redis+cluster":
        return _Topology("cluster", hosts, auth=auth)
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ImproperlyConfigured(
            f"RedisStore url {_masked(url)!r}: a Sentinel URL names the master, "
            "redis+sentinel://host:port/NAME[/DB]"
        )
    return _Topology("sentinel", hosts, path[0], int(path[1]) if len(path) == 2 else 0, auth)


def _masked(url: str) -> str:
    """``url`` without its credentials, for messages."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _sentinels(client: typing.Any) -> list[typing.Any]:
    """The Sentinel clients behind a Sentinel-managed master's client (none for other clients)."""
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    return list(getattr(manager, "sentinels", ()))
