from __future__ import annotations

import typing


class _Device(typing.TypedDict, total=False):
    user_agent: str  # the User-Agent header, at most 256 characters
    address: str  # the client's address as the app sees it, at most 64 characters


class DeviceMetadata(_Device):
    """What ``track_devices`` records of the client that last used a session."""

    seen: float  # Unix timestamp: when it was recorded (at most a minute stale on a live session)


class _Owner(typing.TypedDict, total=False):
    user: str  # whose session this is, for revoking a user's sessions everywhere
    rolling: bool  # the session's expiry rule, kept as it was created so every reader applies it
    device: DeviceMetadata  # with track_devices: the client that last used it


class SessionMetadata(_Owner):
    """What a session knows about itself, stored beside its data under ``"__metadata__"``."""

    lifetime: int  # seconds; 0 means a session-only (browser session) cookie
    created: float  # Unix timestamp
    last_access: float  # Unix timestamp of this request
