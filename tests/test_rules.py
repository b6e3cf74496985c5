"""The rules table of the design, scenario by scenario, on every front end and every kind of store.

Each scenario asserts what the store was asked to do (through a spy on the store) and which headers
went out, so the same assertions hold for the ASGI and the WSGI middleware alike.
"""

from __future__ import annotations

import time
import typing

import pytest

from .apps import READS_AHEAD
from .conftest import Clock
from .stores import spy

Frontend = typing.Callable[..., typing.Any]

SERVER_SIDE = ("memory", "redis", "sync-custom", "async-custom", "sql-sqlite", "sql-postgres")


def cookie_of(response: typing.Any) -> str | None:
    return typing.cast("str | None", response.headers.get("set-cookie"))


def session_value(client: typing.Any) -> str:
    return typing.cast(str, client.cookies.get("session"))


def session_value_of(response: typing.Any) -> str:
    cookie = cookie_of(response)
    assert cookie is not None
    return cookie.partition(";")[0].partition("=")[2]


def writes(calls: list[tuple[str, str]]) -> list[str]:
    return [session_id for method, session_id in calls if method == "write"]


def removes(calls: list[tuple[str, str]]) -> list[str]:
    return [session_id for method, session_id in calls if method == "remove"]


def test_untouched_session_costs_nothing(frontend: Frontend, store: typing.Any) -> None:
    calls = spy(store)
    client = frontend(store)
    client.get("/set?user=alice")
    calls.clear()

    response = client.get("/noop")

    # (Quart reads the session before the view runs: that read, and nothing else)
    assert calls == ([("read", session_value(client))] if frontend in READS_AHEAD else [])
    assert cookie_of(response) is None
    assert "vary" not in response.headers


def test_loaded_but_unused_new_session_sends_nothing(frontend: Frontend, store: typing.Any) -> None:
    calls = spy(store)
    response = frontend(store).get("/read")

    assert response.json() == {}
    assert calls == []
    assert cookie_of(response) is None
    assert response.headers["vary"] == "Cookie"


def test_new_visitor_who_stores_data_gets_one_write_and_a_new_cookie(
    frontend: Frontend, store: typing.Any
) -> None:
    calls = spy(store)
    client = frontend(store)

    response = client.get("/set?user=alice")

    assert [method for method, _ in calls] == ["write"]
    cookie = cookie_of(response)
    assert cookie is not None and cookie.startswith("session=")
    assert "path=/" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    assert "max-age" not in cookie  # lifetime=0: a browser-session cookie
    assert response.headers["vary"] == "Cookie"
    assert client.get("/read").json() == {"user": "alice"}


def test_read_only_request_writes_nothing_and_sends_no_cookie(frontend: Frontend, store: typing.Any) -> None:
    calls = spy(store)
    client = frontend(store, lifetime=3600)
    client.get("/set?user=alice")
    calls.clear()

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    assert [method for method, _ in calls] == ["read"]
    assert cookie_of(response) is None
    assert response.headers["vary"] == "Cookie"


def test_rolling_read_only_request_extends_expiry_and_resends_cookie(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock
) -> None:
    calls = spy(store)
    client = frontend(store, lifetime=600, rolling=True)
    client.get("/set?user=alice")
    calls.clear()
    clock.advance(300)

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    cookie = cookie_of(response)
    assert cookie is not None and "max-age=600" in cookie
    if store_kind == "memory" or store_kind.startswith(("redis", "sql")):  # these extend while reading
        assert [method for method, _ in calls] == ["read_and_touch"]
    else:  # the others need the record written again
        assert [method for method, _ in calls] == ["read", "write"]
    clock.advance(500)  # 800 s after creation, 500 s after the last request: still alive
    assert client.get("/read").json() == {"user": "alice"}


def test_changed_data_is_written_once_under_the_same_id(
    frontend: Frontend, store: typing.Any, store_kind: str
) -> None:
    calls = spy(store)
    client = frontend(store, lifetime=3600)
    client.get("/set?user=alice")
    first = session_value(client)
    calls.clear()

    response = client.get("/set?theme=dark")

    assert [method for method, _ in calls] == ["read", "write"]
    assert cookie_of(response) is not None
    if store_kind != "cookie":  # the cookie store's "id" is the signed data itself
        assert session_value(client) == first
    assert client.get("/read").json() == {"user": "alice", "theme": "dark"}


def test_emptied_session_removes_the_record_and_deletes_the_cookie(
    frontend: Frontend, store: typing.Any, store_kind: str
) -> None:
    calls = spy(store)
    client = frontend(store, cookie_domain="example.com", cookie_path="/", lifetime=60)
    session_id = session_value_of(client.get("/set?user=alice"))
    calls.clear()

    client.headers["cookie"] = f"session={session_id}"
    response = client.get("/clear")

    assert removes(calls) == [session_id]
    assert writes(calls) == []
    cookie = cookie_of(response)
    assert cookie is not None
    assert cookie.startswith("session=;")
    assert "max-age=0" in cookie and "expires=Thu, 01 Jan 1970 00:00:00 GMT" in cookie
    assert "path=/;" in cookie and "domain=example.com" in cookie
    assert "secure" in cookie and "samesite=lax" in cookie
    if store_kind != "cookie":
        assert not _exists(store, session_id)


def test_emptying_an_initially_empty_session_does_nothing(frontend: Frontend, store: typing.Any) -> None:
    calls = spy(store)
    client = frontend(store)
    client.headers["cookie"] = "session=an-id-the-store-never-issued"

    response = client.get("/clear")

    assert writes(calls) == [] and removes(calls) == []
    assert cookie_of(response) is None


def test_regeneration_keeps_data_under_a_new_id_and_drops_the_old_record(
    frontend: Frontend, store: typing.Any, store_kind: str
) -> None:
    calls = spy(store)
    client = frontend(store)
    client.get("/set?user=alice")
    old_id = session_value(client)
    calls.clear()

    response = client.get("/regenerate")

    new_id = session_value(client)
    if store_kind != "cookie":  # (a cookie re-signed within the millisecond of the last is the same)
        assert new_id != old_id
    assert removes(calls) == [old_id]
    assert len(writes(calls)) == 1
    assert cookie_of(response) is not None
    assert client.get("/read").json() == {"user": "alice"}
    if store_kind != "cookie":
        assert writes(calls) == [response.json()["id"]]
        assert not _exists(store, old_id)


def test_unknown_id_is_never_adopted(frontend: Frontend, store: typing.Any, store_kind: str) -> None:
    calls = spy(store)
    client = frontend(store)
    chosen = "attacker-chosen-id-0123456789abcdef"
    client.headers["cookie"] = f"session={chosen}"

    response = client.get("/set?user=alice")

    assert chosen not in (cookie_of(response) or "")
    assert session_value_of(response) != chosen
    assert chosen not in writes(calls)
    client.headers["cookie"] = f"session={session_value_of(response)}"
    assert client.get("/read").json() == {"user": "alice"}


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "x" * 5000,  # oversized
        '"quoted"',
        "a,b",
        "abc\\def",
        "eyJ1c2VyIjoiYWRtaW4ifQ.9999999999.forged-signature",
    ],
)
def test_bad_cookies_become_a_new_session_and_are_never_echoed(
    frontend: Frontend, store: typing.Any, value: str
) -> None:
    client = frontend(store)
    client.headers["cookie"] = f"session={value}"

    read = client.get("/read")
    assert read.status_code == 200 and read.json() == {}
    assert cookie_of(read) is None

    written = client.get("/set?user=alice")
    assert written.status_code == 200
    cookie = cookie_of(written)
    assert cookie is not None and value not in cookie


def test_injected_cookie_attributes_are_not_reflected(frontend: Frontend, store: typing.Any) -> None:
    client = frontend(store)
    client.headers["cookie"] = "session=abc%0d%0aSet-Cookie:%20admin=1; other=1"

    response = client.get("/set?user=alice")

    assert response.status_code == 200
    assert "admin" not in (cookie_of(response) or "")
    assert all("\r" not in v and "\n" not in v for _, v in response.headers.multi_items())


def test_expired_non_rolling_session_is_dead_even_if_replayed(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock
) -> None:
    client = frontend(store, lifetime=60)
    client.get("/set?user=alice")
    replayed = session_value(client)
    clock.advance(61)  # the record may still be in a store without TTLs, the browser may replay it

    client.cookies.clear()
    client.headers["cookie"] = f"session={replayed}"
    assert client.get("/read").json() == {}
    response = client.get("/set?user=mallory")
    assert replayed not in (cookie_of(response) or "")


def test_non_rolling_session_keeps_its_original_deadline_when_rewritten(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = frontend(store, lifetime=100)
    client.get("/set?user=alice")
    clock.advance(40)

    response = client.get("/set?theme=dark")

    cookie = cookie_of(response)
    assert cookie is not None and "max-age=60" in cookie
    clock.advance(59)
    assert client.get("/read").json() == {"user": "alice", "theme": "dark"}
    clock.advance(2)
    client.headers["cookie"] = f"session={session_value(client)}"
    assert client.get("/read").json() == {}


def test_per_session_lifetime_is_obeyed_by_cookie_and_store(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock
) -> None:
    client = frontend(store)  # browser-session cookies by default
    response = client.get(f"/lifetime?seconds={30 * 86400}&user=alice")

    cookie = cookie_of(response)
    assert cookie is not None and f"max-age={30 * 86400}" in cookie
    meta = client.get("/meta").json()
    assert meta["metadata"]["lifetime"] == 30 * 86400
    assert meta["remaining"] == 30 * 86400
    clock.advance(29 * 86400)
    assert client.get("/read").json() == {"user": "alice"}
    clock.advance(2 * 86400)
    client.headers["cookie"] = f"session={session_value(client)}"
    assert client.get("/read").json() == {}


def test_session_only_cookie_has_no_max_age(frontend: Frontend, store: typing.Any) -> None:
    response = frontend(store, lifetime=0).get("/set?user=alice")
    cookie = cookie_of(response)
    assert cookie is not None and "max-age" not in cookie and "expires" not in cookie


def test_cookie_path_domain_and_security_options(frontend: Frontend, store: typing.Any) -> None:
    client = frontend(
        store,
        cookie_name="sid",
        cookie_path="/app",
        cookie_domain="example.com",
        cookie_same_site="strict",
        cookie_https_only=False,
        lifetime=120,
    )
    cookie = cookie_of(client.get("/set?user=alice"))
    assert cookie is not None
    assert cookie.startswith("sid=")
    assert "; path=/app;" in cookie and "; domain=example.com;" in cookie and "max-age=120" in cookie
    assert "samesite=strict" in cookie and "secure" not in cookie and "httponly" in cookie


def test_default_cookie_path_is_the_mount_point(frontend: Frontend, store: typing.Any) -> None:
    client = frontend(store, root_path="/mounted")
    cookie = cookie_of(client.get("/set?user=alice"))
    assert cookie is not None and "; path=/mounted;" in cookie


def test_cookie_is_not_secure_when_https_only_is_off(frontend: Frontend, store: typing.Any) -> None:
    client = frontend(store, cookie_https_only=False)
    client.get("/set?user=alice")
    assert client.get("/read").json() == {"user": "alice"}


def _exists(store: typing.Any, session_id: str) -> bool:
    import asyncio
    import inspect

    result = store.exists(session_id)
    if inspect.isawaitable(result):
        return bool(asyncio.run(result))
    return bool(result)


def test_changes_inside_nested_values_are_saved(frontend: Frontend, store: typing.Any) -> None:
    calls = spy(store)
    client = frontend(store)
    client.get("/append?item=a")
    client.get("/append?item=b")
    calls.clear()

    client.get("/append?item=c")  # setdefault finds the list: only the in-place append changes it

    assert len(writes(calls)) == 1
    assert client.get("/read").json() == {"cart": ["a", "b", "c"]}


def test_rolling_session_dies_a_lifetime_after_the_last_request(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock, request: pytest.FixtureRequest
) -> None:
    client = frontend(store, lifetime=600, rolling=True)
    client.get("/set?user=alice")
    clock.advance(500)
    assert client.get("/read").json() == {"user": "alice"}
    replayed = session_value(client)
    clock.advance(601)
    if store_kind.startswith("redis"):  # Redis keeps time itself: let its TTL run out as it would have
        store.sync_client().pexpire(store.record_key(replayed), 1)
        time.sleep(0.01)

    client.headers["cookie"] = f"session={replayed}"
    assert client.get("/read").json() == {}


# -- idle and absolute timeouts -------------------------------------------------------------------------


def _touches(store_kind: str) -> bool:
    """Whether the store extends a record's expiry while reading it (one command, no rewrite)."""
    return store_kind == "memory" or store_kind.startswith(("redis", "sql"))


def test_idle_timeout_moves_with_every_use_and_ends_a_session_left_unused(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock
) -> None:
    ttls: list[int] = []
    calls = spy(store, ttls)
    client = frontend(store, lifetime=3600, idle_timeout=600)
    client.get("/set?user=alice")
    assert ttls == [600]  # the nearer of the lifetime (3600 s) and the idle timeout
    calls.clear(), ttls.clear()
    clock.advance(500)

    response = client.get("/read")  # a use: the idle deadline moves to 600 s from now

    assert response.json() == {"user": "alice"}
    cookie = cookie_of(response)
    assert cookie is not None and "max-age=600" in cookie
    if _touches(store_kind):
        assert [method for method, _ in calls] == ["read_and_touch"]
    else:  # the record is written again, with this use's time
        assert [method for method, _ in calls] == ["read", "write"]
    assert ttls == [600]
    clock.advance(500)  # 1000 s after creation, 500 s after the last use: still alive
    assert client.get("/read").json() == {"user": "alice"}
    if not store_kind.startswith(("redis", "sql")):  # (those expire by the TTL above, in real time)
        clock.advance(601)  # unused for longer than the idle timeout: over
        assert client.get("/read").json() == {}


def test_absolute_timeout_ends_a_session_however_much_it_is_used(
    frontend: Frontend, store: typing.Any, store_kind: str, clock: Clock
) -> None:
    ttls: list[int] = []
    spy(store, ttls)
    client = frontend(store, lifetime=3600, rolling=True, absolute_timeout=1000)
    session_id = session_value_of(client.get("/set?user=alice"))
    assert ttls == [1000]
    for _ in range(3):
        clock.advance(300)  # used every five minutes: rolling, yet capped
        assert client.get("/read").json() == {"user": "alice"}
    assert ttls[-1] == 100  # the store keeps it no longer than the cap

    assert client.get("/meta").json()["remaining"] == 100  # the nearer deadline: the cap
    clock.advance(101)  # 1001 s after creation
    assert client.get("/read").json() == {}
    if store_kind != "cookie":  # the ended record is gone (by the store's expiry, or removed on sight)
        assert not _exists(store, session_id)
