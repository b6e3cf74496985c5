"""Costs that must not grow with what a request doesn't touch: asserted as counts (bytes serialized,
records dropped per write), never as times. The timings at scale are in ``benchmarks/scale.py``."""

from __future__ import annotations

import typing

import pytest

import dualsessions
from dualsessions import JsonSerializer

from .test_lifecycle import HTTP, App, cookie_value


class CountingSerializer(JsonSerializer):
    """JSON, counting the bytes it serializes."""

    def __init__(self) -> None:
        super().__init__()
        self.serialized = 0

    def serialize(self, data: typing.Any) -> bytes:
        payload = super().serialize(data)
        self.serialized += len(payload)
        return payload


@pytest.mark.parametrize("front", HTTP)
def test_finding_changes_in_place_costs_what_the_mutable_values_cost(front: str) -> None:
    """A 100 KB session with one small list: a read-only request serializes the list (to see whether
    it changed in place), not the 100 KB; a change inside the list is still saved."""
    store, serializer = dualsessions.InMemoryStore(), CountingSerializer()
    app = App(front, store, {"serializer": serializer})
    client = app.client()
    session_id = cookie_value(client.get("/set?big0=" + "x" * 10_000))
    for n in range(1, 10):  # 100 KB in all (a URL holds less)
        client.get(f"/set?big{n}=" + "x" * 10_000)
    client.get("/append?item=1")

    serializer.serialized = 0
    response = client.get("/read")
    assert response.status_code == 200 and "set-cookie" not in response.headers
    assert 0 < serializer.serialized < 100  # '{"cart": ["1"]}' twice: after loading, and at the end

    assert client.get("/append?item=2").status_code == 200
    assert app.read(session_id)["cart"] == ["1", "2"]
