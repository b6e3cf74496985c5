"""The stores at scale: a real Redis and the memory store filled with many sessions, and what the
operations cost there. Run it with ``scripts/bench-scale`` (``--sessions N``, 1,000,000 by default).

Prints one line per measurement with its target; the figures are wall-clock times on this machine,
so they move with what else runs (the test suite asserts the deterministic costs instead).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time
import typing

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dualsessions  # noqa: E402
from dualsessions import _clock  # noqa: E402
from dualsessions._sync_engine import SyncEngine  # noqa: E402
from dualsessions.stores.redis import RedisStore  # noqa: E402
from tests.redis_server import running_redis  # noqa: E402

PREFIX = "starsessions."
BATCH = 10_000


def report(what: str, value: float, unit: str, target: float, *, most: bool = True) -> None:
    met = value <= target if most else value >= target
    bound, verdict = ("≤" if most else "≥"), ("met" if met else "MISSED")
    print(f"{what:58} {value:>10.3f} {unit:4} target {bound} {target:g}  {verdict}")


def record(user: str, now: float, lifetime: int = 3600) -> bytes:
    meta = {"lifetime": lifetime, "created": now, "last_access": now, "user": user}
    return json.dumps({"user": user, "__metadata__": meta}).encode()


def fill_redis(client: typing.Any, sessions: int, users: int, ttl: int, tag: str = "") -> None:
    """``sessions`` sessions spread over ``users`` users, each in its user's set, as the apps write them."""
    now = time.time()
    for start in range(0, sessions, BATCH):
        with client.pipeline(transaction=False) as pipe:
            for n in range(start, min(start + BATCH, sessions)):
                session_id = f"{tag}{n:032d}"[-32:]
                user = f"user{n % users}"
                pipe.set(PREFIX + session_id, record(user, now), ex=ttl)
                pipe.sadd(PREFIX + "user:" + user, session_id)
            pipe.execute()


def resident_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MB."""
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def cli(url: str, *command: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dualsessions", "--store", url, *command],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - started, done.stdout.decode()


def redis_suite(sessions: int) -> None:
    with running_redis() as server:
        client = server.client()
        users = sessions // 2
        print(f"filling Redis with {sessions:,} sessions of {users:,} users ...", flush=True)
        fill_redis(client, sessions, users, ttl=3600)

        seconds, out = cli(server.url, "--json", "count")
        assert json.loads(out)["count"] == sessions, out
        report(f"Redis, {sessions:,} sessions: count", seconds, "s", 15)

        started = time.perf_counter()
        with subprocess.Popen(
            [sys.executable, "-m", "dualsessions", "--store", server.url, "--json", "list"],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        ) as listing:
            rows, peak = 0, 0
            for line in typing.cast(typing.IO[bytes], listing.stdout):
                rows += line.startswith(b'{"id"')
                if rows % 10_000 == 0:  # its resident memory now and then, while it runs
                    peak = max(peak, resident_mb(listing.pid))
        seconds = time.perf_counter() - started
        assert rows == sessions, rows
        report(f"Redis, {sessions:,} sessions: list --json, every row", seconds, "s", 60)
        report(f"Redis, {sessions:,} sessions: list --json, peak RSS", peak, "MB", 100)

        seconds, out = cli(server.url, "--json", "purge-expired")
        report(f"Redis, {users:,} users: purge-expired (nothing expired)", seconds, "s", 60)

        big = 10_000
        with client.pipeline(transaction=False) as pipe:
            for n in range(big):
                session_id = f"big{n:029d}"
                pipe.set(PREFIX + session_id, record("big", time.time()), ex=3600)
                pipe.sadd(PREFIX + "user:big", session_id)
            pipe.execute()
        store = RedisStore(url=server.url)
        store.sync.user_sessions("nobody")  # the connection is open, as in an app
        started = time.perf_counter()
        revoked = dualsessions.revoke_user_sessions(store, "big")
        seconds = time.perf_counter() - started
        assert revoked == big, revoked
        report(f"Redis: revoke a user with {big:,} sessions", seconds, "s", 0.2)

        client.flushall()
        fill_redis(client, 20_000, 10_000, ttl=1, tag="short")
        time.sleep(2.5)  # every session expires
        _, out = cli(server.url, "--json", "purge-expired")
        left = sum(1 for _ in client.scan_iter(match=PREFIX + "user:*", count=1000))
        report("Redis: index keys left once sessions expired and a purge ran", left, "keys", 0)
        store.close()


def memory_suite(live: int, purged: int) -> None:
    real = _clock.now
    now = real()
    _clock.now = lambda: now  # type: ignore[assignment]
    try:
        store = dualsessions.InMemoryStore()
        print(f"filling the memory store with {live:,} sessions ...", flush=True)
        for n in range(live):
            store.sync.write(f"{n:032d}", b"x", 60, 60)
        now += 61  # they all expire at once
        worst = 0.0
        for n in range(50_000):
            started = time.perf_counter()
            store.sync.write(f"new{n:029d}", b"x", 600, 600)
            worst = max(worst, time.perf_counter() - started)
        report(f"memory, {live:,} sessions expiring at once: slowest write", worst * 1000, "ms", 5)

        store = dualsessions.InMemoryStore()
        for n in range(purged):
            store.sync.write(f"{n:032d}", b"x", 60, 60)
            store.sync.add_user_session(f"user{n % 1000}", f"{n:032d}")
        now += 61
        started = time.perf_counter()
        assert store.sync.purge_expired() == purged
        report(f"memory, {purged:,} sessions: purge_expired", time.perf_counter() - started, "s", 1)
    finally:
        _clock.now = real  # type: ignore[assignment]


def read_only_cost(data: dict[str, typing.Any], rounds: int = 2000) -> float:
    """The median time of a read-only request's session work (load, decide, headers) on ``data``."""
    store = dualsessions.InMemoryStore()
    engine = SyncEngine(store, {})
    handle = engine.begin(None)
    handle.load().update(data)
    handle.save(200)
    session_id = typing.cast(str, handle.session_id)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        handle = engine.begin(session_id)
        handle.load()
        handle.save(200)
        handle.headers()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def change_detection_suite() -> None:
    flat = {f"k{n}": "x" * 1000 for n in range(100)}  # 100 KB of strings
    nested = {**flat, "items": [1, 2, 3]}
    ratio = read_only_cost(nested) / read_only_cost(flat)
    report("100 KB session with one small list ÷ flat, read-only request", ratio, "×", 1.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions in Redis and in memory")
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args()
    os.environ.pop("DUALSESSIONS_STORE", None)
    change_detection_suite()
    memory_suite(args.sessions, min(100_000, args.sessions))
    if not args.skip_redis:
        redis_suite(args.sessions)
    asyncio.set_event_loop(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
