"""Reading the session cookie from a ``Cookie`` header and writing ``Set-Cookie`` headers.

Both front ends use this module and nothing else for cookies, so a cookie set by the ASGI app is the
cookie the WSGI app reads, attribute for attribute. No I/O, no framework.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field

from .exceptions import CookieTooLarge, ImproperlyConfigured, SessionError

#: Browsers drop a cookie whose name and value together exceed 4096 bytes.
MAX_COOKIE_SIZE = 4096

# RFC 6265 cookie-octet: printable US-ASCII except space, DQUOTE, comma, semicolon and backslash.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")
# RFC 9110 token: what a cookie name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Headers whose meaning HTTP (or the session itself) already fixes: never a session header.
_RESERVED_HEADERS = frozenset(
    {
        "cookie",
        "set-cookie",
        "vary",
        "host",
        "authorization",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "location",
        "cache-control",
        "expires",
    }
)
# Path and Domain attribute values: any CHAR except CTLs and ";" (RFC 6265 av-octet), no spaces.
_ATTRIBUTE_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")
_OWS = " \t"  # the only white space allowed around cookie pairs
_SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}


def is_cookie_value(value: str) -> bool:
    """True for a value that can go into a ``Set-Cookie`` header unquoted and unescaped."""
    return _COOKIE_VALUE.fullmatch(value) is not None


_SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{16,128}")


def is_session_id(value: str) -> bool:
    """Whether ``value`` looks like an id a server-side store keeps (ours, or starsessions' hex)."""
    return _SESSION_ID.fullmatch(value) is not None


def is_valid_cookie_value(value: str) -> bool:
    """A cookie value of a size browsers keep."""
    return len(value) <= MAX_COOKIE_SIZE and _COOKIE_VALUE.fullmatch(value) is not None


def check_cookie_value(store_name: str, cookie_name: str, value: object) -> None:
    """Refuse a session id that can't go into a ``Set-Cookie`` header, before any header is sent."""
    if not isinstance(value, str) or not is_cookie_value(value):
        raise SessionError(
            f"{store_name}.write() returned {value!r}, which cannot be a cookie value: return the "
            "session id (printable ASCII without spaces, quotes, ',', ';' or '\\\\')"
        )
    size = len(cookie_name) + 1 + len(value)
    if size > MAX_COOKIE_SIZE:  # browsers drop such a cookie without a word
        raise CookieTooLarge(size, MAX_COOKIE_SIZE)


def find_cookie(
    header: str, name: str, accepts: typing.Callable[[str], bool] = is_valid_cookie_value
) -> str | None:
    """The first well-formed value of cookie ``name`` in a ``Cookie`` header, or None.

    A malformed value (quotes, spaces inside, control characters, oversized) is skipped rather than
    repaired, so nothing a client injects is ever passed on. When a name is sent twice, browsers put the
    cookie with the most specific path first, which is the one we want.
    """
    if name not in header:
        return None
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip(_OWS) == name:
            value = value.strip(_OWS)
            if accepts(value):
                return value
    return None


def add_vary(vary: str, field: str = "Cookie") -> str:
    """An existing ``Vary`` value with ``field`` added, unless it is there already (or is ``*``)."""
    fields = [existing.strip().lower() for existing in vary.split(",")]
    if field.lower() in fields or "*" in fields:
        return vary
    return f"{vary}, {field}" if vary.strip() else field


def id_in_header(
    value: str | None, accepts: typing.Callable[[str], bool] = is_valid_cookie_value
) -> str | None:
    """The session id a request sends in the session header (``session_header``), or None: the value
    without the white space around it, if it has the shape of an id (anything else is ignored)."""
    if value is None:
        return None
    value = value.strip(_OWS)
    return value if accepts(value) else None


def id_in_headers(
    values: typing.Sequence[str], accepts: typing.Callable[[str], bool] = is_valid_cookie_value
) -> str | None:
    """:func:`id_in_header` of the session header's values. Sent more than once, they are one value
    with a comma, as WSGI servers join them (and so never an id): every front end reads it alike."""
    return id_in_header(", ".join(values), accepts) if values else None


def environ_key(header: str | None) -> str | None:
    """The WSGI environ key of a request header (``X-Session-Id``: ``HTTP_X_SESSION_ID``)."""
    return None if header is None else "HTTP_" + header.upper().replace("-", "_")


def validate_header_name(name: str) -> str:
    """A header name for ``session_header``: a token, and not one whose meaning HTTP fixes."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
        raise ImproperlyConfigured(
            f"session_header {name!r} is not a header the session can use: give a header name of your own, "
            "such as 'X-Session-Id' (letters, digits and !#$%&'*+-.^_`|~; not Cookie, Set-Cookie, Vary, ...)"
        )
    return name


def with_session_headers(
    headers: typing.Iterable[tuple[typing.Any, typing.Any]],
    added: list[tuple[str, str]],
    as_bytes: bool = False,
) -> list[tuple[typing.Any, typing.Any]]:
    """``headers`` (str pairs, or latin-1 bytes pairs as ASGI has them) plus the session's ``added``
    ones; the application's list is not changed. ``Vary`` is merged into the application's own: a
    field that none of its ``Vary`` lines names (nor ``*``) is added to the first of them, as Flask's
    front end reads all of its lines too."""
    result = list(headers)
    vary: typing.Any = b"vary" if as_bytes else "vary"
    for name, value in added:
        if name == "Vary":
            for first, (key, _) in enumerate(result):
                if key.lower() == vary:
                    _merge_vary(result, first, value, as_bytes)
                    break
            else:
                result.append((b"vary", value.encode("latin-1")) if as_bytes else (name, value))
        elif as_bytes:
            result.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        else:
            result.append((name, value))
    return result


def _merge_vary(headers: list[tuple[typing.Any, typing.Any]], first: int, field: str, as_bytes: bool) -> None:
    """Add ``field`` to the ``Vary`` line at ``first`` unless it or a later ``Vary`` line names it."""
    vary = headers[first][0].lower()
    own = [
        value.decode("latin-1") if as_bytes else value
        for key, value in headers[first:]
        if key.lower() == vary
    ]
    joined = ", ".join(own)
    if add_vary(joined, field) != joined:  # named by none of them
        merged = add_vary(own[0], field)
        headers[first] = (headers[first][0], merged.encode("latin-1") if as_bytes else merged)


def validate_cookie_name(name: str) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ImproperlyConfigured(
            f"cookie_name {name!r} is not a valid cookie name: use letters, digits and !#$%&'*+-.^_`|~ "
            "(no spaces, '=', ';' or ',')"
        )
    return name


def validate_same_site(value: str) -> str:
    same_site = _SAME_SITE.get(value.lower()) if isinstance(value, str) else None
    if same_site is None:
        raise ImproperlyConfigured(f"cookie_same_site must be 'lax', 'strict' or 'none', got {value!r}")
    return same_site


def _validate_attribute(option: str, value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not _ATTRIBUTE_VALUE.fullmatch(value)):
        raise ImproperlyConfigured(
            f"{option} {value!r} cannot go into a cookie: it must be non-empty, without spaces, ';' "
            "or control characters"
        )
    return value


@dataclass(frozen=True)
class CookieRules:
    """How the session cookie is named and which attributes it carries, validated once."""

    name: str = "session"
    same_site: str = "lax"
    secure: bool = True
    domain: str | None = None
    path: str | None = None  # None: the app's mount point (ASGI root_path, WSGI SCRIPT_NAME), or "/"
    httponly: bool = True  # scripts in the page can't read it
    partitioned: bool = False  # CHIPS: a cookie of the embedding site's partition, for embedded apps
    _attributes: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_cookie_name(self.name)
        same_site = validate_same_site(self.same_site)
        object.__setattr__(self, "same_site", same_site)
        _validate_attribute("cookie_domain", self.domain)
        _validate_attribute("cookie_path", self.path)
        if self.path is not None and not self.path.startswith("/"):
            raise ImproperlyConfigured(f"cookie_path must start with '/', got {self.path!r}")
        if same_site == "none" and not self.secure:
            raise ImproperlyConfigured(
                "cookie_same_site='none' needs cookie_https_only=True: browsers reject SameSite=None "
                "cookies that are not Secure"
            )
        if self.partitioned and not self.secure:
            raise ImproperlyConfigured(
                "cookie_partitioned=True needs cookie_https_only=True: browsers reject Partitioned "
                "cookies that are not Secure"
            )
        attributes = f"; domain={self.domain}" if self.domain else ""
        attributes += f"{'; httponly' if self.httponly else ''}; samesite={same_site}"
        if self.secure:
            attributes += "; secure"
        if self.partitioned:
            attributes += "; partitioned"
        object.__setattr__(self, "_attributes", attributes)

    def path_for(self, mount_point: str) -> str:
        """The Path attribute: the configured one, else where the app is mounted, else "/"."""
        if self.path is not None:
            return self.path
        if mount_point and _ATTRIBUTE_VALUE.fullmatch(mount_point) and mount_point.startswith("/"):
            return mount_point
        return "/"

    def set_cookie(self, value: str, max_age: int | None, path: str) -> str:
        """A ``Set-Cookie`` value; no Max-Age makes a browser-session cookie."""
        if max_age is None:
            return f"{self.name}={value}; path={path}{self._attributes}"
        return f"{self.name}={value}; path={path}; max-age={max_age}{self._attributes}"

    def delete_cookie(self, path: str) -> str:
        """A ``Set-Cookie`` value that removes the cookie; same Path, Domain, Secure and SameSite."""
        return (
            f"{self.name}=; path={path}; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT{self._attributes}"
        )
