""" "Your devices" and "sign out everywhere else" (``track_devices``), on every front end, in scripts and
in the CLI, on the stores that keep a per-user index: memory, real Redis and SQL.

Each scenario counts the store calls (``spy``): recording a device costs a write at most once a minute,
and nothing at all when the option is off.
"""

from __future__ import annotations

import asyncio
import functools
import json
import typing

import pytest

import dualsessions
from dualsessions import admin
from dualsessions.core import (
    MAX_ADDRESS,
    MAX_USER_AGENT,
    METADATA_KEY,
    Client,
    SessionConfig,
    SessionState,
    _own_rules,
    device_record,
    session_reference,
)
from dualsessions.exceptions import ImproperlyConfigured
from dualsessions.stores.redis import RedisStore

from . import apps
from .conftest import Clock, Run
from .stores import spy

Frontend = typing.Callable[..., typing.Any]
OPTIONS: dict[str, typing.Any] = {"track_devices": True, "user_key": "user", "lifetime": 3600}


@pytest.fixture(params=["memory", "redis", "sql-sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """The stores that index sessions by user (the conftest's ``store`` fixture builds them)."""
    return typing.cast(str, request.param)


def address_of(frontend: Frontend) -> str | None:
    """The client address as each front end sees it under its test client: Starlette's TestClient names
    itself ("testclient"; before Starlette 0.36 it gives none, which Quart before 0.19 calls
    "<local>"), the WSGI clients say 127.0.0.1."""
    if frontend is apps.quart_client:
        return _quart_test_client_address()
    return _asgi_test_client_address() if frontend is apps.asgi_client else "127.0.0.1"


@functools.cache
def _asgi_test_client_address() -> str | None:
    async def echo(scope: typing.Any, receive: typing.Any, send: typing.Any) -> None:
        client = scope.get("client")
        body = (str(client[0]) if client else "").encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    from starlette.testclient import TestClient

    return TestClient(echo).get("/").text or None


@functools.cache
def _quart_test_client_address() -> str | None:
    import quart
    from starlette.testclient import TestClient

    app = quart.Quart(__name__)

    @app.route("/")
    async def echo() -> str:
        return quart.request.remote_addr or ""

    return TestClient(app).get("/").text or None


def login(frontend: Frontend, store: typing.Any, agent: str, **options: typing.Any) -> typing.Any:
    client = frontend(store, **{**OPTIONS, **options})
    client.headers["user-agent"] = agent
    assert client.get("/set?user=alice").status_code == 200
    return client


def stored_metadata(store: typing.Any, client: typing.Any) -> dict[str, typing.Any]:
    session_id = client.cookies.get("session")
    with dualsessions.open_session(store, session_id) as session:
        assert session, "the session is gone"
    [row] = [row for row in dualsessions.user_sessions(store, "alice") if row.session_id == session_id]
    return {"last_seen": row.last_seen, "user_agent": row.user_agent, "address": row.address}


# -- from a request --------------------------------------------------------------------------------------


def test_a_user_sees_their_devices_the_current_one_marked(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    phone = login(frontend, store, "Phone/1.0")
    clock.advance(5)
    laptop = login(frontend, store, "Laptop/2.0")
    stranger = frontend(store, **OPTIONS)
    stranger.get("/set?user=bob")

    rows = laptop.get("/devices").json()

    assert [row["user_agent"] for row in rows] == ["Laptop/2.0", "Phone/1.0"]  # latest first
    assert [row["current"] for row in rows] == [True, False]
    assert {row["address"] for row in rows} == {address_of(frontend)}
    assert all(row["session_id"] is None for row in rows)  # a page never gets another session's id
    ids = {laptop.cookies.get("session"), phone.cookies.get("session")}
    assert {row["reference"] for row in rows} == {session_reference(i) for i in ids}
    assert rows[1]["last_seen"] == rows[1]["created"] == clock.now - 5
    assert [row["current"] for row in phone.get("/devices").json()] == [False, True]
    assert frontend(store, **OPTIONS).get("/devices").json() == []  # no user: nothing to list


def test_the_device_is_refreshed_at_most_once_a_minute_without_other_store_calls(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = login(frontend, store, "Phone/1.0")
    session_id = client.cookies.get("session")
    created = clock.now
    calls = spy(store)

    clock.advance(59)
    client.headers["user-agent"] = "Phone/1.1"
    response = client.get("/read")
    assert calls == [("read", session_id)]  # within the minute: a read, nothing more
    assert "set-cookie" not in response.headers
    assert stored_metadata(store, client)["last_seen"] == created

    calls.clear()
    clock.advance(1)
    response = client.get("/read")
    assert calls == [("read", session_id), ("write", session_id)]  # one conditional write
    assert "set-cookie" not in response.headers  # the cookie already says all it has to
    assert stored_metadata(store, client) == {
        "last_seen": created + 60,
        "user_agent": "Phone/1.1",
        "address": address_of(frontend),
    }

    calls.clear()
    clock.advance(30)
    client.get("/read")
    assert calls == [("read", session_id)]


def test_rolling_sessions_pay_one_write_a_minute_on_stores_that_extend_while_reading(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = login(frontend, store, "Phone/1.0", lifetime=600, rolling=True)
    session_id = client.cookies.get("session")
    calls = spy(store)

    clock.advance(30)
    client.get("/read")
    assert calls == [("read_and_touch", session_id)]  # Redis GETEX, SQL and memory alike

    calls.clear()
    clock.advance(30)
    response = client.get("/read")
    assert calls == [("read_and_touch", session_id), ("write", session_id)]
    assert "max-age=600" in response.headers["set-cookie"]


def test_writes_record_the_device_for_nothing_more(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = login(frontend, store, "Phone/1.0")
    session_id = client.cookies.get("session")
    calls = spy(store)
    clock.advance(10)
    client.headers["user-agent"] = "Phone/1.1"

    client.get("/set?theme=dark")

    assert calls == [("read", session_id), ("write", session_id)]
    assert stored_metadata(store, client)["user_agent"] == "Phone/1.1"


def test_off_by_default_costs_nothing_and_records_nothing(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = frontend(store, user_key="user", lifetime=3600)
    client.get("/set?user=alice")
    session_id = client.cookies.get("session")
    calls = spy(store)

    clock.advance(3600 - 1)
    client.get("/read")

    assert calls == [("read", session_id)]
    assert "device" not in client.get("/meta").json()["metadata"]
    [row] = dualsessions.user_sessions(store, "alice")
    assert (row.last_seen, row.user_agent, row.address) == (None, None, None)


def test_sign_out_everywhere_else(frontend: Frontend, store: typing.Any) -> None:
    phone = login(frontend, store, "Phone/1.0")
    laptop = login(frontend, store, "Laptop/2.0")
    tablet = login(frontend, store, "Tablet/3.0")
    bob = frontend(store, **OPTIONS)
    bob.get("/set?user=bob")

    assert laptop.get("/revoke-others").json() == {"revoked": 2}

    assert phone.get("/read").json() == {} and tablet.get("/read").json() == {}
    assert laptop.get("/read").json() == {"user": "alice"}
    assert bob.get("/read").json() == {"user": "bob"}
    assert [row["user_agent"] for row in laptop.get("/devices").json()] == ["Laptop/2.0"]
    assert laptop.get("/revoke-others").json() == {"revoked": 0}


@pytest.mark.parametrize("then", ["read", "write"])
def test_a_request_in_flight_on_a_revoked_session_does_not_bring_it_back(
    frontend: Frontend, store: typing.Any, clock: Clock, then: str
) -> None:
    """A request of the phone loads its session, the laptop signs out everywhere else, then the
    phone's request writes (a device refresh, or a change): the write is conditional, and refused."""
    phone = login(frontend, store, "Phone/1.0")
    laptop = login(frontend, store, "Laptop/2.0")
    keep = laptop.cookies.get("session")
    clock.advance(61)  # the phone's read is due to refresh its device

    def revoke() -> None:
        assert dualsessions.revoke_user_sessions(store, "alice", keep=keep) == 1

    with apps.interleaving(revoke):
        phone.get("/interleave" + ("?theme=dark" if then == "write" else ""))

    assert [row.session_id for row in dualsessions.user_sessions(store, "alice")] == [keep]
    assert phone.get("/read").json() == {}
    assert laptop.get("/read").json() == {"user": "alice"}


# -- from scripts and the CLI ----------------------------------------------------------------------------


def test_scripts_list_and_revoke_in_both_flavours(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    phone = login(frontend, store, "Phone/1.0")
    clock.advance(1)
    laptop = login(frontend, store, "Laptop/2.0")
    ids = [laptop.cookies.get("session"), phone.cookies.get("session")]

    rows = dualsessions.user_sessions(store, "alice")
    assert [row.session_id for row in rows] == ids  # scripts get the ids, as session_ids() does
    assert [row.user_agent for row in rows] == ["Laptop/2.0", "Phone/1.0"]
    assert not any(row.current for row in rows)
    assert asyncio.run(admin.auser_sessions(store, "alice")) == rows
    assert dualsessions.user_sessions(store, "nobody") == []
    assert rows == dualsessions.user_sessions(store, "alice")  # a script's look refreshes nothing

    assert asyncio.run(dualsessions.arevoke_user_sessions(store, "alice", keep=ids[0])) == 1
    assert [row.session_id for row in dualsessions.user_sessions(store, "alice")] == [ids[0]]
    assert dualsessions.revoke_user_sessions(store, "alice", keep=ids[0]) == 0
    assert dualsessions.revoke_user_sessions(store, "alice") == 1
    assert laptop.get("/read").json() == {} and phone.get("/read").json() == {}


def test_cli_lists_a_users_sessions_and_keeps_one(redis_url: str, run: Run, clock: Clock) -> None:
    store = RedisStore(url=redis_url)
    phone = login(apps.wsgi_client, store, "Phone/1.0")
    clock.advance(1)
    laptop = login(apps.wsgi_client, store, "Laptop\x07/2.0")
    phone_id, laptop_id = phone.cookies.get("session"), laptop.cookies.get("session")

    code, out, err = run("--store", redis_url, "--json", "sessions", "alice")
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert [row["id"] for row in rows] == [laptop_id, phone_id]
    assert rows[0]["user_agent"] == "Laptop\ufffd/2.0"  # a control character never reaches a terminal
    assert rows[1] == {
        "id": phone_id,
        "created": rows[1]["created"],
        "last_seen": rows[1]["created"],
        "user_agent": "Phone/1.0",
        "address": "127.0.0.1",
    }

    code, out, _ = run("--store", redis_url, "sessions", "alice")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "LAST_SEEN", "ADDRESS", "USER_AGENT"]
    assert lines[1].startswith(laptop_id) and lines[-1] == "(2 sessions)"

    code, out, _ = run("--store", redis_url, "--json", "revoke-user", "alice", "--keep", laptop_id)
    assert (code, json.loads(out)) == (0, {"user": "alice", "revoked": 1})
    assert json.loads(run("--store", redis_url, "--json", "sessions", "alice")[1])[0]["id"] == laptop_id
    assert run("--store", redis_url, "--json", "sessions", "bob")[1].strip() == "[]"


# -- what is stored, and what is refused -----------------------------------------------------------------


def test_device_record_is_bounded_and_printable() -> None:
    device = device_record(Client("A" * 1000 + "\n", "x" * (MAX_ADDRESS + 1)), 1000.0)
    assert device == {"seen": 1000.0, "user_agent": "A" * MAX_USER_AGENT}
    assert device_record(Client("Bad\r\nSet-Cookie: x", "::1"), 5.0) == {
        "seen": 5.0,
        "user_agent": "Bad\ufffd\ufffdSet-Cookie: x",
        "address": "::1",
    }
    assert device_record(Client(None, None), 5.0) == {"seen": 5.0}


GOOD = {"lifetime": 60, "created": 1000.0, "last_access": 1000.0}


@pytest.mark.parametrize(
    "device",
    [
        None,
        [],
        "phone",
        {},  # no time
        {"seen": "1000"},
        {"seen": float("nan")},
        {"seen": -1.0},
        {"seen": 10.0**12},  # in the future
        {"seen": True},
        {"seen": 1000.0, "user_agent": 42},
        {"seen": 1000.0, "user_agent": "A" * (MAX_USER_AGENT + 1)},
        {"seen": 1000.0, "user_agent": "evil\x1b[2J"},
        {"seen": 1000.0, "address": ["127.0.0.1"]},
        {"seen": 1000.0, "address": "1" * (MAX_ADDRESS + 1)},
        {"seen": 1000.0, "address": "10.0.0.1\n"},
        {"seen": 1000.0, "extra": "field"},
    ],
)
def test_hostile_device_metadata_is_refused(device: object) -> None:
    assert _own_rules(GOOD, 2000.0, False) is not None
    accepted = {"seen": 1000, "user_agent": "ok", "address": "::1"}
    assert _own_rules({**GOOD, "device": accepted}, 2000.0, False) is not None
    assert _own_rules({**GOOD, "device": device}, 2000.0, False) is None

    state = SessionState(SessionConfig.from_options({"track_devices": True}), "some-session-id-xxxxxx")
    session = state.load({"user": "alice", METADATA_KEY: {**GOOD, "device": device}})
    assert session == {} and state.is_new
    assert state.rejected == "its metadata is not what dualsessions writes"


def test_a_record_with_a_hostile_device_is_a_new_session(frontend: Frontend) -> None:
    store = dualsessions.InMemoryStore()
    client = login(frontend, store, "Phone/1.0")
    session_id = client.cookies.get("session")
    record = json.loads(store.sync.read(session_id, 0))
    record[METADATA_KEY]["device"]["user_agent"] = "x" * 10_000
    store.sync.write(session_id, json.dumps(record).encode(), 0, 3600)

    assert client.get("/read").json() == {}
    assert dualsessions.user_sessions(store, "alice") == []


def test_scripts_never_record_a_device(clock: Clock) -> None:
    store = dualsessions.InMemoryStore()
    unknown = dualsessions.generate_session_id()
    with dualsessions.open_session(store, unknown, track_devices=True, user_key="user") as session:
        session["user"] = "alice"
    [row] = dualsessions.user_sessions(store, "alice")
    assert (row.last_seen, row.user_agent, row.address) == (None, None, None)


@pytest.mark.parametrize("frontend", [apps.asgi_client])
def test_the_option_needs_a_per_user_index(frontend: Frontend) -> None:
    client = frontend(dualsessions.CookieStore("secret"), track_devices=True)
    with pytest.raises(ImproperlyConfigured, match=r"track_devices .* per-user index"):
        client.get("/read")  # (Starlette builds its middleware on the first request; the others, above)


def test_ids_hashed_at_rest_can_be_revoked_but_not_listed_or_kept(redis_url: str) -> None:
    store = RedisStore(url=redis_url, hash_ids="id hashing key")
    client = login(apps.wsgi_client, store, "Phone/1.0")
    with pytest.raises(ImproperlyConfigured, match="can't be listed or kept"):
        dualsessions.user_sessions(store, "alice")
    with pytest.raises(ImproperlyConfigured, match="can't be listed or kept"):
        dualsessions.revoke_user_sessions(store, "alice", keep=client.cookies.get("session"))
    assert dualsessions.revoke_user_sessions(store, "alice") == 1


@pytest.mark.parametrize("make", [apps.wsgi_client, apps.flask_client])
def test_the_option_needs_a_per_user_index_on_wsgi_and_flask(make: Frontend) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"track_devices .* per-user index"):
        make(dualsessions.CookieStore("secret"), track_devices=True)
