"""Sending one answer on an accepted socket, under deadlines, then closing.

:class:`Sender` is the send half of :class:`kali.connection.Connection` (a
mixin: the same methods, the same calls per request). A small answer goes
out in one send() that never waits; more is sent by a loop of send() calls
(files with ``os.sendfile``) in which only progress resets the stall
deadline, and which must keep a minimum data rate after a grace period (a
:class:`~kali.timeouts.Pace`). A client too slow to read its answer gets
:class:`SendCut`; the connection then aborts it (a reset) and logs the
answer as truncated (:meth:`Sender._truncated` says how far it got). After
an early answer the connection is half-closed and drained, so the client
sees the answer, not a reset; after a 408 it is closed without waiting.

What it must not do: read or parse a request (``kali.connection``), call
the app or log (the connection decides what a failure means and logs it),
or know the listening socket. It raises what sending raises (OSError,
SendCut, or what a streamed body raises) and leaves the catching to the
connection.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import select
import socket
import struct
import sys
import time
from typing import IO, Any

from .response import Response
from .timeouts import Pace, Timeouts

__all__ = [
    "NO_WAIT",
    "WOULD_WAIT",
    "SendCut",
    "Sender",
    "can_skip_waits",
    "close_with_reset",
    "date_line",
]

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
#: What one recv() asks for while draining a request after an early answer.
DRAIN_RECV_BYTES = 64 * 1024

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


def close_with_reset(client: socket.socket) -> None:
    """Close ``client`` with a TCP reset (SO_LINGER with a zero timeout):
    what the kernel still holds for it is dropped."""
    linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    except OSError:
        pass
    client.close()


class Sender:
    """The send half of a connection: sends one :class:`Response` on
    :attr:`client` under :attr:`timeouts`, and closes.

    A mixin for :class:`kali.connection.Connection`, which sets ``client``
    and ``timeouts`` (and swaps ``client`` for its TLS socket after the
    handshake).
    """

    client: socket.socket
    timeouts: Timeouts
    #: The response's pace once sending it has to wait (None: not yet).
    _pace: Pace | None = None

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
                data = client.recv(DRAIN_RECV_BYTES)
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
                data = client.recv(DRAIN_RECV_BYTES)
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
