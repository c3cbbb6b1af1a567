"""The server loop: bind, accept, and run work between requests. One thread,
one connection at a time, no select.

1. Listen with ``SO_REUSEADDR`` (``SO_EXCLUSIVEADDRUSE`` on Windows), a real
   backlog, and on Linux ``TCP_DEFER_ACCEPT``: the kernel keeps a browser's
   idle speculative connections out of ``accept()`` until they carry data;
   one that reaches ``accept()`` with nothing to read has been silent for
   the whole defer period and is closed at once (elsewhere, or when the
   option could not be set, it gets the first-packet timeout).
2. Hand each accepted socket to a :class:`~kali.connection.Connection`,
   which reads the request under deadlines, has the one request pipeline
   (``kali.handling.Pipeline``) answer it, sends the answer and closes; no
   exception leaves it, so one client can never end the loop.
3. Between two connections, run the work other threads handed over
   (:meth:`Server.call_soon`) and the periodic work (:meth:`Server.every`).
4. Ctrl-C, :meth:`Server.stop` or a response with ``shut_down`` ends the
   loop and closes the listening socket.

Rules: only this module and ``kali.connection`` touch sockets. The loop
imports nothing of how an app is launched (``kali.launch``: ``serve_http``,
the browser, one instance, page watching, the console): those sit above it
and drive it through its public methods.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .connection import ClientReader, Connection
from .handling import AppOptions, ErrorPage, Handler, Pipeline, app_options
from .protocol import Limits
from .security import SecurityPolicy, host_literal
from .timeouts import Timeouts

if TYPE_CHECKING:
    import ssl

__all__ = ["ClientReader", "Server", "Timeouts"]

#: Browsers open several connections at once; a backlog this deep never
#: refuses one while the single thread is busy with another.
DEFAULT_BACKLOG = 128
#: Longer than a browser keeps an unused pre-connection (Chromium: 10 s), so
#: idle sockets die in the kernel instead of reaching accept().
DEFER_ACCEPT_SECONDS = 30


@dataclass
class _Ticker:
    interval: float
    due: float
    function: Callable[[], None]


class Server:
    """A kali server. ``serve_http`` makes one and runs it; tests and
    embedding apps may drive it directly::

        server = Server(app, port=0)
        server.bind()            # now server.port and server.url are known
        server.serve_forever()   # until a shut_down response or stop()

    ``debug``, ``error_page`` and ``logger`` make the app's
    :class:`~kali.handling.AppOptions`; or pass ``options=`` instead.
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
        options: AppOptions | None = None,
    ) -> None:
        options = app_options(
            options, debug=debug, error_page=error_page, logger=logger
        )
        #: The one request pipeline: the handler, the AppOptions, the Limits.
        self.pipeline = Pipeline(handler, options, limits)
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
        #: TCP_DEFER_ACCEPT is on for the listener (Linux; known once bound):
        #: a connection with nothing to read at accept() is closed at once,
        #: instead of after the first-packet timeout.
        self.deferred_accept = False
        self._thread: threading.Thread | None = None
        self.port = port
        self.policy: SecurityPolicy | None = None
        self.ssl_context = ssl_context
        self._stopping = False
        # Work handed to the server thread by other threads (call_soon), and
        # periodic work (every): both run between requests, never during one.
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._tickers: list[_Ticker] = []
        self._busy_checks: list[Callable[[], bool]] = []
        self._poke_addresses: set[Any] = set()

    # -- the app, as the pipeline runs it ---------------------------------------

    @property
    def handler(self) -> Handler:
        """The root handler; may be replaced (wrapped) before serving."""
        return self.pipeline.handler

    @handler.setter
    def handler(self, handler: Handler) -> None:
        self.pipeline.handler = handler

    @property
    def options(self) -> AppOptions:
        return self.pipeline.options

    @options.setter
    def options(self, options: AppOptions) -> None:
        self.pipeline.options = options

    @property
    def error_page(self) -> ErrorPage | None:
        """The app's ``error_page`` (in :attr:`options`); may be replaced."""
        return self.pipeline.options.error_page

    @error_page.setter
    def error_page(self, error_page: ErrorPage | None) -> None:
        self.options = dataclasses.replace(self.options, error_page=error_page)

    @property
    def debug(self) -> bool:
        return self.pipeline.options.debug

    @property
    def log(self) -> logging.Logger:
        return self.pipeline.options.logger

    @property
    def limits(self) -> Limits:
        return self.pipeline.limits

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
        except BaseException:
            listener.close()
            raise
        self.deferred_accept = _defer_accept(listener)
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

    def add_busy_check(self, check: Callable[[], bool]) -> None:
        """Count the app as busy while ``check()`` is true (work that runs
        off the loop, such as :mod:`kali.jobs`): ``quit_when_closed`` does
        not stop a busy app. Called on the server thread between requests."""
        self._busy_checks.append(check)

    def is_busy(self) -> bool:
        """True while any check given to :meth:`add_busy_check` says so (a
        check that raises is logged and counts as busy)."""
        for check in self._busy_checks:
            try:
                if check():
                    return True
            except Exception:
                self.log.exception("A busy check failed")
                return True
        return False

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
        # socket.accept() converts family and type to enums on every call;
        # the raw _accept() and these plain ints save a microsecond a request.
        kind = (int(listener.family), int(listener.type), listener.proto)
        deferred = self.deferred_accept
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
                    fd, address = listener._accept()  # type: ignore[attr-defined]
                    client = socket.socket(*kind, fileno=fd)
                except socket.timeout:
                    continue  # time for a ticker
                except OSError:
                    if self._stopping:
                        break
                    self.log.exception("accept() failed; retrying")
                    time.sleep(0.1)
                    continue
                if listener_wait is not None and socket.getdefaulttimeout() is None:
                    client.setblocking(True)  # as accept(): BSD and Windows hand
                    # out sockets as non-blocking as the listener
                try:
                    if address in self._poke_addresses:
                        self._poke_addresses.discard(address)
                        continue
                    if Connection(client, address, self, deferred=deferred).serve():
                        break
                finally:
                    if client.fileno() != -1:  # usually closed already
                        client.close()
        finally:
            self.close()
            self.log.info("Shutting Down.")

    def serve_connection(self, client: socket.socket, address: Any) -> bool:
        """Answer one accepted connection and close it; True when the
        response asked to shut down. Never raises (see
        :meth:`kali.connection.Connection.serve`). The socket may come from
        anywhere, so a silent one gets the first-packet timeout."""
        return Connection(client, address, self).serve()


def _defer_accept(listener: socket.socket) -> bool:
    """Turn TCP_DEFER_ACCEPT on (Linux) and say whether it is on, as the
    kernel reads it back; False where there is none or it was refused (then
    the first-packet timeout dismisses idle connections)."""
    if sys.platform != "linux":
        return False
    try:
        listener.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_SECONDS
        )
        return listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) > 0
    except OSError:
        return False
