"""One accepted connection: read its request and send the answer, under deadlines.

The loop (``kali.server``) binds and accepts; all that happens on one
accepted socket happens in one :class:`Connection` (as in h11, but blocking):
the TLS handshake, reading the head and body through the sans-IO parsers of
``kali.protocol`` and ``kali.chunked`` (the read half, :class:`ClientReader`),
handing them to the one request pipeline (``kali.handling.Pipeline``),
sending the answer and closing (the send half, ``kali.sending.Sender``),
then logging the request.

:class:`~kali.timeouts.Timeouts` bound every wait. A connection with nothing
to read at accept() is closed at once where TCP_DEFER_ACCEPT is on (it has
been silent for the whole defer period), else after the first-packet
timeout. The head must come within its deadline; the body may pause only
so long and, after a grace period, must keep a minimum data rate (a
:class:`~kali.timeouts.Pace`); the answer is bound the same way in
``kali.sending``. A client too slow to read its answer is aborted (a reset)
and the answer logged as truncated; one too slow to send its request gets
a 408 without a drain; after another early answer the connection is
half-closed and drained, so the client sees the answer, not a reset.

Rules: the app is reached only through the pipeline; no exception of any
type leaves :meth:`Connection.serve` (it is logged once, answered with a 500
if nothing was sent yet, else the connection is reset); nothing here knows
the listening socket, the scheduler or how the app was launched.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, Protocol

from .accesslog import access_line
from .errors import ProtocolError
from .handling import Pipeline, build_request
from .protocol import HeadParser, Limits, RequestHead, plain_head
from .request import Request
from .response import Response
from .security import SecurityPolicy
from .sending import NO_WAIT, WOULD_WAIT, Sender, can_skip_waits, close_with_reset
from .timeouts import Pace
from .timeouts import Timeouts as Timeouts  # re-exported: its home until 0.1

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("kali")

RECV_BYTES = 64 * 1024
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

    #: TCP_DEFER_ACCEPT is on for the socket's listener: a connection with
    #: nothing to read at accept() has been silent for the whole defer
    #: period, so it is closed at once instead of waiting ``first_packet``.
    deferred = False
    #: The client ran out of time sending its request (a 408): answer it
    #: without waiting for more of it (no drain).
    timed_out = False

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

    def _late(self, message: str) -> ProtocolError:
        """The 408 for a client that ran out of time."""
        self.timed_out = True
        return ProtocolError(message, 408)

    def read_head(self) -> RequestHead | None:
        first = None
        client = self.client
        if can_skip_waits(client):  # take what is there, if anything
            try:
                first = client.recv(RECV_BYTES, NO_WAIT)
            except WOULD_WAIT:
                if self.deferred:
                    log.info("Timed out.")  # silent all through the defer period
                    return None
        if first is not None:
            self.received += len(first)
        else:
            try:
                first = self._recv(0.0 if self.deferred else self.timeouts.first_packet)
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
                raise self._late("The request head took too long.")
            try:
                data = self._recv(min(self.timeouts.head_gap, remaining))
            except socket.timeout:
                raise self._late("The request head took too long.") from None
            if not data:
                parser.eof()
                raise ClientClosed
            head = parser.feed(data)
        self.trailing = parser.trailing
        return head

    def read_body(self, head: RequestHead) -> bytes | IO[bytes]:
        """The declared body, read to exactly its length (or to the end of
        its chunked framing): each wait at most ``body_gap``, and all of them
        within the grace period plus the bytes received at the minimum rate
        (408 past either). A body bigger than ``max_form_memory_bytes`` is
        spooled to a temporary file."""
        if head.chunked:
            return self._read_chunked()
        length = head.content_length
        if len(self.trailing) > length:
            self.overflowed = True  # the client sent more than it announced
        if not length:
            return b""
        start = self.trailing[:length]
        timeouts = self.timeouts
        pace = Pace(timeouts.body_grace, timeouts.body_min_bytes_per_second)
        spool: IO[bytes] | None = None
        buffer = bytearray(start)
        if length > self.limits.max_form_memory_bytes:
            spool = tempfile.SpooledTemporaryFile(
                max_size=self.limits.max_form_memory_bytes
            )
            spool.write(start)
            buffer = bytearray()
        pace.moved = len(start)
        try:
            self._receive_body(length, pace, spool if spool is not None else buffer)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        if spool is not None:
            spool.seek(0)
            return spool
        return bytes(buffer)

    def _receive_body(
        self, length: int, pace: Pace, into: bytearray | IO[bytes]
    ) -> None:
        """Receive the rest of a ``length`` byte body (``pace.moved`` of it
        came with the head) into a buffer or a spool."""
        write = into.extend if isinstance(into, bytearray) else into.write
        got = pace.moved
        while got < length:
            data = self._receive_more(pace)
            if len(data) > length - got:
                self.overflowed = True
                data = data[: length - got]
            got += len(data)
            write(data)

    def _receive_more(self, pace: Pace) -> bytes:
        """The next bytes of a body, waiting at most ``body_gap`` and no
        longer than ``pace`` allows (408 past either); ClientClosed at EOF."""
        gap = self.timeouts.body_gap
        wait = pace.allowance(gap)
        if wait <= 0:
            raise self._late("The request body came too slowly.")
        begun = time.monotonic()
        try:
            data = self._recv(wait)
        except socket.timeout:
            raise self._late(
                "The request body took too long."
                if wait >= gap
                else "The request body came too slowly."
            ) from None
        if not data:
            raise ClientClosed
        pace.record(len(data), time.monotonic() - begun)
        return data

    def _read_chunked(self) -> bytes | IO[bytes]:
        """A ``Transfer-Encoding: chunked`` body, decoded as it arrives under
        the same time bounds and size limit as a sized one (413 as soon as a
        chunk would take it past ``max_body_bytes``), spooled to a temporary
        file once it passes ``max_form_memory_bytes``."""
        from .chunked import ChunkedDecoder  # on first use: few clients chunk a body

        timeouts = self.timeouts
        pace = Pace(timeouts.body_grace, timeouts.body_min_bytes_per_second)
        decoder = ChunkedDecoder(self.limits)
        memory_bytes = self.limits.max_form_memory_bytes
        buffer = bytearray()
        spool: IO[bytes] | None = None
        data = self.trailing
        pace.moved = len(data)
        try:
            while True:
                piece = decoder.feed(data)
                if spool is not None:
                    spool.write(piece)
                else:
                    buffer += piece
                    if len(buffer) > memory_bytes:
                        spool = tempfile.SpooledTemporaryFile(max_size=memory_bytes)
                        spool.write(buffer)
                        buffer = bytearray()
                if decoder.done:
                    break
                data = self._receive_more(pace)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        if decoder.trailing:
            self.overflowed = True  # the client sent more than its body
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


class ConnectionOwner(Protocol):
    """What a connection needs of the server that accepted it (``Server``)."""

    pipeline: Pipeline
    #: The security check; None before the server is bound.
    policy: SecurityPolicy | None
    timeouts: Timeouts
    ssl_context: ssl.SSLContext | None


class Connection(ClientReader, Sender):
    """One accepted connection: reads its request (as a :class:`ClientReader`),
    has the pipeline answer it, and sends the answer (as a
    :class:`~kali.sending.Sender`). ``serve()`` does it all and never
    raises."""

    def __init__(
        self,
        client: socket.socket,
        address: Any,
        owner: ConnectionOwner,
        *,
        deferred: bool = False,
    ) -> None:
        # ClientReader's fields, set here without its defaults: one of these
        # is made per request.
        if deferred:  # else the class's False
            self.deferred = True
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
                close_with_reset(client)
            return False
        finally:
            if self.client.fileno() != -1:  # nothing to answer: a silent close
                self.client.close()

    def _serve(self) -> bool:
        started = time.monotonic()
        owner = self.owner
        if owner.ssl_context is not None:
            if self.deferred:
                if not _has_data(self.client):  # no ClientHello all along
                    log.info("Timed out.")
                    return False
                self.deferred = False  # the request follows the handshake
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
                if head.content_length
                or self.trailing
                or head.expect_continue
                or head.chunked
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
        if head.expect_continue and (
            len(self.trailing) < head.content_length
            or (head.chunked and not self.trailing)
        ):
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
        cut = False
        log = self.pipeline.options.logger
        try:
            self._send(response, head_only)
        except OSError as error:  # includes a client too slow (SendCut)
            log.info("Failed to send: %s", error)
            cut = True
        except Exception:
            # A stream body failed after its head was sent: too late for a
            # 500 page. Reset the connection so that the client sees a
            # failure rather than a short body that looks complete.
            log.exception("The response body failed while being sent")
            cut = True
        finally:
            response.close()
        # Close before logging: the client is waiting for our FIN.
        if cut:
            close_with_reset(client)  # abort: what the kernel still holds is dropped
        elif complete:
            client.close()  # see _drain_and_close
        elif self.timed_out:
            self._close_without_waiting()
        else:
            self._drain_and_close()
        # Skip building a log record nobody will print (no handler anywhere).
        if log.isEnabledFor(logging.INFO) and log.hasHandlers():
            log.info(
                "%s",
                access_line(
                    self.address,
                    head,
                    response.code,
                    response.content_length,
                    (time.monotonic() - started) * 1000,
                    truncated=self._truncated(response) if cut else None,
                ),
            )


def _has_data(client: socket.socket) -> bool:
    """Has something (or EOF: False) arrived on ``client``? Never waits."""
    try:
        client.settimeout(0.0)
        return bool(client.recv(1, socket.MSG_PEEK))
    except OSError:  # includes "would block"
        return False
