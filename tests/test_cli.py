"""The ``dualsessions`` command, run in-process (``cli.main``) against Redis and memory stores, with the
example apps logging users in; and once through each real entry point."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import redis
from starlette.testclient import TestClient

from dualsessions import CookieStore, InMemoryStore, admin, cli, generate_session_id
from dualsessions.stores.redis import RedisStore
from examples_asgi import starlette_app
from examples_wsgi import flask_app

from .apps import asgi_client, flask_client
from .conftest import Clock, Run, build_sql_store
from .redis_server import RedisServer, free_port, running_redis

PREFIX = "starsessions."
ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["ID", "USER", "CREATED", "LAST_ACCESS", "LIFETIME", "KEYS"]

# What `--store tests.test_cli:make_store` (or `:STORE`) hands the command; set by the `memory` fixture.
STORE: InMemoryStore | None = None


def make_store() -> InMemoryStore | None:
    return STORE


def cookie_store() -> CookieStore:
    return CookieStore("k1")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DUALSESSIONS_STORE", "DUALSESSIONS_PREFIX", "DUALSESSIONS_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> InMemoryStore:
    store = InMemoryStore()
    monkeypatch.setattr(sys.modules[__name__], "STORE", store)
    return store


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dualsessions: ")
    for fragment in fragments:
        assert fragment in lines[0]


def create(store: typing.Any, data: dict[str, typing.Any], **options: typing.Any) -> str:
    """A new session; its id, never one starting with "-" (see test_ids_starting_with_a_dash)."""
    while True:
        opened = admin.open_session(store, generate_session_id(), **options)
        with opened as session:
            session.update(data)
        assert opened.session_id is not None
        if not opened.session_id.startswith("-"):
            return opened.session_id
        admin.delete_session(store, opened.session_id)


# -- the example apps on one Redis, and the command looking at their sessions ------------------------


@dataclasses.dataclass
class Logins:
    starlette: TestClient
    flask: httpx2.Client
    bob: TestClient

    @property
    def ada_ids(self) -> set[str]:
        return {self.starlette.cookies["session"], self.flask.cookies["session"]}

    @property
    def bob_id(self) -> str:
        return self.bob.cookies["session"]


def _flask_example(redis_url: str) -> httpx2.Client:
    app = flask_app.create_app(RedisStore(url=redis_url))
    return httpx2.Client(
        transport=httpx2.WSGITransport(app=app), base_url="http://testserver", follow_redirects=True
    )


def _log_in(client: TestClient | httpx2.Client, user: str) -> None:
    assert f"Logged in as <b>{user}</b>" in client.post("/login", data={"user": user}).text
    # One id in 64 starts with "-", which the command line takes for an option (see
    # test_ids_starting_with_a_dash): log in again (a new id) so the other tests don't depend on luck.
    while client.cookies["session"].startswith("-"):
        client.post("/login", data={"user": user})


@pytest.fixture
def logins(redis_url: str) -> Logins:
    starlette = TestClient(starlette_app.create_app(RedisStore(url=redis_url)))
    _log_in(starlette, "ada")
    flask = _flask_example(redis_url)
    _log_in(flask, "ada")
    bob = TestClient(starlette_app.create_app(RedisStore(url=redis_url)))
    _log_in(bob, "bob")
    return Logins(starlette, flask, bob)


def test_list_shows_every_session_with_its_user(run: Run, redis_url: str, logins: Logins) -> None:
    code, out, err = run("--store", redis_url, "list")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == COLUMNS
    assert lines[-1] == "(3 sessions)"
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert rows.keys() == logins.ada_ids | {logins.bob_id}
    for session_id, row in rows.items():
        user = "bob" if session_id == logins.bob_id else "ada"
        assert row[1] == user
        datetime.datetime.fromisoformat(row[2])  # created
        datetime.datetime.fromisoformat(row[3])  # last access
        assert row[4:] == ["3600", "1"]  # lifetime, keys


def test_list_as_json(run: Run, redis_url: str, logins: Logins) -> None:
    code, out, err = run("--store", redis_url, "--json", "list")

    assert (code, err) == (0, "")
    records = json.loads(out)
    assert isinstance(records, list)
    assert {record["id"]: record["user"] for record in records} == {
        **dict.fromkeys(logins.ada_ids, "ada"),
        logins.bob_id: "bob",
    }
    now = datetime.datetime.now(datetime.timezone.utc)
    for record in records:
        assert set(record) == {"id", "user", "created", "last_access", "lifetime", "keys"}
        created = datetime.datetime.fromisoformat(record["created"])
        assert abs((now - created).total_seconds()) < 60
        datetime.datetime.fromisoformat(record["last_access"])
        assert record["lifetime"] == 3600
        assert record["keys"] == 1


def test_list_limit(run: Run, redis_url: str, logins: Logins) -> None:
    code, out, _ = run("--store", redis_url, "--json", "list", "--limit", "2")
    assert code == 0
    records = json.loads(out)
    assert len(records) == 2
    assert {record["id"] for record in records} <= logins.ada_ids | {logins.bob_id}


def test_show_a_session(run: Run, redis_url: str, logins: Logins) -> None:
    session_id = logins.flask.cookies["session"]

    code, out, err = run("--store", redis_url, "show", session_id)

    assert (code, err) == (0, "")
    fields = dict(line.split(None, 1) for line in out.splitlines()[:5])
    assert fields["id"] == session_id
    assert fields["user"] == "ada"
    assert fields["lifetime"] == "3600"
    datetime.datetime.fromisoformat(fields["created"])
    assert json.loads(out[out.index("{") :]) == {"user": "ada"}

    code, out, err = run("--store", redis_url, "--json", "show", session_id)

    assert (code, err) == (0, "")
    record = json.loads(out)
    assert record["id"] == session_id
    assert record["user"] == "ada"
    assert record["lifetime"] == 3600
    assert record["keys"] == 1
    assert record["data"] == {"user": "ada"}


def test_a_user_name_cannot_rewrite_the_operators_terminal(run: Run, redis_url: str) -> None:
    """A user name is what a client chose: its escape sequences and carriage returns reach a person's
    terminal as U+FFFD, in the table and in ``show`` (JSON output escapes them already)."""
    hostile = "mallory\x1b[2J\x1b]0;owned\x07\rFAKE-ROW"
    store = RedisStore(url=redis_url)
    try:
        session_id = create(store, {"user": hostile}, user_key="user")
    finally:
        store.close()
    for command in (["list"], ["show", session_id]):
        code, out, err = run("--store", redis_url, *command)
        assert (code, err) == (0, "")
        assert "mallory\ufffd[2J\ufffd]0;owned\ufffd\ufffdFAKE-ROW" in out
        assert all(character.isprintable() or character == "\n" for character in out)
    code, out, _ = run("--store", redis_url, "--json", "show", session_id)
    assert (code, json.loads(out)["user"]) == (0, hostile)


def test_show_doesnt_extend_or_change_the_session(
    run: Run, redis_server: RedisServer, redis_url: str, logins: Logins
) -> None:
    key = PREFIX + logins.bob_id
    with redis_server.client() as raw:
        raw.expire(key, 50)
        before = raw.get(key)
        assert run("--store", redis_url, "show", logins.bob_id)[0] == 0
        assert run("--store", redis_url, "list")[0] == 0
        assert raw.ttl(key) <= 50
        assert raw.get(key) == before


def test_count(run: Run, redis_url: str, logins: Logins) -> None:
    assert run("--store", redis_url, "count") == (0, "3\n", "")
    code, out, _ = run("--store", redis_url, "--json", "count")
    assert code == 0 and json.loads(out) == {"count": 3}


def test_revoke_user_logs_them_out_of_both_apps(run: Run, redis_url: str, logins: Logins) -> None:
    code, out, err = run("--store", redis_url, "revoke-user", "ada")

    assert (code, err) == (0, "")
    assert out == "revoked 2 session(s) of ada\n"
    assert "Not logged in" in logins.starlette.get("/").text
    assert "Not logged in" in logins.flask.get("/").text
    assert "Logged in as <b>bob</b>" in logins.bob.get("/").text
    assert run("--store", redis_url, "count")[1] == "1\n"

    code, out, _ = run("--store", redis_url, "--json", "revoke-user", "ada")
    assert code == 0 and json.loads(out) == {"user": "ada", "revoked": 0}


def test_delete_a_session(run: Run, redis_server: RedisServer, redis_url: str, logins: Logins) -> None:
    session_id = logins.bob_id

    assert run("--store", redis_url, "delete", session_id) == (0, f"deleted {session_id}\n", "")

    assert "Not logged in" in logins.bob.get("/").text
    assert "Logged in as <b>ada</b>" in logins.starlette.get("/").text
    with redis_server.client() as raw:
        assert raw.smembers(PREFIX + "user:bob") == set()  # out of the index too
    assert run("--store", redis_url, "count")[1] == "2\n"

    code, out, err = run("--store", redis_url, "delete", session_id)
    assert_one_line_error(code, out, err)
    assert err.startswith(f"dualsessions: no session with id {session_id!r} in RedisStore(")


def test_delete_as_json(run: Run, redis_url: str, logins: Logins) -> None:
    code, out, _ = run("--store", redis_url, "--json", "delete", logins.bob_id)
    assert code == 0 and json.loads(out) == {"deleted": logins.bob_id}


def test_purge_expired_prints_a_count(
    run: Run, redis_server: RedisServer, redis_url: str, logins: Logins
) -> None:
    assert run("--store", redis_url, "purge-expired") == (0, "purged 0\n", "")
    with redis_server.client() as raw:
        raw.delete(PREFIX + logins.starlette.cookies["session"])  # gone, still in ada's index

    assert run("--store", redis_url, "purge-expired") == (0, "purged 1\n", "")

    code, out, _ = run("--store", redis_url, "--json", "purge-expired")
    assert code == 0 and json.loads(out) == {"purged": 0}


def test_store_from_the_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, redis_url: str, logins: Logins
) -> None:
    monkeypatch.setenv("DUALSESSIONS_STORE", redis_url)
    assert run("count") == (0, "3\n", "")


def test_prefix_option_and_environment(run: Run, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    store = RedisStore(url=redis_url, prefix="demo:")
    ids = {create(store, {"n": n}) for n in range(2)}
    assert run("--store", redis_url, "count") == (0, "0\n", "")
    assert run("--store", redis_url, "--prefix", "demo:", "count") == (0, "2\n", "")
    monkeypatch.setenv("DUALSESSIONS_PREFIX", "demo:")
    code, out, _ = run("--store", redis_url, "--json", "list")
    assert code == 0 and {record["id"] for record in json.loads(out)} == ids


def test_generated_ids_never_start_with_a_dash() -> None:
    """A command line would take such an id for an option."""
    assert not any(generate_session_id().startswith("-") for _ in range(5000))


@pytest.mark.parametrize("command", ["show", "delete"])
def test_other_ids_starting_with_a_dash_pass_after_a_double_dash(
    run: Run, memory: InMemoryStore, command: str
) -> None:
    session_id = "-" + "a" * 31  # from another library's store, say
    payload = {"theme": "dark", "__metadata__": {"lifetime": 0, "created": 1e9, "last_access": 1e9}}
    memory.sync.write(session_id, json.dumps(payload).encode(), 0, 0)
    code, out, _ = run("--store", f"{__name__}:make_store", "--json", "list")
    assert [record["id"] for record in json.loads(out)] == [session_id]

    code, out, err = run("--store", f"{__name__}:make_store", "--json", command, "--", session_id)

    assert (code, err) == (0, "")
    record = json.loads(out)
    if command == "delete":
        assert record == {"deleted": session_id}
        assert admin.count_sessions(memory) == 0
    else:
        assert (record["id"], record["data"]) == (session_id, {"theme": "dark"})


# -- stores named module:factory -------------------------------------------------------------------


def test_store_from_a_factory(run: Run, memory: InMemoryStore) -> None:
    ada = create(memory, {"user": "ada", "plan": "pro"}, user_key="user")
    create(memory, {"theme": "dark"})

    assert run("--store", f"{__name__}:make_store", "count") == (0, "2\n", "")

    code, out, _ = run("--store", f"{__name__}:make_store", "--json", "show", ada)
    assert code == 0
    assert json.loads(out)["data"] == {"user": "ada", "plan": "pro"}
    assert (
        run("--store", f"{__name__}:make_store", "revoke-user", "ada")[1] == "revoked 1 session(s) of ada\n"
    )
    assert admin.count_sessions(memory) == 1


def test_store_given_as_an_object(run: Run, memory: InMemoryStore) -> None:
    session_id = create(memory, {"theme": "dark"})
    code, out, _ = run("--store", f"{__name__}:STORE", "--json", "list")
    assert code == 0 and [record["id"] for record in json.loads(out)] == [session_id]


def test_store_given_as_a_class(run: Run) -> None:
    """A class is a factory too: ``--store package.module:MyStore`` makes one."""
    assert run("--store", "dualsessions:InMemoryStore", "count") == (0, "0\n", "")


def test_list_includes_a_live_rolling_session_older_than_its_lifetime(
    run: Run, memory: InMemoryStore, clock: Clock
) -> None:
    """Flask's default is rolling: such a session lives while it is used, whenever it was created."""
    client = flask_client(memory, lifetime=60, rolling=True, user_key="user")
    client.get("/set?user=ada")
    while client.cookies["session"].startswith("-"):  # see test_ids_starting_with_a_dash
        client.get("/regenerate")
    session_id = client.cookies["session"]
    for _ in range(3):
        clock.advance(40)
        assert client.get("/read").json() == {"user": "ada"}
    assert run("--store", f"{__name__}:make_store", "count") == (0, "1\n", "")

    code, out, _ = run("--store", f"{__name__}:make_store", "--json", "list")
    assert code == 0
    assert [record["id"] for record in json.loads(out)] == [session_id]
    code, out, _ = run("--store", f"{__name__}:make_store", "--json", "show", session_id)
    assert code == 0 and json.loads(out)["data"] == {"user": "ada"}


# -- errors: exit 1, one line, no traceback ------------------------------------------------------------


UNREACHABLE = "redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--store", "http://x", "count"], ["unknown store 'http://x'"]),
        (["--store", "mongodb://localhost/0", "list"], ["unknown store"]),
        (["--store", "redis://x:notaport/0", "count"], ["bad store URL", "port"]),
        (["--store", "nonsense", "count"], ["unknown store 'nonsense'"]),
        (["count"], ["no store", "--store"]),
        (["--store", "tests.no_such_module:make_store", "count"], ["can't load the store"]),
        (["--store", "tests.test_cli:no_such_factory", "count"], ["can't load the store"]),
        (["--store", "tests.test_cli:COLUMNS", "count"], ["is not a session store"]),
        (["--store", "tests.test_cli:cookie_store", "count"], ["live in the browsers"]),
        (["--store", "unreachable", "count"], ["could not", "Connection refused"]),
        (["--store", "unreachable", "list"], ["could not"]),
        (["--store", "unreachable", "show", "x" * 32], ["could not"]),
        (["--store", "unreachable", "revoke-user", "ada"], ["could not"]),
        (["--store", "unreachable", "delete", "x" * 32], ["could not"]),
        (["--store", "unreachable", "purge-expired"], ["could not"]),
        (["--store", "memory", "delete", "not an id"], ["not a session id"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) and value and "--store" in value else None,
)
@pytest.mark.parametrize("json_output", [False, True], ids=["", "--json"])
def test_errors_are_one_line(run: Run, argv: list[str], fragments: list[str], json_output: bool) -> None:
    argv = [UNREACHABLE.format(port=free_port()) if arg == "unreachable" else arg for arg in argv]
    code, out, err = run(*(["--json"] if json_output else []), *argv)
    assert_one_line_error(code, out, err, *fragments)


# -- store URLs: every kind the command takes, and strict about each part ---------------------------------


@pytest.fixture(scope="module")
def unix_redis_server() -> Iterator[str]:
    """The path of the Unix socket of a redis-server."""
    with tempfile.TemporaryDirectory(prefix="dualsessions-cli-") as directory:
        path = f"{directory}/redis.sock"
        with running_redis("--unixsocket", path, "--unixsocketperm", "700"):
            yield path


@pytest.fixture
def unix_socket(unix_redis_server: str) -> str:
    with redis.Redis(unix_socket_path=unix_redis_server) as client:
        client.flushall()
    return unix_redis_server


def _url(template: str, request: pytest.FixtureRequest) -> str:
    """``template`` with its placeholders filled by running servers (each started only when named):
    {redis} host:port, {unix} a socket path, {sqlite} a database file holding the sessions table,
    {postgres} user@host:port/database."""
    if "{redis}" in template:
        redis_url = request.getfixturevalue("redis_url")
        template = template.replace("{redis}", redis_url.removeprefix("redis://").removesuffix("/0"))
    if "{unix}" in template:
        template = template.replace("{unix}", request.getfixturevalue("unix_socket"))
    if "{sqlite}" in template:
        path = request.getfixturevalue("tmp_path") / "sessions.db"
        build_sql_store(f"sqlite:///{path}").close()
        template = template.replace("{sqlite}", str(path))
    if "{postgres}" in template:
        postgres_url = request.getfixturevalue("postgres_url")
        build_sql_store(postgres_url).close()
        template = template.replace("{postgres}", postgres_url.removeprefix("postgresql+psycopg://"))
    return template


GOOD_URLS = {
    "redis, db in the path": "redis://{redis}/1",
    "redis, db as an option": "redis://{redis}?db=1",
    "redis, every option": (
        "redis://{redis}/1?socket_timeout=2&socket_connect_timeout=2.5&socket_keepalive=yes"
        "&retry_on_timeout=false&health_check_interval=0&max_connections=4&client_name=cli"
    ),
    "redis, db with a slash after it, as redis-py reads it": "redis://{redis}/1/",
    "redis, the default user's password as options": "redis://{redis}/1?username=default&password=unused",
    "unix socket": "unix://{unix}?db=1",
    "redis cluster": "redis_cluster_url",
    "redis sentinel": "redis_sentinel_url",
    "sqlite": "sqlite:///{sqlite}",
    "sqlite, an option": "sqlite:///{sqlite}?timeout=2",
    "postgresql": "postgresql://{postgres}",
    "postgresql+psycopg": "postgresql+psycopg://{postgres}",
}


@pytest.mark.parametrize("template", GOOD_URLS.values(), ids=GOOD_URLS.keys())
def test_every_kind_of_store_url(run: Run, request: pytest.FixtureRequest, template: str) -> None:
    url = request.getfixturevalue(template) if template.endswith("_url") else _url(template, request)
    store = build_sql_store(url) if url.startswith(("sqlite", "postgresql")) else RedisStore(url=url)
    try:
        for n in range(2):
            create(store, {"n": n})
    finally:
        store.close()

    assert run("--store", url, "count") == (0, "2\n", "")
    if "/1" in template or "db=1" in template:  # the db it names, not db 0
        db_0 = _url(template.replace("/1", "/0").replace("db=1", "db=0"), request)
        assert run("--store", db_0, "count") == (0, "0\n", "")


@pytest.mark.parametrize("option", ["protocol=3", "socket_read_size=65536"])
def test_options_only_newer_redis_py_reads_are_taken_where_it_does(
    run: Run, redis_url: str, option: str
) -> None:
    """redis-py gives these options their type from 5.1 on; an older one would pass the text on, to
    fail when it connects: there they are refused at once, as unknown."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS

    code, out, err = run("--store", f"{redis_url}?{option}", "count")
    if option.partition("=")[0] in URL_QUERY_ARGUMENT_PARSERS:
        assert (code, out, err) == (0, "0\n", "")
    else:
        assert_one_line_error(code, out, err, "bad store URL", f"unknown option {option.partition('=')[0]!r}")


BAD_URLS = {
    # Redis: the db, the port, the options; each named in the one line
    "redis://{redis}/abc": ["bad store URL", "db", "'abc'"],
    "redis://{redis}/1/2": ["bad store URL", "db", "'1/2'"],
    "redis://{redis}/-1": ["bad store URL", "db", "'-1'"],
    "redis://{redis}/0?db=1": ["bad store URL", "db", "twice"],
    "redis://{redis}?db=x": ["bad store URL", "db", "'x'"],
    "redis://{redis}?db=": ["bad store URL", "'db'", "no value"],
    "redis://:S3CRET@{redis}/0?foo=1": ["bad store URL", "unknown option 'foo'"],
    "redis://{redis}/0?socket_timeout=soon": ["bad store URL", "socket_timeout", "'soon'"],
    "redis://{redis}/0?socket_keepalive=maybe": ["bad store URL", "socket_keepalive", "'maybe'"],
    "redis://{redis}/0?max_connections=0": ["bad store URL", "max_connections", "'0'"],
    "redis://{redis}/0?ssl_cert_reqs=none": ["bad store URL", "unknown option 'ssl_cert_reqs'"],
    "redis://{redis}/0?client_name=a&client_name=b": ["bad store URL", "client_name", "twice"],
    "redis://{redis}/0#x": ["bad store URL", "'#'"],
    "redis://:S3#CRET@{redis}/0": ["bad store URL", "'#'", "%23"],
    "redis://127.0.0.1:notaport/0": ["bad store URL", "port", "'notaport'"],
    "redis://127.0.0.1:0/0": ["bad store URL", "port", "'0'"],
    "redis://:S3CRET@127.0.0.1:70000/0": ["bad store URL", "port", "'70000'"],
    "rediss://{redis}/abc": ["bad store URL", "db", "'abc'"],
    "rediss://{redis}/0?foo=1": ["bad store URL", "unknown option 'foo'"],
    "rediss://{redis}/0?ssl_cert_reqs=sometimes": ["bad store URL", "ssl_cert_reqs", "'sometimes'"],
    "rediss://127.0.0.1:99999/0?ssl_password=S3CRET": ["bad store URL", "port", "ssl_password=***"],
    "redis://127.0.0.1:99999/0?password=S3CRET": ["bad store URL", "port", "password=***"],
    "redis://{redis}/0?protocol=4": ["bad store URL", "protocol"],  # (an unknown option before redis-py 5.1)
    "unix://{unix}?db=abc": ["bad store URL", "db", "'abc'"],
    "unix://{unix}?socket_keepalive=yes": ["bad store URL", "unknown option 'socket_keepalive'"],
    "unix://localhost{unix}": ["bad store URL", "no host"],
    "unix://": ["bad store URL", "socket"],
    "redis+cluster://{redis}/0": ["bad store URL", "cluster", "db"],
    "redis+cluster://{redis}/?socket_timeout=1": ["bad store URL", "no option", "'socket_timeout'"],
    "redis+cluster://127.0.0.1:notaport/": ["is not host:port"],
    "redis+sentinel://{redis}/mymaster/abc": ["names the master"],
    "redis+sentinel://{redis}/mymaster?db=1": ["bad store URL", "no option", "'db'"],
    # an unknown kind of URL
    "redis+unknown://{redis}/0": ["unknown store"],
    "mysql://u@127.0.0.1/db": ["unknown store"],
    "postgres://u@127.0.0.1/db": ["unknown store"],
    # SQL: SQLAlchemy's driver checks its options when the engine is made (psycopg's, when it connects)
    "sqlite:///{sqlite}?foo=bar": ["bad store URL", "'foo'"],
    "sqlite:///{sqlite}?timeout=soon": ["bad store URL", "'soon'"],
    "sqlite+nodriver:///{sqlite}": ["bad store URL", "nodriver"],
    "sqlite://somehost/sessions.db": ["bad store URL", "SQLite URL"],
    "postgresql://u:S3CRET@127.0.0.1:notaport/db": ["bad store URL", "port", "'notaport'"],
    "postgresql+nodriver://u@127.0.0.1/db": ["bad store URL", "nodriver"],
    "postgresql://{postgres}?foo=bar": ['invalid connection option "foo"'],
}


@pytest.mark.parametrize("json_output", [False, True], ids=["", "--json"])
@pytest.mark.parametrize(("template", "fragments"), BAD_URLS.items(), ids=BAD_URLS.keys())
def test_a_bad_store_url_is_one_line_naming_the_problem(
    run: Run, request: pytest.FixtureRequest, template: str, fragments: list[str], json_output: bool
) -> None:
    """Never the db, port or option it could guess instead, and never the password."""
    code, out, err = run("--store", _url(template, request), *(["--json"] if json_output else []), "count")
    assert_one_line_error(code, out, err, *fragments)
    assert "S3CRET" not in err


@pytest.mark.parametrize("json_output", [False, True], ids=["", "--json"])
def test_a_refused_record_is_told_in_the_commands_own_lines(
    run: Run, memory: InMemoryStore, json_output: bool
) -> None:
    """The engine's warning (a record it can't read) comes out as the command's: one line, prefixed, after
    the output; and when the command then fails, inside its one error line."""
    good = create(memory, {"theme": "dark"})
    bad = "B" * 32
    memory.sync.write(bad, b"not json", 0, 600)
    json_flag = ["--json"] if json_output else []
    warning = "InMemoryStore held a session record that was refused: undecodable: JSONDecodeError"

    code, out, err = run("--store", f"{__name__}:make_store", *json_flag, "list")

    assert code == 0
    assert err == f"dualsessions: warning: {warning}\n"
    if json_output:
        assert [record["id"] for record in json.loads(out)] == [good]
    else:
        assert out.splitlines()[-1] == "(1 session)"

    code, out, err = run("--store", f"{__name__}:make_store", *json_flag, "show", bad)

    assert_one_line_error(code, out, err, f"no session with id {bad!r} in InMemoryStore", warning)


def test_show_unknown_id(run: Run, redis_url: str) -> None:
    session_id = "U" + generate_session_id()[1:]  # never starting with "-"
    code, out, err = run("--store", redis_url, "show", session_id)
    assert_one_line_error(code, out, err)
    assert err.startswith(f"dualsessions: no session with id {session_id!r} in RedisStore(")


def test_command_line_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["--store", "memory"], ["frobnicate"], ["--store", "memory", "show"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2
        _, err = capsys.readouterr()
        assert "usage: dualsessions" in err
        assert "Traceback" not in err


# -- decode ----------------------------------------------------------------------------------------------


@pytest.fixture
def cookie() -> str:
    """A CookieStore session cookie, as an app signed it with the key "k1"."""
    client = asgi_client(CookieStore("k1"), lifetime=600)
    client.get("/set?theme=dark&user=ada")
    return client.cookies["session"]


def assert_decoded(out: str) -> None:
    record = json.loads(out)
    assert record["data"] == {"theme": "dark", "user": "ada"}
    metadata = record["metadata"]
    assert metadata["lifetime"] == 600
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    assert abs(metadata["created"] - now) < 60
    assert abs(metadata["last_access"] - now) < 60


def test_decode_with_the_secret(run: Run, cookie: str) -> None:
    code, out, err = run("--json", "decode", cookie, "--secret", "k1")
    assert (code, err) == (0, "")
    assert_decoded(out)


def test_decode_prints_a_readable_form_without_json(run: Run, cookie: str) -> None:
    """Like ``show``: the metadata a field a line (times in ISO 8601), then the data."""
    code, out, err = run("decode", cookie, "--secret", "k1")

    assert (code, err) == (0, "")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    lines = out.splitlines()
    fields = dict(line.split(None, 1) for line in lines[:3])
    assert fields.keys() == {"created", "last_access", "lifetime"}
    assert fields["lifetime"] == "600"
    now = datetime.datetime.now(datetime.timezone.utc)
    for key in ("created", "last_access"):
        assert abs((now - datetime.datetime.fromisoformat(fields[key])).total_seconds()) < 60
    assert json.loads("\n".join(lines[3:])) == {"theme": "dark", "user": "ada"}


def test_decode_with_rotated_secrets(run: Run, cookie: str) -> None:
    code, out, _ = run("--json", "decode", cookie, "--secret", "k2", "--secret", "k1")
    assert code == 0
    assert_decoded(out)


def test_decode_with_the_secret_from_the_environment(
    run: Run, cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUALSESSIONS_SECRET", "k1")
    code, out, _ = run("--json", "decode", cookie)
    assert code == 0
    assert_decoded(out)


@pytest.mark.parametrize("secrets", [["--secret", "k2"], ["--secret", "k2", "--secret", "k3"]])
def test_decode_with_a_wrong_secret(run: Run, cookie: str, secrets: list[str]) -> None:
    assert_one_line_error(*run("decode", cookie, *secrets), "doesn't verify")


def test_decode_a_tampered_cookie(run: Run, cookie: str) -> None:
    tampered = ("A" if cookie[0] != "A" else "B") + cookie[1:]  # the data: every bit counts
    assert_one_line_error(*run("decode", tampered, "--secret", "k1"), "doesn't verify")


def test_decode_without_a_secret(run: Run, cookie: str) -> None:
    assert_one_line_error(*run("decode", cookie), "secret")
    assert_one_line_error(*run("decode", cookie, "--secret", ""), "secret")


# -- --json: every command, one compact JSON document ----------------------------------------------------

COMMANDS = ["list", "show", "delete", "count", "revoke-user", "purge-expired", "decode"]


@pytest.mark.parametrize("json_last", [False, True], ids=["--json first", "--json last"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_json_shape(
    run: Run, memory: InMemoryStore, cookie: str, command: str, json_last: bool
) -> None:
    """One compact JSON document a line (``list``: a JSON array holding one session object a line)."""
    session_id = create(memory, {"user": "ada"}, user_key="user")
    arguments = {
        "show": [session_id],
        "delete": [session_id],
        "revoke-user": ["ada"],
        "decode": [cookie, "--secret", "k1"],
    }.get(command, [])
    store = [] if command == "decode" else ["--store", f"{__name__}:make_store"]
    argv = [*store, command, *arguments, "--json"] if json_last else [*store, "--json", command, *arguments]

    code, out, err = run(*argv)

    assert (code, err) == (0, "")
    document = json.loads(out)
    if command == "list":
        lines = out.splitlines()
        assert (lines[0], lines[-1]) == ("[", "]")
        assert [json.loads(line.removesuffix(",")) for line in lines[1:-1]] == document
        assert [record["id"] for record in document] == [session_id]
        assert set(document[0]) == {"id", "user", "created", "last_access", "lifetime", "keys"}
        return
    assert out == json.dumps(document) + "\n"  # one line, compact
    if command == "show":
        assert set(document) == {"id", "user", "created", "last_access", "lifetime", "keys", "data"}
        assert (document["id"], document["data"]) == (session_id, {"user": "ada"})
    elif command == "decode":
        assert set(document) == {"metadata", "data"}
        assert_decoded(out)
    else:
        assert (
            document
            == {
                "delete": {"deleted": session_id},
                "count": {"count": 1},
                "revoke-user": {"user": "ada", "revoked": 1},
                "purge-expired": {"purged": 0},
            }[command]
        )


# -- progress ----------------------------------------------------------------------------------------


@pytest.fixture
def many(memory: InMemoryStore) -> InMemoryStore:
    for n in range(600):
        memory.sync.write(f"{n:032d}", b'{"n": 1}', 0, 600)
    return memory


def test_progress_on_a_terminal(run: Run, many: InMemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing counts the sessions read on stderr, and erases the line before printing rows and at the
    end (counting is one store call: it ticks the time instead, see below)."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run("--store", f"{__name__}:make_store", "list")
    assert code == 0
    assert "reading... 500 sessions" in err
    assert err.endswith("\r\x1b[2K")  # the line is wiped when done
    assert out.splitlines()[-1] == "(600 sessions)"
    assert "reading" not in out


@pytest.mark.parametrize("command", ["count", "list"])
def test_no_progress_without_a_terminal(run: Run, many: InMemoryStore, command: str) -> None:
    code, out, err = run("--store", f"{__name__}:make_store", command)
    assert code == 0 and err == ""
    assert out == "600\n" if command == "count" else out.splitlines()[-1] == "(600 sessions)"


def test_no_progress_with_json(run: Run, many: InMemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run("--store", f"{__name__}:make_store", "--json", "count")
    assert code == 0 and err == ""
    assert json.loads(out) == {"count": 600}


# -- the real entry points --------------------------------------------------------------------------


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DUALSESSIONS_")}


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dualsessions", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: dualsessions")
    for command in ("list", "show", "delete", "count", "revoke-user", "purge-expired", "decode"):
        assert command in result.stdout

    failed = subprocess.run(
        [sys.executable, "-m", "dualsessions", "--store", "http://x", "count"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=60,
        check=False,
    )
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr.splitlines() == [
        "dualsessions: unknown store 'http://x': use a redis://, rediss://, unix://, redis+cluster://, "
        "redis+sentinel://, sqlite:// or postgresql:// URL, 'memory', or module:factory"
    ]


def test_console_script(redis_url: str) -> None:
    script = Path(sys.executable).parent / "dualsessions"
    store = RedisStore(url=redis_url)
    for n in range(2):
        create(store, {"n": n})

    result = subprocess.run(
        [str(script), "--store", redis_url, "count"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "2\n", "")

    failed = subprocess.run(
        [str(script), "count"], capture_output=True, text=True, cwd=ROOT, env=_environment(), timeout=60
    )
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        "dualsessions: no store: pass --store redis://... (or set DUALSESSIONS_STORE)"
    ]


def test_json_may_follow_the_command(run: Run, memory: InMemoryStore) -> None:
    assert json.loads(run("--store", f"{__name__}:make_store", "count", "--json")[1]) == {"count": 0}


def test_a_long_store_call_shows_the_time_it_has_run_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """purge-expired and revoke-user are one store call each: on a terminal the CLI ticks meanwhile,
    and clears the line when done (never with --json, or when stderr is not a terminal)."""
    import io
    import time

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli._Progress("purging", enabled=True).ticking():
        deadline = time.monotonic() + 10
        while "purging... " not in terminal.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert re.search(r"\rpurging\.\.\. \d+ s", terminal.getvalue())  # (how many seconds: the machine's)
    assert terminal.getvalue().endswith("\r\x1b[2K")  # the line erased

    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with cli._Progress("purging", enabled=False).ticking():
        time.sleep(0.01)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("command", "sessions"),
    [("list", 3), ("list", 2000), ("--help", 0)],
    ids=["buffered", "more-than-a-pipe-holds", "help"],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    redis_url: str, command: str, sessions: int
) -> None:
    """``dualsessions list | head -1``: the command stops at the closed pipe, with no error line,
    whether the pipe broke while it was writing or when it flushed its last lines (argparse's help
    included)."""
    store = RedisStore(url=redis_url)
    try:
        for _ in range(sessions):
            create(store, {"user": "ada"}, user_key="user")
    finally:
        store.close()
    environment = {k: v for k, v in _environment().items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dualsessions", "--store", redis_url, command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=environment,
    )
    assert process.stdout is not None and process.stderr is not None
    if sessions > 3:
        assert process.stdout.readline().decode().split() == COLUMNS
    process.stdout.close()  # as head does once it has its line (or `true`, at once)
    with process.stderr:
        errors = process.stderr.read()
    assert (process.wait(timeout=60), errors) == (141, b"")
