"""One accepted connection: read its request and send the answer, under deadlines.

The loop (``kali.server``) binds and accepts; all that happens on one
accepted socket happens in one :class:`Connection` (as in h11, but blocking):
the TLS handshake, reading the head and body through the sans-IO parser of
``kali.protocol``, handing them to the one request pipeline
(``kali.handling.Pipeline``), sending the answer (a small one in a single
send() that never waits, more under a stall deadline, files with
``sendfile``) and closing (after a half-close and a drain when the client
may still be sending, so it sees the answer, not a reset). :class:`Timeouts`
bound every wait.

Rules: the app is reached only through the pipeline; no exception of any
type leaves :meth:`Connection.serve` (it is logged once, answered with a 500
if nothing was sent yet, else the connection is reset); nothing here knows
the listening socket, the scheduler or how the app was launched.
"""

from __future__ import annotations

import itertools
import logging
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, Protocol

from .errors import ProtocolError
from .handling import Pipeline, build_request, printable
from .protocol import HeadParser, Limits, RequestHead, plain_head
from .request import Request
from .response import Response
from .security import SecurityPolicy

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("kali")

MIB = 1024 * 1024
RECV_BYTES = 64 * 1024
#: A response this small always fits in a fresh socket's send buffer
#: (Linux starts at 16 KiB), so sending it never waits for the client.
SURE_SEND_BYTES = 16 * 1024
#: A body up to this size goes out in the same write as the head.
SMALL_BODY_BYTES = 256 * 1024

#: The flag for one call that never waits on a blocking socket; 0 where the
#: platform has none (Windows), and then kali always waits with a timeout.
NO_WAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


#: What a call with NO_WAIT raises when it would have had to wait.
WOULD_WAIT = (BlockingIOError, InterruptedError)


def can_skip_waits(client: socket.socket) -> bool:
    """True when ``client`` may be read and written with :data:`NO_WAIT`:
    a plain, blocking socket (not TLS, no timeout set), not on Windows.

    With TCP_DEFER_ACCEPT a request is normally there at accept(): one recv()
    replaces a timeout setup, a poll() and a recv(); and a small response
    fits the fresh socket's buffer, so one send() does the same for sending.
    """
    return (
        bool(NO_WAIT)
        and type(client) is socket.socket
        and (client.gettimeout() is None)
    )


@dataclass(frozen=True)
class Timeouts:
    """Deadlines, in seconds, that keep one client from stalling the loop."""

    #: Silence this long after accept() means a browser pre-connection: close
    #: it without a reply. (The ``timeout`` argument of serve_http.)
    first_packet: float = 0.5
    #: Longest silence between two packets of the request head; then 408.
    head_gap: float = 0.5
    #: The whole head must arrive within this long; then 408.
    head_total: float = 2.0
    #: Longest silence between two packets of the body; then 408.
    body_gap: float = 2.0
    #: The body must arrive within ``body_base + body_per_mib * MiB``, capped
    #: at ``body_cap`` (a 64 MiB upload may take a minute on a slow disk VM).
    body_base: float = 5.0
    body_per_mib: float = 1.0
    body_cap: float = 120.0
    #: Sending may make no progress for this long before the connection is
    #: dropped (a client that stopped reading).
    send_stall: float = 5.0
    #: After an early answer (413, 403...), read and discard what the client
    #: is still sending for up to this long / this many bytes, so it gets the
    #: answer instead of a connection reset.
    drain_seconds: float = 1.0
    drain_bytes: int = 4 * MIB

    def body_deadline(self, length: int) -> float:
        return min(self.body_cap, self.body_base + self.body_per_mib * length / MIB)


_DEFAULT_LIMITS = Limits()
_DEFAULT_TIMEOUTS = Timeouts()


class ClientClosed(Exception):
    """The client went away before its request was complete (nothing to answer)."""


class ClientReader:
    """Reads one request from an accepted socket, under the deadlines.

    ``read_head()`` returns None for a silent pre-connection, and raises
    ProtocolError (with the status to answer) for a bad or late request;
    ``read_body(head)`` returns bytes or a spooled temporary file.
    """

    def __init__(
        self,
        client: socket.socket,
        timeout: float | None = None,
        *,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.client = client
        self.limits = limits or _DEFAULT_LIMITS
        timeouts = timeouts or _DEFAULT_TIMEOUTS
        if timeout is not None:
            timeouts = replace(timeouts, first_packet=timeout)
        self.timeouts = timeouts
        self._parser: HeadParser | None = None
        self.received = 0
        #: Bytes received after the head: the start of the body.
        self.trailing = b""
        #: Bytes arrived beyond the request: closing now could reset the
        #: connection, so the server drains first.
        self.overflowed = False

    @property
    def parser(self) -> HeadParser:
        """The incremental parser, for heads that take the careful path."""
        if self._parser is None:
            self._parser = HeadParser(self.limits)
        return self._parser

    def _recv(self, wait: float) -> bytes:
        self.client.settimeout(max(wait, 0.001))
        data = self.client.recv(RECV_BYTES)
        self.received += len(data)
        return data

    def read_head(self) -> RequestHead | None:
        first = None
        if can_skip_waits(self.client):  # take what is there, if anything
            try:
                first = self.client.recv(RECV_BYTES, NO_WAIT)
            except WOULD_WAIT:
                pass
        if first is not None:
            self.received += len(first)
        else:
            try:
                first = self._recv(self.timeouts.first_packet)
            except socket.timeout:
                log.info("Timed out.")
                return None
        if not first:
            return None
        whole = plain_head(first, self.limits)  # most requests: all in one go
        if whole is not None:
            self.trailing = whole[1]
            return whole[0]
        deadline = time.monotonic() + self.timeouts.head_total
        parser = self.parser
        head = parser.feed(first)
        while head is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("The request head took too long.", 408)
            try:
                data = self._recv(min(self.timeouts.head_gap, remaining))
            except socket.timeout:
                raise ProtocolError("The request head took too long.", 408) from None
            if not data:
                parser.eof()
                raise ClientClosed
            head = parser.feed(data)
        self.trailing = parser.trailing
        return head

    def read_body(self, head: RequestHead) -> bytes | IO[bytes]:
        length = head.content_length
        if len(self.trailing) > length:
            self.overflowed = True  # the client sent more than it announced
        if not length:
            return b""
        start = self.trailing[:length]
        timeouts = self.timeouts
        deadline = time.monotonic() + timeouts.body_deadline(length)
        spool: IO[bytes] | None = None
        buffer = bytearray(start)
        if length > self.limits.max_form_memory_bytes:
            spool = tempfile.SpooledTemporaryFile(
                max_size=self.limits.max_form_memory_bytes
            )
            spool.write(start)
            buffer = bytearray()
        got = len(start)
        while got < length:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("The request body took too long.", 408)
            try:
                data = self._recv(min(timeouts.body_gap, remaining))
            except socket.timeout:
                raise ProtocolError("The request body took too long.", 408) from None
            if not data:
                raise ClientClosed
            if len(data) > length - got:
                self.overflowed = True
                data = data[: length - got]
            got += len(data)
            if spool is not None:
                spool.write(data)
            else:
                buffer += data
        if spool is not None:
            spool.seek(0)
            return spool
        return bytes(buffer)

    def read_request(self, **request_options: Any) -> Request:
        """Head and body as a Request (the 0.0.8 ``Request.from_reader`` path)."""
        head = self.read_head()
        if head is None:
            raise socket.timeout("no request")
        body = self.read_body(head)
        return build_request(
            head.method,
            head.target,
            head.version,
            head.headers,
            body,
            limits=self.limits,
            **request_options,
        )


_date_cache: list[Any] = [0, b""]  # (second, "date: ...\r\n"): one format a second


def date_line() -> bytes:
    """The ``Date`` header line for now (RFC 9110 section 6.6.1, IMF-fixdate)."""
    now = int(time.time())
    if _date_cache[0] != now:
        t = time.gmtime(now)  # names fixed in English, whatever the locale
        day = "Mon Tue Wed Thu Fri Sat Sun".split()[t.tm_wday]
        month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[t.tm_mon - 1]
        stamp = (
            f"{day}, {t.tm_mday:02d} {month} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
        )
        _date_cache[:] = [now, f"date: {stamp}\r\n".encode("ascii")]
    line: bytes = _date_cache[1]
    return line


def _set_nodelay(client: socket.socket) -> None:
    try:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _reset(client: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER with a zero timeout)."""
    linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    except OSError:
        pass
    client.close()


class ConnectionOwner(Protocol):
    """What a connection needs of the server that accepted it (``Server``)."""

    pipeline: Pipeline
    #: The security check; None before the server is bound.
    policy: SecurityPolicy | None
    timeouts: Timeouts
    ssl_context: ssl.SSLContext | None


class Connection(ClientReader):
    """One accepted connection: reads its request (as a :class:`ClientReader`),
    has the pipeline answer it, and sends the answer. ``serve()`` does it all
    and never raises."""

    def __init__(
        self, client: socket.socket, address: Any, owner: ConnectionOwner
    ) -> None:
        # ClientReader's fields, set here without its defaults: one of these
        # is made per request.
        self.client = client
        self.pipeline = pipeline = owner.pipeline
        self.limits = pipeline.limits
        self.timeouts = owner.timeouts
        self._parser = None
        self.received = 0
        self.trailing = b""
        self.overflowed = False
        self.address = address
        self.owner = owner
        #: Has the answer begun to go out? (Then a failure can only reset.)
        self.sending = False
        self._head: RequestHead | None = None

    @property
    def log(self) -> logging.Logger:
        return self.pipeline.options.logger

    def serve(self) -> bool:
        """Answer the connection and close its socket, always; True when the
        response asked the server to shut down. Never raises: what escapes is
        logged once and answered with a 500 if nothing was sent yet, else a
        reset."""
        try:
            return self._serve()
        except Exception:
            self.log.exception("Failed while handling a connection")
            client = self.client
            if not self.sending:
                try:
                    client.settimeout(self.timeouts.send_stall)
                    page = Response.error_page(500, None)
                    client.sendall(page.head + page.body)
                except Exception:
                    pass
                self._drain_and_close()
            else:
                _reset(client)
            return False
        finally:
            if self.client.fileno() != -1:  # nothing to answer: a silent close
                self.client.close()

    def _serve(self) -> bool:
        started = time.monotonic()
        owner = self.owner
        if owner.ssl_context is not None:
            secure = self._handshake(owner.ssl_context)
            if secure is None:
                return False
            self.client = secure
        pipeline = self.pipeline
        try:
            head = self._head = self.read_head()
            if head is None:
                return False
            answer = pipeline.handle(
                head,
                self._read_body
                if head.content_length or self.trailing or head.expect_continue
                else None,
                owner.policy,
                self.address,
            )
        except ClientClosed:
            self.log.info("Client closed before its request was complete.")
            return False
        except ProtocolError as error:  # from the head: the body is the pipeline's
            response = pipeline.refuse(error)
            self._finish(response, started, complete=False)
            return False
        except OSError as error:
            self.log.info("Connection failed while reading: %s", error)
            return False
        response, request = answer
        try:
            self._finish(
                response,
                started,
                complete=request is not None and not self.overflowed,
            )
        finally:
            if request is not None:
                request.close()
        return response.shut_down

    def _read_body(self) -> bytes | IO[bytes]:
        """The body of the head just read (the pipeline's ``read_body``):
        called once the security check has passed."""
        head = self._head
        assert head is not None
        if head.expect_continue and len(self.trailing) < head.content_length:
            self.client.settimeout(self.timeouts.send_stall)
            self.client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return self.read_body(head)

    def _handshake(self, context: ssl.SSLContext) -> socket.socket | None:
        """TLS server handshake within the first-packet timeout; None on failure."""
        try:
            secure = context.wrap_socket(
                self.client, server_side=True, do_handshake_on_connect=False
            )
        except OSError as error:
            self.log.info("TLS setup failed: %s", error)
            return None
        try:
            secure.settimeout(self.timeouts.first_packet + self.timeouts.head_total)
            secure.do_handshake()
        except OSError as error:  # ssl.SSLError and timeouts are OSErrors
            self.log.info("TLS handshake failed: %s", error)
            secure.close()
            return None
        return secure

    # -- sending ---------------------------------------------------------------

    def _finish(self, response: Response, started: float, *, complete: bool) -> None:
        """Send ``response``, close, and log the request."""
        self.sending = True
        client = self.client
        head = self._head
        head_only = head is not None and head.method == "HEAD"
        broken = False
        log = self.pipeline.options.logger
        try:
            self._send(response, head_only)
        except OSError as error:
            log.info("Failed to send: %s", error)
        except Exception:
            # A stream body failed after its head was sent: too late for a
            # 500 page. Reset the connection so that the client sees a
            # failure rather than a short body that looks complete.
            log.exception("The response body failed while being sent")
            broken = True
        finally:
            response.close()
        # Close before logging: the client is waiting for our FIN.
        if broken:
            _reset(client)
        elif complete:
            client.close()  # see _drain_and_close
        else:
            self._drain_and_close()
        # Skip building a log record nobody will print (no handler anywhere).
        if log.isEnabledFor(logging.INFO) and log.hasHandlers():
            address = self.address
            log.info(
                '%s "%s %s" %d %s %.1fms',
                address[0] if isinstance(address, tuple) and address else "-",
                printable(head.method) if head else "-",
                printable(head.target) if head else "-",
                response.code,
                "-" if response.content_length is None else response.content_length,
                (time.monotonic() - started) * 1000,
            )

    def _send(self, response: Response, head_only: bool) -> None:
        # RFC 9110 section 6.6.1: an origin server with a clock sends Date.
        head = response.head
        cut = head.index(b"\r\n") + 2
        head = head[:cut] + date_line() + head[cut:]
        client = self.client
        chunks = None if head_only else response.chunks
        if chunks and len(chunks) == 1 and len(chunks[0]) <= SMALL_BODY_BYTES:
            self._send_first(head + chunks[0])  # most pages: one write
            return
        span = response.file_span
        if head_only or span is not None:
            client.settimeout(self.timeouts.send_stall)
            client.sendall(head)
            if span is not None and span[2] and not head_only:
                client.sendfile(*span)
            return
        rest = iter(chunks) if chunks is not None else response.iter_body()
        first = next(rest, b"")
        if len(first) <= SMALL_BODY_BYTES:
            self._send_first(head + first)  # most pages: one write
        else:
            self._send_first(head)
            rest = itertools.chain((first,), rest)
        more = next(rest, None)
        if more is None:
            return
        # Several writes: each may wait for the client, and Nagle must not
        # hold back the last small one.
        client.settimeout(self.timeouts.send_stall)
        _set_nodelay(client)
        client.sendall(more)
        for chunk in rest:
            client.sendall(chunk)

    def _send_first(self, data: bytes) -> None:
        """The first write of a response. A fresh connection's send buffer
        takes a small response whole: on a blocking socket it is tried once
        without waiting, and the send deadline set only if that fell short;
        under a reading deadline still set, a small write keeps it."""
        client = self.client
        sent = 0
        if can_skip_waits(client):  # send what fits now, if anything
            try:
                sent = client.send(data, NO_WAIT)
            except WOULD_WAIT:
                pass
            if sent == len(data):
                return
        if len(data) > SURE_SEND_BYTES or client.gettimeout() is None:
            client.settimeout(self.timeouts.send_stall)
        client.sendall(memoryview(data)[sent:])

    def _drain_and_close(self) -> None:
        """Close after an early answer: half-close and drain first.

        Closing a socket with unread input makes the kernel send a reset, and
        a reset can destroy the response before the client reads it. (A
        client whose whole request was read has nothing left to send: a
        plain close is safe and cheapest.)
        """
        client = self.client
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            client.close()
            return
        try:
            deadline = time.monotonic() + self.timeouts.drain_seconds
            budget = self.timeouts.drain_bytes
            while budget > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                client.settimeout(min(remaining, 0.2))
                data = client.recv(RECV_BYTES)
                if not data:
                    break
                budget -= len(data)
        except OSError:  # includes timeouts and "would block"
            pass
        finally:
            client.close()
