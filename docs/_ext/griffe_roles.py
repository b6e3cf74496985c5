"""A griffe extension for the documentation site (mkdocs.yml loads it, the site doesn't ship it).

The docstrings are written with reST roles (``:class:`CookieStore```,
``:func:`~dualsessions.admin.open_session```) and ``::`` before literal blocks. In the API reference
a role becomes a link to the object's entry, or plain code when the object has none; a closing ``::``
becomes ``:``.
"""

from __future__ import annotations

import functools
import html
import re
import typing

import griffe

_ROLE = re.compile(
    r":(?:class|func|meth|mod|data|attr|exc|obj):`(?P<short>~?)(?P<name>[\w.]+)(?P<call>\(\))?`"
)
_LITERAL = re.compile(r"(?<=\S)::$", re.M)


class Roles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: typing.Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                text = _LITERAL.sub(":", obj.docstring.value)
                obj.docstring.value = _ROLE.sub(functools.partial(_link, pkg, obj), text)


def _objects(obj: griffe.Object) -> typing.Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(typing.cast(griffe.Object, member))


def _link(pkg: griffe.Module, obj: griffe.Object, match: re.Match[str]) -> str:
    name = match["name"]
    shown = (name.rsplit(".", 1)[-1] if match["short"] else name) + (match["call"] or "")
    path = _resolve(pkg, obj, name)
    code = f"<code>{html.escape(shown)}</code>"
    if path is None:
        return code
    # optional: a target the site doesn't document is shown as plain code, without a warning
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def _resolve(pkg: griffe.Module, obj: griffe.Object, name: str) -> str | None:
    """The canonical path of ``name`` as written in ``obj``'s docstring, if it names an object."""
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    candidates = []
    while scope is not None:  # a name of the scope, then of its parents (class, module, package)
        if first in scope.members:
            candidates.append(scope.members[first].path + ("." + rest if rest else ""))
        scope = scope.parent
    candidates.append(name)
    for candidate in candidates:
        head, _, tail = candidate.partition(".")
        if head != pkg.name:
            continue
        try:
            found = pkg[tail] if tail else pkg
            return str(found.final_target.path if isinstance(found, griffe.Alias) else found.path)
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
    return None
