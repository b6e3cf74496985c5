"""Reading the session cookie from a ``Cookie`` header and writing ``Set-Cookie`` and ``Vary`` values."""

from __future__ import annotations

import typing

import pytest

from dualsessions.cookies import (
    MAX_COOKIE_SIZE,
    CookieRules,
    add_vary,
    find_cookie,
    is_valid_cookie_value,
    with_session_headers,
)
from dualsessions.exceptions import ImproperlyConfigured

EPOCH = "expires=Thu, 01 Jan 1970 00:00:00 GMT"

# -- find_cookie -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("session=abc", "abc"),
        ("a=1; session=abc; b=2", "abc"),
        ("a=1; b=2; session=abc", "abc"),
        ("session=first; session=second", "first"),
        ("session=abc==", "abc=="),  # '=' is a cookie-octet (base64 padding)
        ("session=a-b_c.d~e!f", "a-b_c.d~e!f"),
        ("session=" + "x" * MAX_COOKIE_SIZE, "x" * MAX_COOKIE_SIZE),
    ],
)
def test_find_cookie_finds_the_first_value(header: str, expected: str) -> None:
    assert find_cookie(header, "session") == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("xsession=1", None),
        ("sessionx=1", None),
        ("session_id=1", None),
        ("Session=1", None),
        ("SESSION=1", None),
        ("xsession=1; session=2", "2"),
        ("session2=1; my_session=2; session=3", "3"),
        ("a=session; b=session=x", None),  # the name as a value is not the name
    ],
)
def test_find_cookie_name_must_match_exactly(header: str, expected: str | None) -> None:
    assert find_cookie(header, "session") == expected


@pytest.mark.parametrize("header", ["", "a=1", "a=1; b=2", "sess=1; ion=2", ";;;", "=", "=session"])
def test_find_cookie_header_without_the_cookie(header: str) -> None:
    assert find_cookie(header, "session") is None


@pytest.mark.parametrize(
    "header",
    [
        "  session=abc  ",
        "a=1;session=abc",
        "a=1 ;  session=abc ; b=2",
        "a=1;\tsession=abc\t;b=2",
        "session = abc",
        "; session=abc;",
    ],
)
def test_find_cookie_tolerates_whitespace_around_chunks(header: str) -> None:
    assert find_cookie(header, "session") == "abc"


BAD_VALUES = {
    "empty": "",
    "double-quotes": '"abc"',
    "quote-inside": 'a"b',
    "space-inside": "a b",
    "tab-inside": "a\tb",
    "backslash": "a\\b",
    "comma": "a,b",
    "nul": "a\x00b",
    "control": "a\x01b",
    "escape": "a\x1bb",
    "del": "a\x7fb",
    "cr-lf": "a\r\nb",
    "lf": "a\nb",
    "cr": "a\rb",
    "non-ascii": "abcé",
    "too-long": "x" * (MAX_COOKIE_SIZE + 1),
}


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_find_cookie_skips_malformed_values(value: str) -> None:
    assert find_cookie(f"session={value}", "session") is None
    assert find_cookie(f"a=1; session={value}; b=2", "session") is None
    assert find_cookie(f"session={value}; session=good", "session") == "good"
    assert find_cookie(f"session=good; session={value}", "session") == "good"


def test_find_cookie_skips_chunks_without_equals_sign() -> None:
    assert find_cookie("session", "session") is None
    assert find_cookie("session; session=ok", "session") == "ok"


def test_find_cookie_other_names() -> None:
    header = "my.sid=one; sid=two; __Host-sid=three"
    assert find_cookie(header, "sid") == "two"
    assert find_cookie(header, "my.sid") == "one"
    assert find_cookie(header, "__Host-sid") == "three"
    assert find_cookie(header, "other") is None


# -- is_valid_cookie_value -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "ABC123",
        "a-b_c.d~",
        "abc==",
        "!#$%&'()*+-./:<=>?@[]^_`{|}~",
        "x",
        "x" * MAX_COOKIE_SIZE,
    ],
)
def test_is_valid_cookie_value_accepts(value: str) -> None:
    assert is_valid_cookie_value(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        " abc",
        "abc ",
        "a b",
        '"abc"',
        "a,b",
        "a;b",
        "a\\b",
        "a\x00",
        "a\x1f",
        "a\x7f",
        "a\r\n",
        "\t",
        "é",
        "a\u2028b",
        "x" * (MAX_COOKIE_SIZE + 1),
    ],
)
def test_is_valid_cookie_value_rejects(value: str) -> None:
    assert not is_valid_cookie_value(value)


def test_max_cookie_value_is_4096() -> None:
    assert MAX_COOKIE_SIZE == 4096


# -- CookieRules: Set-Cookie values --------------------------------------------------------------------------


def test_set_cookie_default_rules() -> None:
    rules = CookieRules()
    assert (
        rules.set_cookie("abc", 60, "/") == "session=abc; path=/; max-age=60; httponly; samesite=lax; secure"
    )


def test_set_cookie_without_max_age_is_a_browser_session_cookie() -> None:
    assert CookieRules().set_cookie("abc", None, "/") == "session=abc; path=/; httponly; samesite=lax; secure"


def test_set_cookie_max_age_zero_is_written() -> None:
    assert (
        CookieRules().set_cookie("abc", 0, "/")
        == "session=abc; path=/; max-age=0; httponly; samesite=lax; secure"
    )


def test_set_cookie_with_domain_and_path() -> None:
    rules = CookieRules(domain="example.com")
    assert rules.set_cookie("abc", 60, "/app") == (
        "session=abc; path=/app; max-age=60; domain=example.com; httponly; samesite=lax; secure"
    )
    assert rules.set_cookie("abc", None, "/app") == (
        "session=abc; path=/app; domain=example.com; httponly; samesite=lax; secure"
    )


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (CookieRules(name="sid", secure=False), "sid=v; path=/; httponly; samesite=lax"),
        (CookieRules(same_site="Strict"), "session=v; path=/; httponly; samesite=strict; secure"),
        (CookieRules(same_site="NONE"), "session=v; path=/; httponly; samesite=none; secure"),
        (
            CookieRules(name="__Host-s", same_site="strict", secure=False, domain=".example.org"),
            "__Host-s=v; path=/; domain=.example.org; httponly; samesite=strict",
        ),
    ],
)
def test_set_cookie_attributes(rules: CookieRules, expected: str) -> None:
    assert rules.set_cookie("v", None, "/") == expected


def test_delete_cookie_default_rules() -> None:
    assert CookieRules().delete_cookie("/") == (
        f"session=; path=/; max-age=0; {EPOCH}; httponly; samesite=lax; secure"
    )


def test_delete_cookie_keeps_path_domain_secure_and_same_site() -> None:
    rules = CookieRules(name="sid", same_site="strict", domain="example.com", path="/shop")
    assert rules.delete_cookie("/shop") == (
        f"sid=; path=/shop; max-age=0; {EPOCH}; domain=example.com; httponly; samesite=strict; secure"
    )
    set_value = rules.set_cookie("v", 60, "/shop")
    assert set_value.split("; max-age=60")[1] == rules.delete_cookie("/shop").split(EPOCH)[1]


def test_delete_cookie_without_secure() -> None:
    rules = CookieRules(secure=False)
    assert rules.delete_cookie("/app") == f"session=; path=/app; max-age=0; {EPOCH}; httponly; samesite=lax"


def test_cookie_rules_normalize_same_site() -> None:
    assert CookieRules(same_site="LaX").same_site == "lax"


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"name": "a b"}, "not a valid cookie name"),
        ({"name": "a;b"}, "not a valid cookie name"),
        ({"name": "a=b"}, "not a valid cookie name"),
        ({"same_site": "always"}, "must be 'lax', 'strict' or 'none'"),
        ({"same_site": "none", "secure": False}, "needs cookie_https_only=True"),
        ({"path": "app"}, "must start with '/'"),
        ({"path": "/a;b"}, "without spaces, ';'"),
        ({"domain": "a b.com"}, "without spaces"),
        ({"domain": ""}, "must be non-empty"),
    ],
)
def test_cookie_rules_validation(options: dict[str, object], phrase: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=phrase):
        CookieRules(**options)  # type: ignore[arg-type]


# -- CookieRules.path_for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "mount_point", "expected"),
    [
        ("/configured", "/app", "/configured"),
        ("/configured", "", "/configured"),
        ("/", "/app", "/"),
        (None, "/app", "/app"),
        (None, "/app/v1", "/app/v1"),
        (None, "", "/"),
        (None, "app", "/"),
        (None, "/a b", "/"),
        (None, "/a;b", "/"),
        (None, "/a\nb", "/"),
        (None, "/a\x00", "/"),
        (None, "/é", "/"),
    ],
)
def test_path_for(configured: str | None, mount_point: str, expected: str) -> None:
    assert CookieRules(path=configured).path_for(mount_point) == expected


# -- add_vary -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ("", "Cookie"),
        ("   ", "Cookie"),
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("Accept-Encoding, Origin", "Accept-Encoding, Origin, Cookie"),
        ("Cookies", "Cookies, Cookie"),
        ("X-Cookie", "X-Cookie, Cookie"),
        ("Cookie", "Cookie"),
        ("cookie", "cookie"),
        ("COOKIE", "COOKIE"),
        ("Accept-Encoding, cOoKiE", "Accept-Encoding, cOoKiE"),
        ("Accept-Encoding,Cookie", "Accept-Encoding,Cookie"),
        ("Cookie , Origin", "Cookie , Origin"),
        ("*", "*"),
        ("Accept-Encoding, *", "Accept-Encoding, *"),
    ],
)
def test_add_vary(vary: str, expected: str) -> None:
    assert add_vary(vary) == expected


@pytest.mark.parametrize(
    "header", ["session=abc\x1f", "session=\x1cabc", "session=abc\xa0", "session=\x0babc"]
)
def test_white_space_other_than_space_and_tab_is_not_stripped(header: str) -> None:
    assert find_cookie(header, "session") is None


# -- with_session_headers (the ASGI and WSGI front ends) -------------------------------------------------


SET = ("Set-Cookie", "session=abc; Path=/")


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ([], [SET, ("Vary", "Cookie")]),  # (in the order added)
        ([("Vary", "Accept")], [("Vary", "Accept, Cookie"), SET]),
        # named by a later line: nothing added (Flask's front end reads every line too)
        ([("Vary", "Accept"), ("Vary", "Cookie")], [("Vary", "Accept"), ("Vary", "Cookie"), SET]),
        (
            [("Vary", "Accept"), ("vary", "origin, COOKIE")],
            [("Vary", "Accept"), ("vary", "origin, COOKIE"), SET],
        ),
        ([("Vary", "Accept"), ("Vary", "*")], [("Vary", "Accept"), ("Vary", "*"), SET]),
        # named by none: added once, to the first line
        ([("Vary", "Accept"), ("Vary", "Origin")], [("Vary", "Accept, Cookie"), ("Vary", "Origin"), SET]),
    ],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["wsgi", "asgi"])
def test_vary_is_merged_with_every_vary_line_of_the_app(
    own: list[tuple[str, str]], expected: list[tuple[str, str]], as_bytes: bool
) -> None:
    def flavour(pairs: list[tuple[str, str]]) -> list[tuple[typing.Any, typing.Any]]:
        if not as_bytes:
            return list(pairs)
        return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]

    headers = flavour([("Content-Type", "text/plain"), *own])
    original = list(headers)
    added = [SET, ("Vary", "Cookie")]
    result = with_session_headers(headers, added, as_bytes)
    assert headers == original  # the application's list is left as it was
    assert result == flavour([("Content-Type", "text/plain"), *expected])
