"""One accepted connection: read its request and send the answer, under deadlines.

The loop (``kali.server``) binds and accepts; all that happens on one
accepted socket happens in one :class:`Connection` (as in h11, but blocking):
the TLS handshake, reading the head and body through the sans-IO parser of
``kali.protocol``, handing them to the one request pipeline
(``kali.handling.Pipeline``), sending the answer and closing.

:class:`~kali.timeouts.Timeouts` bound every wait. A connection with nothing
to read at accept() is closed at once where TCP_DEFER_ACCEPT is on (it has
been silent for the whole defer period), else after the first-packet
timeout. The head must come within its deadline; the body and the answer
may pause only so long and, after a grace period, must keep a minimum data
rate (a :class:`~kali.timeouts.Pace`). A small answer goes out in one send()
that never waits; more is sent by a loop of send() calls (files with
``os.sendfile``) in which only progress resets the stall deadline. A client
too slow to read its answer is aborted (a reset) and the answer logged as
truncated; one too slow to send its request gets a 408 without a drain;
after another early answer the connection is half-closed and drained, so
the client sees the answer, not a reset.

Rules: the app is reached only through the pipeline; no exception of any
type leaves :meth:`Connection.serve` (it is logged once, answered with a 500
if nothing was sent yet, else the connection is reset); nothing here knows
the listening socket, the scheduler or how the app was launched.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import os
import select
import socket
import struct
import sys
import tempfile
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, Protocol

from .accesslog import access_line
from .errors import ProtocolError
from .handling import Pipeline, build_request
from .protocol import ChunkedDecoder, HeadParser, Limits, RequestHead, plain_head
from .request import Request
from .response import Response
from .security import SecurityPolicy
from .timeouts import Pace
from .timeouts import Timeouts as Timeouts  # re-exported: its home until 0.1

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
#: One TLS write waits until all of it is taken (under the socket timeout):
#: slices this small make each wait short, so progress resets the stall.
TLS_SLICE_BYTES = 64 * 1024
#: A file body without a file descriptor is read and sent in blocks this big.
FILE_BLOCK_BYTES = 256 * 1024
#: The most one os.sendfile() call is asked for (Linux moves < 2 GiB a call).
SENDFILE_BYTES = 1 << 30
#: The length of ``date_line()``: IMF-fixdate has a fixed width.
DATE_LINE_BYTES = len("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")

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

    #: The response's pace once sending it has to wait (None: not yet).
    _pace: Pace | None = None

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
                _reset(client)
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
            _reset(client)  # abort: what the kernel still holds is dropped
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

    def _truncated(self, response: Response) -> tuple[int, int | None]:
        """``(sent, length)`` of a response cut short: the body bytes handed
        to the kernel, and the body's length."""
        pace = self._pace
        head_bytes = len(response.head) + DATE_LINE_BYTES
        sent = max(0, pace.moved - head_bytes) if pace is not None else 0
        return sent, response.content_length

    def _send(self, response: Response, head_only: bool) -> None:
        # RFC 9110 section 6.6.1: an origin server with a clock sends Date.
        head = response.head
        cut = head.index(b"\r\n") + 2
        head = head[:cut] + date_line() + head[cut:]
        chunks = None if head_only else response.chunks
        if chunks and len(chunks) == 1 and len(chunks[0]) <= SMALL_BODY_BYTES:
            self._send_first(head + chunks[0])  # most pages: one write
            return
        span = None if head_only else response.file_span
        if head_only or span is not None:
            self._send_first(head)
            if span is not None and span[2]:
                self._paced().moved = len(head)
                self._send_file(*span)
            return
        rest = iter(chunks) if chunks is not None else response.iter_body()
        first = next(rest, b"")
        if len(first) <= SMALL_BODY_BYTES:
            first = head + first  # most pages: one write
        else:
            rest = itertools.chain((first,), rest)
            first = head
        self._send_first(first)
        more = next(rest, None)
        if more is None:
            return
        # Several writes: each may wait for the client, and Nagle must not
        # hold back the last small one.
        self._paced().moved = len(first)  # whichever way it went out
        _set_nodelay(self.client)
        self._send_all(more)
        for chunk in rest:
            self._send_all(chunk)

    def _send_first(self, data: bytes) -> None:
        """The first write of a response. A fresh connection's send buffer
        takes a small response whole: on a blocking socket it is tried once
        without waiting, and the paced sending starts only if that fell
        short; under a reading deadline still set, a small write keeps it."""
        client = self.client
        sent = 0
        if can_skip_waits(client):  # send what fits now, if anything
            try:
                sent = client.send(data, NO_WAIT)
            except WOULD_WAIT:
                pass
            if sent == len(data):
                return
        elif len(data) <= SURE_SEND_BYTES and client.gettimeout() is not None:
            client.sendall(data)  # fits the fresh buffer: never waits
            return
        self._paced().moved = sent
        self._send_all(memoryview(data)[sent:])

    def _paced(self) -> Pace:
        """The pace of this response, made when sending first has to wait."""
        pace = self._pace
        if pace is None:
            timeouts = self.timeouts
            pace = self._pace = Pace(
                timeouts.send_grace, timeouts.send_min_bytes_per_second
            )
        return pace

    def _send_all(self, data: bytes | memoryview) -> None:
        """Send all of ``data`` by send() calls, each under a timeout: the
        stall deadline, or less when the pace is due. Only progress resets
        the stall; SendCut when the client is too slow."""
        client = self.client
        pace = self._paced()
        stall = self.timeouts.send_stall
        view = data if isinstance(data, memoryview) else memoryview(data)
        size = len(view) if type(client) is socket.socket else TLS_SLICE_BYTES
        clock = time.monotonic
        while view:
            wait = pace.allowance(stall)
            if wait <= 0:
                raise SendCut(pace.describe(stall, wait))
            client.settimeout(wait)
            begun = clock()
            try:
                sent = client.send(view[:size])
            except socket.timeout:
                pace.record(0, clock() - begun)
                raise SendCut(pace.describe(stall, wait)) from None
            pace.record(sent, clock() - begun)
            view = view[sent:]

    def _send_file(self, file: IO[bytes], offset: int, count: int) -> None:
        """``count`` bytes of ``file`` from ``offset``: by os.sendfile where
        there is one (not Windows, not TLS), else read and sent in blocks;
        paced like every other send."""
        if type(self.client) is socket.socket:
            source = _file_number(file)
            if source is not None and self._sendfile(source, offset, count):
                return
        file.seek(offset)
        while count > 0:
            block = file.read(min(FILE_BLOCK_BYTES, count))
            if not block:
                raise SendCut("the file ended before its length")
            self._send_all(block)
            count -= len(block)

    def _sendfile(self, source: int, offset: int, count: int) -> bool:
        """The loop of os.sendfile() calls on a non-blocking socket, waiting
        for room with poll() under the pace; False, having sent nothing,
        when the file cannot be sent this way (then it is read and sent)."""
        if sys.platform == "win32":  # no os.sendfile
            return False
        client = self.client
        pace = self._paced()
        stall = self.timeouts.send_stall
        client.settimeout(0.0)
        target = client.fileno()
        clock = time.monotonic
        first = True
        while count > 0:
            try:
                sent = os.sendfile(target, source, offset, min(count, SENDFILE_BYTES))
            except BlockingIOError:
                wait = pace.allowance(stall)
                if wait <= 0:
                    raise SendCut(pace.describe(stall, wait)) from None
                begun = clock()
                ready = _wait_writable(target, wait)
                pace.record(0, clock() - begun)
                if not ready:
                    raise SendCut(pace.describe(stall, wait)) from None
                continue
            except OSError:
                if first:  # not a file sendfile() takes: read and send it
                    return False
                raise
            if not sent:
                raise SendCut("the file ended before its length")
            first = False
            pace.record(sent, 0.0)
            offset += sent
            count -= sent
        return True

    def _close_without_waiting(self) -> None:
        """Close after a 408: the client ran out of time, so nothing more is
        waited for. What it sent meanwhile is read first (without waiting),
        so that the close is a FIN, not a reset, whenever it can be."""
        client = self.client
        try:
            client.shutdown(socket.SHUT_WR)
            client.settimeout(0.0)
            budget = self.timeouts.drain_bytes
            while budget > 0:
                data = client.recv(RECV_BYTES)
                if not data:
                    break
                budget -= len(data)
        except OSError:  # includes "would block": nothing more to read now
            pass
        finally:
            client.close()

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


class SendCut(OSError):
    """The client took too long to take its answer: no progress for
    ``send_stall``, or slower than the minimum rate after the grace."""


def _has_data(client: socket.socket) -> bool:
    """Has something (or EOF: False) arrived on ``client``? Never waits."""
    try:
        client.settimeout(0.0)
        return bool(client.recv(1, socket.MSG_PEEK))
    except OSError:  # includes "would block"
        return False


def _file_number(file: IO[bytes]) -> int | None:
    """The file descriptor of ``file``, or None (an in-memory file)."""
    try:
        return file.fileno()
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


def _wait_writable(target: int, seconds: float) -> bool:
    """Wait up to ``seconds`` until socket ``target`` can take more (or has
    failed: the next call then says how); False when time ran out."""
    if sys.platform != "win32" and hasattr(select, "poll"):
        poller = select.poll()
        poller.register(target, select.POLLOUT)
        return bool(poller.poll(max(1, math.ceil(seconds * 1000))))
    return bool(select.select([], [target], [], seconds)[1])
