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
    port = free_port()
    try:
        subprocess.run(
            _as_owner([f"{binaries}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_owner(
                [f"{binaries}/pg_ctl", "-D", data, "-o", options, "-w", "-l", f"{directory}/log", "start"]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
