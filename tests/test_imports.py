"""Import hygiene: the WSGI/Flask side runs without Starlette and anyio, and each declared runtime
dependency is really used by the package."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import dualsessions
import dualsessions.middleware
import dualsessions.session

PACKAGE_DIR = Path(dualsessions.__file__).parent
PYPROJECT = PACKAGE_DIR.parent / "pyproject.toml"

ASGI_ONLY_NAMES = {
    "SessionMiddleware": dualsessions.middleware,
    "SessionAutoloadMiddleware": dualsessions.middleware,
    "get_session_handler": dualsessions.session,
    "get_session_id": dualsessions.session,
    "get_session_metadata": dualsessions.session,
    "get_session_remaining_seconds": dualsessions.session,
    "is_loaded": dualsessions.session,
    "load_session": dualsessions.session,
    "regenerate_session_id": dualsessions.session,
    "set_session_lifetime": dualsessions.session,
    "set_session_user": dualsessions.session,
}

WSGI_WITHOUT_STARLETTE = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = ("starlette", "anyio")

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname.partition(".")[0] in BLOCKED:
                raise ImportError(f"{fullname} is blocked by the test")
            return None

    sys.meta_path.insert(0, Blocker())

    import flask
    from werkzeug.test import Client

    import dualsessions
    import dualsessions.admin
    import dualsessions.flask
    import dualsessions.stores.redis
    import dualsessions.wsgi

    app = flask.Flask(__name__)
    dualsessions.flask.DualSessions(app, store=dualsessions.InMemoryStore())

    @app.route("/")
    def index():
        flask.session["key"] = "value"
        return "ok"

    response = Client(app).get("/")
    assert response.status_code == 200, response.status
    assert response.headers.getlist("Set-Cookie"), "flask: no Set-Cookie"

    def wsgi_app(environ, start_response):
        dualsessions.wsgi.get_session(environ)["key"] = "value"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = dualsessions.wsgi.SessionMiddleware(
        wsgi_app, store=dualsessions.InMemoryStore(), cookie_https_only=False
    )
    response = Client(wrapped).get("/")
    assert response.status_code == 200, response.status
    assert response.headers.getlist("Set-Cookie"), "wsgi: no Set-Cookie"

    assert "starlette" not in sys.modules and "anyio" not in sys.modules, sorted(
        name for name in sys.modules if name.partition(".")[0] in BLOCKED
    )
    """
)


def test_wsgi_and_flask_do_not_import_starlette_or_anyio() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WSGI_WITHOUT_STARLETTE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_asgi_names_are_reachable_from_the_top_level() -> None:
    listed = dir(dualsessions)
    for name, module in ASGI_ONLY_NAMES.items():
        assert name in dualsessions.__all__
        assert name in listed
        assert getattr(dualsessions, name) is getattr(module, name)
    assert dualsessions.SessionMiddleware is dualsessions.middleware.SessionMiddleware
    assert dualsessions.generate_session_id is dualsessions.session.generate_session_id


def test_the_asgi_submodules_are_attributes_after_importing_the_package() -> None:
    """``dualsessions.session.regenerate_session_id`` works after a bare ``import dualsessions``."""
    script = "import dualsessions; print(dualsessions.session.regenerate_session_id.__module__)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "dualsessions.session"


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found


def _requirement_name(requirement: str) -> str:
    name = requirement
    for separator in "<>=!~;[ (":
        name = name.split(separator, 1)[0]
    return name.strip().lower().replace("-", "_")


#: Werkzeug is not among them: the WSGI front end is plain PEP 3333, and Flask (the flask extra) brings it.
RUNTIME_DEPENDENCIES = ["starlette", "itsdangerous", "asgiref"]


def _declared_dependencies() -> set[str]:
    """``[project] dependencies`` of pyproject.toml (read without tomllib, which Python 3.10 lacks)."""
    text = PYPROJECT.read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert block is not None, "pyproject.toml has no [project] dependencies list"
    return {_requirement_name(requirement) for requirement in re.findall(r'"([^"]+)"', block.group(1))}


def test_runtime_dependencies_are_the_expected_ones() -> None:
    assert _declared_dependencies() == set(RUNTIME_DEPENDENCIES)


@pytest.mark.parametrize("dependency", RUNTIME_DEPENDENCIES)
def test_every_runtime_dependency_is_imported_by_the_package(dependency: str) -> None:
    assert dependency in _declared_dependencies()
    assert dependency in _imported_top_level_modules(), f"{dependency} is declared but never imported"


def test_the_sql_store_needs_no_redis_client() -> None:
    """The ``sql`` extra doesn't bring redis-py: SQLStore must import (and work) without it."""
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "from dualsessions.stores.sql import SQLStore\n"
        "store = SQLStore('sqlite://'); store.sync.write('x' * 32, b'{}', 60, 60)\n"
        "assert store.sync.read('x' * 32, 60) == b'{}'; store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
