"""A WSGI application as a kali handler (PEP 3333): :func:`from_wsgi`.

The Request becomes an environ (``SCRIPT_NAME`` from the Router's mount
point, ``wsgi.input`` holding exactly the body, ``wsgi.errors`` logging to
the ``kali`` logger), the app's status, headers and body become a Response,
and the app's iterable is always closed (``kali.wsgi.answer`` makes the
Response: what the app yields is sent when it yields it, with the app's
Content-Length). Runs on kali's single server thread, so the app is never
called concurrently. No sockets here.
"""

from __future__ import annotations

import io
import logging
from typing import IO

from ..request import Request
from ..response import Response
from ..security import split_host
from ..version import __version__
from .answer import AppBody, Exchange, FileWrapper, answer
from .application import Environ, WSGIApplication

log = logging.getLogger("kali")

#: from_wsgi sends a generated body as the app yields it (0 bytes held
#: back), as gunicorn and waitress do: server-sent events and progress
#: lines must not wait for a buffer to fill. A larger value holds that much
#: back, so that an error within it can still become an error page.
DEFAULT_BUFFER_BYTES = 0


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
        "wsgi.file_wrapper": FileWrapper,
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
        if (
            isinstance(max_buffer_bytes, bool)
            or not isinstance(max_buffer_bytes, int)
            or max_buffer_bytes < 0
        ):
            raise ValueError(
                f"max_buffer_bytes must be an int >= 0, not {max_buffer_bytes!r}"
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
        exchange = Exchange()
        try:
            result = self.app(environ, exchange.start_response)
        except BaseException:
            errors.flush()
            raise
        body = AppBody(result, errors.flush)
        try:
            return answer(
                exchange,
                body,
                head_only=request.command == "HEAD",
                max_buffer_bytes=self.max_buffer_bytes,
            )
        except BaseException:
            body.close()
            raise


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

    The body goes out as the app yields it, as gunicorn and waitress do: a
    route yielding server-sent events reaches the browser event by event.
    The app's Content-Length is kept (HEAD included); a body that ends
    before it, or an app that fails once its body has begun, makes the
    server reset the connection, so the client sees a failure rather than a
    short download that looks complete. A regular file returned through
    ``wsgi.file_wrapper`` (Flask's ``send_file``) is sent with
    ``os.sendfile``. ``max_buffer_bytes`` (default 0) holds up to that many
    bytes of a generated body before sending, so that an error within them
    is still a 500 page. Status codes keep kali's reason phrases; hop-by-hop
    headers are left to kali; a header value with CR or LF is a 500.

    A streaming response holds kali's single thread until it ends: other
    requests wait. Long work belongs in ``kali.jobs``, with a page that
    polls for its progress.
    """
    return WSGIHandler(
        app, url_scheme=url_scheme, max_buffer_bytes=max_buffer_bytes, logger=logger
    )
