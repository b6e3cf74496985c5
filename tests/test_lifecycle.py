"""A session's life and its end, on every front end: ended stays ended (a paused request can't bring
back a session that was logged out, regenerated, revoked or deleted meanwhile), regenerating before
loading, failed requests changing nothing (a rolling session's own lifetime included), Flask's refresh
rule, and an unloaded ASGI session refusing every use.

Each scenario is written once and parametrized over the front ends, and where it matters over the
stores and the concurrency modes; only combinations that exist are generated.
"""

from __future__ import annotations

import json
import operator
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import dualsessions
from dualsessions import admin
from dualsessions.stores.redis import RedisStore

from . import apps
from .conftest import Clock
from .stores import AsyncDictStore, DuckAsyncStore, DuckSyncStore, SyncDictStore, spy

HTTP = ("asgi", "wsgi", "flask", "quart")
SERVER_SIDE = (
    "memory",
    "redis",
    "redis-cluster",
    "sync-custom",
    "async-custom",
    "sql-sqlite",
    "sql-postgres",
)
#: Stores with a per-user index: sessions there are logged in with ``user_key="user"``, and revocable.
INDEXED = ("memory", "redis", "redis-cluster", "sql-sqlite", "sql-postgres")
#: Stores that accept ``concurrency="merge"``.
MERGING = ("memory", "redis", "sql-sqlite", "sql-postgres")
LOGIN = {"user": "ada", "theme": "dark"}


# -- helpers -------------------------------------------------------------------------------------------


@dataclass
class App:
    """One front end over one store, with the options every client (and script) of a scenario uses.

    The "script" front end has no HTTP side of its own: its logins and other requests go through the
    WSGI front end, over the same store with the same options.
    """

    front: str
    store: typing.Any
    options: dict[str, typing.Any] = field(default_factory=dict)

    def client(self, cookie: str | None = None, answering_errors: bool = False) -> typing.Any:
        """A new client; with ``cookie``, one that presents that session id."""
        http = "wsgi" if self.front == "script" else self.front
        if answering_errors:
            client = apps.client_answering_errors(http, self.store, **self.options)
        else:
            client = apps.FRONTENDS[http](self.store, **self.options)
        if cookie is not None:
            client.headers["cookie"] = f"session={cookie}"
        return client

    def read(self, session_id: str) -> typing.Any:
        """The session's data as a request presenting ``session_id`` sees it."""
        return self.client(session_id).get("/read").json()


def set_cookies(response: typing.Any) -> list[str]:
    return typing.cast("list[str]", response.headers.get_list("set-cookie"))


def cookie_value(response: typing.Any) -> str:
    """The session id the response's one ``Set-Cookie`` gives."""
    cookies = set_cookies(response)
    assert len(cookies) == 1, f"expected one Set-Cookie, got {cookies}"
    return cookies[0].partition(";")[0].partition("=")[2]


def log_in(app: App, **login: str) -> tuple[typing.Any, str]:
    """A client logged in with ``login`` (ada by default), and its session id."""
    client = app.client()
    query = "&".join(f"{key}={value}" for key, value in (login or LOGIN).items())
    return client, cookie_value(client.get(f"/set?{query}"))


def has_record(store: typing.Any, session_id: str) -> bool:
    """Whether the store still keeps a live record for ``session_id``."""
    if isinstance(store, (SyncDictStore, AsyncDictStore)):
        return session_id in store.records
    return bool(store.sync.exists(session_id))


def changes(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The store calls that write or remove something."""
    return [(method, session_id) for method, session_id in calls if method in ("write", "remove")]


# -- 1. ended stays ended ------------------------------------------------------------------------------

ENDINGS = ("logout", "regenerate", "revoke", "delete")
#: What the paused request does once the session has ended: change a key, or also regenerate its id.
AFTERWARDS = ("change", "regenerate")


def _ended_meanwhile_cases() -> Iterator[typing.Any]:
    for front in (*HTTP, "script"):
        for store_kind in SERVER_SIDE:
            # concurrency is an option of the middlewares; scripts have none
            modes = ["last-writer-wins", "merge"] if store_kind in MERGING and front != "script" else []
            for mode in modes or ["last-writer-wins"]:
                for ending in ENDINGS:
                    if ending == "revoke" and store_kind not in INDEXED:
                        continue  # the custom stores keep no per-user index
                    for then in AFTERWARDS:
                        case_id = f"{front}-{store_kind}-{mode}-{ending}-then-{then}"
                        yield pytest.param(front, store_kind, mode, ending, then, id=case_id)


class Ending:
    """Ends a session the way another request (logout, regeneration) or an operator (revocation,
    deletion) does; called in the middle of a paused request."""

    def __init__(self, app: App, how: str, session_id: str) -> None:
        self.app, self.how, self.session_id = app, how, session_id
        self.regenerated_id: str | None = None
        self.done = False

    def __call__(self) -> None:
        if self.how == "logout":
            response = self.app.client(self.session_id).get("/clear")
            assert response.status_code == 200
        elif self.how == "regenerate":
            response = self.app.client(self.session_id).get("/regenerate")
            self.regenerated_id = response.json()["id"]
            assert cookie_value(response) == self.regenerated_id
        elif self.how == "revoke":
            assert dualsessions.revoke_user_sessions(self.app.store, "ada") == 1
        else:
            assert admin.delete_session(self.app.store, self.session_id)
        self.done = True


def change_while_ending(
    app: App, session_id: str, ending: Ending, then: str
) -> tuple[typing.Any, str | None]:
    """Request A loads the session, ``ending`` ends it, A sets ``late`` (and with ``then="regenerate"``
    moves the session to a new id); A's response (None for a script, which has none) and that new id."""
    if app.front == "script":
        opened = dualsessions.open_session(app.store, session_id, **app.options)
        with opened as session:
            ending()
            new_id = opened.regenerate() if then == "regenerate" else None
            session["late"] = "1"
        assert opened.session_id is None  # nothing was saved
        return None, new_id
    with apps.interleaving(ending):
        response = app.client(session_id).get(f"/interleave?late=1&then={then}")
    return response, response.json().get("new_id")


def assert_live_sessions_of_ada_are_indexed(store: typing.Any, session_ids: list[str]) -> None:
    """A session of ada's that lives is in her index, so revoking her sessions would end it."""
    indexed = store.sync.user_sessions("ada")
    for session_id in session_ids:
        with dualsessions.open_session(store, session_id) as session:
            if session.get("user") == "ada":
                assert session_id in indexed


@pytest.mark.parametrize(
    ("front", "store_kind", "concurrency", "ending", "then"), list(_ended_meanwhile_cases())
)
def test_a_paused_request_cannot_bring_back_a_session_ended_meanwhile(
    front: str, store: typing.Any, store_kind: str, concurrency: str, ending: str, then: str
) -> None:
    options: dict[str, typing.Any] = {"user_key": "user"} if store_kind in INDEXED else {}
    if concurrency == "merge":
        options["concurrency"] = "merge"
    app = App(front, store, options)
    _, session_id = log_in(app)
    end = Ending(app, ending, session_id)

    response, new_id = change_while_ending(app, session_id, end, then)

    assert end.done
    if response is not None:  # the rules table: nothing stored, no Set-Cookie at all
        assert response.status_code == 200
        assert set_cookies(response) == []
    assert not has_record(store, session_id), "the ended session's record is back"
    if new_id is not None:
        assert not has_record(store, new_id), "the ended session came back under a new id"
    assert app.read(session_id) == {}
    if end.regenerated_id is not None:
        assert app.read(end.regenerated_id) == LOGIN  # without A's "late"
    if store_kind in INDEXED:
        live = [session_id] + ([end.regenerated_id] if end.regenerated_id else [])
        assert_live_sessions_of_ada_are_indexed(store, live)
    if ending == "revoke":  # a revoked session can be revoked again if it ever reappears
        assert dualsessions.revoke_user_sessions(store, "ada") == 0
        assert not has_record(store, session_id), "a revoked session's record is back"


# -- 2. regenerating before loading --------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", SERVER_SIDE)
@pytest.mark.parametrize("front", HTTP)
def test_regenerating_a_session_not_loaded_yet_ends_its_old_record(front: str, store: typing.Any) -> None:
    app = App(front, store)
    client, old_id = log_in(app)

    response = client.get("/regenerate-unloaded")

    new_id = response.json()["id"]
    assert new_id != old_id
    assert cookie_value(response) == new_id
    assert app.read(new_id) == LOGIN
    assert not has_record(store, old_id), "the old record is still there"
    assert app.read(old_id) == {}


# -- 3. a failed request changes nothing ---------------------------------------------------------------

#: How a request fails: the path that fails it (to which the session's changes are added), and the
#: status the client sees.
FAILURES = {
    "status-500": ("/fail?status=500&", 500),
    "status-503": ("/fail?status=503&", 503),
    "exception": ("/raise?", 500),
}
FAILING_STORES = ("memory", "redis", "sync-custom", "async-custom")


def fail(app: App, failure: str, cookie: str | None = None, query: str = "") -> typing.Any:
    """A request that changes the session as ``query`` says (or only reads it), then fails."""
    path, status = FAILURES[failure]
    response = app.client(cookie, answering_errors=True).get(path + query)
    assert response.status_code == status
    return response


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("store_kind", FAILING_STORES)
@pytest.mark.parametrize("front", HTTP)
def test_a_failed_request_changes_nothing(front: str, store: typing.Any, failure: str) -> None:
    app = App(front, store)
    _, session_id = log_in(app)
    calls = spy(store)

    response = fail(app, failure, session_id, "theme=light&late=1")

    assert set_cookies(response) == []
    assert changes(calls) == []
    assert app.read(session_id) == LOGIN


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("store_kind", FAILING_STORES)
@pytest.mark.parametrize("front", HTTP)
def test_a_new_visitor_whose_first_request_fails_gets_no_session(
    front: str, store: typing.Any, failure: str
) -> None:
    app = App(front, store)
    calls = spy(store)

    response = fail(app, failure, query="user=ada")

    assert set_cookies(response) == []
    assert changes(calls) == []


def change_then_fail_in_a_script(store: typing.Any, session_id: str) -> None:
    with dualsessions.open_session(store, session_id) as session:
        session["theme"] = "light"
        raise apps.Boom("the script failed after changing the session")


@pytest.mark.parametrize("store_kind", FAILING_STORES)
def test_a_script_that_fails_changes_nothing(store: typing.Any) -> None:
    app = App("script", store)
    _, session_id = log_in(app)
    calls = spy(store)

    with pytest.raises(apps.Boom):
        change_then_fail_in_a_script(store, session_id)

    assert changes(calls) == []
    assert app.read(session_id) == LOGIN


IDLE = {"idle_timeout": 100, "lifetime": 3600}


@pytest.mark.parametrize("options", [IDLE, {"lifetime": 100, "rolling": True}], ids=["idle", "rolling"])
@pytest.mark.parametrize("store_kind", ["memory", "sql-sqlite", "sync-custom", "async-custom"])
def test_a_scripts_change_does_not_extend_a_session(
    store: typing.Any, options: dict[str, typing.Any], clock: Clock
) -> None:
    """A session idle for 60 s is changed by a script, then left alone 60 s more: 120 s without a
    request ends it (a script's change is not a use). A request at 60 s would have kept it."""
    app = App("script", store, options)
    _, session_id = log_in(app)
    _, used_id = log_in(app)
    clock.advance(60)
    with dualsessions.open_session(store, session_id, **options) as session:
        session["plan"] = "pro"
    assert app.read(used_id) == LOGIN  # a request's use, by contrast
    clock.advance(60)
    assert app.read(session_id) == {}
    assert app.read(used_id) == LOGIN


@pytest.mark.parametrize("store_kind", ["memory", "sql-sqlite", "sync-custom"])
def test_a_lifetime_a_script_gives_a_rolling_session_counts_from_then(
    store: typing.Any, clock: Clock
) -> None:
    """A script that gives a rolling session a longer lifetime ("remember me" from a back office)
    extends it: setting a lifetime is a use, so it counts from the change, on every store."""
    options = {"lifetime": 3600, "rolling": True}
    app = App("script", store, options)
    _, session_id = log_in(app)
    clock.advance(600)
    opened = dualsessions.open_session(store, session_id, **options)
    with opened:
        opened.set_lifetime(30 * 86400)
    clock.advance(3001)  # past the old lifetime's end, counted from the last request
    assert app.read(session_id) == LOGIN


@pytest.mark.parametrize(
    "options",
    [{"idle_timeout": 1000, "lifetime": 3600}, {"lifetime": 1000, "rolling": True}, {"rolling": True}],
    ids=["idle", "rolling", "browser-session"],
)
def test_a_scripts_change_keeps_the_expiry_redis_has(redis_url: str, options: dict[str, typing.Any]) -> None:
    """On Redis the expiry that reads extend lives in the key's TTL: a script's write keeps it."""
    import redis

    store = RedisStore(url=redis_url)
    other = redis.Redis.from_url(redis_url)
    try:
        app = App("script", store, options)
        _, session_id = log_in(app)
        key = store.record_key(session_id)
        other.pexpire(key, 500_000)  # as if 500 s had passed since its last use
        with dualsessions.open_session(store, session_id, **app.options) as session:
            session["plan"] = "pro"
        assert 0 < other.pttl(key) <= 500_000
        assert app.read(session_id) == {**LOGIN, "plan": "pro"}
    finally:
        other.close()
        store.close()


# -- 4. a rolling session's own lifetime survives a failed request -------------------------------------

ROLLING = {"lifetime": 3600, "rolling": True}


def shorten_then_fail_a_read(app: App, failure: str) -> str:
    """Log in to a rolling session, give it its own 60 s lifetime, then make a request that only
    reads the session and fails; the session's id."""
    client, session_id = log_in(app)
    response = client.get("/lifetime?seconds=60")
    assert "max-age=60;" in set_cookies(response)[0]
    fail(app, failure, session_id)
    return session_id


@pytest.mark.parametrize("failure", ["status-500", "exception"])
@pytest.mark.parametrize("front", HTTP)
def test_a_failed_read_keeps_a_rolling_sessions_own_lifetime_in_redis(
    front: str, failure: str, redis_url: str
) -> None:
    store = RedisStore(url=redis_url)
    session_id = shorten_then_fail_a_read(App(front, store, ROLLING), failure)

    ttl = store.sync_client().pttl(store.record_key(session_id))
    assert 0 < ttl <= 60_000


@pytest.mark.parametrize("failure", ["status-500", "exception"])
@pytest.mark.parametrize("front", HTTP)
def test_a_failed_read_keeps_a_rolling_sessions_own_lifetime_in_memory(
    front: str, failure: str, clock: Clock
) -> None:
    app = App(front, dualsessions.InMemoryStore(), ROLLING)
    session_id = shorten_then_fail_a_read(app, failure)

    clock.advance(61)

    assert app.read(session_id) == {}


# -- 5. Flask's refresh rule, with Flask's default configuration ----------------------------------------


def test_flask_by_default_sends_no_cookie_for_a_read_only_request(store: typing.Any) -> None:
    client = apps.flask_default_client(store)
    client.get("/set?user=ada&theme=dark")

    response = client.get("/read")

    assert response.json() == LOGIN
    assert set_cookies(response) == []


def test_flask_by_default_resends_a_permanent_sessions_cookie_on_a_read(store: typing.Any) -> None:
    client = apps.flask_default_client(store)
    client.get("/permanent?user=ada")

    response = client.get("/read")

    assert response.json() == {"user": "ada"}
    cookies = set_cookies(response)
    assert len(cookies) == 1 and f"max-age={31 * 86400};" in cookies[0]


# -- 6. an unloaded ASGI session refuses every use -----------------------------------------------------

USES: dict[str, typing.Callable[[typing.Any], object]] = {
    "getitem": lambda session: session["x"],
    "setitem": lambda session: operator.setitem(session, "x", 1),
    "contains": lambda session: "x" in session,
    "len": len,
    "bool": bool,
    "list": list,
    "iter": iter,
    "dict": dict,
    "json.dumps": json.dumps,
    "JSONResponse": JSONResponse,
    "get": lambda session: session.get("x"),
    "items": lambda session: session.items(),
}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_using_an_unloaded_asgi_session_raises_session_not_loaded(
    use: typing.Callable[[typing.Any], object],
) -> None:
    async def log_in(request: Request) -> Response:
        await dualsessions.load_session(request)
        request.session["user"] = "ada"
        return PlainTextResponse("ok")

    async def use_unloaded(request: Request) -> Response:
        use(request.session)
        return PlainTextResponse("used")

    store = dualsessions.InMemoryStore()
    app = Starlette(
        routes=[Route("/login", log_in), Route("/use", use_unloaded)],
        middleware=[Middleware(dualsessions.SessionMiddleware, store=store)],
    )
    client = TestClient(app, base_url="https://testserver")
    assert client.get("/login").status_code == 200

    with pytest.raises(dualsessions.SessionNotLoaded):
        client.get("/use")


# -- changes after the response started -------------------------------------------------------------


def _late_change_app(front: str, load_first: bool, outcome: list[str]) -> typing.Any:
    """An app whose ``/late`` answers "ok" (having loaded its session or not), then, once its response
    started, regenerates the session id and appends to ``outcome`` whether that was refused."""

    def late(regenerate: typing.Callable[[], object]) -> None:
        try:
            regenerate()
        except dualsessions.SessionLifecycleError:
            outcome.append("refused")
        else:
            outcome.append("accepted")

    store = dualsessions.InMemoryStore()
    if front == "asgi":
        from starlette.background import BackgroundTask

        async def endpoint(request: Request) -> Response:
            if load_first:
                await dualsessions.load_session(request)
            task = BackgroundTask(late, lambda: dualsessions.regenerate_session_id(request))
            return PlainTextResponse("ok", background=task)

        app = Starlette(routes=[Route("/late", endpoint)])
        app.add_middleware(dualsessions.SessionMiddleware, store=store)
        return app
    if front == "wsgi":
        from dualsessions import wsgi

        def application(environ: dict[str, typing.Any], start_response: typing.Any) -> typing.Any:
            if load_first:
                wsgi.get_session(environ)
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"ok"  # the headers go out with it
            late(lambda: wsgi.regenerate_session_id(environ))

        return wsgi.SessionMiddleware(application, store=store)
    if front == "flask":
        import flask

        from dualsessions import flask as flask_sessions

        flask_app = flask.Flask(__name__)
        flask_sessions.DualSessions(flask_app, store=store)

        @flask_app.route("/late")
        def flask_endpoint() -> typing.Any:
            if load_first:
                flask.session.get("x")

            def body() -> Iterator[str]:
                yield "ok"  # saved before the body starts
                late(flask_sessions.regenerate_session_id)

            return flask.Response(flask.stream_with_context(body()))

        return flask_app
    import quart

    from dualsessions import quart as quart_sessions

    quart_app = quart.Quart(__name__)
    quart_sessions.DualSessions(quart_app, store=store)

    @quart_app.route("/late")
    async def quart_endpoint() -> typing.Any:
        if load_first:
            quart.session.get("x")

        @quart.stream_with_context
        async def body() -> typing.AsyncIterator[bytes]:
            yield b"ok"  # saved before the body starts
            late(quart_sessions.regenerate_session_id)

        return body()

    return quart_app


@pytest.mark.parametrize("load_first", [False, True], ids=["unused", "loaded"])
@pytest.mark.parametrize("front", HTTP)
def test_a_change_after_the_response_started_is_refused(front: str, load_first: bool) -> None:
    """A regeneration in a background task or a streamed body, after the response started: nothing
    is left to carry it out, so it raises rather than being accepted and dropped, whether or not the
    request had used its session."""
    outcome: list[str] = []
    app = _late_change_app(front, load_first, outcome)
    if front in ("asgi", "quart"):
        response = TestClient(app, base_url="https://testserver").get("/late")
        headers = response.headers
        body = response.text
    else:
        from werkzeug.test import Client

        wsgi_response = Client(app).get("/late", base_url="https://localhost")
        body, headers = wsgi_response.get_data(as_text=True), wsgi_response.headers
        wsgi_response.close()
    assert (body, outcome) == ("ok", ["refused"])
    assert headers.get("set-cookie") is None


# -- the rules table ------------------------------------------------------------------------------------


def test_the_documented_rules_table_is_the_cores() -> None:
    """The table of rules in the docs (docs/rules.md) names the core's situations, in the core's
    order, with the core's store action for each."""
    import pathlib
    import re

    from dualsessions.core import RULES, Store

    page = (pathlib.Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    section = page.split("# What is written, and when", 1)[1].split("\n## ", 1)[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| situation")
    ]
    cells = [
        [cell.strip() for cell in row.strip("|").split("|")] for row in rows if not set(row) <= set("|- ")
    ]
    situations = [re.sub(r" \(.*\)$", "", first) for first, *_ in cells]
    assert situations == list(RULES)
    for (_, store, _), (action, _) in zip(cells, RULES.values(), strict=True):
        assert store.strip("*").startswith("nothing") == (action is Store.NOTHING), store


# -- revocation racing a login -------------------------------------------------------------------------


#: Stores whose revocation reads the index, then ends what it read (SQL's is one DELETE: no window).
INDEX_READERS = ("memory", "redis", "redis-cluster")


@pytest.mark.parametrize("store_kind", INDEX_READERS)
def test_a_session_indexed_while_a_revocation_runs_stays_revocable(store: typing.Any) -> None:
    """A login that lands while ada's sessions are being revoked is not lost from her index: the
    revocation removes only the entries it read, so the next one ends that session too."""
    app = App("wsgi", store, {"user_key": "user"})
    _, first = log_in(app)
    later: list[str] = []
    sync = store.sync
    read_index = sync.user_sessions

    def user_sessions_then_a_login(user: str) -> list[str]:
        ids = read_index(user)
        later.append(log_in(app)[1])  # lands after the revocation read the index
        return ids

    sync.user_sessions = user_sessions_then_a_login
    try:
        assert dualsessions.revoke_user_sessions(store, "ada") == 1
    finally:
        del sync.user_sessions
    (second,) = later
    assert not has_record(store, first)
    assert app.read(second) == LOGIN and second in sync.user_sessions("ada")
    assert dualsessions.revoke_user_sessions(store, "ada") == 1
    assert app.read(second) == {}


# -- stores that subclass no contract ------------------------------------------------------------------


@pytest.mark.parametrize("store_class", [DuckSyncStore, DuckAsyncStore])
@pytest.mark.parametrize("front", HTTP)
def test_a_store_without_a_base_class_changes_and_moves_sessions(front: str, store_class: type) -> None:
    store = store_class()
    app = App(front, store)
    client, session_id = log_in(app)
    assert client.get("/set?theme=light").status_code == 200  # a conditional write (replace)
    new_id = client.get("/regenerate").json()["id"]  # a move (take, then write)
    assert list(store.records) == [new_id]
    assert app.read(new_id) == {**LOGIN, "theme": "light"}
    assert app.read(session_id) == {}


# -- options ---------------------------------------------------------------------------------------------


def _serve(front: str, store: typing.Any, **options: typing.Any) -> typing.Any:
    """A front end built with ``options`` (Starlette builds its middleware at the first request)."""
    if front == "script":
        return dualsessions.open_session(store, "a" * 32, **options)
    return apps.FRONTENDS[front](store, **options).get("/noop")


@pytest.mark.parametrize("front", [*HTTP, "script"])
def test_a_misspelled_option_is_refused(front: str) -> None:
    with pytest.raises(TypeError, match=r"unknown session option\(s\) 'https_only'"):
        _serve(front, dualsessions.InMemoryStore(), https_only=False)


def test_starsessions_positional_options_still_work() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    middleware = dualsessions.SessionMiddleware(app, dualsessions.InMemoryStore(), 60, True, "sid")
    assert (middleware.lifetime, middleware.rolling, middleware.cookie_name) == (60, True, "sid")
    with pytest.raises(TypeError, match="both by position and by name"):
        dualsessions.SessionMiddleware(app, dualsessions.InMemoryStore(), 60, lifetime=60)  # type: ignore[misc]
    with pytest.raises(TypeError, match="at most 8 options by position"):
        dualsessions.SessionMiddleware(app, dualsessions.InMemoryStore(), *range(9))


# -- what a cookie may name ------------------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", INDEXED)
@pytest.mark.parametrize("front", HTTP)
def test_a_cookie_naming_another_kind_of_key_is_a_new_session(front: str, store: typing.Any) -> None:
    """A value that isn't an id the store issues (a per-user index's key, say) never reaches the store:
    whether ada has sessions or not, the answer is the same new, empty session."""
    app = App(front, store, {"user_key": "user"})
    log_in(app)
    calls = spy(store)
    for forged in ("user:ada", "user:nobody", "a" * 200):
        response = app.client(forged).get("/read")
        assert (response.status_code, response.json()) == (200, {})
    assert calls == []


@pytest.mark.parametrize("options", [{}, {"idle_timeout": 600}], ids=["read", "read-and-touch"])
@pytest.mark.parametrize("front", HTTP)
def test_someone_elses_value_under_a_sessions_key_is_a_new_session(
    front: str, redis_url: str, options: dict[str, typing.Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A key of the store's that holds a Redis value of another type (a hash another app put there)
    is not a record: a new session and a warning, never a store failure, and never removed."""
    import redis

    store = RedisStore(url=redis_url)
    forged = dualsessions.generate_session_id()
    key = store.record_key(forged)
    other = redis.Redis.from_url(redis_url)
    other.hset(key, "theirs", "1")
    try:
        app = App(front, store, options)
        with caplog.at_level("WARNING", logger="dualsessions"):
            read = app.client(forged).get("/read")
            written = app.client(forged).get("/set?user=ada")
        assert (read.status_code, read.json()) == (200, {})
        assert written.status_code == 200 and cookie_value(written) != forged  # a new id
        assert other.hgetall(key) == {b"theirs": b"1"}
        assert any("another type" in record.getMessage() for record in caplog.records)
    finally:
        other.delete(key)
        other.close()
        store.close()


def test_a_decode_responses_client_refuses_bytes_it_cant_decode_as_a_new_session(redis_url: str) -> None:
    """With a client made with ``decode_responses=True``, a record that isn't UTF-8 is a new session."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(connection=client)
    forged = dualsessions.generate_session_id()
    redis.Redis.from_url(redis_url).set(store.record_key(forged), b"\xff\xfe not text")
    try:
        with dualsessions.open_session(store, forged) as session:
            assert session == {}
    finally:
        client.delete(store.record_key(forged))
        client.close()


def test_a_store_says_which_ids_it_accepts() -> None:
    class NumberedStore(SyncDictStore):
        def accepts_id(self, session_id: str) -> bool:
            return session_id.isdigit()

    store = NumberedStore()
    store.records["12345"] = json.dumps({"user": "ada"}).encode()
    store.records["abcde"] = json.dumps({"user": "eve"}).encode()
    app = App("wsgi", store)
    assert app.read("12345") == {"user": "ada"}
    assert app.read("abcde") == {}


# -- someone else's bytes in the store -----------------------------------------------------------------


HOSTILE_RECORDS = {
    # a number beyond the float range reads as inf, which no later save could write
    "a number beyond floats": b'{"user":"ada","n":1e999999,"__metadata__":{"lifetime":60,"created":%d}}',
    # a lifetime beyond any float: the expiry arithmetic overflowed
    "an endless lifetime": b'{"user":"ada","__metadata__":{"lifetime":' + b"9" * 400 + b',"created":%d}}',
    # created far in the future: a non-rolling session that would never end
    "a creation time in the future": b'{"user":"ada","__metadata__":{"lifetime":60,"created":1e300}}',
}


@pytest.mark.parametrize("record", list(HOSTILE_RECORDS))
@pytest.mark.parametrize("front", HTTP)
def test_a_hostile_record_is_never_a_500_and_never_endless(front: str, record: str, clock: Clock) -> None:
    store = dualsessions.InMemoryStore()
    session_id = dualsessions.generate_session_id()
    raw = HOSTILE_RECORDS[record]
    store.sync.write(session_id, raw % int(clock.now) if b"%d" in raw else raw, 0, 0)
    app = App(front, store, {"lifetime": 60})

    client = app.client(session_id)
    assert client.get("/read").status_code == 200
    response = client.get("/set?theme=dark")  # a save works: no value it can't write
    assert response.status_code == 200
    saved_under = cookie_value(response)
    assert app.read(saved_under)["theme"] == "dark"
    clock.advance(61)
    assert app.read(saved_under) == {}  # it ends, as a session of the app's own lifetime


@pytest.mark.parametrize("front", [*HTTP, "script"])
def test_a_lifetime_beyond_a_hundred_years_is_refused(front: str) -> None:
    from dualsessions.core import MAX_LIFETIME

    with pytest.raises(dualsessions.ImproperlyConfigured, match=r"at most \d+ seconds \(100 years\)"):
        _serve(front, dualsessions.InMemoryStore(), lifetime=MAX_LIFETIME + 1)
