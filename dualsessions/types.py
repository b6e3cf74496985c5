from __future__ import annotations

import typing


class _Owner(typing.TypedDict, total=False):
    user: str  # whose session this is, for revoking a user's sessions everywhere
    rolling: bool  # the session's expiry rule, kept as it was created so every reader applies it


class SessionMetadata(_Owner):
    """What a session knows about itself, stored beside its data under ``"__metadata__"``."""

    lifetime: int  # seconds; 0 means a session-only (browser session) cookie
    created: float  # Unix timestamp
    last_access: float  # Unix timestamp of this request
