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
import redis.backoff
import redis.retry

# Loopback only, nothing persisted.
REDIS_OPTIONS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
_ONCE = redis.retry.Retry(redis.backoff.NoBackoff(), 0)  # a readiness check is not retried


def free_port(below: int = 65536) -> int:
    """A free loopback port (below ``below``: a cluster node also takes its port + 10000)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < below:
            return port


class RedisServer:
    """One redis-server process; ``stop()`` and ``start()`` again keep the same port."""

    def __init__(self, port: int | None = None, *options: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/test, which installs it")
        self.binary = binary
        #: The port was picked here: if something takes it before the first start, another is picked.
        self._may_move = port is None
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="dualsessions-redis-")
        self._process: subprocess.Popen[bytes] | None = None
        self._options = list(options)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers. Only this process's answer counts: a port taken
        meanwhile by another process (a server of its own, say) makes ours exit, and the first start
        of a port picked here then goes again on another."""
        for attempt in range(5):
            self._process = subprocess.Popen(
                [
                    self.binary,
                    *REDIS_OPTIONS,
                    "--port",
                    str(self.port),
                    "--dir",
                    self._dir.name,
                    *self._options,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._answers(self._process):
                self._may_move = False  # a restart keeps the port
                return
            if not self._may_move or attempt == 4:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            self.port = free_port()

    def _answers(self, process: subprocess.Popen[bytes]) -> bool:
        """Whether ``process`` comes to answer on the port (False once it has exited)."""
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with redis.Redis(
                    port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5, retry=_ONCE
                ) as client:
                    if int(client.info("server")["process_id"]) == process.pid:
                        return True
            except redis.RedisError:  # not answering yet, or something else holds the port
                pass
            time.sleep(0.02)
        if process.poll() is None:  # never answered: not left running
            process.kill()
            process.wait(timeout=10)
        return False

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
    try:
        server.start()
        yield server
    finally:
        server.close()


class RedisCluster:
    """Three masters (no replicas) on loopback, made into a cluster with ``redis-cli --cluster``."""

    def __init__(self) -> None:
        options = ("--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
        self.nodes = [RedisServer(free_port(below=55000), *options) for _ in range(3)]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes) + "/"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                with node.client() as client:
                    states.append(client.cluster("info").get("cluster_state"))  # type: ignore[no-untyped-call]
            if states == ["ok"] * 3:
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis cluster did not come up")

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class RedisSentinelSet:
    """A master, a replica and one sentinel watching them as ``mymaster``, all on loopback."""

    def __init__(self) -> None:
        self.master = RedisServer()
        self.replica = RedisServer(None, "--replicaof", "127.0.0.1", "0")  # the port is set in start()
        self.sentinel_port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="dualsessions-sentinel-")
        self._sentinel: subprocess.Popen[bytes] | None = None
        self.url = f"redis+sentinel://127.0.0.1:{self.sentinel_port}/mymaster/0"

    def start(self) -> None:
        self.master.start()
        self.replica._options = ["--replicaof", "127.0.0.1", str(self.master.port)]
        self.replica.start()
        config = f"{self._dir.name}/sentinel.conf"
        with open(config, "w") as out:
            out.write(
                f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self._dir.name}\n"
                f"sentinel monitor mymaster 127.0.0.1 {self.master.port} 1\n"
                "sentinel down-after-milliseconds mymaster 500\n"
                "sentinel failover-timeout mymaster 2000\n"
            )
        self._sentinel = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", config, "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.sentinel_port, socket_connect_timeout=0.2) as sentinel:
                    masters = sentinel.sentinel_masters()
                    if masters.get("mymaster", {}).get("num-slaves", 0) >= 1:
                        return
            except redis.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the sentinel did not see the master and its replica")

    def master_address(self) -> tuple[str, int]:
        with redis.Redis(port=self.sentinel_port) as sentinel:
            host, port = sentinel.sentinel_get_master_addr_by_name("mymaster")
        return host, int(port)

    def close(self) -> None:
        if self._sentinel is not None:
            self._sentinel.terminate()
            self._sentinel.wait(timeout=10)
        self.replica.close()
        self.master.close()
        self._dir.cleanup()
