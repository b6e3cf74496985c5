"""The sans-I/O core driven directly: ``Session``, ``SessionState`` and ``SessionConfig``, without any I/O.

Like h11's tests of its state machine, these feed the core what a front end would (a cookie value, the
record a store returned, the id the store wrote under) and assert what it decides: what to read, which
row of ``RULES`` the request is in, what the store does, which headers to send, and that a call in the
wrong phase is refused. Time is moved with the ``clock`` fixture.
"""

from __future__ import annotations

import ast
import copy
import datetime
import json
import math
import pathlib
import re
import sys
import typing
from collections.abc import Iterable, Iterator

import pytest

import dualsessions
from dualsessions import core
from dualsessions.core import (
    FAILED,
    METADATA_KEY,
    POSITIONAL_OPTIONS,
    RULES,
    Client,
    Cookie,
    Decision,
    IndexChange,
    Options,
    Phase,
    Session,
    SessionConfig,
    SessionState,
    Store,
    deadline,
    generate_session_id,
    options_from,
    rolls,
)
from dualsessions.exceptions import (
    ImproperlyConfigured,
    SessionError,
    SessionLifecycleError,
    SessionNotLoaded,
)

from .conftest import Clock

T0 = 1_700_000_000.0
LIFETIME = 3600
ATTRS = "; httponly; samesite=lax; secure"
VARY = ("Vary", "Cookie")
DELETED = f"session=; path=/; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT{ATTRS}"
ROLLING: dict[str, typing.Any] = {"rolling": True}
ROLLING_TOUCHING: dict[str, typing.Any] = {"rolling": True, "store_touches": True}


@pytest.fixture
def now(clock: Clock) -> float:
    """Pins the clock to a round number so that expected seconds are exact."""
    clock.now = T0
    return T0


def make_config(*, store_touches: bool = False, **options: typing.Any) -> SessionConfig:
    """A config from middleware options (lifetime: an hour unless given) and what the store can do."""
    options.setdefault("lifetime", LIFETIME)
    return SessionConfig.from_options(typing.cast(Options, options), store_touches=store_touches)


def record(
    data: dict[str, typing.Any], *, lifetime: int = LIFETIME, created: float = T0, **metadata: typing.Any
) -> dict[str, typing.Any]:
    """What a store holds (deserialized): the data and its metadata (``user=``, ``rolling=``, ...)."""
    stored = {"lifetime": lifetime, "created": created, "last_access": created, **metadata}
    return {**data, METADATA_KEY: stored}


def written_metadata(
    *, created: float = T0, last_access: float = T0, rolling: bool = False, **extra: typing.Any
) -> dict[str, typing.Any]:
    """The metadata a write carries."""
    return {"lifetime": LIFETIME, "created": created, "last_access": last_access, "rolling": rolling, **extra}


def loaded(
    config: SessionConfig, cookie: str | None, data: object, touched: bool = False
) -> tuple[SessionState, Session]:
    state = SessionState(config, cookie)
    session = state.load(data, touched=touched)
    return state, session


_AS_ASKED = object()


def finish(
    state: SessionState, status: int | None = 200, written: object = _AS_ASKED, mount_point: str = ""
) -> tuple[Decision, list[tuple[str, str]]]:
    """Decide, report the store's work as an engine would (by default: it wrote under the id it was
    asked to), and return the decision and the response headers."""
    decision = state.decide(status)
    state.stored(decision.session_id if written is _AS_ASKED else typing.cast("str | None", written))
    return decision, state.response_headers(mount_point, True)


def cookie_headers(
    value: str | None, max_age: int | None = LIFETIME, path: str = "/"
) -> list[tuple[str, str]]:
    """The headers setting the default cookie to ``value``."""
    age = "" if max_age is None else f"; max-age={max_age}"
    return [("Set-Cookie", f"session={value}; path={path}{age}{ATTRS}"), VARY]


def set_cookie(headers: list[tuple[str, str]]) -> str:
    """The one Set-Cookie value in ``headers``, which must also carry ``Vary: Cookie``."""
    values = [value for name, value in headers if name == "Set-Cookie"]
    assert len(values) == 1, headers
    assert VARY in headers
    return values[0]


def is_new_id(value: str | None) -> bool:
    return value is not None and re.fullmatch(r"[A-Za-z0-9_-]{22,}", value) is not None


# -- scenarios: a request in a few words ---------------------------------------------------------------

Act = typing.Callable[[SessionState, Session], object]


def change(state: SessionState, session: Session) -> None:
    session["a"] = 2


def add_data(state: SessionState, session: Session) -> None:
    session["b"] = 2


def empty(state: SessionState, session: Session) -> None:
    session.clear()


def regenerate(state: SessionState, session: Session) -> None:
    state.regenerate()


def as_user(user: str | None) -> Act:
    def act(state: SessionState, session: Session) -> None:
        state.set_user(user)

    return act


STORED = record({"a": 1})
EXPIRED = record({"a": 1}, created=T0 - 2 * LIFETIME)
ALICE = record({"a": 1}, user="alice")
EXPIRED_ALICE = record({"a": 1}, created=T0 - 2 * LIFETIME, user="alice")


class Scenario(typing.NamedTuple):
    """The options, the cookie, the record the store holds, and what the application does."""

    cookie: str | None = "abc"
    stored: dict[str, typing.Any] = STORED
    acts: tuple[Act, ...] = ()
    options: typing.Mapping[str, typing.Any] = {}
    load: bool = True
    status: int = 200
    client: Client | None = None  # the request's facts (track_devices)


def build(scenario: Scenario) -> SessionState:
    """The state of ``scenario``'s request just before its response, read as an engine reads."""
    state = SessionState(make_config(**scenario.options), scenario.cookie, client=scenario.client)
    if scenario.load:
        plan = state.read_plan()
        data = copy.deepcopy(scenario.stored) if plan is not None else None
        raw = json.dumps(data).encode() if data is not None else b""
        session = state.load(data, touched=plan is not None and plan[2] is not None, raw=raw)
        for act in scenario.acts:
            act(state, session)
    return state


#: A minimal request for each row of RULES.
SITUATIONS: dict[str, Scenario] = {
    "never loaded": Scenario(load=False),
    FAILED: Scenario(acts=(change,), status=500),
    "never had data": Scenario(cookie=None),
    "emptied": Scenario(acts=(empty,)),
    "new data": Scenario(cookie=None, acts=(add_data,)),
    "regenerated": Scenario(acts=(regenerate,)),
    "changed": Scenario(acts=(change,)),
    "read, rolling, extended by the read": Scenario(options=ROLLING_TOUCHING),
    "read, rolling": Scenario(options=ROLLING),
    "read, device seen over a minute ago": Scenario(
        options={"track_devices": True}, client=Client("Phone/1.0", "192.0.2.1")
    ),
    "read": Scenario(),
}

EXPECTED_HEADERS: dict[Cookie, typing.Callable[[str | None], list[tuple[str, str]]]] = {
    Cookie.NONE: lambda _: [],
    Cookie.KEEP: lambda _: [VARY],
    Cookie.SET: cookie_headers,
    Cookie.DELETE: lambda _: [("Set-Cookie", DELETED), VARY],
}


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


def test_update_with_nothing_is_not_a_change() -> None:
    session = Session({"a": 1})
    session.update({})
    session |= {}
    assert not session.modified
    session.update(b=2)
    assert session.modified


# -- the rules table ---------------------------------------------------------------------------------------


def test_every_row_of_the_rules_has_a_scenario() -> None:
    assert set(SITUATIONS) == set(RULES)


def test_the_changes_are_the_rows_where_the_store_acts_for_the_application() -> None:
    """``CHANGES``: what a front end that can't save (Quart's accepted WebSocket) would lose."""
    acting = {
        situation
        for situation, (store, _) in RULES.items()
        if store is not Store.NOTHING and not situation.startswith("read")
    }
    assert acting == core.CHANGES


@pytest.mark.parametrize("situation", SITUATIONS)
def test_each_rule_is_reached_and_obeyed(now: float, situation: str) -> None:
    scenario = SITUATIONS[situation]
    state = build(scenario)
    decision, headers = finish(state, scenario.status)
    assert decision.situation == situation
    assert (decision.store, decision.cookie) == RULES[situation]
    assert headers == EXPECTED_HEADERS[decision.cookie](state.session_id)
    assert state.phase is Phase.DONE


@pytest.mark.parametrize("situation", SITUATIONS)
def test_decide_twice_returns_the_same_decision_and_makes_one_id(
    now: float, situation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = SITUATIONS[situation]
    state = build(scenario)
    made: list[str] = []

    def counting() -> str:
        made.append(generate_session_id())
        return made[-1]

    monkeypatch.setattr(core, "generate_session_id", counting)
    first = state.decide(scenario.status)
    assert state.decide(scenario.status) is first
    assert state.decide(500 if scenario.status < 500 else 200) is first
    assert made == ([first.session_id] if first.store is Store.CREATE else [])


FAILING = {
    **{name: SITUATIONS[name] for name in SITUATIONS if name not in ("never loaded", FAILED)},
    "expired record, new data": Scenario(stored=EXPIRED_ALICE, acts=(add_data,)),
}


@pytest.mark.parametrize("name", FAILING)
def test_a_failed_response_stores_nothing_and_sends_only_vary(now: float, name: str) -> None:
    """Status >= 500: nothing is written or removed (not even an expired record), no cookie is set."""
    decision, headers = finish(build(FAILING[name]), 500)
    assert decision == Decision(FAILED, Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


@pytest.mark.parametrize(
    ("name", "status", "situation"),
    [
        ("changed", None, "changed"),
        ("changed", 200, "changed"),
        ("changed", 499, "changed"),
        ("changed", 500, FAILED),
        ("changed", 503, FAILED),
        ("never loaded", 500, "never loaded"),
    ],
)
def test_failed_means_a_status_from_500(now: float, name: str, status: int | None, situation: str) -> None:
    assert build(SITUATIONS[name]).decide(status).situation == situation


@pytest.mark.parametrize(
    "situation", [name for name, (store, _) in RULES.items() if store in (Store.REPLACE, Store.MOVE)]
)
def test_a_conditional_write_that_found_no_record_sends_no_cookie(now: float, situation: str) -> None:
    """The engine reports ``stored(None)`` when the session ended meanwhile: it is not brought back."""
    state = build(SITUATIONS[situation])
    decision, headers = finish(state, written=None)
    assert decision.store in (Store.REPLACE, Store.MOVE)
    assert headers == [VARY]
    assert state.session_id is None


@pytest.mark.parametrize(
    ("situation", "merge"),
    [
        ("changed", True),
        ("regenerated", True),
        ("read, rolling", True),
        ("new data", False),
        ("emptied", False),
    ],
)
def test_merge_applies_to_writes_of_a_loaded_session(now: float, situation: str, merge: bool) -> None:
    scenario = SITUATIONS[situation]
    merging = scenario._replace(options={**scenario.options, "concurrency": "merge"})
    assert build(merging).decide(200).merge is merge
    assert build(scenario).decide(200).merge is False


# -- phases ----------------------------------------------------------------------------------------------


def at_phase(phase: Phase) -> SessionState:
    """A session driven, in order, up to ``phase``."""
    state = SessionState(make_config(), "abc")
    if phase is not Phase.UNLOADED:
        state.load(record({"a": 1}))
    if phase in (Phase.DECIDED, Phase.DONE):
        state.decide(200)
    if phase is Phase.DONE:
        state.stored(None)
    return state


OUT_OF_ORDER: dict[str, tuple[Phase, typing.Callable[[SessionState], object]]] = {
    "read_plan-after-load": (Phase.LOADED, lambda state: state.read_plan()),
    "read_plan-after-decide": (Phase.DECIDED, lambda state: state.read_plan()),
    "load-twice": (Phase.LOADED, lambda state: state.load(record({"b": 2}))),
    "load-after-decide": (Phase.DECIDED, lambda state: state.load(None)),
    "stored-before-load": (Phase.UNLOADED, lambda state: state.stored(None)),
    "stored-before-decide": (Phase.LOADED, lambda state: state.stored("abc")),
    "stored-twice": (Phase.DONE, lambda state: state.stored("abc")),
    "response_headers-before-decide": (Phase.LOADED, lambda state: state.response_headers()),
    "response_headers-before-stored": (Phase.DECIDED, lambda state: state.response_headers()),
    **{
        f"{name}-after-{phase.name.lower()}": (phase, call)
        for name, call in {
            "regenerate": lambda state: state.regenerate(),
            "set_lifetime": lambda state: state.set_lifetime(60),
            "set_user": lambda state: state.set_user("alice"),
        }.items()
        for phase in (Phase.DECIDED, Phase.DONE)
    },
}


@pytest.mark.parametrize(
    ("phase", "call"),
    [
        *(pytest.param(*OUT_OF_ORDER[name], id=name) for name in OUT_OF_ORDER),
        pytest.param(Phase.DONE, lambda state: state.decide(200), id="decide-after-stored"),
    ],
)
def test_a_call_out_of_order_is_refused(
    now: float, phase: Phase, call: typing.Callable[[SessionState], object]
) -> None:
    state = at_phase(phase)
    with pytest.raises(SessionLifecycleError, match=f"a session that is {phase.value} "):
        call(state)
    assert state.phase is phase


def test_a_session_never_loaded_can_be_decided_and_then_not_loaded() -> None:
    state = SessionState(make_config(), "abc")
    decision, headers = finish(state)
    assert decision == Decision("never loaded", Store.NOTHING, Cookie.NONE)
    assert headers == []
    assert not state.loaded
    with pytest.raises(SessionLifecycleError):
        state.load(None)


def test_a_session_loaded_ahead_and_never_used_is_as_if_never_loaded(now: float) -> None:
    """Quart reads the session before the view runs: a view that never uses it costs nothing more."""
    state = SessionState(make_config(**ROLLING_TOUCHING), "abc")
    state.load(record({"a": 1}), touched=True, ahead=True)
    assert state.loaded and not state.in_play
    assert state.session_id == "abc"  # known to the store, whether used or not
    decision, headers = finish(state)
    assert decision == Decision("never loaded", Store.NOTHING, Cookie.NONE)
    assert headers == []


@pytest.mark.parametrize(
    ("options", "change", "situation", "store", "headers"),
    [
        ({}, None, "read", Store.NOTHING, [VARY]),
        (ROLLING_TOUCHING, None, "read, rolling, extended by the read", Store.NOTHING, cookie_headers("abc")),
        (ROLLING, None, "read, rolling", Store.REPLACE, cookie_headers("abc")),
        ({}, "set", "changed", Store.REPLACE, cookie_headers("abc")),
    ],
    ids=["read", "rolling-touched", "rolling", "changed"],
)
def test_a_session_loaded_ahead_is_decided_as_any_once_used(
    now: float,
    options: dict[str, typing.Any],
    change: str | None,
    situation: str,
    store: Store,
    headers: list[tuple[str, str]],
) -> None:
    state = SessionState(make_config(**options), "abc")
    session = state.load(record({"a": 1}), touched=bool(options.get("store_touches")), ahead=True)
    state.use()
    assert state.in_play
    if change == "set":
        session["b"] = 2
    decision, sent = finish(state)
    assert (decision.situation, decision.store) == (situation, store)
    assert sent == headers


def test_use_needs_a_loaded_session(now: float) -> None:
    state = SessionState(make_config(), "abc")
    with pytest.raises(SessionLifecycleError, match="can't use a session that is not loaded"):
        state.use()
    state.load(None, ahead=True)
    state.use()
    finish(state)
    with pytest.raises(SessionLifecycleError, match="can't use a session that is done"):
        state.use()


def test_the_session_id_through_the_phases(now: float) -> None:
    state = SessionState(make_config(), "abc")
    assert (state.session_id, state.is_new) == (None, True)  # a cookie's id counts once the store knows it
    state.load(record({"a": 1}))
    assert (state.session_id, state.is_new) == ("abc", False)
    new_id = state.regenerate()
    assert state.session_id == new_id
    state.decide(200)
    assert state.session_id == new_id
    state.stored("as-written")
    assert state.session_id == "as-written"


def test_a_record_keeps_its_times_to_the_millisecond(clock: Clock) -> None:
    """Times are written rounded down to the millisecond: 14 digits in JSON, not up to 17, which
    every read parses on the fast path of float(); the session shows the same times it stores."""
    clock.now = 1796278127.8239144
    state = SessionState(make_config(), None)
    state.load(None)["a"] = 1
    metadata = typing.cast(dict[str, typing.Any], state.decide(200).data)[METADATA_KEY]
    assert (metadata["created"], metadata["last_access"]) == (1796278127.823, 1796278127.823)
    assert '"created":1796278127.823,' in json.dumps(metadata, separators=(",", ":"))
    assert state.metadata == metadata

    clock.now += 600.0009  # later, the next request's write
    later = SessionState(make_config(), "abc")
    later.load({"a": 1, METADATA_KEY: metadata})
    assert later.metadata is not None and later.metadata["last_access"] == 1796278727.824
    later.session["a"] = 2  # type: ignore[index]
    written = typing.cast(dict[str, typing.Any], later.decide(200).data)[METADATA_KEY]
    assert (written["created"], written["last_access"]) == (1796278127.823, 1796278727.824)


def test_a_time_stamped_to_the_millisecond_is_never_after_the_clock(clock: Clock) -> None:
    """Multiplied by 1000, this time rounds up to a whole thousandth: the stamp still stays below it,
    so a new session's TTL, Max-Age and remaining seconds are its lifetime, not a second more."""
    clock.now = 1903573218.8009999
    assert core._stamp(clock.now) == 1903573218.8
    state = SessionState(make_config(), None)
    state.load(None)["a"] = 1
    assert state.remaining_seconds() == LIFETIME
    decision = state.decide(200)
    assert typing.cast(dict[str, typing.Any], decision.data)[METADATA_KEY]["created"] <= clock.now
    assert (decision.ttl, decision.max_age) == (LIFETIME, LIFETIME)


@pytest.mark.parametrize(
    "options", [{"rolling": True}, {"idle_timeout": 1800}], ids=["rolling", "idle_timeout"]
)
def test_a_record_with_finer_times_ends_at_its_own_deadline(
    clock: Clock, options: dict[str, typing.Any]
) -> None:
    """A record written with times finer than a millisecond (by an earlier release) ends when they
    say, not up to a millisecond later: the rules judge by the clock, only what is recorded is stamped."""
    written = 1796278127.8234567
    end = written + (1800 if "idle_timeout" in options else LIFETIME)
    clock.now = end + 0.0005
    state = SessionState(make_config(**options), "abc")
    session = state.load(record({"a": 1}, created=written, rolling="rolling" in options))
    assert session == {} and state.stale_record == ("abc", None)


EARLY_CHANGES: dict[
    str, tuple[typing.Callable[[SessionState], object], typing.Callable[[object], dict[str, typing.Any]]]
] = {
    "regenerate": (
        lambda state: state.regenerate(),
        lambda new_id: {
            "situation": "regenerated",
            "store": Store.MOVE,
            "session_id": new_id,
            "record_id": "abc",
        },
    ),
    "set_lifetime": (
        lambda state: state.set_lifetime(60),
        lambda _: {"situation": "changed", "store": Store.REPLACE, "lifetime": 60, "ttl": 60, "max_age": 60},
    ),
    "set_user": (
        lambda state: state.set_user("alice"),
        lambda _: {
            "situation": "changed",
            "store": Store.REPLACE,
            "users": (IndexChange(True, "alice", "abc"),),
        },
    ),
}


@pytest.mark.parametrize("name", EARLY_CHANGES)
def test_a_change_before_loading_is_recorded_and_applied_once_loaded(now: float, name: str) -> None:
    change_early, expected = EARLY_CHANGES[name]
    state = SessionState(make_config(), "abc")
    assert not state.must_load_to_decide
    result = change_early(state)
    assert state.must_load_to_decide
    assert state.needs_load(200) and state.needs_load(None)
    assert not state.needs_load(500)  # a failed request changes nothing, so reads nothing
    assert state.phase is Phase.UNLOADED
    state.load(record({"a": 1}))
    assert not state.must_load_to_decide
    decision = state.decide(200)
    want = expected(result)
    assert {field: getattr(decision, field) for field in want} == want


# -- reading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, ROLLING_TOUCHING])
def test_read_plan_without_cookie_is_none(options: dict[str, typing.Any]) -> None:
    assert SessionState(make_config(**options), None).read_plan() is None


@pytest.mark.parametrize(
    ("options", "extend", "plan"),
    [
        ({}, True, ("abc", LIFETIME, None)),
        (ROLLING, True, ("abc", LIFETIME, None)),
        ({"store_touches": True}, True, ("abc", LIFETIME, None)),
        (ROLLING_TOUCHING, True, ("abc", LIFETIME, LIFETIME)),  # read and extend in one command
        (ROLLING_TOUCHING, False, ("abc", LIFETIME, None)),  # a look from outside a request
        ({**ROLLING_TOUCHING, "lifetime": 0}, True, ("abc", 0, None)),  # a browser session never rolls
    ],
)
def test_read_plan_with_cookie(
    options: dict[str, typing.Any], extend: bool, plan: tuple[str, int, int | None]
) -> None:
    assert SessionState(make_config(**options), "abc", extend).read_plan() == plan


def test_a_look_from_outside_a_request_never_extends(now: float) -> None:
    state = SessionState(make_config(**ROLLING_TOUCHING), "abc", extend=False)
    state.load(record({"a": 1}))
    assert state.expiry_fix is None
    decision, headers = finish(state, None)
    assert decision == Decision("read", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


@pytest.mark.parametrize(
    ("stored", "touched", "fix", "situation"),
    [
        (record({"a": 1}), True, None, "read, rolling, extended by the read"),
        (record({"a": 1}, lifetime=60), True, 60, "read, rolling, extended by the read"),
        (record({"a": 1}, lifetime=0), True, 0, "read"),  # its own browser-session lifetime: no expiry
        (record({"a": 1}, created=T0 - 100, rolling=False), True, LIFETIME - 100, "read"),
        (record({"a": 1}, rolling=False), True, LIFETIME, "read"),  # doesn't roll: fixed even if equal
        (record({"a": 1}, lifetime=60), False, None, "read, rolling"),
    ],
    ids=["configured", "own-lifetime", "own-lifetime-0", "does-not-roll", "does-not-roll-new", "not-touched"],
)
def test_expiry_fix_corrects_a_touch_made_with_the_configured_lifetime(
    now: float, stored: dict[str, typing.Any], touched: bool, fix: int | None, situation: str
) -> None:
    state, _ = loaded(make_config(**ROLLING_TOUCHING), "abc", stored, touched=touched)
    assert state.expiry_fix == fix
    assert state.decide(200).situation == situation


def test_a_touched_session_with_its_own_lifetime_is_corrected_not_rewritten(now: float) -> None:
    state, _ = loaded(make_config(**ROLLING_TOUCHING), "abc", record({"a": 1}, lifetime=60), touched=True)
    assert state.expiry_fix == 60
    decision, headers = finish(state)
    assert (decision.store, decision.cookie, decision.max_age) == (Store.NOTHING, Cookie.SET, 60)
    assert headers == cookie_headers("abc", 60)


# -- writes, removals and cookies ------------------------------------------------------------------------


def test_new_data_is_created_under_a_new_id(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    assert (state.session_id, state.is_new) == (None, True)
    session["user"] = "alice"
    decision, headers = finish(state)
    assert decision.store is Store.CREATE
    assert is_new_id(decision.session_id)
    assert decision.record_id is None
    assert decision.data == {"user": "alice", METADATA_KEY: written_metadata()}
    assert (decision.lifetime, decision.ttl, decision.max_age) == (LIFETIME, LIFETIME, LIFETIME)
    assert headers == cookie_headers(decision.session_id)
    assert state.session_id == decision.session_id


def test_new_sessions_get_different_ids(now: float) -> None:
    ids = {build(SITUATIONS["new data"]).decide(200).session_id for _ in range(3)}
    assert len(ids) == 3
    assert all(is_new_id(value) for value in ids)


def test_cookie_id_returned_by_the_store_goes_into_the_cookie(now: float) -> None:
    """A store may return another id than it was given (the cookie store returns the signed value)."""
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    session["a"] = 2
    _, headers = finish(state, written="from-the-store")
    assert headers == cookie_headers("from-the-store")
    assert state.session_id == "from-the-store"


def test_cookie_only_read_not_rolling_does_nothing(now: float, clock: Clock) -> None:
    clock.advance(100)
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert session["a"] == 1
    assert state.session_id == "abc"
    assert not state.initially_empty
    decision, headers = finish(state)
    assert decision == Decision("read", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]
    assert state.session_id == "abc"


def test_cookie_only_read_rolling_store_touched_sends_cookie_only(now: float, clock: Clock) -> None:
    clock.advance(1000)
    state = SessionState(make_config(**ROLLING_TOUCHING), "abc")
    assert state.read_plan() == ("abc", LIFETIME, LIFETIME)
    session = state.load(record({"a": 1}), touched=True)
    assert session["a"] == 1
    assert state.expiry_fix is None
    decision, headers = finish(state)
    assert decision == Decision(
        "read, rolling, extended by the read", Store.NOTHING, Cookie.SET, max_age=LIFETIME
    )
    assert headers == cookie_headers("abc")


@pytest.mark.parametrize("store_touches", [False, True])
@pytest.mark.parametrize("configured", [0, LIFETIME])
def test_a_browser_session_never_rolls(now: float, configured: int, store_touches: bool) -> None:
    """Lifetime 0 has no expiry to extend: a read-only request neither rewrites it nor re-sends it."""
    config = make_config(lifetime=configured, rolling=True, store_touches=store_touches)
    state = SessionState(config, "abc")
    plan = state.read_plan()
    assert plan is not None
    state.load(record({"a": 1}, lifetime=0), touched=plan[2] is not None)
    decision, headers = finish(state)
    assert decision == Decision("read", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


def test_cookie_only_read_rolling_store_cannot_touch_replaces_same_id(now: float, clock: Clock) -> None:
    clock.advance(1000)
    state = SessionState(make_config(**ROLLING), "abc")
    assert state.read_plan() == ("abc", LIFETIME, None)
    session = state.load(record({"a": 1}))
    assert session["a"] == 1
    decision, headers = finish(state)
    assert decision.situation == "read, rolling"
    assert decision.store is Store.REPLACE
    assert (decision.session_id, decision.record_id) == ("abc", "abc")
    assert decision.ttl == LIFETIME
    assert decision.data == {"a": 1, METADATA_KEY: written_metadata(last_access=now + 1000, rolling=True)}
    assert headers == cookie_headers("abc")


def test_rolling_store_touches_but_read_did_not_touch_replaces(now: float) -> None:
    state, _ = loaded(make_config(**ROLLING_TOUCHING), "abc", record({"a": 1}), touched=False)
    decision = state.decide(200)
    assert (decision.situation, decision.store, decision.session_id) == (
        "read, rolling",
        Store.REPLACE,
        "abc",
    )


def test_cookie_data_changed_replaces_under_same_id(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    session["a"] = 2
    decision, headers = finish(state)
    assert decision.store is Store.REPLACE
    assert (decision.session_id, decision.record_id) == ("abc", "abc")
    assert decision.data == {"a": 2, METADATA_KEY: written_metadata()}
    assert headers == cookie_headers("abc")


def test_modified_flag_alone_forces_a_write(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"cart": []}))
    session["cart"].append(1)
    session.modified = True
    decision = state.decide(200)
    assert decision.store is Store.REPLACE
    assert decision.data is not None
    assert decision.data["cart"] == [1]


def test_the_mutable_values_reveal_a_change_made_in_place(now: float) -> None:
    """The engine serializes ``mutable_values()`` after loading and ``unchanged_mutable_values()`` at
    the end: different bytes show a nested change. Only the mutable values are serialized."""
    state = build(Scenario(stored=record({"cart": [1], "big": "x" * 1000})))
    loaded_values = state.mutable_values()
    assert loaded_values == {"cart": [1]}
    state.snapshot = json.dumps(loaded_values).encode()
    assert json.dumps(state.unchanged_mutable_values()).encode() == state.snapshot
    typing.cast(Session, state.session)["cart"].append(2)
    assert json.dumps(state.unchanged_mutable_values()).encode() != state.snapshot
    state.decide(200)
    assert state.unchanged_mutable_values() is None


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(),  # only immutable values: nothing can have changed in place
        Scenario(stored=record({"cart": [1]}), acts=(change,)),  # written anyway
        Scenario(stored=record({"cart": [1]}), options=ROLLING),  # written anyway
        Scenario(stored=record({"cart": [1]}), acts=(empty,)),
        Scenario(cookie=None, acts=(add_data,)),
    ],
    ids=["immutable-values", "changed", "rolling", "emptied", "new"],
)
def test_there_is_no_need_to_look_for_changes_in_place(now: float, scenario: Scenario) -> None:
    state = build(scenario)
    state.mutable_values()  # as the engine does after loading
    assert state.unchanged_mutable_values() is None


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
    writer, data = loaded(config, None, None)
    data["a"] = 1
    set_value = set_cookie(finish(writer, mount_point=mount_point)[1])

    state, session = loaded(config, "abc", record({"a": 1}))
    session.clear()
    decision, headers = finish(state, mount_point=mount_point)
    assert decision == Decision("emptied", Store.REMOVE, Cookie.DELETE, record_id="abc")
    assert state.session_id is None
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
    decision, headers = finish(state, mount_point="/ignored")
    assert (decision.store, decision.record_id) == (Store.REMOVE, "abc")
    assert headers == [
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
    decision, headers = finish(state)
    assert decision == Decision("never had data", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


def test_regenerate_moves_data_to_a_new_id(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    new_id = state.regenerate()
    assert is_new_id(new_id)
    assert new_id != "abc"
    assert state.session_id == new_id
    decision, headers = finish(state)
    assert decision.store is Store.MOVE
    assert (decision.session_id, decision.record_id) == (new_id, "abc")
    assert decision.data == {"a": 1, METADATA_KEY: written_metadata()}
    assert headers == cookie_headers(new_id)


def test_regenerate_twice_uses_the_last_id(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    first = state.regenerate()
    second = state.regenerate()
    assert first != second
    decision = state.decide(200)
    assert (decision.store, decision.session_id, decision.record_id) == (Store.MOVE, second, "abc")


def test_regenerate_then_emptied_removes_old_and_deletes_cookie(now: float) -> None:
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    state.regenerate()
    session.clear()
    decision, headers = finish(state)
    assert decision == Decision("emptied", Store.REMOVE, Cookie.DELETE, record_id="abc")
    assert headers == [("Set-Cookie", DELETED), VARY]


@pytest.mark.parametrize("cookie", [None, "abc"])
def test_regenerate_of_a_new_empty_session_does_nothing(now: float, cookie: str | None) -> None:
    state = SessionState(make_config(), cookie)
    state.regenerate()  # before loading, of a session the store doesn't have
    state.load(None)
    decision, headers = finish(state)
    assert decision == Decision("never had data", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


@pytest.mark.parametrize("data", [None, {}, [], "garbage", b"", 42])
def test_unknown_id_is_never_adopted(now: float, data: object) -> None:
    state = SessionState(make_config(), "client-chosen")
    assert state.read_plan() == ("client-chosen", LIFETIME, None)
    session = state.load(data)
    assert state.session_id is None
    assert session == {}
    session["a"] = 1
    decision, headers = finish(state)
    assert decision.store is Store.CREATE
    assert is_new_id(decision.session_id)
    assert decision.session_id != "client-chosen"
    assert (decision.record_id, decision.stale) == (None, ())
    assert headers == cookie_headers(decision.session_id)


def test_cookie_path_follows_the_mount_point(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    session["a"] = 1
    decision, headers = finish(state, mount_point="/app")
    assert headers == cookie_headers(decision.session_id, path="/app")


# -- expiry ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rolling", "lifetime", "extend", "expected"),
    [
        (True, LIFETIME, True, True),
        (False, LIFETIME, True, False),
        (True, 0, True, False),  # a browser session has no expiry to extend
        (True, LIFETIME, False, False),  # a look from outside a request
    ],
)
def test_rolls(rolling: bool, lifetime: int, extend: bool, expected: bool) -> None:
    assert rolls(rolling, lifetime, extend) is expected


@pytest.mark.parametrize(
    ("lifetime", "rolling", "expected"),
    [
        (LIFETIME, True, T0 + 50 + LIFETIME),
        (LIFETIME, False, T0 + LIFETIME),
        (0, True, None),
        (0, False, None),
    ],
)
def test_deadline_counts_from_the_last_access_when_rolling_else_from_creation(
    lifetime: int, rolling: bool, expected: float | None
) -> None:
    assert deadline(lifetime, rolling, created=T0, last_access=T0 + 50) == expected


def test_non_rolling_expired_record_loads_as_new_session(now: float, clock: Clock) -> None:
    clock.advance(LIFETIME)  # created + lifetime == now: expired
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=now))
    assert session == {}
    assert state.initially_empty
    assert state.session_id is None
    later = now + LIFETIME
    assert state.metadata == {"lifetime": LIFETIME, "created": later, "last_access": later}
    session["b"] = 2
    decision = state.decide(200)
    assert decision.store is Store.CREATE
    assert is_new_id(decision.session_id)
    assert decision.session_id != "abc"
    assert decision.data == {"b": 2, METADATA_KEY: written_metadata(created=later, last_access=later)}
    assert decision.stale == ("abc",)
    assert decision.ttl == LIFETIME


def test_non_rolling_expired_record_left_empty_is_removed(now: float, clock: Clock) -> None:
    clock.advance(LIFETIME + 1)
    state, session = loaded(make_config(), "abc", record({"a": 1}))
    assert session == {}
    decision, headers = finish(state)
    assert decision == Decision("never had data", Store.NOTHING, Cookie.KEEP, stale=("abc",))
    assert headers == [VARY]


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
    state, session = loaded(
        make_config(**ROLLING_TOUCHING), "abc", record({"a": 1}, created=now), touched=True
    )
    assert session == {"a": 1}
    assert state.session_id == "abc"
    assert state.metadata is not None
    assert state.metadata["created"] == now
    assert state.remaining_seconds() == LIFETIME


@pytest.mark.parametrize(("elapsed", "live"), [(LIFETIME - 1, True), (LIFETIME, False)])
def test_rolling_session_on_a_store_without_touch_dies_a_lifetime_after_its_last_write(
    now: float, clock: Clock, elapsed: int, live: bool
) -> None:
    """Such stores rewrite the record on every read, so its last_access is the last request."""
    stored = record({"a": 1}, created=now - 5 * LIFETIME, last_access=now)
    clock.advance(elapsed)
    state, session = loaded(make_config(**ROLLING), "abc", stored)
    assert session == ({"a": 1} if live else {})
    assert state.session_id == ("abc" if live else None)


def test_non_rolling_write_after_time_passed_uses_remaining_seconds(now: float, clock: Clock) -> None:
    clock.advance(10.5)
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=now))
    assert state.remaining_seconds() == math.ceil(LIFETIME - 10.5) == 3590
    session["a"] = 2
    decision, headers = finish(state)
    assert (decision.lifetime, decision.ttl) == (LIFETIME, 3590)
    assert decision.data is not None
    assert decision.data[METADATA_KEY] == written_metadata(last_access=now + 10.5)
    assert headers == cookie_headers("abc", 3590)


def test_session_only_config_sends_no_max_age(now: float) -> None:
    state, session = loaded(make_config(lifetime=0), None, None)
    session["a"] = 1
    assert state.remaining_seconds() == 0
    decision, headers = finish(state)
    assert (decision.lifetime, decision.ttl, decision.max_age) == (0, 0, None)
    assert headers == cookie_headers(decision.session_id, None)


def test_remaining_seconds_needs_a_loaded_session() -> None:
    with pytest.raises(SessionNotLoaded):
        SessionState(make_config(), "abc").remaining_seconds()


# -- lifetimes -------------------------------------------------------------------------------------------


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
    decision, headers = finish(state)
    assert (decision.situation, decision.store, decision.session_id) == ("changed", Store.REPLACE, "abc")
    assert (decision.lifetime, decision.ttl) == (seconds, seconds)
    assert decision.data is not None
    assert decision.data[METADATA_KEY]["lifetime"] == seconds
    assert headers == cookie_headers("abc", seconds)


def test_set_lifetime_zero_makes_a_session_only_cookie(now: float) -> None:
    state, _ = loaded(make_config(), "abc", record({"a": 1}))
    state.set_lifetime(0)
    assert state.remaining_seconds() == 0
    decision, headers = finish(state)
    assert (decision.lifetime, decision.ttl, decision.max_age) == (0, 0, None)
    assert headers == cookie_headers("abc", None)


@pytest.mark.parametrize("before_load", [False, True])
def test_setting_the_lifetime_a_session_has_is_not_a_change(now: float, before_load: bool) -> None:
    state = SessionState(make_config(), "abc")
    if before_load:
        state.set_lifetime(datetime.timedelta(minutes=1))
    state.load(record({"a": 1}, lifetime=60))
    state.set_lifetime(60)
    decision, headers = finish(state)
    assert decision == Decision("read", Store.NOTHING, Cookie.KEEP)
    assert headers == [VARY]


def test_set_lifetime_on_a_rolling_touched_session_writes(now: float) -> None:
    state, _ = loaded(make_config(**ROLLING_TOUCHING), "abc", record({"a": 1}), touched=True)
    state.set_lifetime(datetime.timedelta(hours=2))
    decision, headers = finish(state)
    assert (decision.store, decision.lifetime, decision.ttl) == (Store.REPLACE, 7200, 7200)
    assert headers == cookie_headers("abc", 7200)


def test_set_lifetime_on_a_new_session_with_data(now: float) -> None:
    state, session = loaded(make_config(), None, None)
    session["a"] = 1
    state.set_lifetime(120)
    decision = state.decide(200)
    assert decision.store is Store.CREATE
    assert is_new_id(decision.session_id)
    assert (decision.lifetime, decision.ttl) == (120, 120)


def test_non_rolling_set_lifetime_after_time_passed_counts_from_created(now: float, clock: Clock) -> None:
    clock.advance(100)
    state, _ = loaded(make_config(), "abc", record({"a": 1}, created=now))
    state.set_lifetime(1000)
    decision, headers = finish(state)
    assert (decision.lifetime, decision.ttl) == (1000, 900)
    assert headers == cookie_headers("abc", 900)


@pytest.mark.parametrize(
    "bad", [-1, -3600, -0.5, "1h", "-60", True, None, float("inf"), datetime.timedelta(seconds=-5)]
)
@pytest.mark.parametrize("before_load", [False, True])
def test_set_lifetime_rejects_bad_values(now: float, bad: object, before_load: bool) -> None:
    state = SessionState(make_config(), "abc")
    if not before_load:
        state.load(record({"a": 1}))
    with pytest.raises(ImproperlyConfigured, match="a number of seconds or a timedelta, not negative"):
        state.set_lifetime(bad)  # type: ignore[arg-type]
    assert not state.must_load_to_decide
    if before_load:
        state.load(record({"a": 1}))
    assert state.metadata is not None
    assert state.metadata["lifetime"] == LIFETIME
    assert state.decide(200) == Decision("read", Store.NOTHING, Cookie.KEEP)


# -- metadata ----------------------------------------------------------------------------------------------


def test_metadata_is_in_the_write_but_not_in_the_session(now: float, clock: Clock) -> None:
    created = now - 100
    state, session = loaded(make_config(), "abc", record({"a": 1}, created=created))
    assert METADATA_KEY not in session
    assert state.metadata == {"lifetime": LIFETIME, "created": created, "last_access": now}
    assert state.recorded_last_access == created
    session["b"] = 2
    clock.advance(5)
    decision = state.decide(200)
    assert decision.data is not None
    assert decision.data[METADATA_KEY] == written_metadata(created=created, last_access=now + 5)
    assert set(decision.data) == {"a", "b", METADATA_KEY}
    assert METADATA_KEY not in session
    assert session == {"a": 1, "b": 2}
    assert json.loads(json.dumps(decision.data)) == decision.data


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
    "created-future": {"lifetime": 60, "created": 1e300},
    "last-access-str": {"lifetime": 60, "created": LONG_AGO, "last_access": "now"},
    "last-access-inf": {"lifetime": 60, "created": LONG_AGO, "last_access": math.inf},
    "user-list": {"lifetime": 60, "created": LONG_AGO, "user": ["ada"]},
    "user-null": {"lifetime": 60, "created": LONG_AGO, "user": None},
    "user-empty": {"lifetime": 60, "created": LONG_AGO, "user": ""},
    "device-null": {"lifetime": 60, "created": LONG_AGO, "device": None},
    "rolling-null": {"lifetime": 60, "created": LONG_AGO, "rolling": None},
    "rolling-str": {"lifetime": 60, "created": LONG_AGO, "rolling": "yes"},
    "lifetime-endless": {"lifetime": 10**400, "created": LONG_AGO},
}


def test_a_record_without_metadata_gets_fresh_metadata(now: float) -> None:
    """starsessions' records carry no metadata: they are read with the app's rules."""
    state, session = loaded(make_config(), "abc", {"a": 1})
    assert session == {"a": 1}
    assert state.rejected is None
    assert state.metadata == {"lifetime": LIFETIME, "created": now, "last_access": now}
    assert state.remaining_seconds() == LIFETIME
    session["b"] = 2
    decision = state.decide(200)
    assert (decision.store, decision.session_id) == (Store.REPLACE, "abc")
    assert decision.data is not None
    assert decision.data[METADATA_KEY] == written_metadata()


@pytest.mark.parametrize(
    "metadata",
    [m for m in BAD_METADATA.values() if m is not ...],
    ids=[k for k in BAD_METADATA if k != "missing"],
)
def test_a_record_whose_metadata_dualsessions_never_writes_is_refused(now: float, metadata: object) -> None:
    """Metadata of the wrong types or ranges was not written by dualsessions: the record is read as
    undecodable (a new, empty session), and the reason is given without the contents."""
    state, session = loaded(make_config(), "abc", {"a": 1, METADATA_KEY: metadata})
    assert session == {}
    assert state.is_new
    assert state.rejected == "its metadata is not what dualsessions writes"
    session["b"] = 2
    decision = state.decide(200)
    assert decision.store is Store.CREATE and decision.session_id != "abc"


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


def test_load_fills_a_given_session_without_marking_it_modified(now: float) -> None:
    into = Session()
    state = SessionState(make_config(), "abc")
    assert state.load(record({"a": 1}), into=into) is into
    assert state.session is into
    assert into == {"a": 1}
    assert not into.modified


# -- users -------------------------------------------------------------------------------------------------


def set_key(key: str, value: object) -> Act:
    def act(state: SessionState, session: Session) -> None:
        session[key] = value

    return act


def delete_key(key: str) -> Act:
    def act(state: SessionState, session: Session) -> None:
        del session[key]

    return act


NEW = "<the new id>"
BY_KEY = {"user_key": "user_id"}
INDEX_CHANGES: dict[str, tuple[Scenario, tuple[tuple[bool, str, str], ...]]] = {
    "new-user": (Scenario(cookie=None, acts=(add_data, as_user("alice"))), ((True, "alice", NEW),)),
    "new-user-by-key": (
        Scenario(cookie=None, acts=(set_key("user_id", 42),), options=BY_KEY),
        ((True, "42", NEW),),
    ),
    "user-of-an-existing-session": (Scenario(acts=(as_user("alice"),)), ((True, "alice", "abc"),)),
    "changed-user": (
        Scenario(stored=ALICE, acts=(as_user("bob"),)),
        ((False, "alice", "abc"), (True, "bob", "abc")),
    ),
    "user-unset": (Scenario(stored=ALICE, acts=(as_user(None),)), ((False, "alice", "abc"),)),
    "logged-out-by-key": (
        Scenario(
            stored=record({"user_id": "alice", "a": 1}, user="alice"),
            acts=(delete_key("user_id"),),
            options=BY_KEY,
        ),
        ((False, "alice", "abc"),),
    ),
    "same-user": (Scenario(stored=ALICE, acts=(as_user("alice"),)), ()),
    "data-changed": (Scenario(stored=ALICE, acts=(change,)), ()),
    "rolling-rewrite": (Scenario(stored=ALICE, options=ROLLING), ()),
    "moved-session": (
        Scenario(stored=ALICE, acts=(regenerate,)),
        ((False, "alice", "abc"), (True, "alice", NEW)),
    ),
    "removed-session": (Scenario(stored=ALICE, acts=(empty,)), ((False, "alice", "abc"),)),
}


@pytest.mark.parametrize("name", INDEX_CHANGES)
def test_index_changes(now: float, name: str) -> None:
    scenario, expected = INDEX_CHANGES[name]
    decision = build(scenario).decide(200)
    assert decision.users == tuple(
        IndexChange(add, user, typing.cast(str, decision.session_id) if session_id is NEW else session_id)
        for add, user, session_id in expected
    )
    assert decision.stale_users == ()


@pytest.mark.parametrize(
    ("act", "user"),
    [(as_user("bob"), "bob"), (as_user(None), None), (change, "alice")],
    ids=["bob", "none", "kept"],
)
def test_the_written_record_names_its_user(now: float, act: Act, user: str | None) -> None:
    state = build(Scenario(stored=ALICE, acts=(act,)))
    decision = state.decide(200)
    assert decision.data is not None
    assert decision.data[METADATA_KEY].get("user") == state.user == user


STALE_CASES: dict[str, tuple[Scenario, tuple[str, ...], tuple[IndexChange, ...]]] = {
    "expired-with-new-data": (
        Scenario(stored=EXPIRED_ALICE, acts=(add_data,)),
        ("abc",),
        (IndexChange(False, "alice", "abc"),),
    ),
    "expired-left-empty": (Scenario(stored=EXPIRED_ALICE), ("abc",), (IndexChange(False, "alice", "abc"),)),
    "expired-nobodys": (Scenario(stored=EXPIRED), ("abc",), ()),
    "expired-failed": (Scenario(stored=EXPIRED_ALICE, acts=(add_data,), status=500), (), ()),
    "live": (Scenario(stored=ALICE), (), ()),
}


@pytest.mark.parametrize("name", STALE_CASES)
def test_a_stale_expired_record_is_removed_with_its_index_entry(now: float, name: str) -> None:
    scenario, stale, stale_users = STALE_CASES[name]
    decision = build(scenario).decide(scenario.status)
    assert (decision.stale, decision.stale_users) == (stale, stale_users)
    assert decision.users == ()  # the expired record's owner is not the new session's


@pytest.mark.parametrize("bad", ["", 42, b"alice"])
def test_set_user_refuses_what_is_not_a_user(bad: object) -> None:
    state = SessionState(make_config(), "abc")
    with pytest.raises(ValueError, match="a session's user is a non-empty string"):
        state.set_user(bad)  # type: ignore[arg-type]
    assert not state.must_load_to_decide


# -- ids -----------------------------------------------------------------------------------------------------


def test_generate_session_id_is_url_safe_long_and_unique() -> None:
    ids = [generate_session_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for value in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", value), value
        assert len(value) >= 22  # token_urlsafe: 4 characters per 3 bytes; 22 characters >= 128 bits
        assert not value.startswith("-")  # a command line would take it for an option
    assert dualsessions.generate_session_id is generate_session_id


# -- SessionConfig -------------------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = SessionConfig.from_options({})
    assert config.lifetime == 0
    assert config.rolling is False
    assert config.store_touches is False
    assert config.user_key is None
    assert config.merge is False
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
        (datetime.timedelta(milliseconds=500), 1),  # a part second counts as a whole one
        # what starsessions accepted
        (3600.0, 3600),
        (1.5, 2),
        ("3600", 3600),
        (" 60 ", 60),
        (0.0, 0),
    ],
)
def test_config_lifetime_in_seconds(lifetime: object, seconds: int) -> None:
    config = SessionConfig.from_options(typing.cast(Options, {"lifetime": lifetime}))
    assert config.lifetime == seconds
    assert type(config.lifetime) is int


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"lifetime": -1}, "lifetime must be 0 .* a number of seconds or a timedelta, not negative"),
        ({"lifetime": datetime.timedelta(seconds=-10)}, "not negative"),
        ({"lifetime": datetime.timedelta(seconds=-0.5)}, "lifetime must be 0"),
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
        ({"user_key": ""}, "user_key must be the name of a session key"),
        ({"user_key": 5}, "user_key must be the name of a session key, got 5"),
        ({"concurrency": "optimistic"}, "concurrency must be 'last-writer-wins' or 'merge'"),
    ],
)
def test_config_validation_messages(options: dict[str, typing.Any], phrase: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=phrase):
        SessionConfig.from_options(typing.cast(Options, options))


def test_config_same_site_is_normalized_and_valid_options_pass() -> None:
    config = SessionConfig.from_options(
        {
            "lifetime": datetime.timedelta(minutes=5),
            "rolling": True,
            "cookie_name": "my.sid",
            "cookie_same_site": "Strict",
            "cookie_https_only": False,
            "cookie_domain": ".example.com",
            "cookie_path": "/app",
            "user_key": "user_id",
            "concurrency": "merge",
        },
        store_touches=True,
    )
    assert config.lifetime == 300
    assert config.rolling is True
    assert config.store_touches is True
    assert (config.user_key, config.merge) == ("user_id", True)
    assert config.cookie.same_site == "strict"
    assert config.cookie.secure is False
    assert config.cookie.name == "my.sid"
    assert config.cookie.set_cookie("v", 300, config.cookie.path_for("/ignored")) == (
        "my.sid=v; path=/app; max-age=300; domain=.example.com; httponly; samesite=strict"
    )


def test_empty_cookie_domain_and_path_mean_unset() -> None:
    cookie = SessionConfig.from_options({"cookie_domain": "", "cookie_path": ""}).cookie
    assert (cookie.domain, cookie.path) == (None, None)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (ImproperlyConfigured, (SessionError, ValueError)),
        (SessionLifecycleError, (SessionError, RuntimeError)),
    ],
)
def test_error_classes(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    assert all(issubclass(error, base) for base in bases)


# -- options_from: starsessions' positional options ----------------------------------------------------


SERIALIZER = object()
ALL_POSITIONAL = (60, True, "sid", "strict", False, "example.com", "/app", SERIALIZER)


def test_positional_options_are_in_starsessions_order() -> None:
    assert POSITIONAL_OPTIONS == (
        "lifetime",
        "rolling",
        "cookie_name",
        "cookie_same_site",
        "cookie_https_only",
        "cookie_domain",
        "cookie_path",
        "serializer",
    )


@pytest.mark.parametrize("count", range(len(ALL_POSITIONAL) + 1))
def test_options_from_names_positional_args(count: int) -> None:
    args = ALL_POSITIONAL[:count]
    given: Options = {"user_key": "user_id"}
    merged = options_from(args, given, "SessionMiddleware")
    assert merged == {"user_key": "user_id", **dict(zip(POSITIONAL_OPTIONS, args, strict=False))}
    assert given == {"user_key": "user_id"}  # the caller's dict is left alone


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((60,), {"lifetime": 30}, "SessionMiddleware got 'lifetime' both by position and by name"),
        ((60, True, "sid"), {"cookie_name": "other"}, "got 'cookie_name' both by position and by name"),
        ((*ALL_POSITIONAL, "extra"), {}, "SessionMiddleware takes at most 8 options by position"),
    ],
    ids=["duplicate-first", "duplicate-third", "too-many"],
)
def test_options_from_refuses_duplicates_and_too_many(
    args: tuple[object, ...], options: dict[str, typing.Any], message: str
) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        options_from(args, typing.cast(Options, options), "SessionMiddleware")


# -- import purity -------------------------------------------------------------------------------------------

PACKAGE = pathlib.Path(dualsessions.__file__).parent
FORBIDDEN_STDLIB = {"asyncio", "threading", "socket"}
ALLOWED_RELATIVE = {"_clock", "cookies", "exceptions", "types"}


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and every node inside it that can run: not the body of an ``if TYPE_CHECKING:``."""
    yield node
    if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from runtime_nodes(child)


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

    for node in runtime_nodes(ast.parse(source, filename=filename)):
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
        "if typing.TYPE_CHECKING:\n    pass\nelse:\n    import asyncio",
        "if not TYPE_CHECKING:\n    import asyncio",
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
        "if typing.TYPE_CHECKING:\n    from .serializers import Serializer\n    import starlette\n"
    )
    assert import_problems(source) == ([], {"_clock", "cookies", "exceptions", "types"})


# -- idle and absolute timeouts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "rolling", "last_access", "idle", "absolute", "end"),
    [
        (3600, False, T0 + 100, None, None, T0 + 3600),  # fixed: from creation
        (3600, True, T0 + 100, None, None, T0 + 3700),  # rolling: from the last access
        (3600, True, None, None, None, None),  # rolling, last access unknown: the store's expiry
        (0, False, T0 + 100, None, None, None),  # a browser session
        (3600, False, T0 + 100, 600, None, T0 + 700),  # idle nearer than the lifetime
        (3600, False, T0 + 3500, 600, None, T0 + 3600),  # the lifetime nearer than idle
        (3600, False, None, 600, None, T0 + 3600),  # idle unknown here: the lifetime stays
        (0, False, T0 + 100, 600, None, T0 + 700),  # a browser session with an idle timeout
        (3600, True, T0 + 900, None, 1000, T0 + 1000),  # rolling, capped
        (0, False, None, None, 1000, T0 + 1000),  # the cap alone
        (3600, True, T0 + 900, 600, 1000, T0 + 1000),  # all three: the nearest
        (3600, True, T0 + 100, 600, 1000, T0 + 700),
    ],
)
def test_the_deadline_is_the_nearest_that_applies(
    lifetime: int,
    rolling: bool,
    last_access: float | None,
    idle: int | None,
    absolute: int | None,
    end: float | None,
) -> None:
    assert core.deadline(lifetime, rolling, T0, last_access, idle, absolute) == end


@pytest.mark.parametrize(
    ("options", "touch_ttl"),
    [
        ({"lifetime": 3600, "rolling": True}, 3600),
        ({"lifetime": 3600, "rolling": True, "idle_timeout": 600}, 600),
        ({"lifetime": 300, "rolling": True, "idle_timeout": 600}, 300),
        ({"lifetime": 3600, "idle_timeout": datetime.timedelta(minutes=10)}, 600),  # not rolling: idle
        ({"lifetime": 3600, "absolute_timeout": 60}, None),  # nothing extends on use
    ],
)
def test_a_read_touches_with_the_nearer_window(options: dict[str, typing.Any], touch_ttl: int | None) -> None:
    assert make_config(store_touches=True, **options).touch_ttl == touch_ttl


@pytest.mark.parametrize("option", ["idle_timeout", "absolute_timeout"])
@pytest.mark.parametrize("value", [0, -1, "soon", float("nan"), True])
def test_a_timeout_is_a_positive_duration(option: str, value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match=option):
        make_config(**{option: value})


@pytest.mark.parametrize("touching", [True, False])
def test_a_session_idle_too_long_is_over_on_load_where_the_core_can_tell(now: float, touching: bool) -> None:
    """Unused for longer than the idle timeout: a store that doesn't extend records as they are read
    rewrites each use, so its record's last access tells; on one that does, its expiry does it."""
    config = make_config(store_touches=touching, lifetime=3600, idle_timeout=600)
    _, session = loaded(config, "abc", record({"a": 1}, created=now - 1000, last_access=now - 700))
    assert session == ({"a": 1} if touching else {})


def test_the_cap_holds_on_load_whatever_the_store(now: float) -> None:
    config = make_config(store_touches=True, lifetime=3600, rolling=True, absolute_timeout=1000)
    state, session = loaded(config, "abc", record({"a": 1}, created=now - 1001, last_access=now - 1))
    assert session == {}
    assert state.decide(200).stale == ("abc",)  # and the record is removed


def test_a_touch_past_the_cap_is_corrected(now: float) -> None:
    config = make_config(store_touches=True, lifetime=3600, rolling=True, absolute_timeout=1000)
    state, _ = loaded(config, "abc", record({"a": 1}, created=now - 900), touched=True)
    assert state.expiry_fix == 100
    assert state.remaining_seconds() == 100
