"""Real HTTP servers for the tests: a command started on a free loopback port, waited for until it
answers, its output kept in a file the tests can quote, and stopped at the end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping

import httpx2

from .redis_server import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    """One server process. Its output goes to a file (a pipe nobody reads would fill up under load
    and stall the server), which ``output()`` and ``output_once_stopped()`` read back for assertion
    messages."""

    def __init__(self, command: list[str], port: int, env: Mapping[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.NamedTemporaryFile(prefix="dualsessions-server-", suffix=".log")  # noqa: SIM115
        with open(self._log.name, "ab") as log:  # append mode: reading back never moves the writer
            self._process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT, **env}, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{self.url}/", timeout=2)
                return
            except httpx2.TransportError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    output = self.output()
                    self.close()
                    raise RuntimeError(f"{command} did not start:\n{output}") from None
                time.sleep(0.1)

    def output(self, last: int = 6000) -> str:
        """The last ``last`` characters the server printed so far."""
        with open(self._log.name, "rb") as log:
            return log.read().decode(errors="replace")[-last:]

    def output_once_stopped(self, last: int = 6000) -> str:
        """Stop the server and return the end of its output, for an assertion message: a server logs an
        exception after it has answered 500, so its output is complete only once it has stopped."""
        self._stop()
        return self.output(last)

    def close(self) -> None:
        """Stop the server (if it still runs) and delete its output."""
        self._stop()
        self._log.close()

    def _stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@contextlib.contextmanager
def running(command: list[str], port: int, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    server = Server(command, port, env or {})
    try:
        yield server
    finally:
        server.close()


def uvicorn(target: str, port: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, "--host=127.0.0.1", f"--port={port}", *options]


def hypercorn(target: str, port: int) -> list[str]:
    return [sys.executable, "-m", "hypercorn", f"--bind=127.0.0.1:{port}", target]


def waitress(target: str, port: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "waitress",
        f"--threads={threads}",
        "--host=127.0.0.1",
        f"--port={port}",
        target,
    ]


@contextlib.contextmanager
def running_combined_demo(redis_url: str = "") -> Iterator[Server]:
    """The combined demo as ``scripts/demo`` serves it: one uvicorn, Starlette at / and Flask at
    /flask sharing one session, kept in memory (or in Redis at ``redis_url``)."""
    port = free_port()
    with running(
        uvicorn("examples_wsgi.combined:app", port), port, {"REDIS_URL": redis_url, "DEMO_STORE": ""}
    ) as server:
        yield server
