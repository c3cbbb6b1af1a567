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

Typed path values: for ``@function`` the function's, and for ``@servlet`` and
``@service`` the class constructor's, parameter annotations say what each
wildcard is (``int``, :class:`SignedInt`, ``float``, ``uuid.UUID``, an Enum,
or any callable that raises ValueError for bad text). Everything is worked
out at registration; a value that does not convert is a 404. A parameter
named ``request`` receives the Request in those three styles.
``router.url_for(handler, *values, **query)`` builds a route's URL back.

Errors are raised as :class:`~kali.errors.HTTPError`, so the server renders
them (with the app's ``error_page`` if it has one): 404 for no match or a
path value that does not convert, 405 with an ``allow`` header for a known
method a path does not serve, 501 for a method kali does not know, 400 for a
bad query parameter of a ``@function``. Mistakes at registration raise
ValueError.

JSON: a handler's plain ``dict`` return value stays an iolist (``key: value``
lines, as in 0.0.8). To answer JSON, return ``Response.json(data)``, mount
with ``@router.function(where, json=True)``, or decorate any handler or
servlet method with :func:`json_handler`.

This module must not touch sockets or parse bytes; it only chooses and calls
handlers (and builds their URLs back).
"""

from __future__ import annotations

import functools
import inspect
import types
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from .errors import RoutingError
from .pathvalues import (
    _NAMED,
    _PARAMETER,
    REQUEST_PARAMETER,
    Binding,
    PathValue,
    SignedInt,
    bind,
    class_binding,
    describe,
    namespace_of,
)
from .request import Request
from .response import Response

# Typed path values are defined in kali.pathvalues and used from here.
__all__ = [
    "KNOWN_METHODS",
    "REQUEST_PARAMETER",
    "Handler",
    "RouteNode",
    "Router",
    "Servlet",
    "SignedInt",
    "json_handler",
    "method_error",
]

#: What the server calls: a Request in, a Response or an iolist out.
Handler = Callable[[Request], Any]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

#: The methods kali's request parser accepts (RFC 9110 9.3). Any other is
#: answered 501 Not Implemented; a known one a path does not serve is 405.
KNOWN_METHODS = (
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
)  # fmt: skip

#: The parameter name that receives the Request (not a wildcard, not a query
#: value) in ``@function`` handlers and ``@servlet``/``@service`` constructors.
_GET_AND_HEAD = ("GET", "HEAD")
_NO_QUERY: Mapping[str, str] = types.MappingProxyType({})


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


# -- servlets --------------------------------------------------------------------------


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


def _service_actions(cls: type) -> list[tuple[object, str]]:
    """``(do_<METHOD>_<name> function, name)`` for each action of a service."""
    actions = []
    for attribute in dir(cls):
        method, underscore, name = attribute[3:].partition("_")
        if attribute.startswith("do_") and underscore and method in KNOWN_METHODS:
            if _has_method(cls, attribute):
                actions.append((getattr(cls, attribute), name))
    return actions


def _call_method(cls: type, binding: Binding, suffix: str, request: Request) -> Any:
    """Construct ``cls`` from the wildcards and call its method for the request."""
    values = binding.convert(request) if binding.typed else request.args
    name = _method_name(cls, request.command, suffix)
    if name is None:
        allowed = _allowed_methods(cls, suffix)
        if suffix and not allowed:
            raise RoutingError(404)
        raise method_error(request.command, allowed)
    if binding.request_slot is None:
        return getattr(cls(*values), name)(request)
    return getattr(binding.call(cls, request, values, _NO_QUERY), name)(request)


def _not_found(request: Request) -> Any:
    raise RoutingError(404)


class _FunctionEndpoint:
    """Calls ``fn(*wildcards, **query)`` after checking the query against
    ``fn``'s signature, so a bad URL is a 400 naming the parameter, never a
    TypeError (a 500). Typed wildcards are converted first (404 if not)."""

    def __init__(self, fn: Callable[..., Any], wildcards: int, as_json: bool) -> None:
        self.fn = fn
        self.as_json = as_json
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have no signature
            self.checked = False
            self.binding = Binding.untyped(wildcards)
            return
        self.checked = True
        params = list(signature.parameters.values())
        bound = bind(describe(fn), params, wildcards, namespace_of(fn))
        self.binding = bound.binding
        self.takes_request = bound.takes_request
        for p in bound.remaining:
            if p.kind is _PARAMETER.POSITIONAL_ONLY and p.default is p.empty:
                raise ValueError(
                    f"{fn!r}: positional-only parameter {p.name!r} has no wildcard"
                )
        self.taken = frozenset(
            p.name for p in bound.by_path if p.kind is _PARAMETER.POSITIONAL_OR_KEYWORD
        )
        keyword = [p for p in bound.remaining if p.kind in _NAMED]
        self.keywords = frozenset(p.name for p in keyword)
        self.required = tuple(p.name for p in keyword if p.default is p.empty)
        self.takes_any_keyword = any(p.kind is _PARAMETER.VAR_KEYWORD for p in params)

    def check(self, query: Mapping[str, Any]) -> None:
        for key in query:
            if key in self.keywords:
                continue
            if key in self.taken:
                raise RoutingError(
                    400, f"Query parameter {key[:100]!r} is in the path."
                )
            if key == REQUEST_PARAMETER and self.takes_request:
                raise RoutingError(400, f"Query parameter {key!r} is reserved.")
            if not self.takes_any_keyword:
                raise RoutingError(400, f"Unknown query parameter {key[:100]!r}.")
        for name in self.required:
            if name not in query:
                raise RoutingError(400, f"Missing query parameter {name!r}.")

    def __call__(self, request: Request) -> Any:
        if request.has_suffix():
            raise RoutingError(404)
        binding = self.binding
        values = binding.convert(request) if binding.typed else request.args
        if request.command not in _GET_AND_HEAD:
            raise method_error(request.command, _GET_AND_HEAD)
        query = request.GET.single
        if self.checked:
            self.check(query)
        if binding.request_slot is None:
            result = self.fn(*values, **query)
        else:
            result = binding.call(self.fn, request, values, query)
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


# -- building URLs ---------------------------------------------------------------------


class _Mount(NamedTuple):
    """What ``url_for`` needs to know about one registration."""

    where: str
    parts: tuple[str | None, ...]  # quoted literal components; None: a wildcard
    values: tuple[PathValue, ...]  # one per wildcard
    endpoint: _FunctionEndpoint | None  # checks the query of a @function


def _make_mount(
    where: str,
    values: Sequence[PathValue],
    endpoint: _FunctionEndpoint | None = None,
    action: str | None = None,
) -> _Mount:
    components = where.lstrip("/").split("/")
    if action is not None:
        components[-1] = action
    parts = tuple(
        None if item == Router.WILDCARD else urllib.parse.quote(item, safe="")
        for item in components
    )
    return _Mount(where, parts, tuple(values), endpoint)


def _mount_key(target: object) -> object:
    """Handlers are found by equality (so ``obj.method`` finds itself again),
    or by identity when they cannot be hashed."""
    try:
        hash(target)
    except TypeError:
        return id(target)
    return target


def _build_path(mount: _Mount, name: str, values: Sequence[Any]) -> str:
    pieces = []
    last = len(mount.parts) - 1
    wildcard = 0
    for index, part in enumerate(mount.parts):
        if part is not None:
            pieces.append(part)
            continue
        spec, value = mount.values[wildcard], values[wildcard]
        wildcard += 1
        text = spec.to_url(value)
        if not isinstance(text, str):
            raise TypeError(f"url_for({name}): to_url gave {text!r}, not a str")
        # kali splits "%2F" like "/" and resolves "." and "..", as 0.0.8 did,
        # and an empty component inside a path is redirected away: a URL
        # with such a value would reach another page.
        if "/" in text or text in (".", "..") or (text == "" and index != last):
            raise ValueError(
                f"url_for({name}): {value!r} for {spec.name!r} cannot be a path "
                "component (it is '.', '..', empty or contains '/'); pass it "
                "as a query parameter instead"
            )
        if spec.is_checked and spec.parse is not None:
            try:
                spec.parse(text)
            except ValueError:
                raise ValueError(
                    f"url_for({name}): {value!r} is not a valid value for {spec.name!r}"
                ) from None
        pieces.append(urllib.parse.quote(text, safe=""))
    return "/" + "/".join(pieces)


def _encode_query(query: Mapping[str, Any]) -> str:
    """``k=v&...`` (form encoding); None values are left out and lists or
    tuples repeat their key."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else (value,)
        pairs.extend((key, str(item)) for item in items)
    return urllib.parse.urlencode(pairs)


# -- the router ------------------------------------------------------------------------


class Router:
    """A prefix tree of mount points; call it with a Request to dispatch.

    ``router(request)`` returns what the chosen handler returns, a redirect
    for a non-canonical path (``/a//b``, ``/a/./b``), and raises HTTPError
    404 when no mount point matches. It sets ``request.router`` to itself
    before calling the handler, so that ``request.url_for`` works.
    """

    WILDCARD = "*"

    def __init__(self) -> None:
        self.root = RouteNode()
        # For url_for: each handler's registrations, and each mount point's.
        self._mounts: dict[object, list[_Mount]] = {}
        self._mount_points: dict[str, _Mount] = {}

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
        request.router = self
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

    # -- building URLs -------------------------------------------------------

    def url_for(self, target: object, /, *values: Any, **query: Any) -> str:
        """The URL path of ``target``'s route, its wildcards filled with
        ``values``, plus ``?query`` (``None`` values left out, lists repeated).

        ``target`` is a handler, a ``@function`` function, a ``@servlet`` or
        ``@service`` class, a service action (``Tasks.do_POST_done``, whose
        name ends the path) or a mount point string (``'/contacts/*'``). Each
        value goes through its converter's ``to_url`` (else ``str``) and is
        percent-quoted as one path segment. Raises ValueError for an unknown
        target, a target mounted twice with as many wildcards (pass the mount
        point), a value its converter refuses or that cannot be a path
        component (``/``, ``.``, ``..``), or, for a ``@function``, a query it
        would refuse; TypeError for the wrong number of values.
        """
        mount, name = self._mount_for(target, len(values))
        url = _build_path(mount, name, values)
        endpoint = mount.endpoint
        if endpoint is not None and endpoint.checked:
            try:
                endpoint.check({k: v for k, v in query.items() if v is not None})
            except RoutingError as error:
                raise ValueError(f"url_for({name}): {error.message}") from None
        encoded = _encode_query(query)
        return url + "?" + encoded if encoded else url

    def _mount_for(self, target: object, count: int) -> tuple[_Mount, str]:
        if isinstance(target, str):
            mount = self._mount_points.get(target)
            if mount is None:
                raise ValueError(f"url_for: nothing is mounted at {target!r}")
            candidates = [mount]
            name = repr(target)
        else:
            name = describe(target)
            candidates = self._mounts.get(_mount_key(target), [])
            if not candidates:
                raise ValueError(f"url_for: {name} is not mounted on this router")
        fitting = [mount for mount in candidates if len(mount.values) == count]
        if not fitting:
            expected = " or ".join(str(len(m.values)) for m in candidates)
            raise TypeError(
                f"url_for({name}): {candidates[0].where!r} takes {expected} "
                f"path values, not {count}"
            )
        if len(fitting) > 1:
            places = ", ".join(repr(mount.where) for mount in fitting)
            raise ValueError(
                f"url_for({name}): it is mounted at {places}; pass the mount "
                "point instead, as in url_for('/some/*', ...)"
            )
        return fitting[0], name

    def _remember(
        self, target: object, mount: _Mount, *, is_mount_point: bool = True
    ) -> None:
        self._mounts.setdefault(_mount_key(target), []).append(mount)
        if is_mount_point:
            self._mount_points[mount.where] = mount

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
        self._remember(handler, _make_mount(where, _untyped(wildcards)))

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
        self._remember(handler, _make_mount(where, _untyped(wildcards)))

    def function(self, where: str = "", *, json: bool = False) -> Callable[[F], F]:
        """Decorator: publish ``fn`` at ``where`` (``''`` means ``'/'``).

        Wildcards become positional arguments, converted by their parameters'
        annotations (404 if one does not convert), and query parameters
        keyword arguments (``fn(*args, **request.GET.single)``, as text); a
        parameter named ``request`` gets the Request. GET and HEAD only
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
            self._remember(fn, _make_mount(spec, endpoint.binding.values, endpoint))
            return fn

        return decorate

    def servlet(self, where: str, allow_suffix: bool = False) -> Callable[[C], C]:
        """Class decorator: each request calls ``cls(*args).do_<METHOD>(request)``.

        The constructor's parameters receive the wildcards, converted by
        their annotations (404 if one does not convert), and a parameter
        named ``request`` the Request. HEAD uses ``do_HEAD`` or else
        ``do_GET``. A method the class lacks is 405 with ``allow``; a path
        suffix is 404 unless ``allow_suffix``. Returns the class, so
        decorators stack.
        """

        def decorate(cls: C) -> C:
            if not isinstance(cls, type):
                raise ValueError(f"@servlet decorates a class, not {cls!r}")
            node, wildcards = self._claim(where)
            binding = class_binding(cls, len(wildcards))

            def servlet(request: Request) -> Any:
                if request.has_suffix() and not allow_suffix:
                    raise RoutingError(404)
                return _call_method(cls, binding, "", request)

            node.entry = (servlet, wildcards)
            self._remember(cls, _make_mount(where, binding.values))
            return cls

        return decorate

    def service(self, where: str) -> Callable[[C], C]:
        """Class decorator for a folder of named actions: ``where`` ends with
        ``/`` and ``<where>NAME`` calls ``cls(*args).do_<METHOD>_NAME(request)``
        (HEAD falls back to ``do_GET_NAME``); the constructor is called as for
        :meth:`servlet`. A NAME without any such method, or a deeper path, is
        404; a NAME lacking this method is 405. Returns the class.
        """
        if not isinstance(where, str) or not where.endswith("/"):
            raise ValueError(f"A service mounts at a folder ending with '/': {where!r}")

        def decorate(cls: C) -> C:
            if not isinstance(cls, type):
                raise ValueError(f"@service decorates a class, not {cls!r}")
            node, wildcards = self._folder_claim(where)
            binding = class_binding(cls, len(wildcards))

            def service(request: Request) -> Any:
                suffix = request.path_suffix()
                if len(suffix) != 1:
                    raise RoutingError(404)
                return _call_method(cls, binding, "_" + suffix[0], request)

            node.entry = (_folder_shim(service), wildcards)
            self._remember(cls, _make_mount(where, binding.values))
            for action, name in _service_actions(cls):
                mount = _make_mount(where, binding.values, action=name)
                self._remember(action, mount, is_mount_point=False)
            return cls

        return decorate


def _untyped(wildcards: tuple[int, ...]) -> tuple[PathValue, ...]:
    return Binding.untyped(len(wildcards)).values
