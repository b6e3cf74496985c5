"""A bounded load test: the Starlette example under uvicorn and the Flask example under threaded
waitress, one Redis between them, 50 clients for a fixed time (it stops by itself), each incrementing
its own counter, alternating between the two servers. Zero errors, and every client's final counter
equals its number of successful increments: nothing lost.

CI runs it for 5 seconds; ``scripts/load`` runs the full 60 (DUALSESSIONS_LOAD_SECONDS to change).
Every client makes at least a few increments however long they take, so a slow machine makes the
test longer, never a failure: it asserts what was kept, not how fast.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from .live_server import running, uvicorn, waitress
from .redis_server import RedisServer

SECONDS = float(os.environ.get("DUALSESSIONS_LOAD_SECONDS", "5"))
CLIENTS = 50
AT_LEAST = 4  # increments per client, past the deadline if need be
COUNT = re.compile(rb"Visits counted in this session: <b>(\d+)</b>")


@pytest.fixture
def both_servers(redis_server: RedisServer, redis_url: str) -> Iterator[list[str]]:
    env = {"REDIS_URL": redis_url}
    with (
        running(
            lambda port: uvicorn("examples_asgi.starlette_app:app", port, "--no-access-log", "--backlog=256"),
            env,
        ) as starlette,
        running(lambda port: waitress("examples_wsgi.flask_app:app", port, threads=16), env) as flask,
    ):
        yield [starlette.url, flask.url]


def test_fifty_clients_lose_nothing(both_servers: list[str]) -> None:
    results: list[tuple[int, int, list[str]]] = []  # (successes, final count, errors) per client
    deadline = time.monotonic() + SECONDS

    def client(number: int) -> None:
        successes, errors = 0, []
        with httpx2.Client(timeout=120) as http:
            while not errors and (successes < AT_LEAST or time.monotonic() < deadline):
                server = both_servers[(number + successes) % 2]  # alternate: one session, two frameworks
                try:
                    response = http.post(f"{server}/count")
                except httpx2.HTTPError as error:
                    errors.append(repr(error))
                    continue
                if response.status_code == 303:
                    successes += 1
                else:
                    errors.append(f"{server}: {response.status_code}")
            page = http.get(f"{both_servers[number % 2]}/").content
        match = COUNT.search(page)
        results.append((successes, int(match.group(1)) if match else -1, errors))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == CLIENTS
    assert [errors for _, _, errors in results if errors] == []
    assert [(successes, count) for successes, count, _ in results if successes != count] == []
    assert min(successes for successes, _, _ in results) >= AT_LEAST
    total = sum(successes for successes, _, _ in results)
    print(f"\n{total} increments by {CLIENTS} clients in {SECONDS:g} s, none lost")
