"""Router: send each request to the handler mounted at the longest matching path.

A :class:`Router` is a prefix tree of :class:`RouteNode`s keyed by path
components. ``*`` in a mount point matches exactly one component (possibly
empty) and passes it to the handler in ``request.args``. The deepest node
that has a handler wins; what is left of the path is the handler's *suffix*
(``request.path_suffix()``). Dispatch, for mounts ``/a``, ``/a/*/c`` and
``/a/b/d``::

    /a/b/c    ->  /a/*/c   args ['b'], no suffix
    /a/x/y    ->  /a       suffix ['x', 'y']
    /a/x/c/z  ->  /a/*/c   args ['x'], suffix ['z']

Five ways to mount something, from raw to convenient (all as in kali 0.0.8):
``delegate(where, handler)``, ``delegate_folder(where, handler)``,
``@function(where)``, ``@servlet(where)`` and ``@service(where)``.

Errors are raised as :class:`~kali.errors.HTTPError`, so the server renders
them (with the app's ``error_page`` if it has one): 404 for no match, 405 with
an ``allow`` header for a known method a path does not serve, 501 for a
method kali does not know, 400 for a bad query parameter of a ``@function``.
Mistakes at registration raise ValueError.

JSON: a handler's plain ``dict`` return value stays an iolist (``key: value``
lines, as in 0.0.8). To answer JSON, return ``Response.json(data)``, mount
with ``@router.function(where, json=True)``, or decorate any handler or
servlet method with :func:`json_handler`.

This module must not touch sockets or parse bytes; it only chooses and calls
handlers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import RoutingError
from .request import Request
from .response import Response

#: What the server calls: a Request in, a Response or an iolist out.
Handler = Callable[[Request], Any]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

#: The methods kali's request parser accepts (RFC 9110 9.3). Any other is
#: answered 501 Not Implemented; a known one a path does not serve is 405.
KNOWN_METHODS = (
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
)  # fmt: skip

_GET_AND_HEAD = ("GET", "HEAD")


def method_error(method: str, allowed: Sequence[str]) -> RoutingError:
    """The error for ``method`` on a path that serves only ``allowed``:
    501 for a method kali does not know, else 405 with an ``allow`` header."""
    if method not in KNOWN_METHODS:
        return RoutingError(501)
    return RoutingError(405, headers=[("allow", ", ".join(allowed))])


def json_handler(fn: F) -> F:
    """Decorate a handler (or servlet method) so that whatever it returns,
    unless already a Response, is answered as JSON via ``Response.json``.

    Example::

        @router.servlet('/api/tasks')
        class Tasks(Servlet):
            @json_handler
            def do_GET(self, request):
                return [{'id': 1, 'title': 'Buy milk'}]
    """

    @functools.wraps(fn)
    def answer_json(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return result if isinstance(result, Response) else Response.json(result)

    return answer_json  # type: ignore[return-value]


class RouteNode:
    """One node of the prefix tree: ``entry`` is ``(handler, wildcard
    positions)`` or None, ``kids`` maps a path component to a child node."""

    __slots__ = ("entry", "kids")

    def __init__(self) -> None:
        self.entry: tuple[Handler, tuple[int, ...]] | None = None
        self.kids: dict[str, RouteNode] = {}

    def dig(self, label: str) -> RouteNode:
        """The child for ``label``, created if needed."""
        kid = self.kids.get(label)
        if kid is None:
            kid = self.kids[label] = RouteNode()
        return kid


class Servlet:
    """An optional base class for ``@servlet`` and ``@service`` classes, so
    that IDEs can fill in method signatures. Its stubs count as missing: a
    request for them is answered 405, not a NotImplementedError."""

    def do_GET(self, request: Request) -> Any:
        raise NotImplementedError(type(self))

    def do_POST(self, request: Request) -> Any:
        raise NotImplementedError(type(self))


_STUBS: dict[str, object] = {"do_GET": Servlet.do_GET, "do_POST": Servlet.do_POST}


def _has_method(cls: type, name: str) -> bool:
    attr = getattr(cls, name, None)
    return callable(attr) and attr is not _STUBS.get(name)


def _method_name(cls: type, method: str, suffix: str) -> str | None:
    """``do_<METHOD><suffix>`` if ``cls`` defines it (HEAD falls back to GET)."""
    name = "do_" + method + suffix
    if _has_method(cls, name):
        return name
    if method == "HEAD" and _has_method(cls, "do_GET" + suffix):
        return "do_GET" + suffix
    return None


def _allowed_methods(cls: type, suffix: str) -> list[str]:
    found = {m for m in KNOWN_METHODS if _has_method(cls, "do_" + m + suffix)}
    if "GET" in found:
        found.add("HEAD")
    return [m for m in KNOWN_METHODS if m in found]


def _call_method(cls: type, suffix: str, request: Request) -> Any:
    """Construct ``cls(*request.args)`` and call its method for the request."""
    name = _method_name(cls, request.command, suffix)
    if name is None:
        allowed = _allowed_methods(cls, suffix)
        if suffix and not allowed:
            raise RoutingError(404)
        raise method_error(request.command, allowed)
    return getattr(cls(*request.args), name)(request)


def _not_found(request: Request) -> Any:
    raise RoutingError(404)


class _FunctionEndpoint:
    """Calls ``fn(*wildcards, **query)`` after checking the query against
    ``fn``'s signature, so a bad URL is a 400 naming the parameter, never a
    TypeError (a 500)."""

    def __init__(self, fn: Callable[..., Any], wildcards: int, as_json: bool) -> None:
        self.fn = fn
        self.as_json = as_json
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have no signature
            self.checked = False
            return
        self.checked = True
        kind = inspect.Parameter
        params = list(signature.parameters.values())
        positional = [
            p
            for p in params
            if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
        ]
        takes_rest = any(p.kind is kind.VAR_POSITIONAL for p in params)
        if wildcards > len(positional) and not takes_rest:
            raise ValueError(
                f"{fn!r} takes {len(positional)} positional arguments, but the "
                f"mount point has {wildcards} wildcards"
            )
        by_path, rest = positional[:wildcards], positional[wildcards:]
        for p in rest:
            if p.kind is kind.POSITIONAL_ONLY and p.default is p.empty:
                raise ValueError(
                    f"{fn!r}: positional-only parameter {p.name!r} has no wildcard"
                )
        self.taken = frozenset(
            p.name for p in by_path if p.kind is kind.POSITIONAL_OR_KEYWORD
        )
        keyword = [
            p
            for p in params
            if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)
            and p.name not in self.taken
        ]
        self.keywords = frozenset(p.name for p in keyword)
        self.required = tuple(p.name for p in keyword if p.default is p.empty)
        self.takes_any_keyword = any(p.kind is kind.VAR_KEYWORD for p in params)

    def check(self, query: dict[str, str]) -> None:
        for key in query:
            if key in self.keywords:
                continue
            if key in self.taken:
                raise RoutingError(
                    400, f"Query parameter {key[:100]!r} is in the path."
                )
            if not self.takes_any_keyword:
                raise RoutingError(400, f"Unknown query parameter {key[:100]!r}.")
        for name in self.required:
            if name not in query:
                raise RoutingError(400, f"Missing query parameter {name!r}.")

    def __call__(self, request: Request) -> Any:
        if request.has_suffix():
            raise RoutingError(404)
        if request.command not in _GET_AND_HEAD:
            raise method_error(request.command, _GET_AND_HEAD)
        query = request.GET.single
        if self.checked:
            self.check(query)
        result = self.fn(*request.args, **query)
        if self.as_json and not isinstance(result, Response):
            return Response.json(result)
        return result


def _folder_shim(handler: Handler) -> Handler:
    def folder(request: Request) -> Any:
        if request.has_suffix():
            return handler(request)
        # The folder itself, without its slash: send the browser to the
        # slashed URL so that relative links in the folder's pages work.
        return Response.redirect(request.app_url([""], request.GET))

    return folder


class Router:
    """A prefix tree of mount points; call it with a Request to dispatch.

    ``router(request)`` returns what the chosen handler returns, a redirect
    for a non-canonical path (``/a//b``, ``/a/./b``), and raises HTTPError
    404 when no mount point matches.
    """

    WILDCARD = "*"

    def __init__(self) -> None:
        self.root = RouteNode()

    # -- dispatch ------------------------------------------------------------

    def __call__(self, request: Request) -> Any:
        try:
            return self._dispatch(request)
        except RoutingError as error:
            return Response.error_page(
                error.status, error.message, headers=error.headers
            )

    def _dispatch(self, request: Request) -> Any:
        redirect = request.normalize()
        if redirect is not None:
            if redirect.code == 404:  # ".." above the root
                raise RoutingError(404)
            return redirect
        found = self.find(request.path)
        if found is None:
            raise RoutingError(404)
        handler, depth, args = found
        request.mount_depth = depth
        request.args = args
        return handler(request)

    def find(self, path: list[str]) -> tuple[Handler, int, list[str]] | None:
        """The handler for ``path``, its mount depth and wildcard values, or
        None. The literal child is tried before ``*`` at each node; the
        deepest mount wins, and at equal depth the first one reached."""
        wildcard = self.WILDCARD
        size = len(path)
        best: RouteNode | None = None
        best_depth = -1
        pending = [(self.root, 0)]
        while pending:
            node, depth = pending.pop()
            while True:
                if node.entry is not None and depth > best_depth:
                    best, best_depth = node, depth
                if depth == size:
                    break
                kids = node.kids
                wild = kids.get(wildcard)
                if wild is not None:
                    pending.append((wild, depth + 1))
                child = kids.get(path[depth])
                if child is None:
                    break
                node, depth = child, depth + 1
            if best_depth == size:
                break  # nothing can be deeper
        if best is None or best.entry is None:
            return None
        handler, wildcards = best.entry
        return handler, best_depth, [path[i] for i in wildcards]

    # -- registration --------------------------------------------------------

    def _claim(self, where: str) -> tuple[RouteNode, tuple[int, ...]]:
        """The free node for mount point ``where``; ValueError if ``where``
        is malformed or already taken."""
        if not isinstance(where, str):
            raise ValueError(f"A mount point is a str, not {where!r}")
        node, wildcards = self.root, []
        if where != "":
            if not where.startswith("/"):
                raise ValueError(
                    f"Mount points other than '' begin with '/': {where!r}"
                )
            path = where.lstrip("/").split("/")
            if not all(path[:-1]):
                raise ValueError(f"Blank component in mount point {where!r}")
            for index, item in enumerate(path):
                if item.startswith("."):
                    raise ValueError(
                        f"Components starting with '.' are reserved: {where!r}"
                    )
                if item == self.WILDCARD:
                    wildcards.append(index)
                node = node.dig(item)
        if node.entry is not None:
            raise ValueError(f"Something is already mounted at {where!r}")
        return node, tuple(wildcards)

    @staticmethod
    def _check_handler(handler: object) -> None:
        if not callable(handler):
            raise ValueError(f"A handler must be callable, not {handler!r}")

    def delegate(self, where: str, handler: Handler) -> None:
        """Mount ``handler`` at ``where``; it serves the whole subtree below.

        ``''`` is the root (a catch-all); anything else begins with ``/`` and
        is split into components, so ``'/x/'`` is ``['x', '']``. ``*`` stands
        for any one component. Raises ValueError for a malformed or taken
        mount point.
        """
        self._check_handler(handler)
        node, wildcards = self._claim(where)
        node.entry = (handler, wildcards)

    def _folder_claim(self, where: str) -> tuple[RouteNode, tuple[int, ...]]:
        if not isinstance(where, str) or not where.endswith("/"):
            raise ValueError(f"A folder mount point ends with '/': {where!r}")
        return self._claim(where[:-1])

    def delegate_folder(self, where: str, handler: Handler) -> None:
        """Mount ``handler`` as a folder: ``where`` ends with ``/``; a request
        for the folder without its slash is redirected to it (query kept)."""
        self._check_handler(handler)
        node, wildcards = self._folder_claim(where)
        node.entry = (_folder_shim(handler), wildcards)

    def function(self, where: str = "", *, json: bool = False) -> Callable[[F], F]:
        """Decorator: publish ``fn`` at ``where`` (``''`` means ``'/'``).

        Wildcards become positional arguments and query parameters keyword
        arguments (``fn(*args, **request.GET.single)``). GET and HEAD only
        (others: 405); a path suffix is 404; an unknown or missing query
        parameter is 400. With ``json=True`` a return value that is not a
        Response is sent as JSON. ``where`` ending in ``/`` also redirects
        the slash-less URL. Returns ``fn`` unchanged.
        """

        def decorate(fn: F) -> F:
            self._check_handler(fn)
            spec = where or "/"
            node, wildcards = self._claim(spec)
            endpoint = _FunctionEndpoint(fn, len(wildcards), json)
            folder = None
            if spec.endswith("/") and spec != "/":
                folder = self._folder_claim(spec)
            node.entry = (endpoint, wildcards)
            if folder is not None:
                folder[0].entry = (_folder_shim(_not_found), folder[1])
            return fn

        return decorate

    def servlet(self, where: str, allow_suffix: bool = False) -> Callable[[C], C]:
        """Class decorator: each request calls ``cls(*args).do_<METHOD>(request)``.

        HEAD uses ``do_HEAD`` or else ``do_GET``. A method the class lacks is
        405 with ``allow``; a path suffix is 404 unless ``allow_suffix``.
        Returns the class, so decorators stack.
        """

        def decorate(cls: C) -> C:
            if not isinstance(cls, type):
                raise ValueError(f"@servlet decorates a class, not {cls!r}")
            node, wildcards = self._claim(where)

            def servlet(request: Request) -> Any:
                if request.has_suffix() and not allow_suffix:
                    raise RoutingError(404)
                return _call_method(cls, "", request)

            node.entry = (servlet, wildcards)
            return cls

        return decorate

    def service(self, where: str) -> Callable[[C], C]:
        """Class decorator for a folder of named actions: ``where`` ends with
        ``/`` and ``<where>NAME`` calls ``cls(*args).do_<METHOD>_NAME(request)``
        (HEAD falls back to ``do_GET_NAME``). A NAME without any such method,
        or a deeper path, is 404; a NAME lacking this method is 405.
        Returns the class.
        """
        if not isinstance(where, str) or not where.endswith("/"):
            raise ValueError(f"A service mounts at a folder ending with '/': {where!r}")

        def decorate(cls: C) -> C:
            if not isinstance(cls, type):
                raise ValueError(f"@service decorates a class, not {cls!r}")

            def service(request: Request) -> Any:
                suffix = request.path_suffix()
                if len(suffix) != 1:
                    raise RoutingError(404)
                return _call_method(cls, "_" + suffix[0], request)

            self.delegate_folder(where, service)
            return cls

        return decorate
