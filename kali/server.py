"""The server loop: one thread, one connection at a time, no select.

This is the only module that touches sockets. It moves bytes between the
network and the sans-IO parts (``kali.protocol`` parses, ``kali.request`` and
``kali.response`` build values, ``kali.security`` decides), under deadlines
so that no client can stall the loop:

1. Listen with ``SO_REUSEADDR`` (``SO_EXCLUSIVEADDRUSE`` on Windows), a real
   backlog, and on Linux ``TCP_DEFER_ACCEPT``: the kernel keeps a browser's
   idle speculative connections out of ``accept()`` until they carry data.
2. After ``accept()``, take the bytes already there without waiting (with
   TCP_DEFER_ACCEPT they usually are: one recv() instead of a timeout setup,
   a poll() and a recv()); else wait at most ``timeout`` (0.5 s) for them.
   Silence means a pre-connection, closed without a word.
3. Read the head under a total deadline, then exactly Content-Length bytes
   of body (spooled to a temporary file when big), under gap and total
   deadlines.
4. Security checks, then the handler inside the one ``except Exception``
   boundary of kali: a failing handler is a 500 page and a log line.
5. Send: a small response goes out in one send() that never waits (it fits
   a fresh socket's buffer); anything more under a stall deadline (files
   with ``socket.sendfile``). Then close, after a half-close and a drain if
   the client may still be sending: it sees the response, not a reset.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import queue
import socket
import struct
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .connection import (
    NO_WAIT,
    RECV_BYTES,
    WOULD_WAIT,
    ClientClosed,
    ClientReader,
    Timeouts,
    can_skip_waits,
)
from .errors import ProtocolError
from .handling import ErrorPage, Handler, Responder, printable
from .protocol import Limits, RequestHead
from .response import Response
from .security import SecurityPolicy, host_literal

if TYPE_CHECKING:
    import ssl

__all__ = ["ClientReader", "Server", "Timeouts", "serve_http"]

log = logging.getLogger("kali")

#: Browsers open several connections at once; a backlog this deep never
#: refuses one while the single thread is busy with another.
DEFAULT_BACKLOG = 128
#: Longer than a browser keeps an unused pre-connection (Chromium: 10 s), so
#: idle sockets die in the kernel instead of reaching accept().
DEFER_ACCEPT_SECONDS = 30
#: A response this small always fits in a fresh socket's send buffer
#: (Linux starts at 16 KiB), so sending it never waits for the client.
SURE_SEND_BYTES = 16 * 1024
#: A body up to this size goes out in the same write as the head.
SMALL_BODY_BYTES = 256 * 1024


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


def launch_browser(
    url: str, logger: logging.Logger = log, *, background: bool = True
) -> None:
    """Open ``url`` with :mod:`webbrowser` (which honours ``BROWSER``).

    In the background by default, so a slow browser start never delays
    serving; a failure is only logged.
    """
    logger.info("Opening %s", url)

    def launch() -> None:
        try:
            if not webbrowser.open(url):
                logger.warning("No browser found; visit %s", url)
        except Exception:
            logger.exception("Could not open a browser; visit %s", url)

    if background:
        threading.Thread(target=launch, name="kali-browser", daemon=True).start()
    else:
        launch()


@dataclass
class _Ticker:
    interval: float
    due: float
    function: Callable[[], None]


class Server(Responder):
    """A kali server. ``serve_http`` makes one and runs it; tests and
    embedding apps may drive it directly::

        server = Server(app, port=0)
        server.bind()            # now server.port and server.url are known
        server.serve_forever()   # until a shut_down response or stop()
    """

    def __init__(
        self,
        handler: Handler,
        *,
        port: int = 8080,
        address: str = "127.0.0.1",
        timeout: float | None = None,
        debug: bool = False,
        allowed_hosts: Iterable[str] = (),
        token: bool | str = False,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        logger: logging.Logger | None = None,
        error_page: ErrorPage | None = None,
        backlog: int = DEFAULT_BACKLOG,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            handler, debug=debug, error_page=error_page, logger=logger, limits=limits
        )
        self.requested_port = port
        self.address = address
        self.allowed_hosts = tuple(allowed_hosts)
        self.token = token
        base = timeouts or Timeouts()
        if timeout is not None:  # the 0.0.8 argument wins over timeouts=
            base = dataclasses.replace(base, first_packet=timeout)
        self.timeouts = base
        self.backlog = backlog
        self.listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.policy: SecurityPolicy | None = None
        self.ssl_context = ssl_context
        self._stopping = False
        self._sending = False  # has the current connection's answer begun?
        # Work handed to the server thread by other threads (call_soon), and
        # periodic work (every): both run between requests, never during one.
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._tickers: list[_Ticker] = []
        self._poke_addresses: set[Any] = set()

    # -- life cycle --------------------------------------------------------------

    def bind(self) -> None:
        """Create the listening socket. OSError (port in use...) propagates."""
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            if sys.platform == "win32":
                # Windows' SO_REUSEADDR lets another process steal the port.
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            else:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.address, self.requested_port))
            listener.listen(self.backlog)
            if sys.platform == "linux":
                listener.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_SECONDS
                )
        except BaseException:
            listener.close()
            raise
        self.listener = listener
        self.port = listener.getsockname()[1]
        self.policy = SecurityPolicy.for_server(
            self.address,
            self.port,
            allowed_hosts=self.allowed_hosts,
            token=self.token,
            scheme=self.scheme,
        )
        self.log.info("Listening on %s", self.url)

    @property
    def host(self) -> str:
        """The host to put in URLs: the bound address, or loopback for a wildcard."""
        if self.address in ("", "0.0.0.0"):
            return "127.0.0.1"
        if self.address == "::":
            return "[::1]"
        return host_literal(self.address)

    @property
    def scheme(self) -> str:
        return "http" if self.ssl_context is None else "https"

    @property
    def url(self) -> str:
        """``http://host:port/`` of the running server."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    def launch_url(self, start: str = "") -> str:
        """The URL to open the browser at (with the launch token, if on)."""
        assert self.policy is not None, "bind() first"
        origin = f"{self.scheme}://{self.host}:{self.port}"
        return origin + self.policy.launch_target(start)

    def open_browser(self, start: str = "") -> None:
        """Open the user's browser at ``start`` in a daemon thread (never blocks)."""
        launch_browser(self.launch_url(start), self.log)

    def stop(self) -> None:
        """Ask the loop to end after the current request.

        Safe to call from any thread, or from a handler or task.
        """
        self._stopping = True
        if threading.current_thread() is not self._thread:
            self._wake()

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run ``function()`` on the server thread between two requests.

        Safe to call from any thread: this is how another thread (a console,
        a timer) hands work to a single-threaded app without racing a request.
        """
        self._tasks.put(function)
        if threading.current_thread() is not self._thread:
            self._wake()

    def every(self, seconds: float, function: Callable[[], None]) -> None:
        """Run ``function()`` on the server thread about every ``seconds``,
        between requests (``accept()`` waits at most that long)."""
        if seconds <= 0:
            raise ValueError("the interval must be positive")
        self._tickers.append(_Ticker(seconds, time.monotonic() + seconds, function))

    def _wake(self) -> None:
        """Make a blocked ``accept()`` return: connect to ourselves and send a
        byte (TCP_DEFER_ACCEPT holds back connections that send nothing)."""
        if self.listener is None:
            return
        try:
            with socket.create_connection(
                (self.host.strip("[]"), self.port), timeout=1
            ) as poke:
                self._poke_addresses.add(poke.getsockname())
                poke.sendall(b"\n")
        except OSError:
            pass

    def _run_pending(self) -> None:
        """Run queued tasks and due tickers; a failure is logged, never fatal."""
        jobs: list[Callable[[], None]] = []
        while not self._tasks.empty():
            jobs.append(self._tasks.get_nowait())
        now = time.monotonic()
        for ticker in self._tickers:
            if ticker.due <= now:
                ticker.due = now + ticker.interval
                jobs.append(ticker.function)
        for job in jobs:
            try:
                job()
            except Exception:
                self.log.exception("A background task failed")

    def _accept_timeout(self) -> float | None:
        if not self._tickers:
            return None
        due = min(ticker.due for ticker in self._tickers)
        return max(0.0, due - time.monotonic())

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def serve_forever(self) -> None:
        """Serve until a ``shut_down`` response or ``stop()``; then close.

        KeyboardInterrupt and SystemExit propagate after the sockets are closed.
        """
        if self.listener is None:
            self.bind()
        listener = self.listener
        assert listener is not None
        self._thread = threading.current_thread()
        listener_wait: float | None = -1.0
        try:
            tasks, tickers = self._tasks, self._tickers
            while not self._stopping:
                if tickers or not tasks.empty():
                    self._run_pending()
                    if self._stopping:
                        break
                wait = self._accept_timeout() if tickers else None
                if wait != listener_wait:  # a syscall: only when it changes
                    listener.settimeout(wait)
                    listener_wait = wait
                try:
                    client, address = listener.accept()
                except socket.timeout:
                    continue  # time for a ticker
                except OSError:
                    if self._stopping:
                        break
                    self.log.exception("accept() failed; retrying")
                    time.sleep(0.1)
                    continue
                try:
                    if address in self._poke_addresses:
                        self._poke_addresses.discard(address)
                        continue
                    if self.serve_connection(client, address):
                        break
                finally:
                    if client.fileno() != -1:  # usually closed already
                        client.close()
        finally:
            self.close()
            self.log.info("Shutting Down.")

    # -- one connection --------------------------------------------------------

    def serve_connection(self, client: socket.socket, address: Any) -> bool:
        """Answer one connection. True when the response asked to shut down.

        No exception leaves this method: whatever escapes the steps below is
        logged once, answered with a 500 if nothing was sent yet (else the
        connection is reset), and the loop goes on with the next caller.
        """
        self._sending = False
        try:
            return self._serve_connection(client, address)
        except Exception:
            self.log.exception("Failed while handling a connection")
            if not self._sending:
                try:
                    client.settimeout(self.timeouts.send_stall)
                    page = Response.error_page(500, None)
                    client.sendall(page.head + page.body)
                except Exception:
                    pass
                self._close(client, drain=True)
            else:
                _reset(client)
            return False

    def _serve_connection(self, client: socket.socket, address: Any) -> bool:
        started = time.monotonic()
        if self.ssl_context is not None:
            secure = self._handshake(client)
            if secure is None:
                return False
            client = secure
        reader = ClientReader(client, limits=self.limits, timeouts=self.timeouts)
        head: RequestHead | None = None
        try:
            head = reader.read_head()
            if head is None:
                return False
            assert self.policy is not None
            refusal = self.policy.check(head.method, head.target, head.headers)
            if refusal is not None:
                self._finish(client, head, refusal, started, complete=False)
                return False
            if head.expect_continue and len(reader.trailing) < head.content_length:
                client.settimeout(self.timeouts.send_stall)
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body: bytes | IO[bytes] = b""
            if head.content_length or reader.trailing:
                body = reader.read_body(head)
            request = self.build_request(
                head.method,
                head.target,
                head.version,
                head.headers,
                body,
                client_address=address,
            )
        except ClientClosed:
            self.log.info("Client closed before its request was complete.")
            return False
        except ProtocolError as error:
            self.log.info("Refused: %d %s", error.status, printable(error.message))
            response = self.render_error(None, error.status, error.message)
            self._finish(client, head, response, started, complete=False)
            return False
        except OSError as error:
            self.log.info("Connection failed while reading: %s", error)
            return False
        try:
            response = self.respond(request)
            self._finish(
                client, head, response, started, complete=not reader.overflowed
            )
        finally:
            request.close()
        return response.shut_down

    def _handshake(self, client: socket.socket) -> socket.socket | None:
        """TLS server handshake within the first-packet timeout; None on failure."""
        assert self.ssl_context is not None
        try:
            secure = self.ssl_context.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
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

    def _finish(
        self,
        client: socket.socket,
        head: RequestHead | None,
        response: Response,
        started: float,
        *,
        complete: bool,
    ) -> None:
        self._sending = True
        head_only = head is not None and head.method == "HEAD"
        broken = False
        try:
            self._send(client, response, head_only)
        except OSError as error:
            self.log.info("Failed to send: %s", error)
        except Exception:
            # A stream body failed after its head was sent: too late for a
            # 500 page. Reset the connection so that the client sees a
            # failure rather than a short body that looks complete.
            self.log.exception("The response body failed while being sent")
            broken = True
        finally:
            response.close()
        # Skip building a log record nobody will print (no handler anywhere),
        # and close before logging: the client is waiting for our FIN.
        logging_requests = (
            self.log.isEnabledFor(logging.INFO) and self.log.hasHandlers()
        )
        peer = self._peer(client) if logging_requests else "-"
        if broken:
            _reset(client)
        elif complete:
            client.close()  # see _close: nothing left to drain
        else:
            self._close(client, drain=True)
        if logging_requests:
            self.log.info(
                '%s "%s %s" %d %s %.1fms',
                peer,
                printable(head.method) if head else "-",
                printable(head.target) if head else "-",
                response.code,
                "-" if response.content_length is None else response.content_length,
                (time.monotonic() - started) * 1000,
            )

    @staticmethod
    def _peer(client: socket.socket) -> str:
        try:
            return str(client.getpeername()[0])
        except OSError:
            return "-"

    def _send(self, client: socket.socket, response: Response, head_only: bool) -> None:
        head = response.head
        chunks = None if head_only else response.chunks
        if chunks and len(chunks) == 1 and len(chunks[0]) <= SMALL_BODY_BYTES:
            self._send_first(client, head + chunks[0])  # most pages: one write
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
            self._send_first(client, head + first)  # most pages: one write
        else:
            self._send_first(client, head)
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

    def _send_first(self, client: socket.socket, data: bytes) -> None:
        """The first write of a response.

        A fresh connection's send buffer takes a small response whole, so
        this write rarely waits: on a blocking socket it is tried once
        without waiting, and the send deadline is set only if that fell
        short. On a socket that still has its reading deadline, a small
        write is sent under that deadline (saving a syscall).
        """
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

    def _close(self, client: socket.socket, *, drain: bool) -> None:
        """Close; after an early answer, half-close and drain first.

        Closing a socket with unread input makes the kernel send a reset, and
        a reset can destroy the response before the client reads it. A client
        whose whole request was read has nothing left to send (HTTP/1.0, one
        request per connection), so a plain close is safe and cheapest.
        """
        if not drain:
            client.close()
            return
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


def serve_http(
    handle: Handler,
    *,
    port: int = 8080,
    address: str = "127.0.0.1",
    start: str | None = "",
    timeout: float | None = None,
    debug: bool = False,
    allowed_hosts: Iterable[str] = (),
    token: bool | str = False,
    limits: Limits | None = None,
    timeouts: Timeouts | None = None,
    logger: logging.Logger | None = None,
    error_page: ErrorPage | None = None,
    ssl_context: ssl.SSLContext | None = None,
    on_ready: Callable[[Server], None] | None = None,
    commands: Any = False,
    app_id: str | None = None,
    quit_when_closed: bool | float = False,
) -> None:
    """Serve ``handle`` to the local browser until a ``shut_down`` response.

    ``handle(request)`` returns a Response or an iolist. The browser opens at
    ``start`` (``None``: don't). ``timeout`` is the first-packet timeout
    (default ``Timeouts.first_packet``, 0.5 s),
    ``debug`` shows tracebacks in 500 pages, ``allowed_hosts`` extends the
    Host allowlist, ``token=True`` requires the launch token, ``limits`` and
    ``timeouts`` override the defaults of :class:`Limits` and
    :class:`Timeouts`, ``error_page(request, status, message)`` renders error
    pages, ``ssl_context`` serves HTTPS, and ``on_ready(server)`` is called once
    listening (``server.url``, ``server.every``, ``server.call_soon``...).
    ``port=0`` picks a free port. OSError from binding propagates before any
    browser opens.

    Desktop-app options: ``commands`` (True or a ``kali.console.Commands``)
    reads commands from the terminal between requests; ``app_id`` keeps one
    instance per app (a second launch opens the running one and returns);
    ``quit_when_closed`` (True, or a grace period in seconds) returns once no
    page of the app has been open for the grace period.
    """
    if debug:  # strict templates (kali.templates): a missing name raises
        os.environ.setdefault("KALI_DEBUG", "1")
    server = Server(
        handle,
        port=port,
        address=address,
        timeout=timeout,
        debug=debug,
        allowed_hosts=allowed_hosts,
        token=token,
        limits=limits,
        timeouts=timeouts,
        logger=logger,
        error_page=error_page,
        ssl_context=ssl_context,
    )
    instance = None
    if app_id is not None:
        from .desktop import InstanceLock

        instance = InstanceLock(app_id)
        running = instance.running_launch_url(start or "")
        if running is not None:
            server.log.info("%s is already running: %s", app_id, running)
            if start is not None:
                launch_browser(running, server.log, background=False)
            return
    try:
        server.bind()
    except BaseException:
        if instance is not None:
            instance.release()
        raise
    cleanups: list[Callable[[], None]] = []
    try:
        if instance is not None:
            instance.acquire(server)
            cleanups.append(instance.release)
        if quit_when_closed:
            from .desktop import watch_pages

            grace = None if quit_when_closed is True else float(quit_when_closed)
            watch_pages(server, grace)
        if commands:
            from .console import attach_console

            detach = attach_console(server, commands)
            if detach is not None:
                cleanups.append(detach)
        if on_ready is not None:
            on_ready(server)
        if start is not None:
            server.open_browser(start)
        server.serve_forever()
    finally:
        server.close()
        for cleanup in reversed(cleanups):
            cleanup()
