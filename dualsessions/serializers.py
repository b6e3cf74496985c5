"""Turning session data into bytes and back, in a sync and an async flavour."""

from __future__ import annotations

import abc
import base64
import datetime
import email.utils
import json
import math
import typing
import uuid

from .exceptions import SerializationError

try:
    from markupsafe import Markup as _Markup
except ImportError:  # pragma: no cover - markupsafe comes with Flask and Jinja
    _Markup = str  # type: ignore[assignment,misc]


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
        self._encode = _c_encoder(self._encoder) or self._encoder.encode
        # A number beyond the float range (1e999999) would read as inf, which no later save can write.
        if self._object_hook is None:  # (a decoder class may give json an object_hook of its own)
            self._decoder = json_decoder(parse_constant=_not_json, parse_float=_finite_float)
        else:
            self._decoder = json_decoder(
                parse_constant=_not_json, parse_float=_finite_float, object_hook=self._object_hook
            )
        # The scanner json's decode() runs, called without decode()'s Python layers, unless a decoder
        # class of the caller's changes decode() itself.
        self._scan_once: typing.Callable[[str, int], tuple[typing.Any, int]] | None = (
            self._decoder.scan_once  # type: ignore[attr-defined]
            if type(self._decoder).decode is json.JSONDecoder.decode
            else None
        )

    #: Called by the decoder with every JSON object read, innermost first (None: objects stay dicts).
    _object_hook: typing.Callable[[dict[str, typing.Any]], typing.Any] | None = None

    def serialize(self, data: typing.Any) -> bytes:
        try:
            return self._encode(data).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(_explain(self._encoder, data, exc)) from exc
        except RecursionError as exc:  # a value that contains itself, or nests past any sense
            raise SerializationError(f"the session cannot be stored as JSON: {exc}") from exc

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


def _http_date(value: datetime.datetime) -> str:
    """A datetime as an HTTP date, in UTC (a naive one is taken to be UTC, as Flask does)."""
    moment = (
        value.astimezone(datetime.timezone.utc)
        if value.tzinfo
        else value.replace(tzinfo=datetime.timezone.utc)
    )
    return email.utils.format_datetime(moment, usegmt=True)


#: Flask's tags: what a one-key dict {tag: value} stands for when read back.
_UNTAG: dict[str, typing.Callable[[typing.Any], typing.Any]] = {
    " di": lambda value: {key[:-2]: item for key, item in value.items()},  # a dict whose key is a tag
    " t": tuple,
    " b": lambda value: base64.b64decode(value),
    " m": lambda value: _Markup(value),
    " u": lambda value: uuid.UUID(value),
    " d": lambda value: email.utils.parsedate_to_datetime(value),
}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _tag(value: typing.Any) -> typing.Any:
    """``value`` with what JSON can't hold tagged, in the order Flask's serializer checks."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in _UNTAG:
                return {" di": {f"{key}__": _tag(value[key])}}
        return {key: _tag(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {" t": [_tag(item) for item in value]}
    if isinstance(value, list):
        return [_tag(item) for item in value]
    if isinstance(value, bytes):
        return {" b": base64.b64encode(value).decode("ascii")}
    if callable(getattr(value, "__html__", None)):
        return {" m": str(value.__html__())}
    if isinstance(value, uuid.UUID):
        return {" u": value.hex}
    if isinstance(value, datetime.datetime):
        return {" d": _http_date(value)}
    return value  # (JSON refuses it, naming its key)


def _untag(value: dict[str, typing.Any]) -> typing.Any:
    """A JSON object as read (its own values untagged already): what it stands for if it is a tag."""
    if len(value) == 1:
        for key, item in value.items():
            untag = _UNTAG.get(key)
            if untag is not None:
                return untag(item)
    return value


class TaggedJsonSerializer(JsonSerializer):
    """JSON with Flask's tags, so that every value Flask's own session holds round-trips: ``tuple``,
    ``bytes``, ``Markup``, ``UUID``, ``datetime`` (to the second, given back in UTC) and dicts whose one
    key looks like a tag. The format is Flask's tagged JSON (``flask.json.tag``), so a record reads the
    same in a Flask app, in a Starlette app given this serializer, and in Flask's own cookie format.
    The default of :class:`dualsessions.flask.DualSessions`.
    """

    def serialize(self, data: typing.Any) -> bytes:
        return super().serialize(_tag(data))

    # Tags are read as json's scanner meets each object: no second walk over the data in Python.
    _object_hook = staticmethod(_untag)


def _c_encoder(encoder: json.JSONEncoder) -> typing.Callable[[typing.Any], str] | None:
    """json's C encoder for ``encoder``'s settings, made once: ``encode()`` makes one on every call.
    None when there is no C encoder, or the encoder's class changes how it encodes."""
    make = getattr(json.encoder, "c_make_encoder", None)
    kind = type(encoder)
    if (
        make is None
        or kind.encode is not json.JSONEncoder.encode
        or kind.iterencode is not json.JSONEncoder.iterencode
        or encoder.indent is not None
    ):
        return None
    as_text = json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring
    chunks = make(
        None,  # no circular-reference markers: a value containing itself ends in a RecursionError
        encoder.default,
        as_text,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )

    def encode(data: typing.Any) -> str:
        if isinstance(data, str):
            return as_text(data)
        return "".join(chunks(data, 0))

    return encode


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a float")
    return value


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
