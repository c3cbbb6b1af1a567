"""A kali handler as a WSGI application (PEP 3333): :func:`to_wsgi`.

The environ becomes a request head and a body reader (the body read to
exactly CONTENT_LENGTH and spooled when big), the one request pipeline
(``kali.handling.Pipeline``, as the server loop uses it) checks, builds the
Request and runs the handler, and the Response becomes the status, headers
and body iterable. This module must not touch sockets, and repeats no step
of the pipeline; the WSGI server owns the connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from ..errors import ProtocolError
from ..handling import (
    Answer,
    AppOptions,
    ErrorPage,
    Handler,
    Pipeline,
    PlainHead,
    app_options,
)
from ..protocol import Limits
from ..request import Request
from ..response import Response
from ..security import SecurityPolicy

#: The WSGI environ, start_response and application signatures (PEP 3333).
Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

#: RFC 9110 7.6.1: connection-specific fields, which PEP 3333 forbids an
#: application to send; the server that owns the connection decides them.
HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization te trailers"
    " transfer-encoding upgrade".split()
)
#: Read request bodies from ``wsgi.input`` in blocks of this size.
READ_BYTES = 64 * 1024
#: to_wsgi's Host check allows the loopback names, as a server bound here.
LOOPBACK = "127.0.0.1"
#: Security policies kept per adapter, one per (port, scheme) seen; a server
#: reporting ever new ports (none does) gets a fresh one each time instead.
MAX_POLICIES = 8

_DIGITS = re.compile(r"[0-9]+\Z")


def request_target(environ: Environ) -> str:
    """The request-target for kali's Request.

    Without a SCRIPT_NAME, the raw target the server saw (``REQUEST_URI`` or
    ``RAW_URI``) is used when given, so ``%2F`` stays distinct from ``/``.
    Otherwise the target is rebuilt from ``PATH_INFO`` (re-quoted) and
    ``QUERY_STRING``: an app mounted under a prefix sees only the path below
    the prefix.
    """
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw and not environ.get("SCRIPT_NAME"):
        return str(raw)
    path_info = str(environ.get("PATH_INFO") or "/")
    try:
        path_bytes = path_info.encode("latin-1")  # PEP 3333: bytes as latin-1
    except UnicodeEncodeError:
        path_bytes = path_info.encode("utf-8")
    target = urllib.parse.quote(path_bytes, safe="/:@!$&'()*+,;=")
    if not target.startswith("/"):
        target = "/" + target
    query = str(environ.get("QUERY_STRING") or "")
    return f"{target}?{query}" if query else target


def request_headers(environ: Environ) -> list[tuple[str, str]]:
    """The request header fields: ``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``."""
    pairs = [
        (key[5:].replace("_", "-").lower(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
        and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(key)
        if value:
            pairs.append((key.lower().replace("_", "-"), str(value)))
    return pairs


def read_body(environ: Environ, limits: Limits) -> bytes | IO[bytes]:
    """Read exactly CONTENT_LENGTH bytes of ``wsgi.input`` (PEP 3333 forbids
    reading more), spooling a big body to a temporary file as the server
    does. Without CONTENT_LENGTH the body is empty, unless the server says
    ``wsgi.input_terminated`` (a chunked request), then it is read to EOF.

    Raises ProtocolError: 400 for a bad length or a short body, 413 for a
    body over ``limits.max_body_bytes``.
    """
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    length: int | None
    if text:
        if not _DIGITS.match(text):
            raise ProtocolError("The Content-Length is not a number.")
        length = int(text)
    elif environ.get("wsgi.input_terminated"):
        length = None
    else:
        return b""
    if length == 0:
        return b""
    if length is not None and length > limits.max_body_bytes:
        raise ProtocolError("The request body is too large.", 413)
    stream = environ["wsgi.input"]
    spool: IO[bytes] | None = None
    buffer = bytearray()
    got = 0
    try:
        while length is None or got < length:
            want = READ_BYTES if length is None else min(READ_BYTES, length - got)
            data = stream.read(want)
            if not data:
                if length is None:
                    break
                raise ProtocolError("The request body ended early.")
            got += len(data)
            if got > limits.max_body_bytes:
                raise ProtocolError("The request body is too large.", 413)
            if spool is None and got > limits.max_form_memory_bytes:
                spool = tempfile.SpooledTemporaryFile(
                    max_size=limits.max_form_memory_bytes
                )
                spool.write(buffer)
                buffer = bytearray()
            if spool is not None:
                spool.write(data)
            else:
                buffer += data
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if spool is None:
        return bytes(buffer)
    spool.seek(0)
    return spool


def _client_address(environ: Environ) -> tuple[str, int] | None:
    address = environ.get("REMOTE_ADDR")
    if not address:
        return None
    port = str(environ.get("REMOTE_PORT") or "")
    return str(address), int(port) if _DIGITS.match(port) else 0


class _Body:
    """The WSGI iterable for a kali Response: its chunks (nothing for HEAD);
    ``close()`` releases the response and the request's temporary files."""

    def __init__(
        self,
        response: Response,
        request: Request | None,
        lock: contextlib.AbstractContextManager[Any],
        *,
        head_only: bool,
    ) -> None:
        self._response = response
        self._request = request
        self._lock = lock
        self._chunks: Iterator[bytes] = iter(()) if head_only else response.iter_body()

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        # A stream body runs app code while it is iterated: hold the lock, so
        # the app never runs on two threads at once.
        with self._lock:
            return next(self._chunks)

    def close(self) -> None:
        try:
            closer = getattr(self._chunks, "close", None)
            if closer is not None:
                with self._lock:
                    closer()
        finally:
            self._response.close()
            if self._request is not None:
                self._request.close()


class _FileSpan:
    """A file body's span as a file-like object for ``wsgi.file_wrapper``;
    closing it releases the response (which closes the file only if it owns
    it) and the request."""

    def __init__(
        self,
        response: Response,
        request: Request | None,
        span: tuple[IO[bytes], int, int],
    ) -> None:
        self._response = response
        self._request = request
        self._file, offset, self._remaining = span
        self._file.seek(offset)

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._remaining:
            size = self._remaining
        data = self._file.read(size) if size else b""
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._response.close()
        if self._request is not None:
            self._request.close()


class WSGIAdapter:
    """A kali handler as a WSGI application; made by :func:`to_wsgi`."""

    def __init__(
        self,
        handler: Handler,
        *,
        debug: bool = False,
        error_page: ErrorPage | None = None,
        limits: Limits | None = None,
        logger: logging.Logger | None = None,
        security: bool = True,
        allowed_hosts: Iterable[str] | None = (),
        serialize: bool = True,
        options: AppOptions | None = None,
    ) -> None:
        options = app_options(
            options, debug=debug, error_page=error_page, logger=logger
        )
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of hosts, not one str")
        self.handler = handler
        self.security = security
        #: The Host allowlist beyond the loopback names; None: no Host check.
        self.allowed_hosts = None if allowed_hosts is None else tuple(allowed_hosts)
        if security and self.allowed_hosts is not None:  # bad entries fail now
            SecurityPolicy.for_server(LOOPBACK, 0, allowed_hosts=self.allowed_hosts)
        # One policy per (port, scheme) the server reports: a server has one
        # or two. Filled while serving; the GIL keeps its dict consistent.
        self._policies: dict[tuple[int, str], SecurityPolicy] = {}
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if serialize else contextlib.nullcontext()
        )
        # The app's own code (the handler, its error_page, an iolist they
        # return) runs under the lock; reading bodies and the checks do not.
        self.pipeline = Pipeline(
            self._locked_handler,
            dataclasses.replace(
                options,
                error_page=None if options.error_page is None else self._locked_page,
            ),
            limits,
        )
        #: The options as given.
        self.options = options

    def __repr__(self) -> str:
        return f"<kali WSGI application for {self.handler!r}>"

    def _locked_handler(self, request: Request) -> Response:
        with self._lock:
            result = self.handler(request)
            return result if isinstance(result, Response) else Response(result)

    def _locked_page(
        self, request: Request | None, status: int, message: str
    ) -> Response:
        error_page = self.options.error_page
        assert error_page is not None
        with self._lock:
            result = error_page(request, status, message)
            if isinstance(result, Response):
                return result
            return Response(result, code=status)

    def _policy(self, environ: Environ) -> SecurityPolicy | None:
        """kali's localhost policy for the server that gave ``environ``:
        its port (``SERVER_PORT``) and scheme; None with ``security=False``."""
        if not self.security:
            return None
        port_text = str(environ.get("SERVER_PORT") or "0")
        port = int(port_text) if _DIGITS.match(port_text) else 0
        scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
        policy = self._policies.get((port, scheme))
        if policy is None:
            if self.allowed_hosts is None:  # the proxy checks the Host
                policy = SecurityPolicy(port=port, allowed_hosts=None, scheme=scheme)
            else:
                policy = SecurityPolicy.for_server(
                    LOOPBACK, port, allowed_hosts=self.allowed_hosts, scheme=scheme
                )
            if len(self._policies) < MAX_POLICIES:
                self._policies[port, scheme] = policy
        return policy

    def _respond(self, environ: Environ) -> Answer:
        head = PlainHead(
            str(environ.get("REQUEST_METHOD") or "GET"),
            request_target(environ),
            str(environ.get("SERVER_PROTOCOL") or "HTTP/1.0"),
            request_headers(environ),
        )
        limits = self.pipeline.limits
        return self.pipeline.handle(
            head,
            lambda: read_body(environ, limits),
            self._policy(environ),
            _client_address(environ),
        )

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        response, request = self._respond(environ)
        if response.shut_down:
            self.pipeline.log.info("shut_down is ignored under a WSGI server.")
        headers = [
            (name, value) for name, value in response.headers if name not in HOP_BY_HOP
        ]
        try:
            start_response(f"{response.code} {response.reason}", headers)
        except BaseException:
            response.close()
            if request is not None:
                request.close()
            raise
        head_only = environ.get("REQUEST_METHOD") == "HEAD"
        span = response.file_span
        file_wrapper = environ.get("wsgi.file_wrapper")
        if span is not None and file_wrapper is not None and not head_only:
            wrapped: Iterable[bytes] = file_wrapper(
                _FileSpan(response, request, span), READ_BYTES
            )
            return wrapped
        return _Body(response, request, self._lock, head_only=head_only)


def to_wsgi(
    handler: Handler,
    *,
    debug: bool = False,
    error_page: ErrorPage | None = None,
    limits: Limits | None = None,
    logger: logging.Logger | None = None,
    security: bool = True,
    allowed_hosts: Iterable[str] | None = (),
    serialize: bool = True,
    options: AppOptions | None = None,
    cors_origins: Iterable[str] = (),
    cors_credentials: bool = False,
) -> WSGIAdapter:
    """A WSGI application that answers with ``handler`` as ``serve_http`` would.

    ``debug``, ``error_page``, ``limits`` and ``logger`` mean what they mean
    for ``serve_http``: the handler runs inside the server's error boundary
    (HTTPError pages, 500 pages), bodies obey the size limits and big ones
    are spooled to a temporary file.

    ``security=True`` applies kali's localhost policy, as ``serve_http``
    does, whatever the WSGI server (``wsgiref`` checks nothing): the Host
    header must name ``localhost``, ``127.0.0.1``, ``[::1]`` or an entry of
    ``allowed_hosts`` (a name, or a ``name:port`` pair), with no port or the
    server's own (``SERVER_PORT``), else 403 (DNS rebinding); and a POST (any
    method but GET/HEAD) whose Origin or Referer is another site gets 403.
    Behind a proxy, list the public name (``allowed_hosts=["app.example"]``)
    or leave the Host check to the proxy with ``allowed_hosts=None`` (the
    cross-site check stays); ``security=False`` turns both off. A malformed
    entry is a ValueError here.

    ``serialize=True`` lets only one thread at a time into the
    app (a kali app is written for one thread; most WSGI servers use several).
    ``options`` (a :class:`~kali.handling.AppOptions`) may stand for
    ``debug``, ``error_page`` and ``logger``. ``cors_origins`` and
    ``cors_credentials`` invite other origins as in ``serve_http`` (CORS).

    The returned iterable must be closed (every WSGI server does): that
    releases the request's temporary files. HEAD answers carry no body; a
    ``shut_down`` response is ignored.
    """
    if cors_origins or cors_credentials:
        from ..cors import cors_policy

        options = app_options(
            options,
            debug=debug,
            error_page=error_page,
            logger=logger,
            cors=cors_policy(cors_origins, credentials=cors_credentials),
        )
        debug, error_page, logger = False, None, None
    return WSGIAdapter(
        handler,
        debug=debug,
        error_page=error_page,
        limits=limits,
        logger=logger,
        security=security,
        allowed_hosts=allowed_hosts,
        serialize=serialize,
        options=options,
    )
