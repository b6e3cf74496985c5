"""The one clock dualsessions reads, so that tests can move time instead of sleeping."""

from __future__ import annotations

import time


def now() -> float:
    return time.time()
