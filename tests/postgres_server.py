"""A real PostgreSQL server for the tests: a fresh cluster in a temporary directory, on a free loopback
port, started with the server binaries of the installed ``postgresql`` package (``scripts/ensure-postgres``
installs it) and stopped after. ``initdb`` refuses to run as root: as root, the cluster belongs to the
``postgres`` user the package creates."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .redis_server import free_port


def _binaries() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL's server is not installed: run scripts/ensure-postgres")
    return os.path.dirname(found[-1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_postgres() -> Iterator[str]:
    """The URL (``postgresql+psycopg://``) of a server that lives as long as the block."""
    binaries = _binaries()
    directory = tempfile.mkdtemp(prefix="dualsessions-pg-")
    data = os.path.join(directory, "data")
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    try:
        subprocess.run(
            _as_owner([f"{binaries}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        port = _start(binaries, data, directory)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


def _start(binaries: str, data: str, directory: str) -> int:
    """Start the cluster on a free port, and return it; on another if the port was taken meanwhile
    (``pg_ctl -w`` waits for this cluster's own server, which exits when it can't bind)."""
    log = os.path.join(directory, "log")
    for attempt in range(5):
        port = free_port()
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run(
            _as_owner([f"{binaries}/pg_ctl", "-D", data, "-o", options, "-w", "-l", log, "start"]),
            capture_output=True,
        )
        if started.returncode == 0:
            return port
        taken = False
        if os.path.exists(log):  # (pg_ctl may fail before the server writes anything)
            with open(log, errors="replace") as out:
                taken = "could not bind" in out.read()
        if not taken or attempt == 4:
            raise subprocess.CalledProcessError(
                started.returncode, started.args, started.stdout, started.stderr
            )
        os.truncate(log, 0)  # (the next attempt's log is read alone)
    raise AssertionError("unreachable")
