"""The examples under real servers on loopback: uvicorn for Starlette, threaded waitress for Flask,
one Redis between them, and a browser-like client keeping cookies. One login, two frameworks."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator

import httpx2
import pytest

from .live_server import running, running_combined_demo, uvicorn, waitress
from .redis_server import RedisServer


@pytest.fixture
def servers(redis_server: RedisServer, redis_url: str) -> Iterator[tuple[str, str]]:
    env = {"REDIS_URL": redis_url}
    with (
        running(lambda port: uvicorn("examples_asgi.starlette_app:app", port), env) as starlette,
        running(lambda port: waitress("examples_wsgi.flask_app:app", port, threads=4), env) as flask,
    ):
        yield starlette.url, flask.url


def test_one_login_shared_by_starlette_under_uvicorn_and_flask_under_waitress(
    servers: tuple[str, str],
) -> None:
    starlette, flask = servers
    with httpx2.Client(follow_redirects=True) as browser:  # one cookie jar, like one browser
        assert "Not logged in" in browser.get(f"{starlette}/").text

        page = browser.post(f"{flask}/login", data={"user": "grace"}).text
        assert "Logged in as <b>grace</b>" in page
        assert "Logged in as <b>grace</b>" in browser.get(f"{starlette}/").text

        browser.post(f"{starlette}/count")
        assert "Visits counted in this session: <b>2</b>" in browser.post(f"{flask}/count").text
        assert "<b>2</b>" in browser.get(f"{starlette}/").text

        browser.post(f"{starlette}/logout")
        assert "Not logged in" in browser.get(f"{flask}/").text


# Clicks through the combined demo, as one browser tab would, each with what the page then says
# (a POST is redirected to its side's home page): log in on one side, the other side knows the user,
# log out there, both forget them.
CLICKS = [
    ("GET", "/", None, "Not logged in"),
    ("POST", "/login", {"user": "ada"}, "Logged in as <b>ada</b>"),
    ("GET", "/flask/", None, "Logged in as <b>ada</b>"),
    ("POST", "/flask/logout", None, "Not logged in"),
    ("GET", "/", None, "Not logged in"),
    ("POST", "/flask/login", {"user": "grace"}, "Logged in as <b>grace</b>"),
    ("GET", "/", None, "Logged in as <b>grace</b>"),
    ("POST", "/logout", None, "Not logged in"),
    ("GET", "/flask/", None, "Not logged in"),
]


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_the_combined_demo_under_uvicorn_serves_a_keep_alive_client(
    store: str, request: pytest.FixtureRequest
) -> None:
    """The demo as ``scripts/demo`` runs it, clicked through by a client that keeps its one
    connection open, as browsers do: every request answers, on both sides, round after round.
    (Mounted through asgiref's WsgiToAsgi, the second Flask request of a connection answered 500.)"""
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    with running_combined_demo(redis_url) as demo:
        for round_ in range(10):
            one_connection = httpx2.Limits(max_connections=1)
            with httpx2.Client(base_url=demo.url, follow_redirects=True, limits=one_connection) as browser:
                for method, path, form, says in CLICKS:
                    response = browser.request(method, path, data=form)
                    statuses = [hop.status_code for hop in (*response.history, response)]
                    assert response.status_code == 200 and says in response.text, (
                        f"round {round_}: {method} {path} answered {statuses}, not a page saying {says!r};"
                        f" the server printed:\n{demo.output_once_stopped()}"
                    )


MERGED = 100


def test_a_hundred_concurrent_merges_under_two_uvicorn_workers_all_land(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Disjoint-key changes to one session from 100 concurrent requests, spread by the kernel over two
    worker processes: every request succeeds and every key is kept, round after round."""
    with running(
        lambda port: uvicorn("tests.merge_app:app", port, "--workers=2"), {"REDIS_URL": redis_url}
    ) as server:
        base = server.url
        for round_ in range(2):
            cookie = httpx2.get(f"{base}/set?seed={round_}").cookies["session"]
            assert _fire(base, cookie, round_) == [200] * MERGED
            kept = httpx2.get(f"{base}/read", headers={"cookie": f"session={cookie}"}).json()
            assert kept == {"seed": str(round_), **{f"k{n}": str(round_) for n in range(MERGED)}}


def _fire(base: str, cookie: str, value: int) -> list[int]:
    """``MERGED`` requests at once (threads released together), each setting its own key of the
    session named by ``cookie``."""
    start = threading.Barrier(MERGED)

    def one(n: int) -> int:
        with httpx2.Client(base_url=base, timeout=120, headers={"cookie": f"session={cookie}"}) as client:
            start.wait()
            return client.get(f"/set?k{n}={value}").status_code

    with concurrent.futures.ThreadPoolExecutor(MERGED) as pool:
        return list(pool.map(one, range(MERGED)))
