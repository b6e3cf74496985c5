"""The example apps, as a user clicks through them, in memory and on Redis."""

from __future__ import annotations

import typing

import httpx2
import pytest
from starlette.testclient import TestClient

from dualsessions import InMemoryStore
from dualsessions.stores.redis import RedisStore
from examples_asgi import fastapi_app, quart_app, starlette_app
from examples_asgi.store import make_store
from examples_wsgi import combined, flask_app, werkzeug_app

from .redis_server import RedisServer, running_redis


@pytest.fixture(params=["memory", "redis"])
def example_store(request: pytest.FixtureRequest) -> typing.Any:
    if request.param == "redis":
        return RedisStore(url=request.getfixturevalue("redis_url"), prefix="demo:")
    return InMemoryStore()


def test_starlette_example(example_store: typing.Any) -> None:
    client = TestClient(starlette_app.create_app(example_store))
    assert "Not logged in" in client.get("/").text
    anonymous = client.post("/count", follow_redirects=False)
    assert anonymous.status_code == 303
    first_id = client.cookies["session"]

    page = client.post("/login", content="user=ada&remember=1").text
    assert "Logged in as <b>ada</b>" in page and "<b>1</b>" in page  # the count survived the login
    assert client.cookies["session"] != first_id  # regenerated at login
    assert "Visits counted in this session: <b>2</b>" in client.post("/count").text

    assert "Not logged in" in client.post("/logout").text
    assert "session" not in client.cookies


def test_fastapi_example(example_store: typing.Any) -> None:
    client = TestClient(fastapi_app.create_app(example_store))
    assert client.get("/").json() == {"user": None, "count": 0}
    assert "set-cookie" not in client.get("/").headers
    client.post("/count")
    first_id = client.cookies["session"]
    client.post("/login", params={"user": "ada", "remember": True})
    assert client.cookies["session"] != first_id
    assert client.post("/count").json() == {"count": 2}
    assert client.get("/").json() == {"user": "ada", "count": 2}
    client.post("/logout")
    assert client.get("/").json() == {"user": None, "count": 0}


def test_examples_answer_503_while_redis_is_down() -> None:
    """Through ``on_store_error``: nothing is raised to the server, loading (a known cookie) or saving."""
    with running_redis() as server:
        clients = [
            TestClient(module.create_app(RedisStore(url=server.url, timeout=1)))
            for module in (starlette_app, fastapi_app)
        ]
        for client in clients:
            client.post("/count")  # a session, whose cookie makes the next requests read the store
        server.stop()
        for client in clients:
            assert client.get("/").status_code == 503
            assert client.post("/count").status_code == 503
            client.cookies.clear()
            assert client.post("/count").status_code == 503  # a new visitor's first write


def test_store_follows_redis_url(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DEMO_STORE", raising=False)
    assert isinstance(make_store(), InMemoryStore)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert isinstance(make_store(), RedisStore)


def test_the_demo_keeps_sessions_in_sqlite_across_a_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: typing.Any
) -> None:
    """DEMO_STORE=sqlite:///demo.db: the combined demo's sessions survive a restart, with no server."""
    from dualsessions.stores.sql import SQLStore

    monkeypatch.setenv("DEMO_STORE", f"sqlite:///{tmp_path}/demo.db")
    first = make_store()
    assert isinstance(first, SQLStore)
    client = TestClient(combined.create_app(first))
    client.post("/flask/login", data={"user": "ada"})
    cookie = client.cookies["session"]
    first.close()

    restarted = make_store()  # a new process would make it the same way
    client = TestClient(combined.create_app(restarted))
    client.cookies.set("session", cookie)
    assert "Logged in as <b>ada</b>" in client.get("/").text
    restarted.close()


def wsgi_client_for(app: typing.Any) -> httpx2.Client:
    return httpx2.Client(
        transport=httpx2.WSGITransport(app=app), base_url="http://testserver", follow_redirects=True
    )


@pytest.mark.parametrize("module", [flask_app, werkzeug_app], ids=["flask", "werkzeug"])
def test_wsgi_examples(module: typing.Any, example_store: typing.Any) -> None:
    client = wsgi_client_for(module.create_app(example_store))
    assert "Not logged in" in client.get("/").text
    client.post("/count")
    first_id = client.cookies["session"]
    page = client.post("/login", data={"user": "ada"}).text
    assert "Logged in as <b>ada</b>" in page
    assert "<b>1</b>" in page  # the count survived the login
    assert client.cookies["session"] != first_id  # regenerated at login
    assert "Visits counted in this session: <b>2</b>" in client.post("/count").text
    assert "Not logged in" in client.post("/logout").text
    assert "session" not in client.cookies


def test_combined_demo_shares_one_session(example_store: typing.Any) -> None:
    client = TestClient(combined.create_app(example_store))
    assert "Logged in as <b>ada</b>" in client.post("/flask/login", data={"user": "ada"}).text
    assert "Logged in as <b>ada</b>" in client.get("/").text
    client.post("/count")
    assert "Visits counted in this session: <b>2</b>" in client.post("/flask/count").text
    client.post("/logout")
    assert "Not logged in" in client.get("/flask/").text


def test_flask_example_answers_503_while_redis_is_down() -> None:
    with running_redis() as server:
        client = wsgi_client_for(flask_app.create_app(RedisStore(url=server.url, timeout=1)))
        client.get("/")
        server.stop()
        assert client.post("/count").status_code == 503


def test_werkzeug_example_answers_503_while_redis_is_down() -> None:
    """Through the WSGI middleware's ``on_store_error``, loading (a known cookie) or saving."""
    with running_redis() as server:
        client = wsgi_client_for(werkzeug_app.create_app(RedisStore(url=server.url, timeout=1)))
        client.post("/count")  # a session, whose cookie makes the next requests read the store
        server.stop()
        assert client.get("/").status_code == 503
        assert client.post("/count").status_code == 503
        client.cookies.clear()
        assert client.post("/count").status_code == 503  # a new visitor's first write


def test_quart_example(example_store: typing.Any) -> None:
    client = TestClient(quart_app.create_app(example_store))
    assert "Not logged in" in client.get("/").text
    assert "set-cookie" not in client.get("/").headers
    client.post("/count")
    first_id = client.cookies["session"]
    page = client.post("/login", data={"user": "ada", "remember": "1"}).text
    assert "Logged in as <b>ada</b>" in page and "<b>1</b>" in page  # the count survived the login
    assert client.cookies["session"] != first_id  # regenerated at login
    assert "Visits counted in this session: <b>2</b>" in client.post("/count").text
    assert "Not logged in" in client.post("/logout").text
    assert "session" not in client.cookies


def test_quart_example_answers_503_while_redis_is_down() -> None:
    with running_redis() as server:
        client = TestClient(quart_app.create_app(RedisStore(url=server.url, timeout=1)))
        client.post("/count")
        server.stop()
        assert client.get("/").status_code == 503  # the read ahead failed: raised where it is used
        assert client.post("/count").status_code == 503
        client.cookies.clear()
        assert client.post("/count").status_code == 503  # a new visitor's first write
