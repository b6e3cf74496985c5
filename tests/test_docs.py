"""Every Python snippet of README.md and of the pages under docs/ runs as written.

Each ```` ```python ```` block runs alone, in a fresh module, in a temporary directory: a snippet
imports what it uses and defines what it needs. ``redis://localhost:6379/0`` in a snippet (and the
``REDIS_URL`` environment variable) name the test Redis server, started only for snippets that
mention Redis. A snippet that leaves an ``app`` behind is then served one request to ``/`` through a
test client, which builds its middlewares: it must answer below 500.

Every block runs: a fragment is not a ``python`` block (write it as ``text``, or make it whole).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from dualsessions import generate_session_id, open_session
from dualsessions.admin import count_sessions

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LOCAL_REDIS = "redis://localhost:6379/0"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


@dataclasses.dataclass(frozen=True)
class Snippet:
    page: str
    line: int  # of the fence
    code: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def snippets(path: Path) -> list[Snippet]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        indent = len(match["indent"])
        code = "".join(row[indent:] for row in match["code"].splitlines(keepends=True))
        found.append(Snippet(str(path.relative_to(ROOT)), line, code))
    return found


SNIPPETS = [snippet for page in PAGES for snippet in snippets(page)]


def test_snippets_are_found() -> None:
    assert len(SNIPPETS) >= 10
    assert any(snippet.page == "README.md" for snippet in SNIPPETS)


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


@contextlib.contextmanager
def executed(snippet: Snippet, redis_url: str | None = None) -> Iterator[dict[str, typing.Any]]:
    """Run ``snippet`` in a fresh module (in the current directory), ``redis://localhost:6379/0``
    replaced by ``redis_url``; its namespace, until the stores it opened are closed."""
    code = snippet.code if redis_url is None else snippet.code.replace(LOCAL_REDIS, redis_url)
    name = "docs_snippet_" + re.sub(r"\W", "_", str(snippet))
    module = types.ModuleType(name)
    module.__file__ = str(Path.cwd() / f"{name}.py")
    sys.modules[name] = module
    try:
        # Padded so that a traceback names the page's own line numbers.
        exec(compile("\n" * snippet.line + code, snippet.page, "exec"), module.__dict__)
        yield module.__dict__
    finally:
        del sys.modules[name]
        _close(module.__dict__)


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # files a snippet makes (SQLite databases) land here
    return tmp_path


@pytest.mark.parametrize("snippet", SNIPPETS, ids=str)
@pytest.mark.usefixtures("in_tmp_path")
def test_snippet_runs(
    snippet: Snippet, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_url = None
    if "redis" in snippet.code.lower():
        redis_url = typing.cast(str, request.getfixturevalue("redis_url"))
        monkeypatch.setenv("REDIS_URL", redis_url)
    with executed(snippet, redis_url) as namespace:
        app = namespace.get("app")
        if app is not None:
            assert _probe(app) < 500


# -- some snippets, further: what the page says they do, they do ----------------------------------------


def find(page: str, text: str) -> Snippet:
    """The one snippet of ``page`` that contains ``text``."""
    found = [snippet for snippet in SNIPPETS if snippet.page == page and text in snippet.code]
    assert len(found) == 1, (page, text, found)
    return found[0]


@pytest.mark.usefixtures("in_tmp_path")
def test_the_starlette_login_snippet_logs_in_remembers_and_logs_out() -> None:
    from starlette.testclient import TestClient

    with (
        executed(find("docs/getting-started/starlette.md", "async def login")) as namespace,
        TestClient(namespace["app"], base_url="https://testserver") as client,
    ):
        response = client.post("/login", json={"user": "ada", "remember": True})
        assert response.json() == {"user": "ada"}
        assert "max-age=2592000" in response.headers["set-cookie"].lower()
        assert client.get("/").json() == {"user": "ada"}
        client.post("/logout")
        assert client.get("/").json() == {"user": None}


@pytest.mark.usefixtures("in_tmp_path")
def test_the_fastapi_snippet_logs_in_and_out() -> None:
    from starlette.testclient import TestClient

    with (
        executed(find("docs/getting-started/fastapi.md", "FastAPI()")) as namespace,
        TestClient(namespace["app"], base_url="https://testserver") as client,
    ):
        assert client.post("/login", params={"user": "ada"}).json() == {"user": "ada"}
        assert client.get("/").json() == {"user": "ada"}
        client.post("/logout")
        assert client.get("/").json() == {"user": None}


@pytest.mark.usefixtures("in_tmp_path")
def test_the_quart_snippet_logs_in(redis_url: str) -> None:
    from starlette.testclient import TestClient

    with (
        executed(find("docs/getting-started/quart.md", "async def login"), redis_url) as namespace,
        TestClient(namespace["app"], base_url="http://testserver") as client,  # not Secure: Quart's default
    ):
        assert client.get("/").json() == {"user": None}
        assert client.post("/login").text == "ok"
        assert client.get("/").json() == {"user": "ada"}


@pytest.mark.usefixtures("in_tmp_path")
def test_the_shared_session_snippet_shares_one_login_between_starlette_and_flask() -> None:
    from starlette.testclient import TestClient

    with (
        executed(find("docs/sharing.md", "WSGIMiddleware(flask_app)")) as namespace,
        TestClient(namespace["app"], base_url="https://testserver") as client,
    ):
        assert client.get("/").json() == {"user": "ada", "on": "starlette"}
        assert client.get("/flask/").json() == {"user": "ada", "on": "flask"}


@pytest.mark.usefixtures("in_tmp_path")
def test_the_store_down_snippet_answers_503_while_redis_is_unreachable() -> None:
    from starlette.testclient import TestClient

    from .redis_server import free_port

    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with (
        executed(find("docs/production.md", "def sessions_unavailable"), nobody) as namespace,
        TestClient(namespace["app"], base_url="https://testserver") as client,  # nothing raised
    ):
        client.cookies.set("session", generate_session_id())  # a session to read: the store is asked
        response = client.get("/")
        assert (response.status_code, response.headers["retry-after"]) == (503, "5")


@pytest.mark.usefixtures("in_tmp_path")
def test_the_werkzeug_store_down_snippet_answers_503_while_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from werkzeug.test import Client

    from .redis_server import free_port

    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    snippet = find("docs/getting-started/werkzeug.md", "def sessions_unavailable")
    with executed(snippet, nobody) as namespace, caplog.at_level("WARNING", logger="dualsessions"):
        client = Client(namespace["app"], use_cookies=False)  # nothing raised
        response = client.get("/", headers={"Cookie": f"session={generate_session_id()}"})  # a read
        assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    assert [record.getMessage()[:40] for record in caplog.records] == [
        "session store failed, GET / answered 503"
    ]


@pytest.mark.usefixtures("in_tmp_path")
def test_the_scripts_snippet_changes_live_sessions_and_creates_none(redis_url: str) -> None:
    from dualsessions.stores.redis import RedisStore

    store = RedisStore(url=redis_url)
    try:
        opened = open_session(store, generate_session_id(), lifetime=3600, user_key="user")
        with opened as session:
            session["user"] = "ada"
        with executed(find("docs/getting-started/scripts.md", "def give_plan"), redis_url) as namespace:
            with open_session(store, typing.cast(str, opened.session_id)) as session:
                assert session == {"user": "ada", "plan": "pro"}
            assert namespace["give_plan"](generate_session_id(), "pro") is False
            assert count_sessions(store) == 1
    finally:
        store.close()


@pytest.mark.usefixtures("in_tmp_path")
def test_the_cli_factory_snippet_lets_the_cli_read_hashed_encrypted_sessions(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, run: typing.Any
) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SESSION_ID_KEY", "an id key")
    monkeypatch.setenv("SESSION_KEYS", f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}")
    with executed(find("docs/cli.md", "def for_cli")) as namespace:
        options = namespace["for_cli"]()
        store = options.pop("store")
        opened = open_session(store, generate_session_id(), **options)
        with opened as session:
            session["user"] = "ada"
        store.close()
        code, out, err = run("--store", f"{namespace['__name__']}:for_cli", "show", opened.session_id)
        assert (code, err) == (0, "")
        assert "ada" in out
        code, _, err = run("--store", redis_url, "show", opened.session_id)  # a bare URL can't see it
        assert code == 1
        assert "module:factory" in err


def test_the_store_kit_snippet_passes_the_kit(tmp_path: Path) -> None:
    test_file = tmp_path / "test_dict_store.py"
    test_file.write_text(find("docs/testing.md", "class TestDictStore").code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
