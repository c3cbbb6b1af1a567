"""Reading one request from an accepted socket, under deadlines.

The server loop (``kali.server``) accepts connections; this module reads a
request head and body from one of them, feeding the sans-IO parser in
``kali.protocol`` and enforcing the deadlines of :class:`Timeouts`, so that
a silent, slow or broken client costs the single thread a bounded time. It
never writes responses and never calls the app.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from typing import IO, Any

from .errors import ProtocolError
from .handling import build_request
from .protocol import HeadParser, Limits, RequestHead, plain_head
from .request import Request

log = logging.getLogger("kali")

MIB = 1024 * 1024
RECV_BYTES = 64 * 1024

#: The flag for one call that never waits on a blocking socket; 0 where the
#: platform has none (Windows), and then kali always waits with a timeout.
NO_WAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


#: What a call with NO_WAIT raises when it would have had to wait.
WOULD_WAIT = (BlockingIOError, InterruptedError)


def can_skip_waits(client: socket.socket) -> bool:
    """True when ``client`` may be read and written with :data:`NO_WAIT`
    flags: a plain, blocking socket (not TLS, no timeout set) on a platform
    that has MSG_DONTWAIT (not Windows).

    On Linux, TCP_DEFER_ACCEPT means a request is normally there at accept():
    one recv() then replaces the timeout setup, a poll() and the recv() of a
    timed read; and a small response fits the fresh socket's send buffer, so
    one send() replaces a timeout setup, a poll() and the send().
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
