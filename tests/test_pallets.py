"""What the Flask and Quart integrations do alike, each scenario run on both: the extension, Flask's
configuration keys, ``session.permanent``, writing only what changed, and the module helpers."""

from __future__ import annotations

import datetime
import json
import typing

import pytest

from dualsessions import ImproperlyConfigured, InMemoryStore, revoke_user_sessions

from .conftest import Clock
from .pallets import FRAMEWORKS, Framework, cookie_parts, cookie_value, max_age, methods
from .stores import SyncDictStore, spy


@pytest.fixture(params=FRAMEWORKS, ids=[framework.name for framework in FRAMEWORKS])
def framework(request: pytest.FixtureRequest) -> Framework:
    return typing.cast(Framework, request.param)


# -- the extension -------------------------------------------------------------------------------------


def test_extension_given_the_app(framework: Framework) -> None:
    store = InMemoryStore()
    app = framework.make_app(None)
    extension = framework.extension(app, store=store)
    assert app.extensions["dualsessions"] is extension

    client = framework.client_for(app)
    assert client.get("/set?user=alice").json() == {"user": "alice"}
    assert client.get("/read").json() == {"user": "alice"}
    assert list(store.data) == [client.cookies["session"]]
    assert json.loads(store.data[client.cookies["session"]])["user"] == "alice"


def test_application_factory_pattern(framework: Framework) -> None:
    store = InMemoryStore()
    extension = framework.extension(store=store)

    def create_app(cookie_name: str) -> typing.Any:
        app = framework.make_app({"SESSION_COOKIE_NAME": cookie_name})
        extension.init_app(app)
        return app

    first, second = create_app("first"), create_app("second")
    assert first.extensions["dualsessions"] is extension is second.extensions["dualsessions"]
    for app, name in ((first, "first"), (second, "second")):
        client = framework.client_for(app)
        response = client.get(f"/set?app={name}")
        assert cookie_parts(response)[0].startswith(f"{name}=")
        assert client.get("/read").json() == {"app": name}
    assert len(store.data) == 2


def test_options_are_validated_when_installed(framework: Framework) -> None:
    with pytest.raises(ImproperlyConfigured, match="cookie_same_site"):
        framework.with_sessions(cookie_same_site="sometimes")


# -- Flask's configuration keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "present", "absent"),
    [
        ({}, ["path=/", "httponly", "samesite=lax"], ["secure"]),
        ({"SESSION_COOKIE_NAME": "sid"}, ["path=/"], []),
        ({"SESSION_COOKIE_DOMAIN": "example.com"}, ["domain=example.com"], []),
        ({"SESSION_COOKIE_PATH": "/shop"}, ["path=/shop"], ["path=/"]),
        ({"APPLICATION_ROOT": "/root"}, ["path=/root"], ["path=/"]),
        ({"APPLICATION_ROOT": "/root", "SESSION_COOKIE_PATH": "/shop"}, ["path=/shop"], ["path=/root"]),
        ({"SESSION_COOKIE_SECURE": True}, ["secure"], []),
        ({"SESSION_COOKIE_HTTPONLY": False}, [], ["httponly"]),
        ({"SESSION_COOKIE_SAMESITE": None}, ["samesite=lax"], []),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, ["samesite=strict"], ["samesite=lax"]),
    ],
    ids=["defaults", "name", "domain", "path", "application-root", "path-over-root", "secure",
         "not-httponly", "samesite-none", "samesite-strict"],
)  # fmt: skip
def test_cookie_options_fall_back_to_the_configuration(
    framework: Framework, config: dict[str, typing.Any], present: list[str], absent: list[str]
) -> None:
    response = framework.client_for(framework.with_sessions(config)).get("/set?user=alice")
    parts = cookie_parts(response)
    assert parts[0].startswith(f"{config.get('SESSION_COOKIE_NAME', 'session')}=")
    for part in present:
        assert part in parts, part
    for part in absent:
        assert part not in parts, part
    assert max_age(response) is None  # a browser session until made permanent
    if "SESSION_COOKIE_DOMAIN" not in config:
        assert not any(part.startswith("domain=") for part in parts)


def test_permanent_lifetime_comes_from_config(framework: Framework, clock: Clock) -> None:
    client = framework.client_for(framework.with_sessions({"PERMANENT_SESSION_LIFETIME": 600}))
    client.get("/set?user=alice")
    assert max_age(client.get("/permanent/yes")) == 600  # seconds, as Flask takes them too


@pytest.mark.parametrize(
    ("options", "expected", "absent"),
    [
        (
            {
                "cookie_name": "explicit",
                "cookie_https_only": False,
                "cookie_same_site": "lax",
                "cookie_domain": "other.org",
                "cookie_path": "/x",
                "lifetime": 600,
            },
            ["path=/x", "domain=other.org", "samesite=lax", "max-age=600"],
            ["secure", "samesite=strict", "domain=example.com", "path=/shop"],
        ),
        ({"cookie_https_only": True}, ["secure"], []),
    ],
    ids=["over-everything", "secure-over-insecure-config"],
)
def test_explicit_options_win_over_config(
    framework: Framework,
    clock: Clock,
    options: dict[str, typing.Any],
    expected: list[str],
    absent: list[str],
) -> None:
    config = {
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_COOKIE_DOMAIN": "example.com",
        "SESSION_COOKIE_PATH": "/shop",
        "SESSION_COOKIE_SECURE": not options["cookie_https_only"],
        "SESSION_COOKIE_SAMESITE": "Strict",
        "PERMANENT_SESSION_LIFETIME": datetime.timedelta(hours=2),
    }
    response = framework.client_for(framework.with_sessions(config, **options)).get("/set?user=alice")
    parts = cookie_parts(response)
    assert parts[0].startswith(f"{options.get('cookie_name', 'sid')}=")
    for part in expected:
        assert part in parts, part
    for part in absent:
        assert part not in parts, part


# -- session.permanent ---------------------------------------------------------------------------------

TWO_HOURS = {"PERMANENT_SESSION_LIFETIME": datetime.timedelta(hours=2)}


def test_without_a_lifetime_sessions_are_browser_sessions_until_made_permanent(
    framework: Framework, clock: Clock
) -> None:
    store = InMemoryStore()
    client = framework.client_for(framework.with_sessions(TWO_HOURS, store=store))

    response = client.get("/set?user=alice")
    assert max_age(response) is None
    assert client.get("/is-permanent").json() == {"permanent": False}

    response = client.get("/permanent/yes")
    assert response.json() == {"permanent": True}
    assert max_age(response) == 7200
    assert cookie_value(response) == client.cookies["session"]
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 7200
    assert client.get("/is-permanent").json() == {"permanent": True}
    assert client.get("/read").json() == {"user": "alice"}


def test_with_a_lifetime_sessions_are_permanent_until_made_browser_sessions(
    framework: Framework, clock: Clock
) -> None:
    store = InMemoryStore()
    client = framework.client_for(framework.with_sessions(TWO_HOURS, store=store, lifetime=600))

    response = client.get("/set?user=alice")
    assert max_age(response) == 600
    assert client.get("/is-permanent").json() == {"permanent": True}

    response = client.get("/permanent/no")
    assert response.json() == {"permanent": False}
    assert max_age(response) is None  # a browser-session cookie now
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 0
    assert client.get("/is-permanent").json() == {"permanent": False}
    assert client.get("/read").json() == {"user": "alice"}

    response = client.get("/permanent/yes")  # back to the lifetime option, not PERMANENT_SESSION_LIFETIME
    assert max_age(response) == 600
    assert client.get("/is-permanent").json() == {"permanent": True}


@pytest.mark.parametrize(
    ("options", "value"),
    [({}, "no"), ({}, "yes"), ({"lifetime": 600}, "yes"), ({"lifetime": 600}, "no")],
    ids=["browser-stays-browser", "made-permanent-stays", "permanent-stays", "made-browser-stays"],
)
def test_setting_permanent_to_its_current_value_writes_nothing(
    framework: Framework, options: dict[str, typing.Any], value: str
) -> None:
    store = SyncDictStore()
    calls = spy(store)
    client = framework.client_for(framework.with_sessions(TWO_HOURS, store=store, **options))
    client.get("/set?user=alice")
    client.get(f"/permanent/{value}")  # may change it once
    calls.clear()

    for _ in range(3):
        response = client.get(f"/permanent/{value}")
        assert response.json() == {"permanent": value == "yes"}
        assert "set-cookie" not in response.headers
    assert methods(calls) == ["read"] * 3


@pytest.mark.parametrize("refresh", [True, False])
def test_rolling_follows_session_refresh_each_request(
    framework: Framework, refresh: bool, clock: Clock
) -> None:
    app = framework.make_app({"SESSION_REFRESH_EACH_REQUEST": refresh, "PERMANENT_SESSION_LIFETIME": 600})
    framework.extension(app, store=InMemoryStore())
    client = framework.client_for(app, https=False)  # Flask's default: cookies not Secure
    client.get("/set?user=alice")
    client.get("/permanent/yes")
    clock.advance(300)
    response = client.get("/read")
    if refresh:  # like Flask: a permanent session's cookie is re-sent with a full lifetime
        assert max_age(response) == 600
    else:
        assert "set-cookie" not in response.headers
    clock.advance(400)  # 700 s after login, 400 s after the last request
    assert client.get("/is-permanent").json() == {"permanent": refresh}  # False: a new session


# -- writing only what changed -------------------------------------------------------------------------


def test_read_only_request_writes_nothing_and_sends_no_cookie(framework: Framework) -> None:
    store = SyncDictStore()
    calls = spy(store)  # (before the app is built: an async engine adapts the store's methods once)
    client = framework.client_for(framework.with_sessions(store=store))
    client.get("/set?user=alice")
    calls.clear()

    response = client.get("/read")

    assert response.json() == {"user": "alice"}
    assert calls == [("read", client.cookies["session"])]
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


@pytest.mark.parametrize(
    ("own", "sent"),
    [
        (["Accept-Encoding"], ["Accept-Encoding, Cookie"]),
        (["accept-encoding, cookie"], ["accept-encoding, cookie"]),  # there already, in any case
        (["*"], ["*"]),  # varies on everything: nothing to add
        (["Accept", "Origin"], ["Accept, Origin, Cookie"]),  # every line kept
        (["Accept", "*"], ["Accept", "*"]),
    ],
)
def test_the_applications_own_vary_gains_cookie_once(
    framework: Framework, own: list[str], sent: list[str]
) -> None:
    client = framework.client_for(framework.with_sessions(store=SyncDictStore()))
    client.get("/set?user=alice")

    response = client.get("/read-varying", params={"vary": own})

    assert response.json() == {"user": "alice"}
    assert response.headers.get_list("vary") == sent


def test_a_request_without_a_cookie_reads_nothing(framework: Framework) -> None:
    store = SyncDictStore()
    calls = spy(store)
    client = framework.client_for(framework.with_sessions(store=store))
    for path in ("/noop", "/read"):
        response = client.get(path)
        assert "set-cookie" not in response.headers
    assert calls == []


# -- the helpers ---------------------------------------------------------------------------------------


def test_regenerate_session_id_keeps_the_data_under_a_new_id(framework: Framework) -> None:
    store = InMemoryStore()
    client = framework.client_for(framework.helper_app(store))
    client.get("/set?user=alice")
    old_id = client.cookies["session"]

    response = client.get("/regenerate")

    new_id = response.json()["id"]
    assert new_id != old_id and cookie_value(response) == new_id
    assert list(store.data) == [new_id]  # the old record is gone
    assert client.get("/read").json() == {"user": "alice"}


def test_regenerating_a_new_visitors_empty_session_stores_nothing(framework: Framework) -> None:
    store = SyncDictStore()
    calls = spy(store)
    response = framework.client_for(framework.helper_app(store)).get("/regenerate")
    assert response.status_code == 200
    assert calls == [] and "set-cookie" not in response.headers


def test_get_session_id(framework: Framework) -> None:
    client = framework.client_for(framework.helper_app(InMemoryStore()))
    assert client.get("/id").json() == {"id": None}
    client.get("/set?user=alice")
    assert client.get("/id").json() == {"id": client.cookies["session"]}


def test_get_session_id_does_not_adopt_an_id_the_store_does_not_know(framework: Framework) -> None:
    """Docs: a session id the store doesn't know is never adopted; ``get_session_id`` is None for
    such a session until it is saved."""
    client = framework.client_for(framework.helper_app(InMemoryStore()))
    client.cookies.set("session", "forged-by-a-client")
    assert client.get("/id").json() == {"id": None}


def test_set_session_lifetime(framework: Framework, clock: Clock) -> None:
    store = InMemoryStore()
    client = framework.client_for(framework.helper_app(store))
    client.get("/set?user=alice")
    response = client.get("/remember")
    assert max_age(response) == 600 and cookie_value(response) == client.cookies["session"]
    assert json.loads(store.data[client.cookies["session"]])["__metadata__"]["lifetime"] == 600


def test_metadata_and_remaining_seconds(framework: Framework, clock: Clock) -> None:
    client = framework.client_for(framework.helper_app(InMemoryStore(), lifetime=3600))
    client.get("/set?user=alice")
    created = clock.now
    clock.advance(600)
    assert client.get("/meta").json() == {
        "metadata": {"lifetime": 3600, "created": created, "last_access": created + 600},
        "remaining": 3000,
    }


def test_user_key_indexes_the_login_so_revoking_the_user_logs_them_out(framework: Framework) -> None:
    store = InMemoryStore()
    alice, again, bob = (framework.client_for(framework.helper_app(store, user_key="user")) for _ in range(3))
    alice.get("/login/alice")
    again.get("/login/alice")  # a second device
    bob.get("/login/bob")
    devices = [alice.cookies["session"], again.cookies["session"]]
    assert sorted(store.sync.user_sessions("alice")) == sorted(devices)

    assert revoke_user_sessions(store, "alice") == 2

    assert alice.get("/read").json() == {} and again.get("/read").json() == {}
    assert bob.get("/read").json() == {"user": "bob"}


def test_set_session_user_needs_a_store_that_indexes(framework: Framework) -> None:
    app = framework.helper_app(SyncDictStore())
    failures: list[BaseException] = []

    @app.errorhandler(ImproperlyConfigured)
    def misconfigured(error: ImproperlyConfigured) -> tuple[str, int]:
        failures.append(error)
        return "misconfigured", 500

    assert framework.client_for(app).get("/claim/alice").status_code == 500
    assert "SyncDictStore can't index sessions by user" in str(failures[0])
