"""The store the examples use: in memory by default; DEMO_STORE=sqlite:///demo.db (or a PostgreSQL URL)
for SQL, where sessions survive a restart with no server; REDIS_URL=redis://... for Redis."""

from __future__ import annotations

import os

from dualsessions import InMemoryStore, SessionStore


def make_store() -> SessionStore:
    sql = os.environ.get("DEMO_STORE", "")
    if sql.startswith(("sqlite", "postgresql")):
        from dualsessions.stores.sql import SQLStore

        store = SQLStore(sql)
        store.create_table()
        return store
    url = os.environ.get("REDIS_URL")
    if url:
        from dualsessions.stores.redis import RedisStore

        return RedisStore(url=url, prefix="demo:")
    return InMemoryStore()
