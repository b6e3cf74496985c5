"""Answering a store failure in place of the application (``on_store_error``), for every front end
that offers it: finding the failure behind what the application raised, and the one log line."""

from __future__ import annotations

import logging

from .exceptions import SessionStoreError

logger = logging.getLogger("dualsessions")


def store_failure(exc: BaseException) -> SessionStoreError | None:
    """The session store's failure behind ``exc``: itself, what it was raised from or while handling,
    or what every exception of an exception group comes from; None if the store did not fail."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SessionStoreError):
            return exc
        group = getattr(exc, "exceptions", None)
        if isinstance(exc, BaseException) and isinstance(group, tuple) and group:  # an exception group
            failures = [store_failure(inner) for inner in group]
            return failures[0] if all(failures) else None
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def answered(status: object) -> str:
    """How the log line names the answer: its status when the response has one."""
    return "answered" if status is None else f"answered {status}"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def log_answered(method: str, path: str, status: object, exc: SessionStoreError) -> None:
    """The one line (no traceback) that says a request's store failed and how it was answered."""
    logger.warning("session store failed, %s %s %s: %s", method, path, answered(status), one_line(exc))
