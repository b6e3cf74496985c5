"""The ``dualsessions`` command: look at, count, delete and revoke sessions from a shell.

    dualsessions --store redis://localhost:6379/0 list
    DUALSESSIONS_STORE=redis://... dualsessions revoke-user ada
    dualsessions decode 'eyJ1c2VyIjoi...' --secret "$SECRET_KEY"

Tables for people, ``--json`` for programs. Bad input ends with one line on stderr and exit status 1
(2 for a command line that doesn't parse), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import os
import sys
import threading
import time
import typing

from . import admin
from ._sync_engine import SyncEngine
from .core import METADATA_KEY, Options, SessionState
from .exceptions import SessionError
from .serializers import JsonSerializer
from .stores.base import describe
from .stores.cookie import CookieStore
from .stores.memory import InMemoryStore

STORE_HELP = (
    "the store: redis://host:port/db (rediss://, unix:// too), sqlite:///path or "
    "postgresql+psycopg://..., 'memory', or module:factory naming "
    "the apps' own store (a store, a function returning one, or a dict of the apps' options with 'store', "
    "for encryptor=, serializer=, hash_ids and prefixes to match) (default: $DUALSESSIONS_STORE)"
)


def main(argv: typing.Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (SessionError, ValueError) as error:
        print(f"dualsessions: {_one_line(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dualsessions: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, never a traceback, whatever the input or the store does
        print(f"dualsessions: {type(error).__name__}: {_one_line(str(error))}", file=sys.stderr)
        return 1
    finally:
        made = getattr(args, "made_store", None)
        if made is not None:  # a store the command made from a URL: its connections end with it
            made.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
    command("revoke-user", _revoke_user, "end every session of a user, in every app").add_argument("user")
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
    if scheme in ("redis", "rediss", "unix"):
        from .stores.redis import RedisStore

        args.made_store = RedisStore(url=spec, prefix=args.prefix, timeout=5)
        return _Target(args.made_store, {}, True)
    if scheme.split("+")[0] in ("sqlite", "postgresql"):
        from .stores.sql import SQLStore

        args.made_store = SQLStore(spec)
        return _Target(args.made_store, {}, True)
    if separator:
        raise SessionError(f"unknown store {spec!r}: use redis://..., 'memory', or module:factory")
    if spec == "memory":
        return _Target(InMemoryStore(), {}, True)
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SessionError(f"unknown store {spec!r}: use redis://..., 'memory', or module:factory")
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


def _revoke_user(args: argparse.Namespace) -> None:
    store = _store(args).store
    with _Progress(f"revoking {args.user}'s sessions", enabled=not args.json).ticking():
        revoked = admin.revoke_user_sessions(store, args.user)
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
        print(f"{key:12} {'' if value is None else value}".rstrip())
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
        self.pending.append([("" if row[c] is None else str(row[c])) for c in self.columns])
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
