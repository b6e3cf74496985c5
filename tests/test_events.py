"""Session events (``event_hooks``): each kind on every front end it applies to, hooks that fail, sync
and async hooks, the cost of having none, and the logging and OpenTelemetry integrations."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import types
import typing

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import dualsessions
from dualsessions import admin, events
from dualsessions.events import RejectReason, SessionEvent, session_ref
from dualsessions.exceptions import ImproperlyConfigured
from dualsessions.otel import COUNTER, OpenTelemetryHook

from .apps import FRONTENDS, asgi_client, wsgi_app, wsgi_client
from .conftest import SECRET, Clock, build_store
from .stores import spy

Frontend = typing.Callable[..., typing.Any]


class Recorder(list[SessionEvent]):
    """A hook that keeps every event; ``take()`` gives those since the last take."""

    def __call__(self, event: SessionEvent) -> None:
        self.append(event)

    def take(self) -> list[SessionEvent]:
        found = list(self)
        self.clear()
        return found

    def kinds(self) -> list[str]:
        return [event.kind for event in self.take()]


class AsyncRecorder(Recorder):
    async def __call__(self, event: SessionEvent) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.append(event)


@pytest.fixture(params=sorted(FRONTENDS))
def frontend_name(request: pytest.FixtureRequest) -> str:
    return typing.cast(str, request.param)


@pytest.fixture(params=["memory", "redis"])
def server_store(request: pytest.FixtureRequest) -> typing.Any:
    """A store that indexes users, without and with I/O."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return build_store(request.param, url)


def cookie(client: typing.Any) -> str:
    return typing.cast(str, client.cookies.get("session"))


def test_a_session_s_life_on_every_front_end(frontend_name: str, server_store: typing.Any) -> None:
    hook = Recorder()
    client = FRONTENDS[frontend_name](server_store, user_key="user", event_hooks=[hook])

    client.get("/noop")
    client.get("/read")  # no cookie, nothing read, nothing written
    assert hook.take() == []

    client.get("/set?user=ada")
    (created,) = hook.take()
    first = cookie(client)
    assert isinstance(created, events.SessionCreated)
    assert (created.ref, created.user, created.frontend) == (session_ref(first), "ada", frontend_name)
    assert created.store == type(server_store).__name__

    client.get("/noop")  # a request that never uses its session, cookie and all: nothing to tell
    assert hook.take() == []

    client.get("/read")
    (loaded,) = hook.take()
    assert isinstance(loaded, events.SessionLoaded)
    assert (loaded.ref, loaded.user) == (session_ref(first), "ada")

    client.get("/set?theme=dark")
    loaded, saved = hook.take()
    assert isinstance(saved, events.SessionSaved) and saved.changed
    assert saved.ref == session_ref(first)

    client.get("/regenerate")
    loaded, regenerated = hook.take()
    second = cookie(client)
    assert isinstance(regenerated, events.SessionRegenerated)
    assert (regenerated.ref, regenerated.previous_ref) == (session_ref(second), session_ref(first))

    client.get("/clear")
    loaded, ended = hook.take()
    assert isinstance(ended, events.SessionEnded)
    assert (ended.ref, ended.user, ended.frontend) == (session_ref(second), "ada", frontend_name)


def test_a_rolling_read_that_writes_says_nothing_changed(frontend_name: str) -> None:
    """The memory store extends records as it reads them; a sync custom store can't, so rolling means
    writing the record again."""
    hook = Recorder()
    client = FRONTENDS[frontend_name](
        build_store("sync-custom"), lifetime=60, rolling=True, event_hooks=[hook]
    )
    client.get("/set?a=1")
    hook.clear()

    client.get("/read")

    _loaded, saved = hook.take()
    assert isinstance(saved, events.SessionSaved) and not saved.changed


def test_events_never_carry_the_id_or_the_data(frontend_name: str, server_store: typing.Any) -> None:
    hook = Recorder()
    client = FRONTENDS[frontend_name](server_store, user_key="user", event_hooks=[hook])
    client.get("/set?user=ada&secret=hunter2")
    client.get("/regenerate")
    client.get("/clear")
    seen = " ".join(repr(event) for event in hook)
    assert len(hook) == 5
    assert "hunter2" not in seen and "secret" not in seen
    for event in hook:
        assert not any("session_id" in field.name for field in dataclasses.fields(event))
    client.cookies.set("session", dualsessions.generate_session_id())
    client.get("/read")
    assert cookie(client) not in repr(hook[-1])


def test_an_unknown_id_is_rejected(frontend_name: str, server_store: typing.Any) -> None:
    hook = Recorder()
    client = FRONTENDS[frontend_name](server_store, event_hooks=[hook])
    unknown = dualsessions.generate_session_id()
    client.cookies.set("session", unknown)

    client.get("/set?a=1")

    rejected, created = hook.take()
    assert isinstance(rejected, events.SessionRejected)
    assert (rejected.reason, rejected.ref, rejected.user) == (
        RejectReason.UNKNOWN_ID,
        session_ref(unknown),
        None,
    )
    assert isinstance(created, events.SessionCreated) and created.ref != rejected.ref


def test_a_cookie_that_does_not_verify_is_rejected_for_its_signature(frontend_name: str) -> None:
    hook = Recorder()
    store = dualsessions.CookieStore(SECRET)
    client = FRONTENDS[frontend_name](store, event_hooks=[hook])
    client.get("/set?a=1")
    genuine = cookie(client)
    hook.clear()
    client.cookies.set("session", genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"))

    client.get("/read")

    (rejected,) = hook.take()
    assert isinstance(rejected, events.SessionRejected)
    assert rejected.reason is RejectReason.BAD_SIGNATURE and rejected.store == "CookieStore"


def test_an_undecodable_record_is_rejected(frontend_name: str, server_store: typing.Any) -> None:
    hook = Recorder()
    session_id = dualsessions.generate_session_id()
    server_store.sync.write(session_id, b"\xffnot json", 60, 60)
    client = FRONTENDS[frontend_name](server_store, event_hooks=[hook])
    client.cookies.set("session", session_id)

    client.get("/read")

    (rejected,) = hook.take()
    assert isinstance(rejected, events.SessionRejected)
    assert rejected.reason is RejectReason.UNDECODABLE and rejected.detail.startswith("undecodable")
    assert rejected.ref == session_ref(session_id)


def test_an_expired_record_found_on_load(frontend_name: str, redis_url: str, clock: Clock) -> None:
    """Redis still holds the record (its TTL runs on the server's clock); the core finds it past its
    lifetime, so it is an expired session, and a rejection whose reason is expiry."""
    hook = Recorder()
    store = build_store("redis", redis_url)
    client = FRONTENDS[frontend_name](store, lifetime=60, user_key="user", event_hooks=[hook])
    client.get("/set?user=ada")
    expired_ref = session_ref(cookie(client))
    hook.clear()
    clock.advance(61)

    client.get("/read")

    (expired,) = hook.take()
    assert isinstance(expired, events.SessionExpired) and isinstance(expired, events.SessionRejected)
    assert (expired.kind, expired.reason, expired.ref, expired.user) == (
        "expired",
        RejectReason.EXPIRED,
        expired_ref,
        "ada",
    )


# -- scripts -------------------------------------------------------------------------------------------


def test_open_session_emits_as_a_script(server_store: typing.Any) -> None:
    hook = Recorder()
    opened = dualsessions.open_session(server_store, dualsessions.generate_session_id(), event_hooks=[hook])
    with opened as session:
        session["a"] = 1
    assert [(event.kind, event.frontend) for event in hook.take()] == [
        ("rejected", "script"),
        ("created", "script"),
    ]
    session_id = typing.cast(str, opened.session_id)
    with dualsessions.open_session(server_store, session_id, event_hooks=[hook]) as session:
        session["b"] = 2
    assert hook.kinds() == ["loaded", "saved"]
    assert admin.delete_session(server_store, session_id, event_hooks=[hook])
    assert hook.kinds() == ["loaded", "ended"]


def test_aopen_session_awaits_async_hooks(server_store: typing.Any) -> None:
    sync_hook, async_hook = Recorder(), AsyncRecorder()
    hooks = [sync_hook, async_hook]

    async def script() -> None:
        opened = dualsessions.aopen_session(
            server_store, dualsessions.generate_session_id(), event_hooks=hooks
        )
        async with opened as session:
            session["a"] = 1
        async with dualsessions.aopen_session(
            server_store, typing.cast(str, opened.session_id), event_hooks=hooks
        ) as session:
            session.clear()

    asyncio.run(script())
    assert sync_hook.kinds() == async_hook.kinds() == ["rejected", "created", "loaded", "ended"]


def test_revoking_a_user_s_sessions(server_store: typing.Any) -> None:
    hook = Recorder()
    client = wsgi_client(server_store, user_key="user")
    client.get("/set?user=ada")
    wsgi_client(server_store, user_key="user").get("/set?user=ada")

    assert admin.revoke_user_sessions(server_store, "ada", event_hooks=[hook]) == 2

    (revoked,) = hook.take()
    assert isinstance(revoked, events.SessionRevoked)
    assert (revoked.user, revoked.count, revoked.ref, revoked.frontend) == ("ada", 2, None, "script")

    async_hook = AsyncRecorder()
    assert asyncio.run(admin.arevoke_user_sessions(server_store, "ada", event_hooks=[async_hook])) == 0
    assert [(event.kind, event.count) for event in async_hook.take()] == [("revoked", 0)]  # type: ignore[attr-defined]


def test_the_cli_revokes_with_the_hooks_of_its_store_factory(
    redis_url: str, run: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:

    hook = Recorder()
    store = build_store("redis", redis_url)
    wsgi_client(store, user_key="user").get("/set?user=ada")
    factory = types.ModuleType("events_factory")
    factory.options = lambda: {"store": store, "event_hooks": [hook]}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "events_factory", factory)

    code, _out, err = run("--store", "events_factory:options", "revoke-user", "ada")

    assert code == 0, err
    assert [(event.kind, event.user) for event in hook.take()] == [("revoked", "ada")]


# -- hooks that fail, sync and async hooks -------------------------------------------------------------


def test_a_failing_hook_never_breaks_a_request(
    frontend_name: str, server_store: typing.Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: SessionEvent) -> None:
        raise RuntimeError("the audit log is down\nfor maintenance")

    after = Recorder()
    client = FRONTENDS[frontend_name](server_store, event_hooks=[broken, after])

    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        response = client.get("/set?a=1")

    assert response.status_code == 200 and cookie(client)
    assert after.kinds() == ["created"]  # the next hook still runs
    (record,) = [record for record in caplog.records if "event hook" in record.getMessage()]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        "event hook test_a_failing_hook_never_breaks_a_request.<locals>.broken failed on the created "
        "event: RuntimeError: the audit log is down for maintenance"
    )
    assert client.get("/read").json() == {"a": "1"}


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
def test_asgi_calls_sync_and_awaits_async_hooks(store_kind: str, request: pytest.FixtureRequest) -> None:
    store = build_store(store_kind, request.getfixturevalue("redis_url") if store_kind == "redis" else None)
    sync_hook, async_hook = Recorder(), AsyncRecorder()
    client = asgi_client(store, event_hooks=[sync_hook, async_hook])

    client.get("/set?a=1")
    client.get("/clear")

    assert sync_hook == async_hook
    assert [event.kind for event in sync_hook] == ["created", "loaded", "ended"]


def test_a_failing_async_hook_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(event: SessionEvent) -> None:
        raise ValueError("no")

    client = asgi_client(dualsessions.InMemoryStore(), event_hooks=[broken])
    with caplog.at_level(logging.WARNING, logger="dualsessions"):
        assert client.get("/set?a=1").status_code == 200
    assert any("failed on the created event: ValueError: no" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("frontend_name", ["wsgi", "flask"])
def test_sync_front_ends_refuse_async_hooks(frontend_name: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="is async"):
        FRONTENDS[frontend_name](dualsessions.InMemoryStore(), event_hooks=[AsyncRecorder()])
    with pytest.raises(ImproperlyConfigured, match="is async"):
        dualsessions.open_session(dualsessions.InMemoryStore(), "x" * 32, event_hooks=[AsyncRecorder()])


def test_hooks_must_be_a_list_of_callables() -> None:
    with pytest.raises(ImproperlyConfigured, match="list of callables"):
        wsgi_app(dualsessions.InMemoryStore(), event_hooks=Recorder.__call__)
    with pytest.raises(ImproperlyConfigured, match="must be a callable"):
        wsgi_app(dualsessions.InMemoryStore(), event_hooks=["audit"])


def test_hooks_cost_no_store_call(frontend_name: str, redis_url: str) -> None:
    """The same requests, without and with a hook: the same store calls (and with none, no event)."""
    seen = []
    for hooks in (None, [Recorder()]):
        store = build_store("redis", redis_url)
        calls = spy(store)
        client = FRONTENDS[frontend_name](store, event_hooks=hooks)
        for path in ("/set?a=1", "/read", "/set?b=2", "/regenerate", "/clear"):
            client.get(path)
        seen.append([method for method, _ in calls])
    assert seen[0] == seen[1]


def test_no_hooks_no_events() -> None:
    app = wsgi_app(dualsessions.InMemoryStore())
    assert app.engine.hooks == ()
    built = []
    original = events.after_load

    def counting(*args: typing.Any) -> SessionEvent:
        built.append(args)
        return original(*args)

    events.after_load = counting  # type: ignore[assignment]
    try:
        client = wsgi_client(dualsessions.InMemoryStore())
        client.get("/set?a=1")
        client.get("/read")
    finally:
        events.after_load = original  # type: ignore[assignment]
    assert built == []


# -- the events themselves -------------------------------------------------------------------------------


def test_events_are_frozen_slotted_values() -> None:
    event = events.SessionSaved(ref="r", user=None, frontend="wsgi", store="S", at=1.0, changed=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.ref = "other"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert event == events.SessionSaved(ref="r", user=None, frontend="wsgi", store="S", at=1.0, changed=True)
    assert session_ref("an id") == session_ref("an id") != session_ref("another id")
    assert len(session_ref("an id")) == 16


# -- integrations --------------------------------------------------------------------------------------


def test_logging_hook_writes_one_line_per_event(caplog: pytest.LogCaptureFixture) -> None:
    client = wsgi_client(dualsessions.InMemoryStore(), event_hooks=[events.logging_hook()])
    unknown = dualsessions.generate_session_id()
    client.cookies.set("session", unknown)

    with caplog.at_level(logging.INFO, logger="dualsessions.events"):
        response = client.get("/set?a=1")
    new_id = response.headers["set-cookie"].partition(";")[0].partition("=")[2]

    lines = [r.getMessage() for r in caplog.records if r.name == "dualsessions.events"]
    assert lines == [
        f"session rejected ref={session_ref(unknown)} frontend=wsgi store=InMemoryStore reason='unknown id'",
        f"session created ref={session_ref(new_id)} frontend=wsgi store=InMemoryStore",
    ]


def test_logging_hook_takes_a_logger_and_a_level(caplog: pytest.LogCaptureFixture) -> None:
    audit = logging.getLogger("tests.audit")
    client = wsgi_client(
        dualsessions.InMemoryStore(), event_hooks=[events.logging_hook(audit, logging.DEBUG)]
    )
    with caplog.at_level(logging.DEBUG, logger="tests.audit"):
        client.get("/set?a=1")
    (record,) = [r for r in caplog.records if r.name == "tests.audit"]
    assert record.levelno == logging.DEBUG and record.getMessage().startswith("session created ref=")


def _otel() -> tuple[TracerProvider, InMemorySpanExporter, InMemoryMetricReader, OpenTelemetryHook]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(meter_provider=MeterProvider(metric_readers=[reader]))
    return tracer_provider, exporter, reader, hook


def _counts(reader: InMemoryMetricReader) -> dict[tuple[tuple[str, typing.Any], ...], int | float]:
    data = reader.get_metrics_data()
    assert data is not None
    counts = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                assert metric.name == COUNTER
                for point in metric.data.data_points:
                    counts[tuple(sorted(point.attributes.items()))] = point.value  # type: ignore[union-attr]
    return counts


def test_opentelemetry_span_events_and_counts_per_request(server_store: typing.Any) -> None:
    """Under WSGI, as an instrumentation would: one server span per request, current while the
    response (and so the session's save) is produced."""
    tracer_provider, exporter, reader, hook = _otel()
    tracer = tracer_provider.get_tracer("tests")
    inner = wsgi_app(server_store, user_key="user", event_hooks=[hook])

    def traced(environ: typing.Any, start_response: typing.Any) -> list[bytes]:
        with tracer.start_as_current_span(environ["PATH_INFO"]):
            body = inner(environ, start_response)
            return list(body)

    from .apps import _wsgi_client

    client = _wsgi_client(traced, "", {})
    client.get("/set?user=ada")
    first = cookie(client)
    client.get("/regenerate")

    spans = {span.name: span for span in exporter.get_finished_spans()}
    (created,) = spans["/set"].events
    assert created.name == "dualsessions.session.created"
    assert dict(created.attributes or {}) == {
        "dualsessions.event": "created",
        "dualsessions.frontend": "wsgi",
        "dualsessions.store": type(server_store).__name__,
        "dualsessions.session.ref": session_ref(first),
        "enduser.id": "ada",
    }
    assert [event.name for event in spans["/regenerate"].events] == [
        "dualsessions.session.loaded",
        "dualsessions.session.regenerated",
    ]
    regenerated = spans["/regenerate"].events[1]
    assert (regenerated.attributes or {})["dualsessions.session.previous_ref"] == session_ref(first)
    base = (("dualsessions.frontend", "wsgi"), ("dualsessions.store", type(server_store).__name__))
    assert _counts(reader) == {
        tuple(sorted((*base, ("dualsessions.event", kind)))): 1
        for kind in ("created", "loaded", "regenerated")
    }


def test_opentelemetry_counts_rejections_by_reason_and_needs_no_span() -> None:
    _, exporter, reader, hook = _otel()
    store = dualsessions.InMemoryStore()
    for _ in range(2):
        with dualsessions.open_session(store, dualsessions.generate_session_id(), event_hooks=[hook]):
            pass

    assert exporter.get_finished_spans() == ()
    assert _counts(reader) == {
        (
            ("dualsessions.event", "rejected"),
            ("dualsessions.frontend", "script"),
            ("dualsessions.reject_reason", "unknown id"),
            ("dualsessions.store", "InMemoryStore"),
        ): 2
    }


def test_opentelemetry_in_a_script_span() -> None:
    tracer_provider, exporter, _, hook = _otel()
    store = dualsessions.InMemoryStore()
    with tracer_provider.get_tracer("tests").start_as_current_span("job"):
        opened = dualsessions.open_session(store, dualsessions.generate_session_id(), event_hooks=[hook])
        with opened as session:
            session["a"] = 1
        admin.revoke_user_sessions(store, "ada", event_hooks=[hook])
    (span,) = exporter.get_finished_spans()
    assert [event.name for event in span.events] == [
        "dualsessions.session.rejected",
        "dualsessions.session.created",
        "dualsessions.session.revoked",
    ]
    assert (span.events[2].attributes or {})["dualsessions.revoked_count"] == 0
