"""The store the examples use: in memory by default, Redis when REDIS_URL is set."""

from __future__ import annotations

import os

from dualsessions import InMemoryStore, SessionStore


def make_store() -> SessionStore:
    url = os.environ.get("REDIS_URL")
    if url:
        from dualsessions.stores.redis import RedisStore

        return RedisStore(url=url, prefix="demo:")
    return InMemoryStore()
