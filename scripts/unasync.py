"""Generate the sync flavour of each async source, so the two can't drift apart.

python scripts/unasync.py          rewrite the generated files
python scripts/unasync.py --check  fail if one is out of date, showing the first line that differs
                                   (CI runs this)

Each source is written in the async flavour; its sync twin is the same text with the substitutions
below. A substitution that no longer matches anything in its source is an error: a rename in the
source must not leave the generated file half-translated.
"""

from __future__ import annotations

import ast
import difflib
import pathlib
import re
import subprocess
import sys
import typing

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dualsessions"

#: What every source turns into in the sync flavour (the general rules: not every source has each).
COMMON = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait\s+", ""),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\btyping\.AsyncIterator\b", "typing.Iterator"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\(\)", "close()"),
]  # fmt: skip


class Job(typing.NamedTuple):
    source: str
    target: str
    substitutions: list[tuple[str, str]]


JOBS = [
    Job("_async_engine.py", "_sync_engine.py", [
        (r"\bAsyncEngine\b", "SyncEngine"),
        (r"\bAsyncSessionHandle\b", "SyncSessionHandle"),
        (r"\basync_store\b", "sync_store"),
        (r"\basync_serializer\b", "sync_serializer"),
        (r"\badispatch\b", "dispatch"),
        (r"\bmay_await=True\b", "may_await=False"),
        (r"in the async flavour", "in the sync flavour"),
    ]),
    Job("stores/_async_contract.py", "stores/_sync_contract.py", [
        (r"\bSessionStore\b", "SyncSessionStore"),
        (r"Base class of async session stores", "Base class of sync session stores"),
        (r"The async store contract", "The sync store contract"),
    ]),
    Job("stores/_async_redis.py", "stores/_sync_redis.py", [
        (r"client, watchdog = store\.loop_client\(\) or await store\.async_client\(\)",
         "client = store.sync_client()"),
        # The async side bounds each command with its watchdog; sync clients have socket timeouts.
        # (One call a line, the bound command ending it, a comment aside.)
        (r"(?m)\bawait watchdog\.bound\((.*)\)(\s*#.*)?$", r"\1\2"),
        (r"(?m)\bwatchdog\.iterate\((.*)\):$", r"\1:"),
        (r"(?m)^import asyncio\n", ""),
        (r"\bAsyncRedisOperations\b", "SyncRedisOperations"),
        (r"\bAsyncRedis\b", "SyncRedis"),
        (r"\bSessionStore\b", "SyncSessionStore"),
        (r"\b_async_contract\b", "_sync_contract"),
        (r"\b_async_direct\b", "_sync_direct"),
        (r"in the async flavour", "in the sync flavour"),
    ]),
    Job("stores/_async_direct.py", "stores/_sync_direct.py", [
        (r"\bredis\.asyncio\.(\w+Pool|Redis|\w*Connection)\b", r"redis.\1"),
        # The sync flavour reads a GET's reply off the socket itself (see _redis_common.read_bulk).
        (r"await connection\.read_response\(\)  # \(the sync flavour: read_bulk\)", "read_bulk(connection)"),
        (r"import AGAIN, AsyncRedis, redis", "import AGAIN, SyncRedis, read_bulk, redis"),
        (r"\bAsyncRedis\b", "SyncRedis"),
        (r"in the async flavour", "in the sync flavour"),
    ]),
    Job("stores/_async_sql.py", "stores/_sync_sql.py", [
        (r"\bstore\.async_transaction\b", "store.sync_transaction"),
        (r"(?m)^import asyncio\n", ""),
        (r"\bAsyncSQLOperations\b", "SyncSQLOperations"),
        (r"\bSessionStore\b", "SyncSessionStore"),
        (r"\b_async_contract\b", "_sync_contract"),
        (r"in the async flavour", "in the sync flavour"),
    ]),
    Job("_async_admin.py", "_sync_admin.py", [
        (r"\ba(open_session|delete_session|session_ids|session_records|count_sessions|"
         r"revoke_user_sessions|purge_expired|user_sessions)\b", r"\1"),
        (r"\bAsyncEngine\b", "SyncEngine"),
        (r"\basync_store\b", "sync_store"),
        (r"\b_async_engine\b", "_sync_engine"),
        (r"\badispatch\b", "dispatch"),
        (r"\bmay_await=True\b", "may_await=False"),
        (r"in the async flavour", "in the sync flavour"),
    ]),
]  # fmt: skip

GENERATED_NOTE = "Generated from ``{source}`` by ``scripts/unasync.py``: edit that file, then run the script."
SOURCE_NOTE = re.compile(
    r"This file is the source of ``[\w/.]+``, which ``scripts/unasync.py`` generates from it\."
)


def generate(job: Job) -> str:
    text = (PACKAGE / job.source).read_text()
    text, found = SOURCE_NOTE.subn(GENERATED_NOTE.format(source=pathlib.PurePath(job.source).name), text)
    if not found:
        raise SystemExit(f"{job.source}: its docstring must say it is the source of {job.target}")
    for pattern, replacement in job.substitutions:
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise SystemExit(f"{job.source}: the substitution {pattern!r} matches nothing")
    for pattern, replacement in COMMON:
        text = re.sub(pattern, replacement, text)
    return _formatted(text, PACKAGE / job.target)


def _formatted(text: str, target: pathlib.Path) -> str:
    """``text`` as ruff leaves it: imports sorted (renamed modules move), lines the sync flavour
    shortened joined."""
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(target), "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise SystemExit(f"ruff {command[0]} failed on {target.name}: {done.stderr.strip()}")
        text = done.stdout
    return text


def _leftovers(text: str) -> list[str]:
    """What is still async in generated code (an ``await`` a rename missed, say): it must be empty."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith, ast.Await)):
            found.append(f"line {node.lineno}: {type(node).__name__}")
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        if name.startswith(("async", "Async", "aclose", "__a")) or name in ("loop_client", "asyncio"):
            found.append(f"line {getattr(node, 'lineno', '?')}: {name}")
    return found


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for job in JOBS:
        text = generate(job)
        leftovers = _leftovers(text)
        if leftovers:
            raise SystemExit(f"{job.target} would still be async: {', '.join(leftovers[:5])}")
        target = PACKAGE / job.target
        current = target.read_text() if target.exists() else ""
        if current == text:
            continue
        if not check:
            target.write_text(text)
            continue
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), job.target, "generated", n=0)
        first = [line for line in diff if line.startswith(("-", "+")) and line[:3] not in ("---", "+++")]
        stale.append(f"{job.target} is out of date (first difference: {first[0] if first else '?'})")
    for message in stale:
        print(f"{message}: run python scripts/unasync.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
