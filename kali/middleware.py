"""Middleware, the kali way: a handler that wraps another handler.

kali has no middleware machinery because it needs none. A handler is any
callable taking a Request; a function that takes a handler and returns a new
one can do something before, after, or instead of it::

    def no_store(handler):
        def wrapped(request):
            response = as_response(handler(request))
            return response.set_header('cache-control', 'no-store')
        return wrapped

    serve_http(no_store(router))

Wrap the whole Router (every request), one mount
(``router.delegate_folder('/admin/', login_required(...)(admin_router))``),
or one servlet method. Exceptions pass through a wrapper unchanged, so an
HTTPError raised inside still becomes its error page.

This module holds the few wrappers most local apps want: :func:`chain`,
:func:`login_required` with its partner :func:`next_url`, and
:func:`server_timing`. It must not touch sockets or keep global state.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from .errors import HTTPError
from .request import Request
from .response import Response
from .routing import Handler

#: A middleware turns a handler into a handler.
Middleware = Callable[[Handler], Handler]


def as_response(result: Any) -> Response:
    """A handler's return value as a Response (an iolist is wrapped)."""
    return result if isinstance(result, Response) else Response(result)


def chain(handler: Handler, *middleware: Middleware) -> Handler:
    """``chain(app, a, b)`` is ``a(b(app))``: the first wrapper listed sees
    the request first and the response last."""
    for wrap in reversed(middleware):
        handler = wrap(handler)
    return handler


def _is_exempt(request: Request, exempt: Iterable[str]) -> bool:
    components = request.path
    if not all(components[:-1]) or "." in components or ".." in components:
        return False  # "/static/../admin" is not under "/static/"
    path = "/" + "/".join(components)
    # An entry ending in "/" exempts the whole folder, others one page.
    return any(
        path.startswith(entry) if entry.endswith("/") else path == entry
        for entry in exempt
    )


def login_required(
    is_logged_in: Callable[[Request], bool],
    *,
    login_path: str = "/login",
    exempt: Iterable[str] = (),
) -> Middleware:
    """Let a request through only when ``is_logged_in(request)`` is true.

    Otherwise a GET or HEAD is redirected to ``login_path?next=<the page>``
    and any other method gets 403. ``login_path`` itself and the URL paths
    in ``exempt`` (``'/static/'`` for a folder, ``'/about'`` for a page) are
    always let through. After logging in, redirect to
    ``next_url(request)``. Example::

        app = login_required(lambda r: r.cookies.get('user') in USERS)(router)
    """
    open_paths = (login_path, *exempt)

    def wrap(handler: Handler) -> Handler:
        def guarded(request: Request) -> Any:
            if _is_exempt(request, open_paths) or is_logged_in(request):
                return handler(request)
            if request.command not in ("GET", "HEAD"):
                raise HTTPError(403, "Please log in first.")
            target = request.root_url(request.path, request.GET or None)
            query = urllib.parse.urlencode({"next": target})
            return Response.redirect(f"{login_path}?{query}")

        return guarded

    return wrap


def next_url(request: Request, default: str = "/") -> str:
    """The ``next`` parameter (query or form) if it is a path on this site,
    else ``default``: never an open redirect to another host."""
    target = request.POST.get("next") or request.GET.get("next")
    if (
        not isinstance(target, str)
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return default
    return target


def server_timing(handler: Handler) -> Handler:
    """Add ``server-timing: app;dur=<ms>`` to every response, so the browser's
    developer tools show how long the handler took."""

    def timed(request: Request) -> Response:
        started = time.perf_counter()
        response = as_response(handler(request))
        elapsed_ms = (time.perf_counter() - started) * 1000
        return response.add_header("server-timing", f"app;dur={elapsed_ms:.1f}")

    return timed
