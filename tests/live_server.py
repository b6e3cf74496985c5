"""Real HTTP servers for the tests: a command started on a free loopback port, waited for until it
answers, its output kept in a file the tests can quote, and stopped at the end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping

import httpx2

from .redis_server import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    """One server process. Its output goes to a file (a pipe nobody reads would fill up under load
    and stall the server), which ``output()`` and ``output_once_stopped()`` read back for assertion
    messages."""

    def __init__(self, command: Callable[[int], list[str]], env: Mapping[str, str]) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="dualsessions-server-", suffix=".log")  # noqa: SIM115
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with open(self._log.name, "ab") as log:  # append mode: reading back never moves the writer
                started_at = log.tell()  # (this attempt's output begins here)
                self._process = subprocess.Popen(
                    command(self.port),
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": ROOT, **env},
                    stdout=log,
                    stderr=log,
                )
            if self._answers():
                return
            output = self.output()
            self._stop()
            if attempt == PORT_ATTEMPTS or not _port_taken(self._output_since(started_at)):
                self._log.close()
                raise RuntimeError(f"{command(self.port)} did not start:\n{output}")

    def _answers(self) -> bool:
        """Whether the server answers within 30 s (False as soon as it has exited: what answered then
        is another server on the port)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{self.url}/", timeout=2)
                return self._process.poll() is None
            except httpx2.TransportError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    return False
                time.sleep(0.1)

    def _output_since(self, offset: int) -> str:
        with open(self._log.name, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

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


#: A port free when chosen may be taken before the server binds it (by another test process, or an
#: outgoing connection's local port): the server is started again on another.
PORT_ATTEMPTS = 3


def _port_taken(output: str) -> bool:
    return "address already in use" in output.lower() or "errno 98" in output.lower()


@contextlib.contextmanager
def running(command: Callable[[int], list[str]], env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """``command(port)`` serving on a free loopback port (``server.port``), until the block ends."""
    server = Server(command, env or {})
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
    with running(
        lambda port: uvicorn("examples_wsgi.combined:app", port), {"REDIS_URL": redis_url, "DEMO_STORE": ""}
    ) as server:
        yield server
