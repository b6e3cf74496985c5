"""A real redis-server on a free loopback port, started and stopped by the tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis

# Loopback only, nothing persisted.
REDIS_OPTIONS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process; ``stop()`` and ``start()`` again keep the same port."""

    def __init__(self, port: int | None = None, *options: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/test, which installs it")
        self.binary = binary
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="dualsessions-redis-")
        self._process: subprocess.Popen[bytes] | None = None
        self._options = list(options)

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self.binary, *REDIS_OPTIONS, "--port", str(self.port), "--dir", self._dir.name, *self._options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def command_counts(self) -> dict[str, int]:
        """Commands run since the last ``reset_counts()``, by name, leaving out this helper's own."""
        with self.client() as client:
            stats = client.info("commandstats")
        counts = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
        for own in ("info", "config|resetstat", "config", "flushall", "ping"):
            counts.pop(own, None)
        return counts

    def reset_counts(self) -> None:
        with self.client() as client:
            client.config_resetstat()


@contextlib.contextmanager
def running_redis(*options: str) -> Iterator[RedisServer]:
    server = RedisServer(None, *options)
    server.start()
    try:
        yield server
    finally:
        server.close()
