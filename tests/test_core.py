"""The sans-I/O core driven directly: ``Session``, ``SessionState`` and ``SessionConfig``, without any I/O.

Like h11's tests of its state machine, these feed the core what a front end would (a cookie value, the
record a store returned) and assert what it decides: what to read, what to write or remove, and which
headers to send. Time is moved with the ``clock`` fixture.
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import pathlib
import re
import sys
import typing

import pytest

import dualsessions
from dualsessions.core import (
    METADATA_KEY,
    SavePlan,
    Session,
    SessionConfig,
    SessionState,
    generate_session_id,
)
from dualsessions.exceptions import ImproperlyConfigured, SessionNotLoaded

from .conftest import Clock

T0 = 1_700_000_000.0
LIFETIME = 3600
ATTRS = "; httponly; samesite=lax; secure"
VARY = ("Vary", "Cookie")


@pytest.fixture
def now(clock: Clock) -> float:
    """Pins the clock to a round number so that expected seconds are exact."""
    clock.now = T0
    return T0


def make_config(**options: typing.Any) -> SessionConfig:
    options.setdefault("lifetime", LIFETIME)
    return SessionConfig.from_options(**options)


def record(
    data: dict[str, typing.Any], *, lifetime: int = LIFETIME, created: float = T0
) -> dict[str, typing.Any]:
    """What a store holds (deserialized): the data and its metadata."""
    return {**data, METADATA_KEY: {"lifetime": lifetime, "created": created, "last_access": created}}


def loaded(
    config: SessionConfig, cookie: str | None, data: object, touched: bool = False
) -> tuple[SessionState, Session]:
    state = SessionState(config, cookie)
    session = state.load(data, touched)
    return state, session


def set_cookie(headers: list[tuple[str, str]]) -> str:
    """The one Set-Cookie value in ``headers``, which must also carry ``Vary: Cookie``."""
    values = [value for name, value in headers if name == "Set-Cookie"]
    assert len(values) == 1, headers
    assert VARY in headers
    return values[0]


def is_new_id(value: str | None) -> bool:
    return value is not None and re.fullmatch(r"[A-Za-z0-9_-]{22,}", value) is not None


# -- Session ---------------------------------------------------------------------------------------------


MUTATIONS: dict[str, typing.Callable[[Session], object]] = {
    "setitem": lambda s: s.__setitem__("b", 2),
    "setitem-same-value": lambda s: s.__setitem__("a", 1),
    "delitem": lambda s: s.__delitem__("a"),
    "clear": lambda s: s.clear(),
    "update": lambda s: s.update({"b": 2}),
    "update-kwargs": lambda s: s.update(b=2),
    "pop": lambda s: s.pop("a"),
    "pop-with-default": lambda s: s.pop("a", None),
    "popitem": lambda s: s.popitem(),
    "setdefault-missing": lambda s: s.setdefault("b", 2),
    "ior": lambda s: s.__ior__({"b": 2}),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_session_mutations_set_modified(mutate: typing.Callable[[Session], object]) -> None:
    session = Session({"a": 1})
    assert session.modified is False
    mutate(session)
    assert session.modified is True


def test_session_ior_operator_sets_modified_and_keeps_the_object() -> None:
    session = Session({"a": 1})
    original = session
    session |= {"b": 2}
    assert session is original
    assert isinstance(session, Session)
    assert session == {"a": 1, "b": 2}
    assert session.modified is True


READS: dict[str, typing.Callable[[Session], object]] = {
    "getitem": lambda s: s["a"],
    "get": lambda s: s.get("a"),
    "get-missing": lambda s: s.get("zzz", 0),
    "contains": lambda s: "a" in s,
    "len": len,
    "iter": list,
    "keys-values-items": lambda s: (list(s.keys()), list(s.values()), list(s.items())),
    "copy": lambda s: s.copy(),
    "dict": dict,
    "or": lambda s: s | {"b": 2},
    "eq": lambda s: s == {"a": 1},
    "repr": repr,
    "pop-missing-with-default": lambda s: s.pop("zzz", None),
    "setdefault-existing": lambda s: s.setdefault("a", 99),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_session_reads_do_not_set_modified(read: typing.Callable[[Session], object]) -> None:
    session = Session({"a": 1})
    read(session)
    assert session.modified is False
    assert session == {"a": 1}


def test_session_failed_mutations_do_not_set_modified() -> None:
    session = Session({"a": 1})
    with pytest.raises(KeyError):
        del session["zzz"]
    with pytest.raises(KeyError):
        session.pop("zzz")
    assert session.modified is False
    empty = Session()
    with pytest.raises(KeyError):
        empty.popitem()
    assert empty.modified is False


def test_session_clear_of_an_empty_session_is_not_a_change() -> None:
    session = Session()
    session.clear()
    assert session.modified is False


def test_session_setdefault_returns_the_existing_value() -> None:
    session = Session({"a": 1})
    assert session.setdefault("a", 99) == 1
    assert session.pop("zzz", "default") == "default"
    assert session == {"a": 1}


def test_session_is_a_real_dict() -> None:
    session = Session({"a": 1, "b": [1, 2]})
    assert isinstance(session, dict)
    assert json.loads(json.dumps(session)) == {"a": 1, "b": [1, 2]}
    assert dict(session) == {"a": 1, "b": [1, 2]}
    assert repr(session) == "Session({'a': 1, 'b': [1, 2]})"
    assert Session() == {}
    assert Session(None) == {}


def test_session_modified_can_be_set_by_hand() -> None:
    session = Session({"cart": []})
    session["cart"].append(1)  # a nested change is invisible...
    assert session.modified is False
    session.modified = True  # ...so the application says so
    assert session.modified is True


# -- read_plan ---------------------------------------------------------------------------------------------


def test_read_plan_without_cookie_is_none() -> None:
    assert SessionState(make_config(), None).read_plan() is None
    assert SessionState(make_config(rolling=True, store_touches=True), None).read_plan() is None


def test_read_plan_with_cookie() -> None:
    assert SessionState(make_config(), "abc").read_plan() == ("abc", LIFETIME, None)
    assert SessionState(make_config(rolling=True), "abc").read_plan() == ("abc", LIFETIME, None)
    assert SessionState(make_config(store_touches=True), "abc").read_plan() == ("abc", LIFETIME, None)


def test_read_plan_touches_when_rolling_and_the_store_can() -> None:
    state = SessionState(make_config(rolling=True, store_touches=True), "abc")
    assert state.read_plan() == ("abc", LIFETIME, LIFETIME)


def test_read_plan_after_load_is_none(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    assert state.read_plan() is None


def test_load_twice_returns_the_same_session(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert state.loaded
    assert state.load(record({"b": 2})) is session
    assert session == {"a": 1}


# -- the rules table ---------------------------------------------------------------------------------------


def test_no_cookie_never_loaded_does_nothing() -> None:
    state = SessionState(make_config(), None)
    assert state.read_plan() is None
    assert not state.loaded
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == []


def test_no_cookie_loaded_but_unused_sends_only_vary(now: float) -> None:
    state, _ = loaded(make_config(), None, None)
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == [VARY]


def test_no_cookie_data_set_writes_under_a_new_id(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    assert state.session_id is None
    session["user"] = "alice"
    plan = state.save_plan()
    assert plan.remove == ()
    assert plan.write is not None
    new_id = plan.write.session_id
    assert is_new_id(new_id)
    assert plan.write.data == {
        "user": "alice",
        METADATA_KEY: {"lifetime": LIFETIME, "created": now, "last_access": now, "rolling": False},
    }
    assert plan.write.lifetime == LIFETIME
    assert plan.write.ttl == LIFETIME
    headers = state.response_headers(new_id, "", True)
    assert headers == [
        ("Set-Cookie", f"session={new_id}; path=/; max-age={LIFETIME}{ATTRS}"),
        VARY,
    ]
    assert state.session_id == new_id


def test_new_sessions_get_different_ids(now: float) -> None:
    ids = set()
    for _ in range(3):
        state, session = loaded(make_config(), None, None)
        session["a"] = 1
        write = state.save_plan().write
        assert write is not None
        ids.add(write.session_id)
    assert len(ids) == 3


def test_cookie_id_returned_by_the_store_goes_into_the_cookie(now: float) -> None:
    """A store may return another id than it was given (the cookie store returns the signed value)."""
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    session["a"] = 2
    assert state.save_plan().write is not None
    headers = state.response_headers("from-the-store", "", True)
    assert set_cookie(headers).startswith("session=from-the-store; ")
    assert state.session_id == "from-the-store"


def test_cookie_only_read_not_rolling_does_nothing(now: float, clock: Clock) -> None:
    clock.advance(100)
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert session["a"] == 1
    assert state.session_id == "abc"
    assert not state.initially_empty
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == [VARY]


def test_cookie_only_read_rolling_store_touched_sends_cookie_only(now: float, clock: Clock) -> None:
    config = make_config(rolling=True, store_touches=True)
    clock.advance(1000)
    state = SessionState(config, "abc")
    assert state.read_plan() == ("abc", LIFETIME, LIFETIME)
    session = state.load(record({"a": 1}), touched=True)
    assert session["a"] == 1
    assert state.save_plan() == SavePlan(None, ())
    headers = state.response_headers(None, "", True)
    assert headers == [("Set-Cookie", f"session=abc; path=/; max-age={LIFETIME}{ATTRS}"), VARY]


def test_rolling_store_touched_session_only_lifetime_sends_no_cookie(now: float) -> None:
    config = make_config(lifetime=0, rolling=True, store_touches=True)
    state, _ = loaded(config, "abc", record({"a": 1}, lifetime=0), touched=True)
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == [VARY]


def test_rolling_touched_with_a_per_session_lifetime_still_writes(now: float) -> None:
    """The touch used the configured lifetime: a session with its own lifetime must be rewritten."""
    config = make_config(rolling=True, store_touches=True)
    state, _ = loaded(config, "abc", record({"a": 1}, lifetime=60), touched=True)
    plan = state.save_plan()
    assert plan.write is not None
    assert (plan.write.session_id, plan.write.lifetime, plan.write.ttl) == ("abc", 60, 60)
    assert plan.remove == ()
    assert "max-age=60;" in set_cookie(state.response_headers("abc", "", True))


def test_cookie_only_read_rolling_store_cannot_touch_rewrites_same_id(now: float, clock: Clock) -> None:
    config = make_config(rolling=True)
    clock.advance(1000)
    state = SessionState(config, "abc")
    assert state.read_plan() == ("abc", LIFETIME, None)
    session = state.load(record({"a": 1}))
    assert session["a"] == 1
    plan = state.save_plan()
    assert plan.remove == ()
    assert plan.write is not None
    assert plan.write.session_id == "abc"
    assert plan.write.ttl == LIFETIME
    assert plan.write.data == {
        "a": 1,
        METADATA_KEY: {"lifetime": LIFETIME, "created": now, "last_access": now + 1000, "rolling": True},
    }
    headers = state.response_headers("abc", "", True)
    assert headers == [("Set-Cookie", f"session=abc; path=/; max-age={LIFETIME}{ATTRS}"), VARY]


def test_rolling_store_touches_but_read_did_not_touch_rewrites(now: float) -> None:
    config = make_config(rolling=True, store_touches=True)
    state, _ = loaded(config, "abc", record({"a": 1}), touched=False)
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.session_id == "abc"


def test_cookie_data_changed_writes_under_same_id(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    session["a"] = 2
    plan = state.save_plan()
    assert plan.remove == ()
    assert plan.write is not None
    assert plan.write.session_id == "abc"
    assert plan.write.data == {
        "a": 2,
        METADATA_KEY: {"lifetime": LIFETIME, "created": now, "last_access": now, "rolling": False},
    }
    headers = state.response_headers("abc", "", True)
    assert headers == [("Set-Cookie", f"session=abc; path=/; max-age={LIFETIME}{ATTRS}"), VARY]


def test_modified_flag_alone_forces_a_write(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"cart": []}))
    session["cart"].append(1)
    session.modified = True
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.data["cart"] == [1]


def attributes(cookie: str) -> dict[str, str]:
    """A Set-Cookie value's attributes, minus the ones that say how long it lives."""
    _, *parts = cookie.split("; ")
    found = dict(part.partition("=")[::2] for part in parts)
    found.pop("max-age", None)
    found.pop("expires", None)
    return found


@pytest.mark.parametrize(
    ("options", "mount_point", "path"),
    [
        ({}, "", "/"),
        ({}, "/app", "/app"),
        ({"cookie_path": "/shop", "cookie_domain": "example.com"}, "/app", "/shop"),
        ({"cookie_same_site": "strict", "cookie_https_only": False, "cookie_name": "sid"}, "", "/"),
        ({"cookie_same_site": "none", "cookie_domain": ".example.org"}, "/mounted", "/mounted"),
    ],
)
def test_cookie_session_emptied_removes_record_and_deletes_cookie(
    now: float, options: dict[str, typing.Any], mount_point: str, path: str
) -> None:
    config = make_config(**options)
    # The cookie that was sent when the session was written, to compare attributes with.
    writer, data = loaded(config, "abc", None)
    data["a"] = 1
    write = writer.save_plan().write
    assert write is not None
    set_value = set_cookie(writer.response_headers(write.session_id, mount_point, True))

    state, session = loaded(config, "abc", record({"a": 1}))
    session.clear()
    assert state.save_plan() == SavePlan(None, ("abc",))
    assert state.session_id is None
    headers = state.response_headers(None, mount_point, True)
    deleting = set_cookie(headers)
    name = config.cookie.name
    assert deleting.startswith(f"{name}=; path={path}; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert attributes(deleting) == attributes(set_value)
    assert attributes(deleting)["path"] == path
    assert ("secure" in attributes(deleting)) is config.cookie.secure
    assert attributes(deleting).get("domain") == options.get("cookie_domain")


def test_cookie_session_emptied_exact_header(now: float) -> None:
    config = make_config(cookie_domain="example.com", cookie_path="/app")
    state, session = loaded(config, "abc", record({"a": 1, "b": 2}))
    del session["a"]
    session.pop("b")
    assert state.save_plan() == SavePlan(None, ("abc",))
    assert state.response_headers(None, "/ignored", True) == [
        (
            "Set-Cookie",
            "session=; path=/app; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=example.com"
            "; httponly; samesite=lax; secure",
        ),
        VARY,
    ]


@pytest.mark.parametrize("data", [None, {}, [], "garbage", b"", 42])
def test_cookie_of_unknown_session_emptied_does_nothing(now: float, data: object) -> None:
    state, session = loaded(make_config(), "abc", data)
    assert state.initially_empty
    session["a"] = 1
    session.clear()
    assert session.modified
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == [VARY]


def test_regenerate_moves_data_to_a_new_id_and_removes_the_old(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    new_id = state.regenerate()
    assert is_new_id(new_id)
    assert new_id != "abc"
    assert state.session_id == new_id
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.session_id == new_id
    assert plan.write.data == {
        "a": 1,
        METADATA_KEY: {"lifetime": LIFETIME, "created": now, "last_access": now, "rolling": False},
    }
    assert plan.remove == ("abc",)
    headers = state.response_headers(new_id, "", True)
    assert headers == [("Set-Cookie", f"session={new_id}; path=/; max-age={LIFETIME}{ATTRS}"), VARY]


def test_regenerate_twice_uses_the_last_id(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    first = state.regenerate()
    second = state.regenerate()
    assert first != second
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.session_id == second
    assert plan.remove == ("abc",)


def test_regenerate_then_emptied_removes_old_and_deletes_cookie(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    state.regenerate()
    session.clear()
    assert state.save_plan() == SavePlan(None, ("abc",))
    assert "max-age=0" in set_cookie(state.response_headers(None, "", True))


def test_regenerate_of_a_new_empty_session_does_nothing(now: float) -> None:
    state, _ = loaded(make_config(), None, None)
    state.regenerate()
    assert state.save_plan() == SavePlan(None, ())
    assert state.response_headers(None, "", True) == [VARY]


@pytest.mark.parametrize("data", [None, {}, [], "garbage", b"", 42])
def test_unknown_id_is_never_adopted(now: float, data: object) -> None:
    state = SessionState(make_config(), "client-chosen")
    assert state.read_plan() == ("client-chosen", LIFETIME, None)
    session = state.load(data)
    assert state.session_id is None
    assert session == {}
    session["a"] = 1
    plan = state.save_plan()
    assert plan.write is not None
    assert is_new_id(plan.write.session_id)
    assert plan.write.session_id != "client-chosen"
    assert plan.remove == ()
    cookie = set_cookie(state.response_headers(plan.write.session_id, "", True))
    assert cookie.startswith(f"session={plan.write.session_id}; ")
    assert "client-chosen" not in cookie


def test_non_rolling_expired_record_loads_as_new_session(now: float, clock: Clock) -> None:
    clock.advance(LIFETIME)  # created + lifetime == now: expired
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=now))
    assert session == {}
    assert state.initially_empty
    assert state.session_id is None
    assert state.metadata == {"lifetime": LIFETIME, "created": now + LIFETIME, "last_access": now + LIFETIME}
    session["b"] = 2
    plan = state.save_plan()
    assert plan.write is not None
    assert is_new_id(plan.write.session_id)
    assert plan.write.session_id != "abc"
    assert plan.write.data == {"b": 2, METADATA_KEY: state.metadata}
    assert "abc" in plan.remove
    assert plan.write.ttl == LIFETIME


def test_non_rolling_expired_record_left_empty_writes_nothing(now: float, clock: Clock) -> None:
    clock.advance(LIFETIME + 1)
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert session == {}
    plan = state.save_plan()
    assert plan.write is None
    assert plan.remove == ("abc",)  # the expired record is cleaned up
    assert state.response_headers(None, "", True) == [VARY]


def test_non_rolling_record_one_second_before_expiry_is_live(now: float, clock: Clock) -> None:
    clock.advance(LIFETIME - 1)
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert session == {"a": 1}
    assert state.session_id == "abc"
    assert state.remaining_seconds() == 1


def test_non_rolling_expiry_follows_the_stored_lifetime(now: float, clock: Clock) -> None:
    """A session given its own lifetime expires by it, not by the configured one."""
    clock.advance(60)
    state, session = loaded(make_config(), "abc", record({"a": 1}, lifetime=60))
    assert session == {}
    assert state.session_id is None
    state, session = loaded(make_config(lifetime=60), "abc", record({"a": 1}, lifetime=7200))
    assert session == {"a": 1}
    assert state.remaining_seconds() == 7200 - 60


def test_session_only_stored_lifetime_never_expires_in_the_core(now: float, clock: Clock) -> None:
    clock.advance(10**8)
    state, session = loaded(make_config(), "abc", record({"a": 1}, lifetime=0))
    assert session == {"a": 1}
    assert state.remaining_seconds() == 0


def test_rolling_session_on_a_touching_store_lives_by_the_store_expiry(now: float, clock: Clock) -> None:
    clock.advance(10 * LIFETIME)  # the store extends the record on every read: its TTL decides
    config = make_config(rolling=True, store_touches=True)
    state, session = loaded(config, "abc", record({"a": 1}, created=now), touched=True)
    assert session == {"a": 1}
    assert state.session_id == "abc"
    assert state.metadata is not None
    assert state.metadata["created"] == now
    assert state.remaining_seconds() == LIFETIME


def test_rolling_session_on_a_store_without_touch_dies_a_lifetime_after_its_last_write(
    now: float, clock: Clock
) -> None:
    """Such stores rewrite the record on every load, so its last_access is the last request."""
    stored = record({"a": 1}, created=now - 5 * LIFETIME)
    stored["__metadata__"]["last_access"] = now
    clock.advance(LIFETIME - 1)
    state, session = loaded(
        make_config(rolling=True), "abc", dict(stored, __metadata__=dict(stored["__metadata__"]))
    )
    assert session == {"a": 1}
    clock.advance(1)
    state, session = loaded(make_config(rolling=True), "abc", stored)
    assert session == {}
    assert state.session_id is None


@pytest.mark.parametrize(
    ("lifetime", "seconds"),
    [(7200, 7200), (datetime.timedelta(days=1), 86400), (datetime.timedelta(minutes=1), 60), (10, 10)],
)
def test_set_lifetime_forces_a_write_and_sets_ttl_and_max_age(
    now: float, lifetime: int | datetime.timedelta, seconds: int
) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    state.set_lifetime(lifetime)
    assert not session.modified
    assert state.remaining_seconds() == seconds
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.session_id == "abc"
    assert plan.write.lifetime == seconds
    assert plan.write.ttl == seconds
    assert plan.write.data[METADATA_KEY]["lifetime"] == seconds
    assert plan.remove == ()
    cookie = set_cookie(state.response_headers("abc", "", True))
    assert cookie == f"session=abc; path=/; max-age={seconds}{ATTRS}"


def test_set_lifetime_zero_makes_a_session_only_cookie(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    state.set_lifetime(0)
    assert state.remaining_seconds() == 0
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.lifetime == 0
    assert plan.write.ttl == 0
    cookie = set_cookie(state.response_headers("abc", "", True))
    assert cookie == f"session=abc; path=/{ATTRS}"
    assert "max-age" not in cookie


def test_set_lifetime_on_a_rolling_touched_session_writes(now: float) -> None:
    config = make_config(rolling=True, store_touches=True)
    state, _ = loaded(config, "abc", record({"a": 1}), touched=True)
    state.set_lifetime(datetime.timedelta(hours=2))
    plan = state.save_plan()
    assert plan.write is not None
    assert (plan.write.lifetime, plan.write.ttl) == (7200, 7200)
    assert "max-age=7200;" in set_cookie(state.response_headers("abc", "", True))


def test_set_lifetime_on_a_new_session_with_data(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    session["a"] = 1
    state.set_lifetime(120)
    plan = state.save_plan()
    assert plan.write is not None
    assert is_new_id(plan.write.session_id)
    assert (plan.write.lifetime, plan.write.ttl) == (120, 120)


def test_non_rolling_write_after_time_passed_uses_remaining_seconds(now: float, clock: Clock) -> None:
    clock.advance(10.5)
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=now))
    assert state.remaining_seconds() == math.ceil(LIFETIME - 10.5) == 3590
    session["a"] = 2
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.lifetime == LIFETIME
    assert plan.write.ttl == 3590
    assert plan.write.data[METADATA_KEY] == {
        "lifetime": LIFETIME,
        "created": now,
        "last_access": now + 10.5,
        "rolling": False,
    }
    cookie = set_cookie(state.response_headers("abc", "", True))
    assert cookie == f"session=abc; path=/; max-age=3590{ATTRS}"


def test_non_rolling_set_lifetime_after_time_passed_counts_from_created(now: float, clock: Clock) -> None:
    clock.advance(100)
    state, _ = loaded(make_config(), "abc", record({"a": 1}, created=now))
    state.set_lifetime(1000)
    plan = state.save_plan()
    assert plan.write is not None
    assert (plan.write.lifetime, plan.write.ttl) == (1000, 900)
    assert "max-age=900;" in set_cookie(state.response_headers("abc", "", True))


def test_session_only_config_sends_no_max_age(now: float) -> None:
    config = make_config(lifetime=0)
    state, session = loaded(config, None, None)
    session["a"] = 1
    assert state.remaining_seconds() == 0
    plan = state.save_plan()
    assert plan.write is not None
    assert (plan.write.lifetime, plan.write.ttl) == (0, 0)
    new_id = plan.write.session_id
    assert state.response_headers(new_id, "", True) == [
        ("Set-Cookie", f"session={new_id}; path=/{ATTRS}"),
        VARY,
    ]


def test_session_only_config_rolling_rewrites_without_max_age(now: float) -> None:
    config = make_config(lifetime=0, rolling=True)
    state, _ = loaded(config, "abc", record({"a": 1}, lifetime=0))
    plan = state.save_plan()
    assert plan.write is not None
    assert (plan.write.session_id, plan.write.ttl) == ("abc", 0)
    assert set_cookie(state.response_headers("abc", "", True)) == f"session=abc; path=/{ATTRS}"


def test_cookie_path_follows_the_mount_point(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    session["a"] = 1
    write = state.save_plan().write
    assert write is not None
    cookie = set_cookie(state.response_headers(write.session_id, "/app", True))
    assert cookie == f"session={write.session_id}; path=/app; max-age={LIFETIME}{ATTRS}"


# -- metadata ----------------------------------------------------------------------------------------------


def test_metadata_is_in_the_write_but_not_in_the_session(now: float, clock: Clock) -> None:
    created = now - 100
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=created))
    assert METADATA_KEY not in session
    assert state.metadata == {"lifetime": LIFETIME, "created": created, "last_access": now}
    session["b"] = 2
    clock.advance(5)
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.data[METADATA_KEY] == {
        "lifetime": LIFETIME,
        "created": created,
        "last_access": now + 5,
        "rolling": False,
    }
    assert set(plan.write.data) == {"a", "b", METADATA_KEY}
    assert METADATA_KEY not in session
    assert session == {"a": 1, "b": 2}
    assert json.loads(json.dumps(plan.write.data)) == plan.write.data


LONG_AGO = T0 - 10**7
BAD_METADATA: dict[str, object] = {
    "missing": ...,
    "none": None,
    "string": "lifetime=60",
    "list": [60, LONG_AGO],
    "empty-dict": {},
    "no-lifetime": {"created": LONG_AGO},
    "no-created": {"lifetime": 60},
    "lifetime-str": {"lifetime": "60", "created": LONG_AGO},
    "lifetime-float": {"lifetime": 60.0, "created": LONG_AGO},
    "lifetime-bool": {"lifetime": True, "created": LONG_AGO},
    "lifetime-negative": {"lifetime": -60, "created": LONG_AGO},
    "lifetime-none": {"lifetime": None, "created": LONG_AGO},
    "created-str": {"lifetime": 60, "created": str(LONG_AGO)},
    "created-bool": {"lifetime": 60, "created": False},
    "created-nan": {"lifetime": 60, "created": math.nan},
    "created-inf": {"lifetime": 60, "created": math.inf},
    "created-minus-inf": {"lifetime": 60, "created": -math.inf},
    "created-none": {"lifetime": 60, "created": None},
}


@pytest.mark.parametrize("metadata", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_invalid_metadata_falls_back_to_fresh_metadata(now: float, metadata: object) -> None:
    data: dict[str, object] = {"a": 1}
    if metadata is not ...:
        data[METADATA_KEY] = metadata
    state, session = loaded(make_config(), "abc", data)
    assert session == {"a": 1}
    assert state.session_id == "abc"
    assert state.metadata == {"lifetime": LIFETIME, "created": now, "last_access": now}
    assert state.remaining_seconds() == LIFETIME
    session["b"] = 2
    plan = state.save_plan()
    assert plan.write is not None
    assert plan.write.session_id == "abc"
    assert plan.write.data[METADATA_KEY] == {
        "lifetime": LIFETIME,
        "created": now,
        "last_access": now,
        "rolling": False,
    }


def test_valid_integer_created_is_accepted(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}, created=int(now) - 10, lifetime=100))
    assert state.metadata == {"lifetime": 100, "created": int(now) - 10, "last_access": now}
    assert state.remaining_seconds() == 90


@pytest.mark.parametrize("data", [None, [], ["a", 1], [("a", 1)], "a string", b"bytes", 42, 1.5, True, {}])
def test_non_dict_or_empty_record_gives_an_empty_new_session(now: float, data: object) -> None:
    state, session = loaded(make_config(), "abc", data)
    assert session == {}
    assert isinstance(session, Session)
    assert not session.modified
    assert state.initially_empty
    assert state.session_id is None
    assert state.metadata == {"lifetime": LIFETIME, "created": now, "last_access": now}


def test_remaining_seconds_and_set_lifetime_need_a_loaded_session() -> None:
    state = SessionState(make_config(), "abc")
    with pytest.raises(SessionNotLoaded):
        state.remaining_seconds()
    with pytest.raises(SessionNotLoaded):
        state.set_lifetime(60)


@pytest.mark.parametrize(
    "bad", [-1, -3600, -0.5, "1h", "-60", True, None, float("inf"), datetime.timedelta(seconds=-5)]
)
def test_set_lifetime_rejects_bad_values(now: float, bad: object) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    with pytest.raises(ImproperlyConfigured, match="a number of seconds or a timedelta, not negative"):
        state.set_lifetime(bad)  # type: ignore[arg-type]
    assert state.metadata is not None
    assert state.metadata["lifetime"] == LIFETIME
    assert state.save_plan() == SavePlan(None, ())


def test_improperly_configured_is_a_value_error() -> None:
    assert issubclass(ImproperlyConfigured, ValueError)


# -- ids -----------------------------------------------------------------------------------------------------


def test_generate_session_id_is_url_safe_long_and_unique() -> None:
    ids = [generate_session_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for value in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", value), value
        assert len(value) >= 22  # token_urlsafe: 4 characters per 3 bytes; 22 characters >= 128 bits
    assert dualsessions.generate_session_id is generate_session_id


# -- SessionConfig -------------------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = SessionConfig.from_options()
    assert config.lifetime == 0
    assert config.rolling is False
    assert config.store_touches is False
    assert config.cookie.name == "session"
    assert config.cookie.same_site == "lax"
    assert config.cookie.secure is True
    assert config.cookie.domain is None
    assert config.cookie.path is None


@pytest.mark.parametrize(
    ("lifetime", "seconds"),
    [
        (0, 0),
        (60, 60),
        (datetime.timedelta(hours=1), 3600),
        (datetime.timedelta(days=14), 14 * 86400),
        (datetime.timedelta(0), 0),
    ],
)
def test_config_lifetime_in_seconds(lifetime: int | datetime.timedelta, seconds: int) -> None:
    config = SessionConfig.from_options(lifetime=lifetime)
    assert config.lifetime == seconds
    assert type(config.lifetime) is int


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"lifetime": -1}, "lifetime must be 0 .* a number of seconds or a timedelta, not negative"),
        ({"lifetime": datetime.timedelta(seconds=-10)}, "not negative"),
        ({"lifetime": float("nan")}, "lifetime must be 0 .* not negative"),
        ({"lifetime": "an hour"}, "not negative, got 'an hour'"),
        ({"lifetime": True}, "not negative"),
        ({"lifetime": None}, "not negative"),
        ({"cookie_name": "my session"}, "not a valid cookie name: use letters, digits"),
        ({"cookie_name": "a;b"}, "not a valid cookie name"),
        ({"cookie_name": "a=b"}, "not a valid cookie name"),
        ({"cookie_name": ""}, "not a valid cookie name"),
        ({"cookie_name": "a,b"}, "no spaces, '=', ';' or ','"),
        ({"cookie_same_site": "sometimes"}, "cookie_same_site must be 'lax', 'strict' or 'none'"),
        ({"cookie_same_site": ""}, "cookie_same_site must be 'lax', 'strict' or 'none'"),
        ({"cookie_same_site": "none", "cookie_https_only": False}, "needs cookie_https_only=True"),
        ({"cookie_same_site": "None", "cookie_https_only": False}, "needs cookie_https_only=True"),
        ({"cookie_path": "app"}, "cookie_path must start with '/'"),
        ({"cookie_path": "/a;b"}, "cookie_path .* without spaces, ';' or control characters"),
        ({"cookie_path": "/a b"}, "cookie_path .* without spaces"),
        ({"cookie_domain": "example.com; secure"}, "cookie_domain .* without spaces, ';'"),
        ({"cookie_domain": "exa mple.com"}, "cookie_domain .* without spaces"),
        ({"cookie_domain": "example.com\n"}, "cookie_domain .* control characters"),
    ],
)
def test_config_validation_messages(options: dict[str, typing.Any], phrase: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=phrase):
        SessionConfig.from_options(**options)


def test_config_same_site_is_normalized_and_valid_options_pass() -> None:
    config = SessionConfig.from_options(
        lifetime=datetime.timedelta(minutes=5),
        rolling=True,
        cookie_name="my.sid",
        cookie_same_site="Strict",
        cookie_https_only=False,
        cookie_domain=".example.com",
        cookie_path="/app",
        store_touches=True,
    )
    assert config.lifetime == 300
    assert config.rolling is True
    assert config.store_touches is True
    assert config.cookie.same_site == "strict"
    assert config.cookie.secure is False
    assert config.cookie.name == "my.sid"
    assert config.cookie.set_cookie("v", 300, config.cookie.path_for("/ignored")) == (
        "my.sid=v; path=/app; max-age=300; domain=.example.com; httponly; samesite=strict"
    )


# -- import purity -------------------------------------------------------------------------------------------

PACKAGE = pathlib.Path(dualsessions.__file__).parent
FORBIDDEN_STDLIB = {"asyncio", "threading", "socket"}
ALLOWED_RELATIVE = {"_clock", "cookies", "exceptions", "types"}


def import_problems(source: str, filename: str = "<test>") -> tuple[list[str], set[str]]:
    """Imports of ``source`` that a sans-I/O module must not make, and the sibling modules it imports."""
    problems: list[str] = []
    siblings: set[str] = set()

    def absolute(name: str) -> None:
        top = name.split(".")[0]
        if top not in sys.stdlib_module_names or top in FORBIDDEN_STDLIB:
            problems.append(f"{filename}: import {name}")

    def relative(level: int, name: str) -> None:
        top = name.split(".")[0]
        if level != 1 or top not in ALLOWED_RELATIVE:
            problems.append(f"{filename}: from {'.' * level}{name} import ...")
        else:
            siblings.add(top)

    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                absolute(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                absolute(node.module or "")
            elif node.module is None:  # from . import _clock
                for alias in node.names:
                    relative(node.level, alias.name)
            else:
                relative(node.level, node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            problems.append(f"{filename}: __import__ call")
    return problems, siblings


@pytest.mark.parametrize("module", ["core.py", "cookies.py"])
def test_sans_io_modules_import_only_the_standard_library(module: str) -> None:
    """core.py and cookies.py, and the siblings they import, use no framework, no I/O library."""
    to_check, seen, problems = [module], set(), []
    while to_check:
        name = to_check.pop()
        if name in seen:
            continue
        seen.add(name)
        path = PACKAGE / name
        found, siblings = import_problems(path.read_text(encoding="utf-8"), name)
        problems += found
        to_check += [f"{sibling}.py" for sibling in siblings]
    assert problems == []
    assert module in seen
    if module == "core.py":
        assert {"core.py", "_clock.py", "cookies.py", "exceptions.py", "types.py"} <= seen


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import threading",
        "import socket",
        "from asyncio import sleep",
        "import starlette.requests",
        "from starlette.requests import Request",
        "import werkzeug",
        "from redis import Redis",
        "import asgiref.sync",
        "import flask",
        "import itsdangerous",
        "from .middleware import SessionMiddleware",
        "from . import middleware",
        "from .stores import memory",
        "from ..x import y",
        "def f():\n    import asyncio",
        "__import__('asyncio')",
    ],
)
def test_import_checker_catches_forbidden_imports(source: str) -> None:
    problems, _ = import_problems(source)
    assert problems, source


def test_import_checker_allows_the_permitted_imports() -> None:
    source = (
        "from __future__ import annotations\nimport datetime, logging, math, secrets, typing, re\n"
        "from dataclasses import dataclass\nfrom . import _clock\nfrom .cookies import CookieRules\n"
        "from .exceptions import SessionError\nfrom .types import SessionMetadata\n"
    )
    assert import_problems(source) == ([], {"_clock", "cookies", "exceptions", "types"})


@pytest.mark.parametrize(
    ("value", "seconds"), [(3600.0, 3600), (1.5, 2), ("3600", 3600), (" 60 ", 60), (0.0, 0)]
)
def test_lifetimes_starsessions_accepted_still_work(value: object, seconds: int) -> None:
    assert SessionConfig.from_options(lifetime=value).lifetime == seconds  # type: ignore[arg-type]


def test_update_with_nothing_is_not_a_change() -> None:
    session = Session({"a": 1})
    session.update({})
    session |= {}
    assert not session.modified
    session.update(b=2)
    assert session.modified


def test_part_seconds_still_count_and_negative_timedeltas_are_refused() -> None:
    assert SessionConfig.from_options(lifetime=datetime.timedelta(milliseconds=500)).lifetime == 1
    with pytest.raises(ImproperlyConfigured, match="lifetime must be 0"):
        SessionConfig.from_options(lifetime=datetime.timedelta(seconds=-0.5))


def test_empty_cookie_domain_and_path_mean_unset() -> None:
    cookie = SessionConfig.from_options(cookie_domain="", cookie_path="").cookie
    assert (cookie.domain, cookie.path) == (None, None)
