"""A path prefix forwarded to another HTTP server on this machine.

Mount a :class:`Proxy` and the requests under its prefix go to another
local server, and its answers come back as if kali had made them: a
front-end dev server (Vite, webpack) behind ``/``, or a legacy app behind
``/api/``, on the app's own origin::

    app.delegate_folder("/api/", Proxy("http://127.0.0.1:5000/"))

What is forwarded: the method, the path below the mount point and the query
as the browser sent them, the headers without the hop-by-hop ones (RFC 9110
7.6.1) and with ``Host`` rewritten to the target's, plus
``X-Forwarded-For``, ``-Host``, ``-Proto`` and ``-Prefix``; the body, read
from kali's spooled file in pieces. The answer's status and headers come back
(hop-by-hop ones removed, a ``Location`` on the target rewritten under the
prefix), and its body is streamed to the browser as it arrives
(``Response.stream``, with the other server's ``content-length`` when it
gave one; without, HTTP/1.0 ends it by closing).

**The loop waits for a proxied request.** kali serves one request at a time,
so while the other server thinks, every other tab of the app waits too. So
it is bounded: ``connect_timeout`` for the connection, ``read_timeout`` for
each wait on the other server (its answer's head, each piece of its body),
and ``max_seconds`` for the whole exchange. A refused connection or a
malformed answer is a 502, a timeout before the answer's head a 504; a body
cut short after the head was sent ends the connection abruptly, so the
browser sees a failure, not a short file. WebSocket upgrades (a dev
server's hot reload) are not forwarded.

Only loopback targets (``localhost``, ``127.0.0.0/8``, ``::1``) are allowed,
unless the app names another host in ``allow_hosts``: a proxy must not make
the app an open door to the network. ValueError at construction otherwise.
This module never imports ``socket`` (``http.client`` makes the connection)
and keeps no global state.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import IO

from .request import Request
from .response import Response

__all__ = ["HOP_BY_HOP", "Proxy"]

log = logging.getLogger("kali")

#: RFC 9110 7.6.1 (and RFC 2616 13.5.1's list): these describe one
#: connection, never the message, so a proxy drops them (plus any header the
#: Connection field names).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers kali sets itself when forwarding.
_REPLACED = frozenset(
    {
        "host",
        "content-length",
        "expect",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-prefix",
    }
)
#: Pieces of the body read and written at a time.
CHUNK_BYTES = 64 * 1024
#: A loopback server accepts or refuses at once; 2 s covers a busy machine.
DEFAULT_CONNECT_TIMEOUT = 2.0
#: Each wait on the other server: its answer's head (a dev server compiling
#: a page on first request takes a few seconds), each piece of its body.
DEFAULT_READ_TIMEOUT = 10.0
#: The whole exchange, body included: the longest the loop is held.
DEFAULT_MAX_SECONDS = 60.0


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name or an IP literal, brackets allowed) this machine?"""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True  # RFC 6761 6.3: always the loopback
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_timeout(error: BaseException) -> bool:
    # socket.timeout is TimeoutError from Python 3.10; on 3.9 it is a plain
    # OSError subclass named "timeout" (this module does not import socket).
    return isinstance(error, TimeoutError) or type(error).__name__ == "timeout"


class Proxy:
    """A handler forwarding every request to ``target`` (``http://host:port``
    with an optional base path, e.g. ``"http://127.0.0.1:5173/"``).

    ``allow_hosts``: non-loopback hosts the app explicitly allows. Timeouts
    in seconds: ``connect_timeout``, ``read_timeout`` (each wait),
    ``max_seconds`` (the whole exchange). ``logger`` defaults to ``kali``.
    Raises ValueError for a target that is not ``http://``, has no host, has a
    query or fragment, or is not loopback nor in ``allow_hosts``; and for
    timeouts that are not positive.
    """

    def __init__(
        self,
        target: str,
        *,
        allow_hosts: Iterable[str] = (),
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        logger: logging.Logger | None = None,
    ) -> None:
        if isinstance(allow_hosts, str):
            raise TypeError("allow_hosts is a list of host names, not one string")
        parts = urllib.parse.urlsplit(target)
        if parts.scheme != "http":
            raise ValueError(f"the proxy target must be an http:// URL: {target!r}")
        if not parts.hostname or parts.query or parts.fragment or parts.username:
            raise ValueError(
                f"the proxy target must be http://host[:port][/path]: {target!r}"
            )
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError(f"the proxy target has a bad port: {target!r}") from None
        allowed = {host.strip("[]").lower() for host in allow_hosts}
        if not is_loopback(parts.hostname) and parts.hostname.lower() not in allowed:
            raise ValueError(
                f"{parts.hostname} is not this machine: a proxy forwards to "
                "loopback only, unless allow_hosts names the host"
            )
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("max_seconds", max_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        self.host = parts.hostname
        self.port = port
        self.base_path = parts.path.rstrip("/")
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_seconds = float(max_seconds)
        self.log = logger or log
        literal = f"[{self.host}]" if ":" in self.host else self.host
        #: The Host header sent, and the origin the target's Locations use.
        self.authority = literal if port == 80 else f"{literal}:{port}"
        self.origin = f"http://{self.authority}"

    def __repr__(self) -> str:
        return f"<Proxy {self.origin}{self.base_path}/>"

    # -- the request ---------------------------------------------------------------

    def target_for(self, request: Request) -> str:
        """The target sent upstream: the base path, then the part of the
        request's path below its mount point, as the browser sent it
        (percent-encoding kept), then the query."""
        raw = request.url.path or "/"
        components = raw[1:].split("/") if raw.startswith("/") else raw.split("/")
        # Skip the mount's components; a %2F inside one counts as a slash,
        # as the Router counted it when it decoded the path.
        skipped = 0
        index = 0
        while index < len(components) and skipped < request.mount_depth:
            skipped += urllib.parse.unquote(components[index]).count("/") + 1
            index += 1
        rest = "/".join(components[index:])
        target = f"{self.base_path}/{rest}"
        if request.url.query:
            target += "?" + request.url.query
        return target

    def mount_prefix(self, request: Request) -> str:
        """The path of the mount point, ending with ``/``."""
        return request.root_url(request.path[: request.mount_depth] + [""])

    def forwarded_headers(self, request: Request) -> list[tuple[str, str]]:
        """The request's headers as sent upstream."""
        named = {
            token.strip().lower()
            for value in request.headers.get_list("connection")
            for token in value.split(",")
        }
        drop = HOP_BY_HOP | _REPLACED | named
        headers = [
            (name, value) for name, value in request.headers.items() if name not in drop
        ]
        headers.append(("host", self.authority))
        address = request.client_address
        client = str(address[0]) if address else ""
        earlier = request.headers.get("x-forwarded-for")
        if client:
            chain = f"{earlier}, {client}" if earlier else client
            headers.append(("x-forwarded-for", chain))
        host = request.headers.get("host")
        if host:
            headers.append(("x-forwarded-host", host))
        headers.append(("x-forwarded-proto", request.scheme))
        headers.append(("x-forwarded-prefix", self.mount_prefix(request).rstrip("/")))
        return headers

    # -- the exchange --------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        target = self.target_for(request)
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=self.connect_timeout
        )
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(self.read_timeout)
            try:
                self._send(connection, request, target)
            except OSError as error:  # it may have answered early (413...)
                self.log.info("Proxy %s: sending the body failed: %s", target, error)
            upstream = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return self._refuse(request, target, error)
        except BaseException:
            connection.close()
            raise
        return self._answer(request, connection, upstream, started)

    def _send(
        self, connection: http.client.HTTPConnection, request: Request, target: str
    ) -> None:
        connection.putrequest(
            request.command, target, skip_host=True, skip_accept_encoding=True
        )
        for name, value in self.forwarded_headers(request):
            connection.putheader(name, value)
        stream: IO[bytes] | None = request.body_file
        body = b"" if stream is not None else request.body
        length = _length(stream) if stream is not None else len(body)
        if length or request.command in ("POST", "PUT", "PATCH"):
            connection.putheader("content-length", str(length))
        connection.endheaders()
        if stream is None:
            if body:
                connection.send(body)
            return
        stream.seek(0)
        while True:
            piece = stream.read(CHUNK_BYTES)
            if not piece:
                break
            connection.send(piece)

    def _refuse(self, request: Request, target: str, error: BaseException) -> Response:
        """A 504 for a timeout, else a 502; the reason goes to the log."""
        status = 504 if _is_timeout(error) else 502
        self.log.warning(
            "Proxy %s %s%s: %s",
            request.command,
            self.origin,
            target,
            error or type(error).__name__,
        )
        message = (
            "The server behind this address did not answer in time."
            if status == 504
            else "The server behind this address is not answering properly."
        )
        return Response.error_page(status, message)

    def _answer(
        self,
        request: Request,
        connection: http.client.HTTPConnection,
        upstream: http.client.HTTPResponse,
        started: float,
    ) -> Response:
        named = {
            token.strip().lower()
            for value in upstream.headers.get_all("connection") or ()
            for token in value.split(",")
        }
        drop = HOP_BY_HOP | named | {"content-length"}
        headers = []
        for name, value in upstream.headers.items():
            lower = name.lower()
            if lower in drop:
                continue
            if lower == "location":
                value = self._relocate(request, value)
            headers.append((lower, value))
        if not any(name == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/octet-stream"))
        status = upstream.status
        if not 100 <= status <= 599 or 100 <= status < 200:
            connection.close()
            return self._refuse(
                request, "", http.client.HTTPException(f"status {status}")
            )
        try:
            # The other server's length, when it gave one (http.client has
            # checked it): kept, and a body that falls short of it resets.
            length = upstream.length if request.command != "HEAD" else None
            response = Response.stream(
                _Answer(self._body(connection, upstream, started), connection),
                code=status,
                headers=headers,
                content_length=length,
            )
        except ValueError as error:  # a header kali will not send
            connection.close()
            return self._refuse(request, "", error)
        return response

    def _body(
        self,
        connection: http.client.HTTPConnection,
        upstream: http.client.HTTPResponse,
        started: float,
    ) -> Iterator[bytes]:
        """The answer's body as it arrives; raises (the connection is then
        reset) when the other server stalls or the exchange takes too long."""
        try:
            while True:
                piece = upstream.read1(CHUNK_BYTES)
                if not piece:
                    return
                if upstream.isclosed():  # all of a known length is in:
                    connection.close()  # let go now, not when this is dropped
                yield piece
                if time.monotonic() - started > self.max_seconds:
                    raise TimeoutError(
                        f"the proxied answer took over {self.max_seconds:g} s"
                    )
        finally:
            upstream.close()
            connection.close()

    def _relocate(self, request: Request, location: str) -> str:
        """A ``Location`` pointing into the target, moved under the prefix."""
        base = self.origin + self.base_path
        path = location
        if location.startswith(base):
            path = location[len(base) :]
        elif not location.startswith(self.base_path + "/"):
            return location  # elsewhere: leave it
        else:
            path = location[len(self.base_path) :]
        if not path.startswith("/"):
            return location
        return self.mount_prefix(request).rstrip("/") + path


class _Answer:
    """The body of a proxied answer, closable before it was ever iterated
    (an empty or HEAD answer): ``close()`` lets go of the other server's
    connection whether or not the generator started."""

    __slots__ = ("_pieces", "_connection")

    def __init__(
        self, pieces: Iterator[bytes], connection: http.client.HTTPConnection
    ) -> None:
        self._pieces = pieces
        self._connection = connection

    def __iter__(self) -> Iterator[bytes]:
        return self._pieces

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        self._connection.close()


def _length(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    length = stream.tell()
    stream.seek(0)
    return length
