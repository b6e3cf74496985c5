"""Testing with dualsessions: a kit that proves a session store keeps the contract, and helpers that
set, read and clear the session of a test client without a login endpoint.

The store kit is a pytest class. Inherit it and give it your store, in one fixture::

    from dualsessions.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self):
            return MyStore()

Each test runs in every flavour the store offers natively (``SessionStore``: async; ``SyncSessionStore``:
sync; a built-in store: both). It needs pytest (not a dependency of dualsessions).

The app helpers work with Starlette's ``TestClient`` (and any httpx client), Werkzeug's test ``Client``
and Flask's test client::

    set_session(client, store, {"user": "ada"})      # the next request is ada's
    assert read_session(client, store)["user"] == "ada"
    clear_session(client, store)                      # logged out
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
import typing

from . import admin
from .admin import delete_session, open_session
from .core import Options, generate_session_id
from .exceptions import ImproperlyConfigured
from .stores.base import implements, indexes_users, is_stateless

if typing.TYPE_CHECKING:
    from typing_extensions import Unpack

import pytest

__all__ = ["StoreContract", "clear_session", "read_session", "set_session"]

DATA = b'{"user":"ada"}'
NEW = b'{"user":"ada","theme":"dark"}'


class _View:
    """One flavour of a store, called the same way in both (the async one on the test's one event
    loop, so that what a store keeps of a loop, such as a client, stays usable)."""

    def __init__(self, store: typing.Any, flavour: str, loop: asyncio.AbstractEventLoop) -> None:
        self.flavour = flavour
        self.target = store.sync if flavour == "sync" and hasattr(store, "sync") else store
        self.loop = loop

    def __call__(self, method: str, *args: typing.Any) -> typing.Any:
        result = getattr(self.target, method)(*args)
        if self.flavour == "async":
            if hasattr(result, "__aiter__"):
                return self.loop.run_until_complete(_listed(result))
            return self.loop.run_until_complete(result)
        return list(result) if method == "session_ids" else result

    def __repr__(self) -> str:
        return f"the {self.flavour} flavour"


async def _listed(items: typing.AsyncIterator[str]) -> list[str]:
    return [item async for item in items]


def _flavours(store: typing.Any) -> list[str]:
    """The flavours ``store`` offers natively."""
    if hasattr(store, "sync"):  # a store of both flavours
        return ["async", "sync"]
    return ["async" if inspect.iscoroutinefunction(store.read) else "sync"]


def _offers(store: typing.Any, *methods: str) -> bool:
    return all(implements(store, method) for method in methods)


class StoreContract:
    """The store contract as tests: give the class a ``store`` fixture (see the module's docstring)."""

    _loop: asyncio.AbstractEventLoop

    @pytest.fixture(autouse=True)
    def _one_event_loop(self) -> typing.Iterator[None]:
        self._loop = asyncio.new_event_loop()
        yield
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def _views(self, store: typing.Any) -> list[_View]:
        return [_View(store, flavour, self._loop) for flavour in _flavours(store)]

    def test_a_written_record_reads_back_and_a_missing_one_is_empty(self, store: typing.Any) -> None:
        for view in self._views(store):
            assert view("read", generate_session_id(), 60) == b"", view
            written = view("write", generate_session_id(), DATA, 60, 60)
            assert isinstance(written, str), view
            assert view("read", written, 60) == DATA, view
            assert view("exists", written) is True, view

    def test_a_removed_record_is_gone(self, store: typing.Any) -> None:
        for view in self._views(store):
            written = view("write", generate_session_id(), DATA, 60, 60)
            view("remove", written)
            if is_stateless(store):  # the record is the cookie: only the deleting cookie ends it
                assert view("read", written, 60) == DATA, view
                continue
            assert view("read", written, 60) == b"", view
            assert view("exists", written) is False, view
            view("remove", written)  # a missing record is not an error

    def test_replace_writes_only_a_live_record(self, store: typing.Any) -> None:
        for view in self._views(store):
            if is_stateless(store):  # the record is the cookie: a replace is a write
                assert view("read", view("replace", "x" * 32, NEW, 60, 60), 60) == NEW, view
                continue
            assert view("replace", generate_session_id(), NEW, 60, 60) is None, view
            written = view("write", generate_session_id(), DATA, 60, 60)
            assert view("replace", written, NEW, 60, 60) == written, view
            assert view("read", written, 60) == NEW, view
            view("remove", written)
            assert view("replace", written, NEW, 60, 60) is None, view
            assert view("read", written, 60) == b"", view

    def test_take_removes_and_returns_the_record(self, store: typing.Any) -> None:
        for view in self._views(store):
            written = view("write", generate_session_id(), DATA, 60, 60)
            assert view("take", written) == DATA, view
            if not is_stateless(store):
                assert view("take", written) == b"", view
                assert view("read", written, 60) == b"", view

    def test_a_record_lives_its_ttl_and_a_touch_extends_it(self, store: typing.Any) -> None:
        """A record is kept for its ttl; a store that drops expired records (``expires_records``)
        never returns one after it; ``read_and_touch`` gives one more time. (The core enforces every
        session's expiry on load anyway: a store without TTLs is correct, only bigger.)"""
        views = self._views(store)
        kept = [(view, view("write", generate_session_id(), DATA, 60, 60)) for view in views]
        short = [(view, view("write", generate_session_id(), DATA, 1, 1)) for view in views]
        touched = []
        if _offers(store, "read_and_touch"):
            for view in views:
                written = view("write", generate_session_id(), DATA, 1, 1)
                assert view("read_and_touch", written, 60, 60) == DATA, view
                touched.append((view, written))
        time.sleep(2.1)  # past the second they expire in
        for view, written in kept:
            assert view("read", written, 60) == DATA, view
        for view, written in short if getattr(store, "expires_records", False) else ():
            assert view("read", written, 1) == b"", view
        for view, written in touched:
            assert view("read", written, 60) == DATA, view

    def test_the_per_user_index_and_revocation(self, store: typing.Any) -> None:
        if not indexes_users(store):  # then an app can't name a session's user: it is refused at once
            with pytest.raises(ImproperlyConfigured, match="user_key"):
                open_session(store, generate_session_id(), user_key="user")
            return
        for view in self._views(store):
            user = f"user-{generate_session_id()}"
            first = view("write", generate_session_id(), DATA, 60, 60)
            second = view("write", generate_session_id(), DATA, 60, 60)
            view("add_user_session", user, first)
            view("add_user_session", user, second)
            assert len(view("user_sessions", user)) == 2, view
            view("remove_user_session", user, second)
            assert len(view("user_sessions", user)) == 1, view
            view("add_user_session", user, second)
            bystander = view("write", generate_session_id(), DATA, 60, 60)
            view("add_user_session", f"other-{user}", bystander)
            assert view("revoke_user", user) == 2, view
            assert view("read", first, 60) == view("read", second, 60) == b"", view
            assert view("read", bystander, 60) == DATA, view  # another user's session stays
            assert view("revoke_user", user) == 0, view

    def test_listing_reads_every_live_record(self, store: typing.Any) -> None:
        if not _offers(store, "session_ids"):  # then scripts and the CLI say so
            with pytest.raises(ImproperlyConfigured):
                admin.session_ids(store)
            return
        for view in self._views(store):
            ids = [view("write", generate_session_id(), DATA, 60, 60) for _ in range(3)]
            try:
                listed = view("session_ids")
            except ImproperlyConfigured:  # refused by design (hashed ids), clearly and at once
                assert view("read_many", ids) == [DATA, DATA, DATA], view
                continue
            assert set(ids) <= set(listed), view
            assert view("count_sessions") == len(listed), view
            assert view("read_many", [*ids, generate_session_id()]) == [DATA, DATA, DATA, b""], view

    def test_the_time_a_record_has_left_is_at_most_what_it_was_given(self, store: typing.Any) -> None:
        """``remaining_ttl`` (optional: None, "can't tell", by default): at most the TTL a record was
        written with, and None for a record that isn't there."""
        if not _offers(store, "remaining_ttl"):
            return
        for view in self._views(store):
            session_id = view("write", generate_session_id(), DATA, 60, 60)
            left = view("remaining_ttl", session_id)
            assert left is None or 0 < left <= 60, (view, left)
            assert view("remaining_ttl", generate_session_id()) is None, view

    def test_purging_keeps_live_records(self, store: typing.Any) -> None:
        if not _offers(store, "purge_expired"):
            with pytest.raises(ImproperlyConfigured):
                admin.purge_expired(store)
            return
        for view in self._views(store):
            written = view("write", generate_session_id(), DATA, 60, 60)
            assert isinstance(view("purge_expired"), int), view
            assert view("read", written, 60) == DATA, view

    def test_update_applies_a_change_atomically(self, store: typing.Any) -> None:
        if not _offers(store, "update"):  # then concurrency="merge" is refused at once
            with pytest.raises(ImproperlyConfigured, match="merge"):
                open_session(store, generate_session_id(), concurrency="merge")
            return
        for view in self._views(store):
            written = view("write", generate_session_id(), DATA, 60, 60)
            assert view("update", written, lambda current: current + b" ", 60, 60) == written, view
            assert view("read", written, 60) == DATA + b" ", view
            assert view("update", written, lambda current: None, 60, 60) is None, view
            assert view("update", generate_session_id(), lambda current: current or None, 60, 60) is None, (
                view
            )


# -- a test client's session --------------------------------------------------------------------------


def set_session(
    client: typing.Any, store: typing.Any, data: dict[str, typing.Any], **options: Unpack[Options]
) -> str:
    """Give ``client`` a session holding ``data`` (the next request is that session's): written to
    ``store`` with the app's ``options``, its cookie put in the client's jar. Returns the id."""
    if is_stateless(store):
        raise NotImplementedError("a CookieStore session lives in the cookie: set it through a request")
    opened = open_session(store, generate_session_id(), **options)
    with opened as session:
        session.update(data)
    session_id = typing.cast(str, opened.session_id)
    _set_cookie(client, options.get("cookie_name", "session"), session_id)
    return session_id


def read_session(client: typing.Any, store: typing.Any, **options: Unpack[Options]) -> dict[str, typing.Any]:
    """What the session named by ``client``'s cookie holds ({} when it has none), without extending it."""
    value = _cookie(client, options.get("cookie_name", "session"))
    if value is None:
        return {}
    with open_session(store, value, **options) as session:
        return dict(session)


def clear_session(client: typing.Any, store: typing.Any, **options: Unpack[Options]) -> None:
    """End the session named by ``client``'s cookie and drop the cookie."""
    name = options.get("cookie_name", "session")
    value = _cookie(client, name)
    if value is not None and not is_stateless(store):
        delete_session(store, value, **options)
    _set_cookie(client, name, None)


def _cookie(client: typing.Any, name: str) -> str | None:
    if hasattr(client, "get_cookie"):  # Werkzeug's and Flask's test clients
        cookie = client.get_cookie(name)
        return cookie.value if cookie is not None else None
    found = [cookie.value for cookie in client.cookies.jar if cookie.name == name]  # httpx: TestClient
    return found[-1] if found else None


def _set_cookie(client: typing.Any, name: str, value: str | None) -> None:
    if hasattr(client, "get_cookie"):
        if value is None:
            client.delete_cookie(name)
        else:
            client.set_cookie(name, value)
        return
    for cookie in [cookie for cookie in client.cookies.jar if cookie.name == name]:
        client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    if value is not None:  # as a response from the app would set it: the app's later cookies replace it
        httpx = importlib.import_module(type(client.cookies).__module__.split(".")[0])
        request = httpx.Request("GET", client.base_url)
        response = httpx.Response(200, headers=[("set-cookie", f"{name}={value}; Path=/")], request=request)
        client.cookies.extract_cookies(response)
