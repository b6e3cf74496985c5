"""In-process benchmarks: what a request costs with dualsessions and with the libraries people use.

No HTTP server: ASGI apps are called with a synthetic scope, receive and send; WSGI apps with a
prepared environ. Every measured request carries a real session cookie captured from a priming
request. Stacks are measured in many short blocks, interleaved round after round, so that every stack
sees the machine's fast and slow spells alike. Each stack's fastest tenth of blocks is what it costs
when nothing else gets in the way. The rounds are shared by several processes run one after another
(``--processes``, 5 by default), since a stack's cost moves more from one process to the next than
within one; the table shows the middle process's figure for each stack, and each target the middle
one of the processes' own ratios, with the lowest and the highest beside it (how far apart they are
says how still the figures held) and the ratio of medians. The benchmark, its Redis and its
PostgreSQL share one core (``pin_to_one_core``; ``--spread`` leaves them to the OS). Run it with
``scripts/bench``.

Scenarios: ``bare`` (the framework alone), ``read`` (read one key of an existing session), ``write``
(change one key of an existing session), ``new`` (a visitor without a cookie sets one key). For Redis
stacks the Redis commands per request are counted (the server's own command statistics).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import inspect
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import typing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SCENARIOS = ("read", "write", "new")
#: Every block's seconds per request, by stack and scenario.
Samples: typing.TypeAlias = "dict[tuple[str, str], list[float]]"
#: One process's samples, and its Redis commands per request (by stack and "scenario:commands").
Run: typing.TypeAlias = "tuple[Samples, dict[tuple[str, str], float]]"
#: Clients and stores the apps opened, closed at the end of the run.
_opened: list[typing.Any] = []


def opened(resource: typing.Any) -> typing.Any:
    _opened.append(resource)
    return resource


async def close_opened() -> None:
    while _opened:
        resource = _opened.pop()  # (the last opened first: a SQLite store before its directory)
        if hasattr(resource, "cleanup"):  # a temporary directory
            resource.cleanup()
            continue
        if hasattr(resource, "aclose"):
            await resource.aclose()
        async_client = type(resource).__module__.startswith("redis.asyncio")  # close() is its old aclose()
        if (
            hasattr(resource, "close")
            and not async_client
            and not inspect.iscoroutinefunction(resource.close)
        ):
            resource.close()
        connection = getattr(resource, "_connection", None)  # starsessions' RedisStore
        if connection is not None:
            await connection.aclose()


SECRET = "benchmark secret"


#: A worker process's PostgreSQL: the server its parent started (see run_in_processes).
_POSTGRES_URL = "DUALSESSIONS_BENCH_POSTGRES"


class _Postgres:
    """A PostgreSQL server for the SQLStore rows, started when a stack first needs it (the tests'
    own: a fresh cluster on a free loopback port), stopped at the end of the run."""

    def __init__(self) -> None:
        self._running: typing.Any = None
        self._url = ""

    def url(self) -> str:
        given = os.environ.get(_POSTGRES_URL)  # a worker process: its parent's server
        if given:
            return given
        if self._running is None:
            sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
            from tests.postgres_server import running_postgres

            self._running = running_postgres()
            self._url = self._running.__enter__()
        return self._url

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


POSTGRES = _Postgres()


@dataclasses.dataclass
class Stack:
    name: str
    kind: str  # "asgi" or "wsgi"
    framework: str  # the bare stack whose cost is the baseline
    build: typing.Callable[[str | None], typing.Any]  # redis url -> app with /read, /write, /new
    redis: bool = False
    cookie: str = "session"
    header: str | None = None  # the session id travels in this header instead (session_header)


# -- the apps ----------------------------------------------------------------------------------------


def _starlette(handlers: dict[str, typing.Any], middleware: list[typing.Any]) -> typing.Any:
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(
        routes=[Route(path, handler) for path, handler in handlers.items()], middleware=middleware
    )


def asgi_bare(url: str | None) -> typing.Any:
    from starlette.responses import PlainTextResponse

    async def ok(request: typing.Any) -> typing.Any:
        return PlainTextResponse("ok")

    return _starlette({"/read": ok, "/write": ok, "/new": ok}, [])


def _loading_handlers(load: typing.Any) -> dict[str, typing.Any]:
    from starlette.responses import PlainTextResponse

    async def read(request: typing.Any) -> typing.Any:
        if load is not None:
            await load(request)
        return PlainTextResponse(str(request.session.get("k")))

    async def write(request: typing.Any) -> typing.Any:
        if load is not None:
            await load(request)
        request.session["k"] = time.perf_counter_ns()
        return PlainTextResponse("ok")

    return {"/read": read, "/write": write, "/new": write}


def asgi_starlette_sessions(url: str | None) -> typing.Any:
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    return _starlette(_loading_handlers(None), [Middleware(SessionMiddleware, secret_key=SECRET)])


def _store(library: str, kind: str, url: str | None) -> typing.Any:
    module = __import__(library)
    if kind == "cookie":
        return module.CookieStore(SECRET)
    if kind == "memory":
        return module.InMemoryStore()
    if kind in ("sqlite", "postgres"):
        import tempfile

        from dualsessions.stores.sql import SQLStore

        if kind == "sqlite":  # a file in a fresh directory, as an app without a server
            directory = opened(tempfile.TemporaryDirectory(prefix="dualsessions-bench-"))
            store = SQLStore(f"sqlite:///{directory.name}/sessions.db")
        else:
            store = SQLStore(POSTGRES.url())
        store.create_table()
        return opened(store)
    return opened(__import__(f"{library}.stores.redis", fromlist=["RedisStore"]).RedisStore(url=url))


def asgi_sessions(
    library: str, kind: str, **options: typing.Any
) -> typing.Callable[[str | None], typing.Any]:
    def build(url: str | None) -> typing.Any:
        from starlette.middleware import Middleware

        module = __import__(library)
        store = _store(library, kind, url)
        middleware = [Middleware(module.SessionMiddleware, store=store, cookie_https_only=False, **options)]
        return _starlette(_loading_handlers(module.load_session), middleware)

    return build


def _ignore_event(event: object) -> None:
    """An event hook that does nothing (the benchmark of ``event_hooks``)."""


def asgi_redis_floor(url: str | None) -> typing.Any:
    """Hand-written: exactly the GET (and SET) a session needs, nothing else."""
    import secrets

    import redis.asyncio
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    client = opened(redis.asyncio.Redis.from_url(typing.cast(str, url)))

    async def read(request: Request) -> typing.Any:
        await client.get("floor:" + request.cookies.get("session", ""))
        return PlainTextResponse("ok")

    async def write(request: Request) -> typing.Any:
        key = "floor:" + request.cookies.get("session", "")
        await client.get(key)
        await client.set(key, b'{"k":1}', ex=3600)
        return PlainTextResponse("ok")

    async def new(request: Request) -> typing.Any:
        session_id = secrets.token_urlsafe(24)
        await client.set("floor:" + session_id, b'{"k":1}', ex=3600)
        response = PlainTextResponse("ok")
        response.set_cookie("session", session_id)
        return response

    return _starlette({"/read": read, "/write": write, "/new": new}, [])


def wsgi_bare(url: str | None) -> typing.Any:
    from werkzeug.wrappers import Response

    def app(environ: typing.Any, start_response: typing.Any) -> typing.Any:
        return Response("ok")(environ, start_response)

    return app


def _werkzeug_session_app() -> typing.Any:
    from werkzeug.wrappers import Request, Response

    from dualsessions.wsgi import get_session

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        session = get_session(request.environ)
        if request.path == "/read":
            return Response(str(session.get("k")))
        session["k"] = time.perf_counter_ns()
        return Response("ok")

    return app


def wsgi_dualsessions(kind: str) -> typing.Callable[[str | None], typing.Any]:
    def build(url: str | None) -> typing.Any:
        from dualsessions.wsgi import SessionMiddleware

        store = _store("dualsessions", kind, url)
        return SessionMiddleware(_werkzeug_session_app(), store=store, cookie_https_only=False)

    return build


def wsgi_redis_floor(url: str | None) -> typing.Any:
    import secrets

    import redis
    from werkzeug.wrappers import Request, Response

    client = opened(redis.Redis.from_url(typing.cast(str, url)))

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        session_id = request.cookies.get("session")
        if request.path == "/new" or session_id is None:
            session_id = secrets.token_urlsafe(24)
            client.set("floor:" + session_id, b'{"k":1}', ex=3600)
            response = Response("ok")
            response.set_cookie("session", session_id)
            return response
        client.get("floor:" + session_id)
        if request.path == "/write":
            client.set("floor:" + session_id, b'{"k":1}', ex=3600)
        return Response("ok")

    return app


def _flask(configure: typing.Callable[[typing.Any], None] | None) -> typing.Any:
    import flask

    app = flask.Flask("bench")
    app.secret_key = SECRET
    if configure is not None:
        configure(app)

    @app.route("/read")
    def read() -> str:
        return str(flask.session.get("k"))

    @app.route("/write")
    @app.route("/new")
    def write() -> str:
        flask.session["k"] = time.perf_counter_ns()
        return "ok"

    return app


def flask_bare(url: str | None) -> typing.Any:
    import flask

    app = flask.Flask("bench")

    @app.route("/read")
    @app.route("/write")
    @app.route("/new")
    def ok() -> str:
        return "ok"

    return app


def flask_signed_cookie(url: str | None) -> typing.Any:
    return _flask(None)


def flask_dualsessions(kind: str) -> typing.Callable[[str | None], typing.Any]:
    def build(url: str | None) -> typing.Any:
        from dualsessions.flask import DualSessions

        store = _store("dualsessions", kind, url)
        return _flask(lambda app: DualSessions(app, store=store, rolling=False))

    return build


def flask_session_redis(url: str | None) -> typing.Any:
    def configure(app: typing.Any) -> None:
        import redis
        from flask_session import Session

        app.config.update(
            SESSION_TYPE="redis", SESSION_REDIS=opened(redis.Redis.from_url(typing.cast(str, url)))
        )
        Session(app)

    return _flask(configure)


def flask_redis_floor(url: str | None) -> typing.Any:
    import secrets

    import flask
    import redis

    client = opened(redis.Redis.from_url(typing.cast(str, url)))
    app = flask.Flask("bench")

    @app.route("/read")
    @app.route("/write")
    @app.route("/new")
    def handle() -> typing.Any:
        session_id = flask.request.cookies.get("session")
        if flask.request.path == "/new" or session_id is None:
            session_id = secrets.token_urlsafe(24)
            client.set("floor:" + session_id, b'{"k":1}', ex=3600)
            response = flask.make_response("ok")
            response.set_cookie("session", session_id)
            return response
        client.get("floor:" + session_id)
        if flask.request.path == "/write":
            client.set("floor:" + session_id, b'{"k":1}', ex=3600)
        return "ok"

    return app


def stacks(with_peers: bool) -> list[Stack]:
    found = [
        Stack("Starlette bare app", "asgi", "starlette", asgi_bare),
        Stack("dualsessions ASGI, CookieStore", "asgi", "starlette", asgi_sessions("dualsessions", "cookie")),
        Stack(
            "dualsessions ASGI, InMemoryStore", "asgi", "starlette", asgi_sessions("dualsessions", "memory")
        ),
        Stack(
            "dualsessions ASGI, RedisStore", "asgi", "starlette", asgi_sessions("dualsessions", "redis"), True
        ),
        Stack("floor: Starlette + one Redis GET (+SET)", "asgi", "starlette", asgi_redis_floor, True),
        Stack(  # the cost of an option: a read extends the session (GETEX) and re-sends its cookie
            "dualsessions ASGI, RedisStore, idle_timeout=30 min",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "redis", idle_timeout=1800),
            True,
        ),
        Stack(
            "dualsessions ASGI, RedisStore, absolute_timeout=8 h",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "redis", absolute_timeout=8 * 3600),
            True,
        ),
        Stack(
            "dualsessions ASGI, RedisStore, session_header",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "redis", session_header="X-Session-Id"),
            True,
            header="X-Session-Id",
        ),
        Stack(  # a device refresh writes at most once a minute: these requests are within it
            "dualsessions ASGI, RedisStore, track_devices",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "redis", track_devices=True),
            True,
        ),
        Stack(  # one hook that does nothing: what building and passing the events costs
            "dualsessions ASGI, RedisStore, event_hooks=[a no-op]",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "redis", event_hooks=[_ignore_event]),
            True,
        ),
        Stack(
            "dualsessions ASGI, SQLStore (SQLite file)",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "sqlite"),
        ),
        Stack(
            "dualsessions ASGI, SQLStore (PostgreSQL)",
            "asgi",
            "starlette",
            asgi_sessions("dualsessions", "postgres"),
        ),
        Stack("Werkzeug bare app", "wsgi", "werkzeug", wsgi_bare),
        Stack("dualsessions WSGI (Werkzeug), CookieStore", "wsgi", "werkzeug", wsgi_dualsessions("cookie")),
        Stack("dualsessions WSGI (Werkzeug), InMemoryStore", "wsgi", "werkzeug", wsgi_dualsessions("memory")),
        Stack(
            "dualsessions WSGI (Werkzeug), RedisStore", "wsgi", "werkzeug", wsgi_dualsessions("redis"), True
        ),
        Stack("floor: Werkzeug + one Redis GET (+SET)", "wsgi", "werkzeug", wsgi_redis_floor, True),
        Stack(
            "dualsessions WSGI (Werkzeug), SQLStore (SQLite file)",
            "wsgi",
            "werkzeug",
            wsgi_dualsessions("sqlite"),
        ),
        Stack(
            "dualsessions WSGI (Werkzeug), SQLStore (PostgreSQL)",
            "wsgi",
            "werkzeug",
            wsgi_dualsessions("postgres"),
        ),
        Stack("Flask bare app", "wsgi", "flask", flask_bare),
        Stack("dualsessions Flask, CookieStore", "wsgi", "flask", flask_dualsessions("cookie")),
        Stack("dualsessions Flask, InMemoryStore", "wsgi", "flask", flask_dualsessions("memory")),
        Stack("dualsessions Flask, RedisStore", "wsgi", "flask", flask_dualsessions("redis"), True),
        Stack("floor: Flask + one Redis GET (+SET)", "wsgi", "flask", flask_redis_floor, True),
    ]
    if with_peers:
        found += [
            Stack(
                "Starlette SessionMiddleware (signed cookie)", "asgi", "starlette", asgi_starlette_sessions
            ),
            Stack("starsessions, CookieStore", "asgi", "starlette", asgi_sessions("starsessions", "cookie")),
            Stack(
                "starsessions, InMemoryStore", "asgi", "starlette", asgi_sessions("starsessions", "memory")
            ),
            Stack(
                "starsessions, RedisStore", "asgi", "starlette", asgi_sessions("starsessions", "redis"), True
            ),
            Stack("Flask signed-cookie session", "wsgi", "flask", flask_signed_cookie),
            Stack("Flask-Session 0.8, Redis", "wsgi", "flask", flask_session_redis, True),
        ]
    return found


# -- calling apps in-process -------------------------------------------------------------------------


def _asgi_scope(path: str, cookie: str | None, header: str | None = None) -> dict[str, typing.Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench")]
    if cookie and header:  # the id alone, in the session header
        headers.append((header.lower().encode("latin-1"), cookie.partition("=")[2].encode("latin-1")))
    elif cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("bench", 80),
        "client": ("127.0.0.1", 5000),
    }


async def asgi_request(
    app: typing.Any, path: str, cookie: str | None, header: str | None = None
) -> str | None:
    """One request; the ``name=value`` of a Set-Cookie in the response, if any (with ``header``, the
    session id that header carries, as ``session=value``)."""
    set_cookie = None
    id_header = header.lower().encode("latin-1") if header else None

    async def receive() -> dict[str, typing.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, typing.Any]) -> None:
        nonlocal set_cookie
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", ()):
                if name.lower() == b"set-cookie":
                    set_cookie = value.decode("latin-1").split(";", 1)[0]
                elif id_header is not None and name.lower() == id_header:
                    set_cookie = "session=" + value.decode("latin-1")

    await app(_asgi_scope(path, cookie, header), receive, send)
    return set_cookie


def _environ(path: str, cookie: str | None) -> dict[str, typing.Any]:
    import io

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def wsgi_request(app: typing.Any, path: str, cookie: str | None) -> str | None:
    set_cookie = None

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: typing.Any = None
    ) -> typing.Any:
        nonlocal set_cookie
        for name, value in headers:
            if name.lower() == "set-cookie":
                set_cookie = value.split(";", 1)[0]
        return lambda data: None

    result = app(_environ(path, cookie), start_response)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return set_cookie


class Runner:
    """Calls one stack's app, in its flavour, with the cookie each scenario needs."""

    def __init__(self, stack: Stack, url: str | None) -> None:
        self.stack = stack
        self.app = stack.build(url)
        self.cookie: str | None = None

    async def request(self, path: str, cookie: str | None) -> str | None:
        if self.stack.kind == "asgi":
            return await asgi_request(self.app, path, cookie, self.stack.header)
        return wsgi_request(self.app, path, cookie)

    async def prime(self) -> None:
        self.cookie = await self.request("/write", None)

    async def block(self, scenario: str, count: int) -> float:
        """Seconds per request over ``count`` requests of ``scenario``, after one request untimed: the
        block measures this stack, not the caches the stack measured before it left cold."""
        path, cookie = ("/new", None) if scenario == "new" else (f"/{scenario}", self.cookie)
        request = self.request
        gc.collect()
        await request(path, cookie)
        started = time.perf_counter()
        for _ in range(count):
            await request(path, cookie)
        return (time.perf_counter() - started) / count


# -- Redis -------------------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of its own on a free loopback port; or, given ``url``, the one a parent
    process started (``close()`` then leaves it running)."""

    def __init__(self, url: str | None = None) -> None:
        import socket
        import tempfile

        self._process: subprocess.Popen[bytes] | None = None
        if url is not None:
            self.url, self.port = url, int(url.rsplit(":", 1)[1].split("/")[0])
            return

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self._dir.name]
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL,
        )
        import redis

        for _ in range(200):
            try:
                with redis.Redis(port=self.port) as client:  # (closed: no socket left to the collector)
                    client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)

    def counts(self) -> dict[str, int]:
        import redis

        with redis.Redis(port=self.port) as client:
            stats = client.info("commandstats")
        skip = {"info", "config|resetstat", "client|setinfo", "hello", "select", "ping"}
        return {
            k.removeprefix("cmdstat_"): v["calls"]
            for k, v in stats.items()
            if k.removeprefix("cmdstat_") not in skip
        }

    def reset(self) -> None:
        import redis

        with redis.Redis(port=self.port) as client:
            client.config_resetstat()

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()
            self._dir.cleanup()


async def commands_per_request(runner: Runner, server: RedisServer, scenario: str, count: int = 20) -> float:
    path, cookie = ("/new", None) if scenario == "new" else (f"/{scenario}", runner.cookie)
    await runner.request(path, cookie)  # connections open
    server.reset()
    for _ in range(count):
        await runner.request(path, cookie)
    return sum(server.counts().values()) / count


# -- the run -----------------------------------------------------------------------------------------


async def measure(
    selected: list[Stack], url: str | None, rounds: int, block_seconds: float
) -> tuple[dict[tuple[str, str], list[float]], dict[str, Runner]]:
    runners = {stack.name: Runner(stack, url) for stack in selected}
    for runner in runners.values():
        await runner.prime()
    sizes: dict[tuple[str, str], int] = {}
    for name, runner in runners.items():  # warm up, and size blocks to about block_seconds
        for scenario in SCENARIOS:
            per_request = await runner.block(scenario, 20)
            sizes[name, scenario] = max(5, int(block_seconds / per_request))
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in sizes}
    for round_number in range(rounds):
        order = list(runners.items())
        if round_number % 2:
            order.reverse()  # interleave: no stack always runs right after the same one
        for name, runner in order:
            for scenario in SCENARIOS:
                samples[name, scenario].append(await runner.block(scenario, sizes[name, scenario]))
    return samples, runners


def memory_write_costs(sizes: tuple[int, ...], writes: int, blocks: int = 10) -> dict[int, float]:
    """Seconds an ``InMemoryStore`` write takes with each of ``sizes`` live sessions: the fastest of
    ``blocks`` blocks of writes, the sizes' blocks interleaved (one block each moved the ratio of the
    two by up to a half from one run to the next)."""
    from dualsessions import InMemoryStore
    from dualsessions.core import generate_session_id

    stores = {}
    for live in sizes:
        store = InMemoryStore()
        for _ in range(live):
            store.sync.write(generate_session_id(), b"x" * 64, 3600, 3600)
        stores[live] = (store, list(store.data)[:1000])
    fastest = dict.fromkeys(sizes, float("inf"))
    size = max(1, writes // blocks)
    for block in range(blocks):
        for live, (store, ids) in stores.items():
            gc.collect()
            started = time.perf_counter()
            for n in range(block * size, (block + 1) * size):
                store.sync.write(ids[n % len(ids)], b"y" * 64, 3600, 3600)
            fastest[live] = min(fastest[live], (time.perf_counter() - started) / size)
    return fastest


def sync_store_concurrency(requests: int = 50, latency: float = 0.01) -> float:
    """50 concurrent requests on a sync store with 10 ms latency under ASGI, against one after another."""
    from dualsessions import SyncSessionStore

    class SlowStore(SyncSessionStore):
        def read(self, session_id: str, lifetime: int) -> bytes:
            time.sleep(latency)
            return b""

        def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
            time.sleep(latency)
            return session_id

        def remove(self, session_id: str) -> None: ...

        def exists(self, session_id: str) -> bool:
            return False

    from starlette.middleware import Middleware

    import dualsessions

    app = _starlette(
        _loading_handlers(dualsessions.load_session),
        [Middleware(dualsessions.SessionMiddleware, store=SlowStore(), cookie_https_only=False)],
    )

    async def run() -> float:
        await asgi_request(app, "/new", None)
        started = time.perf_counter()
        await asyncio.gather(*(asgi_request(app, "/new", None) for _ in range(requests)))
        return time.perf_counter() - started

    return asyncio.run(run()) / (requests * latency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=200,
        help="rounds in all, shared by the processes (rounded up to a multiple of them)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        help="measure in this many processes, one after another, and judge by the middle one, or the "
        "mean of the middle two (see run_in_processes; 5, or 1 with --smoke)",
    )
    parser.add_argument("--block", type=float, default=0.003, help="seconds per measured block")
    parser.add_argument("--no-peers", action="store_true", help="only dualsessions and the floors")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--spread",
        action="store_true",
        help="leave the benchmark and its servers on whichever cores the OS picks (see pin_to_one_core)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a quick run for CI: fail if Redis commands per request rise"
    )
    parser.add_argument("--worker", metavar="FILE", help=argparse.SUPPRESS)  # one process's share
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)  # the parent's server, for a worker
    args = parser.parse_args(argv)
    if args.smoke:  # one round a process, in the caller's process (left on its cores) or its workers
        args.rounds, args.block, args.no_peers, args.spread = args.processes or 1, 0.002, True, True
    if args.processes is None:
        args.processes = 1 if args.smoke else 5

    with_peers = not args.no_peers and _peers_installed()
    if args.worker:
        return _work(args, with_peers)
    core = None if args.spread else pin_to_one_core()  # before the servers start: they inherit it
    server = RedisServer()
    try:
        selected = stacks(with_peers)
        if args.processes > 1:
            runs = run_in_processes(args, server)
        else:
            runs = [asyncio.run(_all(selected, server, args.rounds, args.block))]
    finally:
        server.close()
        POSTGRES.stop()
    # Redis commands per request: the most any process counted (the limit holds in every one).
    commands = {key: max(run[1][key] for run in runs) for key in runs[0][1]}
    each = [{key: _fast(values) for key, values in samples.items()} for samples, _ in runs]
    middle = {key: statistics.median(run[key] for run in each) for key in each[0]} | commands
    medians = {
        key: statistics.median(statistics.median(samples[key]) for samples, _ in runs) for key in runs[0][0]
    } | commands
    if len(runs) == 1:  # one process: its odd rounds and its even ones, each on its own
        samples = runs[0][0]
        parts = [
            {key: _fast(values[start::2] or values) for key, values in samples.items()} for start in (0, 1)
        ]
    else:
        parts = each
    memory = memory_write_costs((100, 100_000), 2000 if args.smoke else 20000)
    concurrency = sync_store_concurrency()
    report(selected, middle, medians, memory, concurrency, args.json, parts, core, len(runs))
    return check_command_counts(selected, middle)


#: How long a worker may take before the run gives up on it: several times what one takes here (a
#: round of every stack, about 8 s), and time to start.
_WORKER_SECONDS, _WORKER_SECONDS_PER_ROUND = 300, 60


def run_in_processes(args: argparse.Namespace, server: RedisServer) -> list[Run]:
    """The rounds shared by ``args.processes`` fresh processes, run one after another (each a
    ``--worker``, with this process's Redis and PostgreSQL): every process's samples and commands.

    A stack's cost can differ from one process to the next by more than from one round to the next
    (likely by where the interpreter's objects land in memory and how its strings hash, both
    randomized at start): the ASGI cookie read once took a tenth longer in one process than in the
    one before, in both halves of its rounds. Each process's own ratios, and their middle one, say
    what a single process can't."""
    import tempfile

    rounds = max(1, -(-args.rounds // args.processes))
    environment = dict(os.environ)
    environment[_POSTGRES_URL] = POSTGRES.url()
    command = [sys.executable, os.path.abspath(__file__), "--rounds", str(rounds), "--block", str(args.block)]
    command += ["--redis-url", server.url] + (["--no-peers"] if args.no_peers else [])
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        for number in range(args.processes):
            output = os.path.join(directory, f"{number}.json")
            print(f"process {number + 1} of {args.processes}: {rounds} rounds", file=sys.stderr, flush=True)
            # (a worker that hangs, on a server that stopped answering say, fails the run)
            subprocess.run(
                [*command, "--worker", output],
                env=environment,
                check=True,
                timeout=_WORKER_SECONDS + _WORKER_SECONDS_PER_ROUND * rounds,
            )
            with open(output) as results:
                found = json.load(results)
            runs.append(
                (
                    {_key(name): values for name, values in found["samples"].items()},
                    {_key(name): value for name, value in found["commands"].items()},
                )
            )
    return runs


def _key(name: str) -> tuple[str, str]:
    stack, _, scenario = name.rpartition(" | ")
    return stack, scenario


def _work(args: argparse.Namespace, with_peers: bool) -> int:
    """A worker's share (``--worker FILE``): its rounds, with the parent's servers, written to FILE."""
    server = RedisServer(args.redis_url)
    try:
        samples, commands = asyncio.run(_all(stacks(with_peers), server, args.rounds, args.block))
    finally:  # (the parent's servers are left running; one of its own, started without them, is not)
        server.close()
        POSTGRES.stop()
    with open(args.worker, "w") as out:
        json.dump(
            {
                "samples": {f"{k[0]} | {k[1]}": v for k, v in samples.items()},
                "commands": {f"{k[0]} | {k[1]}": v for k, v in commands.items()},
            },
            out,
        )
    return 0


def pin_to_one_core() -> int | None:
    """Run the benchmark and the servers it starts (Redis, PostgreSQL: they inherit it) on one core,
    and return it (None where the OS can't pin a process).

    A request waiting for Redis on another core sleeps until that core wakes it up again. On a small
    virtual machine that wake-up costs tens of microseconds, varies with the host's load and with
    how the waiting request's own work happens to overlap Redis's: measured on the 2-core machines,
    it was over a third of an ASGI Redis read, and moved the ratios to a hand-written floor by up to
    13% between the two halves of one run. On one core, Redis answers as soon as the request yields
    the core, and what a request costs is its own work and Redis's. ``--spread`` measures the other
    way."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))  # (the last: the first core usually takes the interrupts)
    os.sched_setaffinity(0, {core})
    return core


def _fast(blocks: list[float]) -> float:
    """A stack's cost when nothing else gets in the way: its fastest tenth of blocks (the 10th
    percentile), which a single lucky or unlucky block can't move the way it moves the minimum."""
    ordered = sorted(blocks)
    return ordered[len(ordered) // 10]


#: The most Redis commands a request may cost, by scenario (deterministic, so CI can hold us to it).
COMMAND_LIMITS = {"read": 1, "write": 2, "new": 1}


def check_command_counts(selected: list[Stack], timings: dict[tuple[str, str], float]) -> int:
    over = [
        f"{stack.name}, {scenario}: {timings[stack.name, scenario + ':commands']:g} commands (limit {limit})"
        for stack in selected
        if stack.redis and stack.name.startswith("dualsessions")
        for scenario, limit in COMMAND_LIMITS.items()
        if timings[stack.name, scenario + ":commands"] > limit
    ]
    for line in over:
        print(f"TOO MANY REDIS COMMANDS: {line}", file=sys.stderr)
    return 1 if over else 0


async def _all(
    selected: list[Stack], server: RedisServer, rounds: int, block: float
) -> tuple[dict[tuple[str, str], list[float]], dict[tuple[str, str], float]]:
    """Every block's seconds per request, by stack and scenario; Redis commands per request."""
    commands: dict[tuple[str, str], float] = {}
    try:
        samples, runners = await measure(selected, server.url, rounds, block)
        for stack in selected:
            if stack.redis:
                for scenario in SCENARIOS:
                    commands[stack.name, scenario + ":commands"] = await commands_per_request(
                        runners[stack.name], server, scenario
                    )
    finally:
        await close_opened()
    return samples, commands


def _peers_installed() -> bool:
    try:
        import flask_session  # noqa: F401
        import starsessions  # noqa: F401
    except ImportError:
        print("(peers not installed: scripts/bench installs them; measuring dualsessions only)")
        return False
    return True


def report(
    selected: list[Stack],
    timings: dict[tuple[str, str], float],
    medians: dict[tuple[str, str], float],
    memory: dict[int, float],
    concurrency: float,
    json_path: str | None,
    parts: list[dict[tuple[str, str], float]],
    core: int | None = None,
    processes: int = 1,
) -> None:
    bare = {"starlette": "Starlette bare app", "werkzeug": "Werkzeug bare app", "flask": "Flask bare app"}
    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; "
        + (f"pinned to core {core} with its servers" if core is not None else "cores left to the OS")
    )
    print("µs per request (each stack's fastest tenth of interleaved blocks), × the framework's bare app\n")
    print("| stack | read | write | new visitor | Redis commands (read / write / new) |")
    print("|---|---|---|---|---|")
    for stack in selected:
        base = timings[bare[stack.framework], "read"]
        cells = []
        for scenario in SCENARIOS:
            micro = timings[stack.name, scenario] * 1e6
            cells.append(
                f"{micro:.1f}"
                if stack.name in bare.values()
                else f"{micro:.1f} ({micro / (base * 1e6):.2f}×)"
            )
        commands = (
            " / ".join(f"{timings[stack.name, s + ':commands']:g}" for s in SCENARIOS) if stack.redis else ""
        )
        print(f"| {stack.name} | {' | '.join(cells)} | {commands} |")
    print(
        f"\nInMemoryStore write: {memory[100] * 1e6:.2f} µs with 100 live sessions, "
        f"{memory[100_000] * 1e6:.2f} µs with 100,000 ({memory[100_000] / memory[100]:.2f}×)"
    )
    print(
        f"Sync store with 10 ms latency under ASGI: 50 concurrent requests took {concurrency:.2f}× "
        "the time of 50 sequential store calls"
    )
    targets(timings, medians, memory, concurrency, parts, processes)
    if json_path:
        with open(json_path, "w") as out:
            results = {"fastest": timings, "median": medians}
            figures: dict[str, typing.Any] = {
                kind: {f"{k[0]} | {k[1]}": v for k, v in values.items()} for kind, values in results.items()
            }
            # what the targets' spread was judged on: each process's (or each half's) fastest tenth
            figures["parts"] = [{f"{k[0]} | {k[1]}": v for k, v in part.items()} for part in parts]
            figures["processes"], figures["core"] = processes, core
            json.dump(figures, out, indent=2)


#: The targets: (what, the ratio's numerator and denominator, the limit). A numerator of three parts
#: (stack, peer, framework) is an overhead ratio: (stack - framework) / (peer - framework), read requests.
TARGETS: list[tuple[str, tuple[str, ...], tuple[str, str] | None, float]] = [
    (
        "ASGI cookie read: overhead ≤ Starlette SessionMiddleware's",
        (
            "dualsessions ASGI, CookieStore",
            "Starlette SessionMiddleware (signed cookie)",
            "Starlette bare app",
        ),
        None,
        1.0,
    ),
    (
        "ASGI cookie read ≤ 0.5× starsessions CookieStore",
        ("dualsessions ASGI, CookieStore", "read"),
        ("starsessions, CookieStore", "read"),
        0.5,
    ),
    (
        "Flask cookie read ≤ Flask's signed-cookie session",
        ("dualsessions Flask, CookieStore", "read"),
        ("Flask signed-cookie session", "read"),
        1.0,
    ),
    (
        "ASGI Redis read ≤ 1.15× the floor",
        ("dualsessions ASGI, RedisStore", "read"),
        ("floor: Starlette + one Redis GET (+SET)", "read"),
        1.15,
    ),
    (
        "ASGI Redis read ≤ 0.6× starsessions RedisStore",
        ("dualsessions ASGI, RedisStore", "read"),
        ("starsessions, RedisStore", "read"),
        0.6,
    ),
    (
        "ASGI Redis write ≤ 1.15× the floor",
        ("dualsessions ASGI, RedisStore", "write"),
        ("floor: Starlette + one Redis GET (+SET)", "write"),
        1.15,
    ),
    (
        "WSGI Redis read ≤ 1.15× the Werkzeug floor",
        ("dualsessions WSGI (Werkzeug), RedisStore", "read"),
        ("floor: Werkzeug + one Redis GET (+SET)", "read"),
        1.15,
    ),
    (
        "Flask Redis read ≤ 1.15× the Flask floor",
        ("dualsessions Flask, RedisStore", "read"),
        ("floor: Flask + one Redis GET (+SET)", "read"),
        1.15,
    ),
    (
        "Flask Redis read ≤ 0.7× Flask-Session",
        ("dualsessions Flask, RedisStore", "read"),
        ("Flask-Session 0.8, Redis", "read"),
        0.7,
    ),
]


def _ratio(t: dict[tuple[str, str], float], a: tuple[str, ...], b: tuple[str, str] | None) -> float | None:
    if b is None:  # an overhead ratio
        stack, peer, framework = a
        if (peer, "read") not in t:
            return None
        return (t[stack, "read"] - t[framework, "read"]) / (t[peer, "read"] - t[framework, "read"])
    return t[a[0], a[1]] / t[b] if (a[0], a[1]) in t and b in t else None


def targets(
    timings: dict[tuple[str, str], float],
    medians: dict[tuple[str, str], float],
    memory: dict[int, float],
    concurrency: float,
    parts: list[dict[tuple[str, str], float]],
    processes: int = 1,
) -> None:
    """The targets, judged on the fastest tenth of blocks: with several processes, the middle one of
    the ratios each process gives, and beside it the lowest and the highest; with one, the ratio of
    the run, and those its odd and its even rounds give on their own. The ratio of medians beside."""
    spread = "each process: lowest to highest" if processes > 1 else "odd / even rounds"
    print(f"\n| target | fastest tenth | medians | {spread} | limit | |\n|---|---|---|---|---|---|")
    for name, a, b, limit in TARGETS:
        fast, median = _ratio(timings, a, b), _ratio(medians, a, b)
        if fast is None or median is None:
            print(f"| {name} | (peer not installed) | | | {limit} | |")
            continue
        ratios = [typing.cast(float, _ratio(part, a, b)) for part in parts]
        if processes > 1:
            fast = statistics.median(ratios)
            apart = f"{min(ratios):.2f} to {max(ratios):.2f}"
        else:
            apart = " / ".join(f"{ratio:.2f}" for ratio in ratios)
        print(
            f"| {name} | {fast:.2f} | {median:.2f} | {apart} | {limit} "
            f"| {'met' if fast <= limit else 'MISSED'} |"
        )
    others = [
        ("InMemoryStore write at 100k ≤ 1.5× at 100", memory[100_000] / memory[100], 1.5),
        ("sync store, 50 concurrent ≤ 0.25× sequential", concurrency, 0.25),
    ]
    for name, value, limit in others:
        print(f"| {name} | {value:.2f} | | | {limit} | {'met' if value <= limit else 'MISSED'} |")


if __name__ == "__main__":
    sys.exit(main())
