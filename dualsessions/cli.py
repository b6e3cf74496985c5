"""The ``dualsessions`` command: look at, count, delete and revoke sessions from a shell.

    dualsessions --store redis://localhost:6379/0 list
    DUALSESSIONS_STORE=redis://... dualsessions revoke-user ada
    dualsessions decode 'eyJ1c2VyIjoi...' --secret "$SECRET_KEY"

Tables for people; with ``--json``, every command prints one compact JSON document (``list``: an array,
one session a line). A store URL is used as written or refused, never guessed at (a db of "abc" is not
db 0). Bad input ends with one line on stderr and exit status 1 (2 for a command line that doesn't
parse), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
import typing
import urllib.parse
import warnings

from . import admin
from ._sync_engine import SyncEngine
from .core import METADATA_KEY, Options, SessionState
from .exceptions import SessionError
from .serializers import JsonSerializer
from .stores.base import describe
from .stores.cookie import CookieStore
from .stores.memory import InMemoryStore

if typing.TYPE_CHECKING:
    from .stores.sql import SQLStore

STORE_HELP = (
    "the store: redis://host:port/db (rediss://, unix:///path?db=N, redis+cluster://host:port,.../, "
    "redis+sentinel://host:port,.../master/db too), sqlite:///path or postgresql://..., 'memory', or "
    "module:factory naming the apps' own store (a store, a function returning one, or a dict of the apps' "
    "options with 'store', for encryptor=, serializer=, hash_ids and prefixes to match) "
    "(default: $DUALSESSIONS_STORE)"
)
#: What --store may be, for the message when it is none of them.
_STORE_KINDS = (
    "a redis://, rediss://, unix://, redis+cluster://, redis+sentinel://, sqlite:// or postgresql:// URL, "
    "'memory', or module:factory"
)


#: The status of a command whose reader went away (`dualsessions list | head`), as SIGPIPE gives.
BROKEN_PIPE = 141


def main(argv: typing.Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help, or a command line that doesn't parse: its text goes out now
        if not _flushed():
            return BROKEN_PIPE
        raise
    noted = _Warnings()
    logger = logging.getLogger("dualsessions")
    logger.addHandler(noted)
    try:
        code = int(args.run(args) or 0)
        if not _flushed():  # here, not at exit, where a reader gone meanwhile would end in a traceback
            return BROKEN_PIPE
        for message in noted.messages:
            print(f"dualsessions: warning: {message}", file=sys.stderr)
        return code
    except (SessionError, ValueError) as error:
        print(f"dualsessions: {_one_line(str(error))}{noted.aside()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dualsessions: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away while the command wrote: stop without a word
        _flushed()
        return BROKEN_PIPE
    except Exception as error:  # one line, never a traceback, whatever the input or the store does
        print(
            f"dualsessions: {type(error).__name__}: {_one_line(str(error))}{noted.aside()}",
            file=sys.stderr,
        )
        return 1
    finally:
        logger.removeHandler(noted)
        made = getattr(args, "made_store", None)
        if made is not None:  # a store the command made from a URL: its connections end with it
            made.close()


class _Warnings(logging.Handler):
    """What the package warns of during a command (a record it can't read, say), kept to be told in the
    command's own lines: after its output, or inside its one error line (it also keeps Python from
    printing them, bare, on its own)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(_one_line(record.getMessage()))

    def aside(self) -> str:
        """The warnings, for the end of an error line."""
        if not self.messages:
            return ""
        more = len(self.messages) - 1
        return f" (warning: {self.messages[0]}{f'; and {more} more' if more else ''})"


def _flushed() -> bool:
    """Send what stdout holds; False when its reader went away, and stdout then writes nowhere (what is
    left in its buffer would fail again when Python flushes it at exit)."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _printable(value: object) -> str:
    """A value for a person's terminal: what a client chose (a user name, say) may hold escape
    sequences or carriage returns that would rewrite the screen; each unprintable character becomes
    U+FFFD, as in a recorded user agent."""
    text = "" if value is None else str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else "\ufffd" for c in text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dualsessions", description="Look at, count, delete and revoke dualsessions sessions."
    )
    parser.add_argument("--store", default=os.environ.get("DUALSESSIONS_STORE"), help=STORE_HELP)
    parser.add_argument(
        "--prefix",
        default=os.environ.get("DUALSESSIONS_PREFIX", "starsessions."),
        help="the Redis key prefix the apps use (default: $DUALSESSIONS_PREFIX or 'starsessions.')",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(
        name: str, run: typing.Callable[[argparse.Namespace], int | None], text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
        sub.set_defaults(run=run)
        return sub

    command("list", _list, "list sessions: id, user, created, last access, lifetime, keys").add_argument(
        "--limit", type=_positive, default=None, help="stop after this many sessions"
    )
    command("show", _show, "show one session's data and metadata").add_argument("id")
    command("delete", _delete, "delete one session (its user's other sessions stay)").add_argument("id")
    command("count", _count, "count the live sessions")
    command("sessions", _sessions, "list a user's sessions and their devices, latest first").add_argument(
        "user"
    )
    revoke = command("revoke-user", _revoke_user, "end every session of a user, in every app")
    revoke.add_argument("user")
    revoke.add_argument("--keep", metavar="ID", default=None, help="leave this session alone")
    command("purge-expired", _purge, "drop expired sessions and index entries the store still keeps")
    decode = command("decode", _decode, "decode a CookieStore session cookie (needs its secret key)")
    decode.add_argument("cookie", help="the cookie's value")
    decode.add_argument(
        "--secret",
        action="append",
        default=None,
        help="the secret key; repeat for rotated keys (default: $DUALSESSIONS_SECRET)",
    )
    decode.add_argument(
        "--starsessions", action="store_true", help="also read a cookie in starsessions' format"
    )
    return parser


# -- stores --------------------------------------------------------------------------------------------


class _Target(typing.NamedTuple):
    """The store the command works on, and the apps' options for reading its records."""

    store: typing.Any
    options: Options
    #: Named by a URL or "memory": the apps may hash ids or encrypt records in ways it doesn't know.
    guessed: bool


def _store(args: argparse.Namespace) -> _Target:
    spec = args.store
    if not spec:
        raise SessionError("no store: pass --store redis://... (or set DUALSESSIONS_STORE)")
    scheme, separator, _ = spec.partition("://")
    if scheme in _REDIS_SCHEMES:
        from .stores.redis import RedisStore

        _check_redis_url(spec)
        args.made_store = RedisStore(url=spec, prefix=args.prefix, timeout=5)
        return _Target(args.made_store, {}, True)
    if scheme.split("+")[0] in ("sqlite", "postgresql"):
        args.made_store = _sql_store(spec)
        return _Target(args.made_store, {}, True)
    if separator:
        raise SessionError(f"unknown store {_masked(spec)!r}: use {_STORE_KINDS}")
    if spec == "memory":
        return _Target(InMemoryStore(), {}, True)
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SessionError(f"unknown store {spec!r}: use {_STORE_KINDS}")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise SessionError(f"can't load the store {spec!r}: {error}") from None
    if isinstance(found, type) or (callable(found) and not hasattr(found, "read")):
        found = found()
    options: dict[str, typing.Any] = {}
    if isinstance(found, dict):
        options = dict(found)
        found = options.pop("store", None)
        unknown = sorted(set(options) - set(Options.__annotations__))
        if unknown:
            raise SessionError(f"{spec!r}: unknown option(s) {', '.join(map(repr, unknown))}")
    if not hasattr(found, "read"):
        raise SessionError(f"{spec!r} is not a session store (nor a dict of options with 'store')")
    return _Target(found, typing.cast(Options, options), False)


# -- store URLs: taken as written, or refused with the part that is wrong ----------------------------------

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "redis+sentinel")
_ONE_SERVER = ("redis", "rediss", "unix")
_TCP = ("redis", "rediss")


class _Option(typing.NamedTuple):
    """A query option of a Redis URL: the schemes that take it, and what its value must be."""

    schemes: tuple[str, ...]
    valid: typing.Callable[[str], bool]
    expected: str
    #: Taken only where the installed redis-py turns it into its type (older ones pass the text on).
    typed_by_redis_py: bool = False


def _whole(minimum: int) -> typing.Callable[[str], bool]:
    return lambda text: text.isascii() and text.isdigit() and int(text) >= minimum


def _seconds(text: str) -> bool:
    try:
        return 0 < float(text) < math.inf
    except ValueError:
        return False


def _yes_no(text: str) -> bool:
    return text.lower() in ("yes", "no", "true", "false", "1", "0")


def _text(text: str) -> bool:
    return True


#: The options the command takes in a redis://, rediss:// or unix:// URL: redis-py's, but only those
#: that are plain values, checked here (redis-py reads any text as "yes", and some only when it connects).
_REDIS_OPTIONS = {
    "db": _Option(_ONE_SERVER, _whole(0), "a number from 0"),
    "socket_timeout": _Option(_ONE_SERVER, _seconds, "seconds, more than 0"),
    "socket_connect_timeout": _Option(_ONE_SERVER, _seconds, "seconds, more than 0"),
    "socket_keepalive": _Option(_TCP, _yes_no, "yes or no"),
    "retry_on_timeout": _Option(_ONE_SERVER, _yes_no, "yes or no"),
    "health_check_interval": _Option(_ONE_SERVER, _whole(0), "whole seconds, from 0"),
    "max_connections": _Option(_ONE_SERVER, _whole(1), "a number from 1"),
    "client_name": _Option(_ONE_SERVER, _text, "a name"),
    "username": _Option(_ONE_SERVER, _text, "a user name"),
    "password": _Option(_ONE_SERVER, _text, "a password"),
    "protocol": _Option(_ONE_SERVER, ("2", "3").__contains__, "2 or 3", typed_by_redis_py=True),
    "socket_read_size": _Option(_ONE_SERVER, _whole(1), "a number of bytes from 1", typed_by_redis_py=True),
    "ssl_cert_reqs": _Option(
        ("rediss",), ("none", "optional", "required").__contains__, "none, optional or required"
    ),
    "ssl_check_hostname": _Option(("rediss",), _yes_no, "yes or no"),
    "ssl_ca_certs": _Option(("rediss",), _text, "a file"),
    "ssl_ca_path": _Option(("rediss",), _text, "a directory"),
    "ssl_certfile": _Option(("rediss",), _text, "a file"),
    "ssl_keyfile": _Option(("rediss",), _text, "a file"),
    "ssl_password": _Option(("rediss",), _text, "a password"),
    "ssl_ciphers": _Option(("rediss",), _text, "a cipher list"),
}


def _redis_options() -> dict[str, _Option]:
    """The options of :data:`_REDIS_OPTIONS` that the installed redis-py reads as they are meant."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS as typed

    return {
        name: option
        for name, option in _REDIS_OPTIONS.items()
        if not option.typed_by_redis_py or name in typed
    }


#: The options SQLAlchemy's SQLite drivers take in a URL (with ``uri=true``, SQLite's own URI options too).
_SQLITE_OPTIONS = frozenset(
    {"timeout", "check_same_thread", "isolation_level", "detect_types", "cached_statements", "uri"}
)


def _check_redis_url(spec: str) -> None:
    """Refuse what redis-py would take another way than written (``/abc`` as db 0, an option it ignores
    or fails on when it connects); RedisStore then checks the hosts of Cluster and Sentinel URLs."""
    if "#" in spec:  # (the URL is not repeated: what follows may be part of a password)
        raise SessionError("bad store URL: it has a '#', which ends a URL (in a password or path, write %23)")
    parts = _split(spec)
    scheme = parts.scheme
    options = _query_options(spec, parts.query)
    if scheme not in _ONE_SERVER:  # redis+cluster, redis+sentinel
        if options:
            raise _bad_url(spec, f"{scheme}:// takes no option, got {', '.join(map(repr, options))}")
        if scheme == "redis+cluster" and parts.path not in ("", "/"):
            raise _bad_url(spec, f"a cluster has one db: nothing after host:port,.../, got {parts.path!r}")
        return
    taken_here = _redis_options()
    for name, value in options.items():
        option = taken_here.get(name)
        if option is None or scheme not in option.schemes:
            known = ", ".join(known for known, taken in taken_here.items() if scheme in taken.schemes)
            raise _bad_url(spec, f"unknown option {name!r} ({scheme}:// takes {known})")
        if not option.valid(value):
            raise _bad_url(spec, f"{name} is {option.expected}, not {value!r}")
    if scheme == "unix":
        if parts.netloc.rpartition("@")[2]:
            raise _bad_url(spec, "a unix:// URL has no host: unix:///path/to/redis.sock?db=0")
        if not parts.path:
            raise _bad_url(spec, "no socket path: unix:///path/to/redis.sock?db=0")
        return
    _check_port(spec, parts)
    db = parts.path.strip("/")  # (redis-py reads /0/ as db 0)
    if db and not _whole(0)(db):
        raise _bad_url(spec, f"the db is a number from 0 (redis://host:port/0), not {db!r}")
    if db and "db" in options:
        raise _bad_url(spec, "the db is given twice: in the path and as ?db=")


def _sql_store(spec: str) -> SQLStore:
    """An SQLStore on ``spec``, its engine made now (it connects later): SQLAlchemy then refuses a
    driver it doesn't have and options the driver doesn't take (PostgreSQL's own are checked by psycopg
    when it connects)."""
    from .stores.sql import SQLStore  # first: without SQLAlchemy, it says what to install

    parts = _split(spec)
    _check_port(spec, parts)
    if parts.scheme.startswith("sqlite"):  # (some SQLAlchemy versions pass unknown ones by silently)
        options = _query_options(spec, parts.query)
        unknown = sorted(set(options) - _SQLITE_OPTIONS)
        if unknown and options.get("uri", "").lower() not in ("true", "1"):
            raise _bad_url(
                spec, f"unknown option {unknown[0]!r} (SQLite takes {', '.join(sorted(_SQLITE_OPTIONS))})"
            )
    import sqlalchemy as sa

    try:
        store = SQLStore(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("error", sa.exc.SAWarning)  # an option the driver would ignore
            store.sync_engine()
    except sa.exc.SAWarning as warning:  # (what the driver would ignore; refused here)
        raise _bad_url(spec, f"SQLAlchemy warns: {warning.args[0]}") from None
    except (sa.exc.ArgumentError, ImportError, ValueError, TypeError) as error:
        raise _bad_url(spec, str(error)) from None
    return store


def _query_options(spec: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if name in options:
            raise _bad_url(spec, f"option {name!r} is given twice")
        if not value:
            raise _bad_url(spec, f"option {name!r} has no value")
        options[name] = value
    return options


def _check_port(spec: str, parts: urllib.parse.SplitResult) -> None:
    port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]  # (after an IPv6 address)
    if port and not (_whole(1)(port) and int(port) < 65536):
        raise _bad_url(spec, f"the port is a number from 1 to 65535, not {port!r}")


def _split(spec: str) -> urllib.parse.SplitResult:
    try:
        return urllib.parse.urlsplit(spec)
    except ValueError as error:  # ("Invalid IPv6 URL": a bracket left open)
        raise SessionError(f"bad store URL: {error}") from None


def _bad_url(spec: str, problem: str) -> SessionError:
    return SessionError(f"bad store URL {_masked(spec)!r}: {problem}")


def _masked(spec: str) -> str:
    """``spec`` as written, with its password (if any) hidden: for messages."""
    try:
        netloc = urllib.parse.urlsplit(spec).netloc
    except ValueError:
        return spec.partition("://")[0] + "://..."
    credentials, _, address = netloc.rpartition("@")
    user, colon, _ = credentials.partition(":")
    masked = spec.replace(netloc, f"{user}:***@{address}", 1) if colon else spec
    return _PASSWORD_OPTION.sub(r"\1***", masked)  # and ?password=, ?ssl_password=


_PASSWORD_OPTION = re.compile(r"([?&](?:ssl_)?password=)[^&]*")


def _not_found(target: _Target, session_id: str) -> SessionError:
    hint = ""
    if target.guessed:  # the truth as far as it goes: say what else could be the matter
        hint = " (apps that hash ids or encrypt records: give their store with --store module:factory)"
    return SessionError(f"no session with id {session_id!r} in {describe(target.store)}{hint}")


# -- commands --------------------------------------------------------------------------------------------


def _records(target: _Target, ids: typing.Iterable[str]) -> typing.Iterator[tuple[str, SessionState]]:
    """Each live session, read without extending it."""
    engine = SyncEngine(target.store, target.options)
    for session_id in ids:
        handle = engine.begin(session_id, extend=False)
        handle.load()
        state = handle.state
        if not state.is_new:  # it may have expired since it was listed
            yield session_id, state


def _list(args: argparse.Namespace) -> None:
    """Streams: records are read a batch at a time and each row is printed as it is decoded, so a
    million sessions cost the memory of one batch."""
    target = _store(args)
    engine = SyncEngine(target.store, target.options)
    progress = _Progress("reading", enabled=not args.json)
    output = _JsonRows() if args.json else _TableRows(LIST_COLUMNS, before_printing=progress.clear)
    for session_id, raw in admin.session_records(target.store):
        state = engine.begin(session_id, extend=False).state
        engine.decode(state, session_id, raw, for_changes=False)
        if state.is_new:  # undecodable, or expired since it was listed
            continue
        output.add(_summary(session_id, state))
        progress.step()
        if args.limit is not None and progress.count >= args.limit:
            break
    progress.done()
    output.close()


LIST_COLUMNS = ["id", "user", "created", "last_access", "lifetime", "keys"]


def _show(args: argparse.Namespace) -> None:
    target = _store(args)
    found = list(_records(target, [args.id]))
    if not found:
        raise _not_found(target, args.id)
    session_id, state = found[0]
    record = {**_summary(session_id, state), "data": dict(state.session or {})}
    if args.json:
        _print_json(record)
    else:
        fields = {key: record[key] for key in ("id", "user", "created", "last_access", "lifetime")}
        _print_record(fields, record["data"])


def _delete(args: argparse.Namespace) -> None:
    target = _store(args)
    if not admin.delete_session(target.store, args.id, **target.options):
        raise _not_found(target, args.id)
    _say(args, {"deleted": args.id}, f"deleted {args.id}")


def _count(args: argparse.Namespace) -> None:
    store = _store(args).store
    with _Progress("counting", enabled=not args.json).ticking():
        count = admin.count_sessions(store)  # the store's own count (its default: a scan)
    _say(args, {"count": count}, str(count))


def _sessions(args: argparse.Namespace) -> None:
    target = _store(args)
    output = _JsonRows() if args.json else _TableRows(SESSIONS_COLUMNS, before_printing=lambda: None)
    for row in admin.user_sessions(target.store, args.user, **target.options):
        output.add(
            {
                "id": row.session_id,
                "created": _time(row.created),
                "last_seen": _time(row.last_seen),
                "user_agent": row.user_agent,
                "address": row.address,
            }
        )
    output.close()


SESSIONS_COLUMNS = ["id", "created", "last_seen", "address", "user_agent"]


def _revoke_user(args: argparse.Namespace) -> None:
    target = _store(args)
    hooks = target.options.get("event_hooks")  # a --store factory's options may register hooks
    with _Progress(f"revoking {args.user}'s sessions", enabled=not args.json).ticking():
        revoked = admin.revoke_user_sessions(target.store, args.user, keep=args.keep, event_hooks=hooks)
    _say(args, {"user": args.user, "revoked": revoked}, f"revoked {revoked} session(s) of {args.user}")


def _purge(args: argparse.Namespace) -> None:
    store = _store(args).store
    with _Progress("purging", enabled=not args.json).ticking():
        purged = admin.purge_expired(store)
    _say(args, {"purged": purged}, f"purged {purged}")


def _decode(args: argparse.Namespace) -> None:
    secrets = args.secret or [os.environ.get("DUALSESSIONS_SECRET", "")]
    if not any(secrets):
        raise SessionError("decode needs the secret key: --secret KEY (or set DUALSESSIONS_SECRET)")
    store = CookieStore(secrets, read_starsessions_cookies=args.starsessions)
    raw = store.sync.read(args.cookie, 0)
    if not raw:
        raise SessionError("the cookie doesn't verify with this secret: wrong key, tampered, or expired")
    try:
        data = JsonSerializer().deserialize(raw)
    except Exception as error:  # (RecursionError for a deeply nested one, too)
        raise SessionError(f"the cookie verifies, but its payload is not JSON it can read: {error}") from None
    if not isinstance(data, dict):
        raise SessionError(f"the cookie verifies, but its payload is a {type(data).__name__}, not a session")
    metadata = data.pop(METADATA_KEY, {})
    if args.json:
        _print_json({"metadata": metadata, "data": data})
        return
    fields = {
        "created": _time(metadata.get("created")),
        "last_access": _time(metadata.get("last_access")),
        "lifetime": metadata.get("lifetime"),
    }
    _print_record(fields, data)


# -- output ----------------------------------------------------------------------------------------------


def _summary(session_id: str, state: SessionState) -> dict[str, typing.Any]:
    metadata = state.metadata or {"lifetime": 0, "created": 0.0, "last_access": 0.0}
    return {
        "id": session_id,
        "user": state.user,
        "created": _time(metadata["created"]),
        "last_access": _time(state.recorded_last_access),
        "lifetime": metadata["lifetime"],
        "keys": len(state.session or {}),
    }


def _time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def _say(args: argparse.Namespace, data: typing.Any, text: str) -> None:
    if args.json:
        _print_json(data)
    else:
        print(text)


def _print_json(data: typing.Any) -> None:
    """One JSON document on one line (``{"count": 3}``), for programs."""
    print(json.dumps(data, default=repr))


def _print_record(fields: dict[str, typing.Any], data: dict[str, typing.Any]) -> None:
    """For people: a field a line, then the session's data as indented JSON."""
    for key, value in fields.items():
        print(f"{key:12} {_printable(value)}".rstrip())
    print(json.dumps(data, indent=2, sort_keys=True, default=repr))


class _JsonRows:
    """A JSON array printed a row at a time, one object a line (so a program may also read it line by
    line)."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, row: dict[str, typing.Any]) -> None:
        print(("[\n" if not self.count else ",\n") + json.dumps(row, default=repr), end="")
        self.count += 1

    def close(self) -> None:
        print("\n]" if self.count else "[]")


class _TableRows:
    """A table printed a batch of rows at a time, its columns as wide as the first batch needs."""

    BATCH = 1000

    def __init__(self, columns: list[str], before_printing: typing.Callable[[], None]) -> None:
        self.columns = columns
        self.before_printing = before_printing  # (clears a progress line on the same terminal)
        self.widths: list[int] | None = None
        self.pending: list[list[str]] = []
        self.count = 0

    def add(self, row: dict[str, typing.Any]) -> None:
        self.pending.append([_printable(row[c]) for c in self.columns])
        self.count += 1
        if len(self.pending) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        self.before_printing()
        if self.widths is None:
            self.widths = [
                max([len(c), *(len(line[i]) for line in self.pending)]) for i, c in enumerate(self.columns)
            ]
            print(
                "  ".join(c.upper().ljust(w) for c, w in zip(self.columns, self.widths, strict=True)).rstrip()
            )
        for line in self.pending:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, self.widths, strict=True)).rstrip())
        self.pending = []

    def close(self) -> None:
        self._flush()
        print(f"({self.count} session{'s' if self.count != 1 else ''})")


class _Progress:
    """A counter on stderr while a long scan runs, only when a person is watching."""

    def __init__(self, verb: str, enabled: bool) -> None:
        self.verb = verb
        self.enabled = enabled and sys.stderr.isatty()
        self.count = 0
        self.shown = False

    def step(self) -> None:
        self.count += 1
        if self.enabled and self.count % 500 == 0:
            sys.stderr.write(f"\r{self.verb}... {self.count:,} sessions")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Take the progress line off the terminal (before other output, or at the end)."""
        if self.enabled and self.shown:
            sys.stderr.write("\r\x1b[2K")  # (erases the whole line, however long it was)
            sys.stderr.flush()
            self.shown = False

    @contextlib.contextmanager
    def ticking(self) -> typing.Iterator[None]:
        """For one long store call that can't report its steps: the time it has run, every second."""
        if not self.enabled:
            yield
            return
        started, stop = time.monotonic(), threading.Event()

        def tick() -> None:
            while not stop.wait(1.0):
                sys.stderr.write(f"\r{self.verb}... {time.monotonic() - started:,.0f} s")
                sys.stderr.flush()
                self.shown = True

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
            self.clear()
