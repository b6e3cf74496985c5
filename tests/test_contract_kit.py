"""Every built-in store (and the custom stores the suite writes as users do) keeps the store contract:
``dualsessions.testing.StoreContract``, the kit users run on their own stores, run on each."""

from __future__ import annotations

import typing

import pytest

from dualsessions.testing import StoreContract

from .conftest import STORE_KINDS


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return typing.cast(str, request.param)


class TestEveryStore(StoreContract):
    """The kit, over every kind of store the suite knows (the ``store`` fixture of conftest.py)."""


# -- the helpers for an app's tests ---------------------------------------------------------------------


def _clients(store: typing.Any) -> dict[str, typing.Any]:
    """The test clients users have: Starlette's (httpx), Werkzeug's and Flask's, each on an app that
    shows its session at /read."""
    import flask
    from starlette.testclient import TestClient
    from werkzeug.test import Client

    from .apps import asgi_app, wsgi_app

    flask_app = flask.Flask(__name__)

    @flask_app.get("/read")
    def read() -> typing.Any:
        return dict(flask.session)

    @flask_app.get("/regenerate")
    def regenerate() -> typing.Any:
        from dualsessions.flask import regenerate_session_id

        return {"id": regenerate_session_id()}

    from dualsessions.flask import DualSessions

    DualSessions(flask_app, store=store, cookie_https_only=False)
    return {
        "starlette": TestClient(asgi_app(store, cookie_https_only=False)),
        "werkzeug": Client(wsgi_app(store, cookie_https_only=False)),
        "flask": flask_app.test_client(),
    }


@pytest.mark.parametrize("kind", ["starlette", "werkzeug", "flask"])
def test_a_test_client_gets_a_session_without_a_login_endpoint(kind: str) -> None:
    from dualsessions import InMemoryStore
    from dualsessions.testing import clear_session, read_session, set_session

    store = InMemoryStore()
    client = _clients(store)[kind]
    set_session(client, store, {"user": "ada"})
    response = client.get("/read")
    assert (response.json if kind != "starlette" else response.json()) == {"user": "ada"}
    assert read_session(client, store) == {"user": "ada"}
    client.get("/regenerate")  # the app sets its own cookie over the one the helper set
    assert read_session(client, store) == {"user": "ada"}
    assert len(store.data) == 1
    clear_session(client, store)
    assert read_session(client, store) == {}
    response = client.get("/read")
    assert (response.json if kind != "starlette" else response.json()) == {}
    assert store.data == {}
