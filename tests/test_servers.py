"""The examples under real servers on loopback: uvicorn for Starlette, threaded waitress for Flask,
one Redis between them, and a browser-like client keeping cookies. One login, two frameworks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx2
import pytest

from .redis_server import RedisServer, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def serve(command: list[str], port: int, redis_url: str) -> subprocess.Popen[bytes]:
    """Start a server and wait until it answers. Its output goes to a file (a pipe nobody reads
    would fill up under load and stall the server)."""
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": ROOT}
    with tempfile.TemporaryFile() as log:  # the server keeps its own handle on the file
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/", timeout=1)
                return process
            except httpx2.TransportError:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command} exited: {log.read().decode()}") from None
                time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def servers(redis_server: RedisServer, redis_url: str) -> Iterator[tuple[str, str]]:
    starlette_port, flask_port = free_port(), free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "examples_asgi.starlette_app:app", f"--port={starlette_port}"]
    waitress = [
        sys.executable,
        "-m",
        "waitress",
        "--threads=4",
        f"--port={flask_port}",
        "examples_wsgi.flask_app:app",
    ]
    processes = [serve(uvicorn, starlette_port, redis_url), serve(waitress, flask_port, redis_url)]
    try:
        yield f"http://127.0.0.1:{starlette_port}", f"http://127.0.0.1:{flask_port}"
    finally:
        stop(processes)


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
