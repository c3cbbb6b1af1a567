"""A WSGI application as a kali handler (PEP 3333): :func:`from_wsgi`.

The Request becomes an environ (``SCRIPT_NAME`` from the Router's mount
point, ``wsgi.input`` holding exactly the body, ``wsgi.errors`` logging to
the ``kali`` logger), the app's status, headers and body become a Response,
and the app's iterable is always closed. Runs on kali's single server
thread, so the app is never called concurrently. No sockets here.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Optional

from ..request import Request
from ..response import HTML_TYPE, Response
from ..security import split_host
from ..version import __version__
from .application import HOP_BY_HOP, Environ, WSGIApplication

log = logging.getLogger("kali")

ExcInfo = tuple[type[BaseException], BaseException, Optional[TracebackType]]

#: from_wsgi keeps a response body in memory up to this size, so that an
#: error half-way through can still become an error page; a longer body is
#: streamed to the client while the app produces it.
DEFAULT_BUFFER_BYTES = 1024 * 1024

_STATUS = re.compile(r"([1-5][0-9][0-9]) [^\r\n]*\Z")


class LogStream(io.TextIOBase):
    """``wsgi.errors``: text written here is logged to the kali logger, one
    ERROR record per ``flush()`` (a logging handler writes a record, then
    flushes; so does a traceback printer)."""

    def __init__(self, logger: logging.Logger = log) -> None:
        super().__init__()
        self._logger = logger
        self._pending: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        text = "".join(self._pending).rstrip("\n")
        self._pending.clear()
        if text.strip():
            self._logger.error("%s", text)


def _path_part(components: list[str]) -> str:
    # PEP 3333: PATH_INFO and SCRIPT_NAME are the decoded bytes, as latin-1.
    return "".join("/" + c.encode("utf-8").decode("latin-1") for c in components)


def make_environ(
    request: Request,
    *,
    url_scheme: str = "http",
    errors: LogStream | IO[str] | None = None,
) -> Environ:
    """The WSGI environ for ``request`` (PEP 3333).

    When a Router mounted the WSGI app below a prefix (``request.mount_depth``)
    that prefix is ``SCRIPT_NAME`` and the rest is ``PATH_INFO``, so the app's
    own URLs include the prefix. ``SERVER_NAME``/``SERVER_PORT`` come from the
    Host header. ``wsgi.input`` holds exactly the body (a spooled body is
    passed as its temporary file, rewound).
    """
    default_port = "443" if url_scheme == "https" else "80"
    server_name, server_port = "localhost", default_port
    host = split_host(request.headers.get("host") or "")
    if host is not None:
        server_name = host[0]
        server_port = str(host[1]) if host[1] is not None else default_port
    depth = request.mount_depth
    script_name = _path_part(request.path[:depth])
    path_info = _path_part(request.path[depth:])
    if script_name.endswith("/"):  # mounted at '/': SCRIPT_NAME is never '/'
        script_name, path_info = script_name[:-1], "/" + path_info
    body_file = request.body_file
    stream: IO[bytes]
    if body_file is not None:
        stream = body_file
        stream.seek(0, io.SEEK_END)
        length = stream.tell()
        stream.seek(0)
    else:
        data = request.body
        stream, length = io.BytesIO(data), len(data)
    environ: Environ = {
        "REQUEST_METHOD": request.command,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": request.url.query,
        "REQUEST_URI": request.uri,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": request.protocol,
        "SERVER_SOFTWARE": f"kali/{__version__}",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url_scheme,
        "wsgi.input": stream,
        "wsgi.input_terminated": True,
        "wsgi.errors": errors if errors is not None else LogStream(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if request.client_address:
        environ["REMOTE_ADDR"] = str(request.client_address[0])
        if len(request.client_address) > 1:
            environ["REMOTE_PORT"] = str(request.client_address[1])
    if length:
        environ["CONTENT_LENGTH"] = str(length)
    content_type = request.headers.get("content-type")
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    for name, value in request.headers.items():
        # A name with "_" would collide with one with "-" in CGI variables
        # (a classic way to spoof a header a proxy set): drop it.
        if name in ("content-type", "content-length") or "_" in name:
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            joiner = "; " if name == "cookie" else ", "
            environ[key] = f"{environ[key]}{joiner}{value}"
        else:
            environ[key] = value
    return environ


class _Exchange:
    """One call of a WSGI app: start_response, write() and the body chunks,
    with PEP 3333's rules on when the status may still change."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.headers_sent = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a reference cycle
        elif self.status is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        if not isinstance(status, str) or not _STATUS.match(status):
            raise ValueError(f"bad WSGI status {status!r}")
        self.status = status
        self.headers = [(str(name), str(value)) for name, value in headers]
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: the data goes before the body."""
        self.add(data)

    def add(self, chunk: bytes) -> None:
        if not isinstance(chunk, bytes):
            raise TypeError(f"a WSGI body yielded {type(chunk).__name__}, not bytes")
        if self.status is None:
            raise RuntimeError("the WSGI app sent a body before start_response()")
        if chunk:
            self.headers_sent = True
            self.chunks.append(chunk)

    def take(self) -> list[bytes]:
        chunks, self.chunks = self.chunks, []
        return chunks

    def response(self, stream: Iterable[bytes] | None = None) -> Response:
        if self.status is None:
            raise RuntimeError("the WSGI app returned without calling start_response()")
        code = int(self.status[:3])
        content_type: str | None = None
        headers: list[tuple[str, str]] = []
        for name, value in self.headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue  # kali frames the message itself
            if lower == "content-type" and stream is not None:
                content_type = value
                continue
            headers.append((name, value))
        if stream is None:
            return Response(self.take(), code=code, headers=headers)
        return Response.stream(
            stream, content_type=content_type or HTML_TYPE, code=code, headers=headers
        )


def _close(result: object) -> None:
    closer = getattr(result, "close", None)
    if closer is not None:
        closer()


class WSGIHandler:
    """A WSGI application as a kali handler; made by :func:`from_wsgi`."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        url_scheme: str = "http",
        max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        logger: logging.Logger | None = None,
    ) -> None:
        if url_scheme not in ("http", "https"):
            raise ValueError(
                f"url_scheme must be 'http' or 'https', not {url_scheme!r}"
            )
        self.app = app
        self.url_scheme = url_scheme
        self.max_buffer_bytes = max_buffer_bytes
        self.log = logger or log

    def __repr__(self) -> str:
        return f"<kali handler for WSGI app {self.app!r}>"

    def __call__(self, request: Request) -> Response:
        errors = LogStream(self.log)
        environ = make_environ(request, url_scheme=self.url_scheme, errors=errors)
        exchange = _Exchange()
        try:
            result = self.app(environ, exchange.start_response)
        except BaseException:
            errors.flush()
            raise
        streaming = False
        try:
            size = sum(map(len, exchange.chunks))
            iterator = iter(result)
            for chunk in iterator:
                exchange.add(chunk)
                size += len(chunk)
                if size > self.max_buffer_bytes:
                    if request.command == "HEAD":  # no body to send: stop here
                        exchange.take()
                        return exchange.response(iter(()))
                    rest = self._rest(exchange, iterator, result, errors)
                    response = exchange.response(rest)
                    streaming = True  # _rest closes the app's iterable now
                    return response
            return exchange.response()
        finally:
            if not streaming:
                try:
                    _close(result)
                finally:
                    errors.flush()

    def _rest(
        self,
        exchange: _Exchange,
        iterator: Iterator[bytes],
        result: Iterable[bytes],
        errors: LogStream,
    ) -> Iterator[bytes]:
        """The body of a streamed response: what was buffered, then the rest
        as the app produces it; the app's iterable is closed at the end.

        The status line is gone already, so an exception from the app can
        only be logged and the body cut short.
        """
        try:
            yield from exchange.take()
            for chunk in iterator:
                exchange.add(chunk)
                yield from exchange.take()
            yield from exchange.take()
        except Exception:
            self.log.exception("The WSGI app failed half-way through its body")
        finally:
            try:
                _close(result)
            finally:
                errors.flush()


def from_wsgi(
    app: WSGIApplication,
    *,
    url_scheme: str = "http",
    max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    logger: logging.Logger | None = None,
) -> WSGIHandler:
    """A kali handler that answers with the WSGI application ``app``.

    Mount it anywhere a handler goes (``serve_http``, ``router.delegate``:
    the mount point becomes ``SCRIPT_NAME``). ``url_scheme`` is what the app
    sees as ``wsgi.url_scheme`` ("https" when serving with an ssl_context);
    ``wsgi.errors`` goes to ``logger`` (default: the ``kali`` logger).

    A body of up to ``max_buffer_bytes`` is collected before anything is sent,
    so an exception in the app, even half-way through its body, is a 500 page;
    a longer body is streamed as the app yields it, without Content-Length
    (an error then truncates it). Status codes keep kali's reason phrases;
    hop-by-hop headers and Content-Length are left to kali; a header value
    with CR or LF is a 500 (Response refuses it).
    """
    return WSGIHandler(
        app, url_scheme=url_scheme, max_buffer_bytes=max_buffer_bytes, logger=logger
    )
