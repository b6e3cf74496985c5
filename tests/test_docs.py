"""Every Python snippet of README.md and of the pages under docs/ runs as written.

Each ```` ```python ```` block runs alone, in a fresh module, in a temporary directory: a snippet
imports what it uses and defines what it needs. ``redis://localhost:6379/0`` in a snippet (and the
``REDIS_URL`` environment variable) name the test Redis server, started only for snippets that
mention Redis. A snippet that leaves an ``app`` behind is then served one request to ``/`` through a
test client, which builds its middlewares: it must answer below 500.

A block that is a fragment on purpose is skipped by an HTML comment on the line just before its
fence, giving the reason: ``<!-- no-run: a fragment of the block above -->``. Keep them few.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LOCAL_REDIS = "redis://localhost:6379/0"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
_NO_RUN = re.compile(r"<!--\s*no-run:\s*\S.*?-->\s*$")


@dataclasses.dataclass(frozen=True)
class Snippet:
    page: str
    line: int  # of the fence
    code: str
    skipped: str | None  # the no-run comment, if any

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def snippets(path: Path) -> list[Snippet]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        indent = len(match["indent"])
        code = "".join(row[indent:] for row in match["code"].splitlines(keepends=True))
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skipped = before.strip() if _NO_RUN.search(before) else None
        found.append(Snippet(str(path.relative_to(ROOT)), line, code, skipped))
    return found


SNIPPETS = [snippet for page in PAGES for snippet in snippets(page)]


def test_snippets_are_found() -> None:
    assert len(SNIPPETS) >= 10
    assert any(snippet.page == "README.md" for snippet in SNIPPETS)


def test_few_snippets_are_skipped() -> None:
    skipped = [str(snippet) for snippet in SNIPPETS if snippet.skipped]
    assert len(skipped) <= max(3, len(SNIPPETS) // 10), skipped


def _probe(app: typing.Any) -> int:
    """One request to ``/`` of ``app`` (ASGI, Flask or WSGI) through a test client: its status."""
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        return int(app.test_client().get("/", base_url="https://localhost").status_code)
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        from starlette.testclient import TestClient

        with TestClient(app, base_url="https://testserver") as client:  # runs the lifespan
            return client.get("/").status_code
    from werkzeug.test import Client

    return int(Client(app).get("/", base_url="https://localhost").status_code)


def _close(namespace: dict[str, typing.Any]) -> None:
    """Close the stores a snippet opened (their clients and engines)."""
    from dualsessions.stores.redis import RedisStore
    from dualsessions.stores.sql import SQLStore

    for value in namespace.values():
        if isinstance(value, (RedisStore, SQLStore)):
            value.close()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=str)
def test_snippet_runs(
    snippet: Snippet, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if snippet.skipped:
        pytest.skip(snippet.skipped)
    code = snippet.code
    if "redis" in code.lower():
        redis_url = typing.cast(str, request.getfixturevalue("redis_url"))
        code = code.replace(LOCAL_REDIS, redis_url)
        monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(tmp_path)
    name = "docs_snippet_" + re.sub(r"\W", "_", str(snippet))
    module = types.ModuleType(name)
    module.__file__ = str(tmp_path / f"{name}.py")
    sys.modules[name] = module
    try:
        # Padded so that a traceback names the page's own line numbers.
        exec(compile("\n" * snippet.line + code, snippet.page, "exec"), module.__dict__)
        app = module.__dict__.get("app")
        if app is not None:
            assert _probe(app) < 500
    finally:
        del sys.modules[name]
        _close(module.__dict__)
