"""Turning session data into bytes and back, in a sync and an async flavour."""

from __future__ import annotations

import abc
import json
import typing

from .exceptions import SerializationError


class Serializer(abc.ABC):
    """Base class of synchronous serializers (the starsessions contract)."""

    @abc.abstractmethod
    def serialize(self, data: typing.Any) -> bytes:
        """Session data (a dict, metadata included) as bytes."""

    @abc.abstractmethod
    def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        """Bytes back into session data; an empty input gives an empty dict."""


class AsyncSerializer(abc.ABC):
    """Base class of async serializers, for serializers that must wait (a remote KMS, say)."""

    @abc.abstractmethod
    async def serialize(self, data: typing.Any) -> bytes:
        """Session data (a dict, metadata included) as bytes."""

    @abc.abstractmethod
    async def deserialize(self, data: bytes) -> dict[str, typing.Any]:
        """Bytes back into session data; an empty input gives an empty dict."""


class JsonSerializer(Serializer):
    """Strict JSON, UTF-8 encoded. A value JSON can't hold (a set, NaN, ...) raises
    :class:`SerializationError` naming its key; a record with NaN or Infinity is not read."""

    def __init__(
        self,
        json_encoder: type[json.JSONEncoder] = json.JSONEncoder,
        json_decoder: type[json.JSONDecoder] = json.JSONDecoder,
    ) -> None:
        # Strict JSON: NaN and Infinity are not JSON, and frameworks' JSON responses refuse them.
        self._encoder = json_encoder(separators=(",", ":"), allow_nan=False)
        self._decoder = json_decoder(parse_constant=_not_json)
        # The scanner json's decode() runs, called without decode()'s Python layers, unless a decoder
        # class of the caller's changes decode() itself.
        self._scan_once: typing.Callable[[str, int], tuple[typing.Any, int]] | None = (
            self._decoder.scan_once  # type: ignore[attr-defined]
            if type(self._decoder).decode is json.JSONDecoder.decode
            else None
        )

    def serialize(self, data: typing.Any) -> bytes:
        try:
            return self._encoder.encode(data).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(_explain(self._encoder, data, exc)) from exc

    def deserialize(self, data: bytes | str) -> dict[str, typing.Any]:
        if not data:
            return {}
        text = data if isinstance(data, str) else data.decode("utf-8")  # str: decode_responses clients
        if self._scan_once is not None:
            try:  # a record as we write it: one JSON value, no white space around it
                value, end = self._scan_once(text, 0)
                if end == len(text):
                    return value  # type: ignore[no-any-return]
            except StopIteration:
                pass
        return self._decoder.decode(text)  # type: ignore[no-any-return]  # anything else, as json does


def _not_json(constant: str) -> typing.NoReturn:
    raise ValueError(f"{constant} is not JSON")


def _explain(encoder: json.JSONEncoder, data: typing.Any, exc: Exception) -> str:
    if isinstance(data, dict):
        for key, value in data.items():
            try:
                encoder.encode(value)
            except (TypeError, ValueError):
                return (
                    f"session key {key!r} holds a {type(value).__name__} value that JSON cannot store "
                    f"({exc}); store plain dicts, lists, strings, numbers, booleans or None"
                )
    return f"the session cannot be stored as JSON: {exc}"
