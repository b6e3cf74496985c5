"""The one clock dualsessions reads, so that tests can move time instead of sleeping."""

from __future__ import annotations

import time
import typing

#: Seconds since the epoch; the C function itself, so reading the clock costs no Python call.
now: typing.Callable[[], float] = time.time
