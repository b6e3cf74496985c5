"""Header sessions (``session_header``): the id travels in a request and response header instead of a
cookie, for API and mobile clients that keep no cookies; the same rules apply. Every scenario runs on
every front end and every kind of store."""

from __future__ import annotations

import typing

import pytest

from dualsessions import ImproperlyConfigured, InMemoryStore, SessionMiddleware
from dualsessions.cookies import find_cookie

from . import apps
from .conftest import Clock
from .stores import spy

HEADER = "X-Session-Id"
Frontend = typing.Callable[..., typing.Any]


def sent_id(response: typing.Any) -> str | None:
    return typing.cast("str | None", response.headers.get(HEADER))


def api_client(frontend: Frontend, store: typing.Any, **options: typing.Any) -> typing.Any:
    client = frontend(store, session_header=HEADER, **options)
    client.cookies.clear()
    return client


def test_a_new_session_sends_its_id_in_the_header_and_no_cookie(
    frontend: Frontend, store: typing.Any
) -> None:
    client = api_client(frontend, store, lifetime=3600)

    response = client.get("/set?user=alice")

    session_id = sent_id(response)
    assert session_id
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == HEADER
    client.headers[HEADER] = session_id
    read = client.get("/read")
    assert read.json() == {"user": "alice"}
    assert sent_id(read) is None  # a read-only request: nothing to tell the client
    assert read.headers["vary"] == HEADER


def test_the_cookie_is_not_looked_at(frontend: Frontend, store: typing.Any) -> None:
    cookie_client = frontend(store)
    cookie_client.get("/set?user=alice")
    cookie = cookie_client.cookies.get("session")
    assert cookie

    client = api_client(frontend, store)
    client.headers["cookie"] = f"session={cookie}"
    assert client.get("/read").json() == {}


def test_changes_regeneration_and_the_end_travel_in_the_header(
    frontend: Frontend, store: typing.Any, store_kind: str
) -> None:
    calls = spy(store)
    client = api_client(frontend, store)
    first = sent_id(client.get("/set?user=alice"))
    assert first
    client.headers[HEADER] = first

    changed = client.get("/set?theme=dark")
    if store_kind != "cookie":  # (a CookieStore's "id" is the signed data itself)
        assert sent_id(changed) == first

    client.headers[HEADER] = typing.cast(str, sent_id(changed))
    regenerated = client.get("/regenerate")
    new = sent_id(regenerated)
    assert new and new != first
    client.headers[HEADER] = new
    assert client.get("/read").json() == {"user": "alice", "theme": "dark"}

    calls.clear()
    cleared = client.get("/clear")
    assert sent_id(cleared) == ""  # an empty value: the session is over, forget the id
    if store_kind != "cookie":  # (a CookieStore's value can't be recalled: it is the session)
        assert [method for method, _ in calls] == ["read", "remove"]
        client.headers[HEADER] = new
        assert client.get("/read").json() == {}


@pytest.mark.parametrize("value", ["attacker-chosen-id-0123456789abcdef", " ", "a b", "x" * 5000])
def test_an_id_the_store_never_issued_is_never_adopted(
    frontend: Frontend, store: typing.Any, value: str
) -> None:
    client = api_client(frontend, store)
    client.headers[HEADER] = value

    response = client.get("/set?user=alice")

    assert response.status_code == 200
    issued = sent_id(response)
    assert issued and issued != value.strip()


def test_a_rolling_session_sends_its_id_again_when_read(
    frontend: Frontend, store: typing.Any, clock: Clock
) -> None:
    client = api_client(frontend, store, lifetime=600, rolling=True)
    session_id = sent_id(client.get("/set?user=alice"))
    assert session_id
    client.headers[HEADER] = session_id
    clock.advance(300)

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    assert sent_id(response) is not None  # extended: the client hears of it, as a cookie would be re-sent


@pytest.mark.parametrize("name", ["Cookie", "set-cookie", "Vary", "X Session", "", "Authorization"])
def test_a_session_header_is_a_header_of_the_apps_own(name: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="session_header"):
        SessionMiddleware(lambda scope, receive, send: None, store=InMemoryStore(), session_header=name)  # type: ignore[arg-type]


def test_without_the_option_the_header_is_ignored(frontend: Frontend, store: typing.Any) -> None:
    """Cookies stay the default: an id in the header names nothing, and none is sent back."""
    client = frontend(store)
    response = client.get("/set?user=alice")
    cookie = find_cookie(response.headers["set-cookie"], "session")
    assert cookie and sent_id(response) is None

    client.cookies.clear()
    client.headers[HEADER] = cookie
    assert client.get("/read").json() == {}


def test_a_header_sent_twice_names_no_session(frontend: Frontend, store: typing.Any) -> None:
    """Two values of the session header are one value with a comma, as WSGI servers join them (and
    as a WSGI front end is given them): never an id, on any front end, neither the first nor the last."""
    client = api_client(frontend, store)
    first = sent_id(client.get("/set?user=alice"))
    assert first
    assert client.get("/read", headers={HEADER: first}).json() == {"user": "alice"}
    joined_by_the_server = frontend in (apps.FRONTENDS["wsgi"], apps.FRONTENDS["flask"])
    for twice in ([first, first], [first, "x" * 32], ["x" * 32, first]):
        if joined_by_the_server:
            headers = [(HEADER, ", ".join(twice))]
        else:
            headers = [(HEADER, value) for value in twice]
        assert client.get("/read", headers=headers).json() == {}, twice
