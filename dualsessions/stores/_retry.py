"""The pause between attempts of an optimistic write (a merge), for every store that retries one."""

from __future__ import annotations

import random


def backoff(attempt: int) -> float:
    """A random pause before a merge's next attempt: up to 1 ms, doubling to at most 50 ms, so that
    writers contending for one record spread out instead of colliding again."""
    return random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6)))
