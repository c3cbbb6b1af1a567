"""Launching an app: ``serve_http`` and the desktop wiring around the loop.

``serve_http`` makes a :class:`~kali.server.Server`, binds it, and before
serving wires in what the app asked for: one instance per app
(``kali.desktop.InstanceLock``), quitting when the last page closes
(``kali.pagewatch``), commands from the terminal (``kali.console``), the
launch token, and the browser opened at the start page. Then it runs the loop
until a ``shut_down`` response, ``stop()`` or Ctrl-C, and undoes the wiring.

Rules: this module sits above the loop and drives it only through its public
methods (``bind``, ``every``, ``call_soon``, ``stop``, ``handler``...); the
loop imports nothing from here. The desktop modules are imported only when
an app asks for them, so ``import kali`` stays cheap. No sockets here.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .connection import Timeouts
from .handling import AppOptions, ErrorPage, Handler
from .protocol import Limits
from .server import Server

if TYPE_CHECKING:
    import ssl

__all__ = ["launch_browser", "open_browser", "serve_http"]

log = logging.getLogger("kali")


def show_info_lines(logger: logging.Logger) -> None:
    """Let the server's INFO lines (its address, each request) reach the
    terminal, but only where the app configured no logging: the logger has
    no level of its own and no handler on its way to the root. An app that
    called ``basicConfig(level=WARNING)`` or set kali's level keeps its choice
    (the way Werkzeug's development server decides)."""
    if logger.level != logging.NOTSET:
        return
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return
        current = current.parent if current.propagate else None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


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


def open_browser(server: Server, start: str = "") -> None:
    """Open the user's browser at ``start`` on the bound ``server`` (with the
    launch token, if on), in a daemon thread: never blocks."""
    launch_browser(server.launch_url(start), server.log)


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
    show_info_lines(logger or log)
    server = Server(
        handle,
        port=port,
        address=address,
        timeout=timeout,
        allowed_hosts=allowed_hosts,
        token=token,
        limits=limits,
        timeouts=timeouts,
        ssl_context=ssl_context,
        options=AppOptions(debug, error_page, logger or log),
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
            from .pagewatch import watch_pages

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
            open_browser(server, start)
        server.serve_forever()
    finally:
        server.close()
        for cleanup in reversed(cleanups):
            cleanup()


def launch_arguments(
    description: str | None = None,
    *,
    port: int = 8080,
    argv: list[str] | None = None,
    parser: argparse.ArgumentParser | None = None,
) -> argparse.Namespace:
    """Read a desktop app's command line: ``--port`` (0 = any free port) and
    ``--no-browser``, beside whatever arguments ``parser`` already has."""
    parser = parser or argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--port",
        type=int,
        default=port,
        help=f"the port to serve on (default: {port}; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser tab; just print the address",
    )
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return arguments


def run_app(
    handle: Handler,
    arguments: argparse.Namespace | None = None,
    *,
    description: str | None = None,
    port: int = 8080,
    **options: Any,
) -> int:
    """Serve ``handle`` as a desktop app until Ctrl-C; 0 once stopped.

    ``arguments`` come from :func:`launch_arguments` (read here when not
    given): ``--port`` and ``--no-browser``. The address is printed once the
    server listens. Ctrl-C, and SIGTERM where there is one, stop it cleanly
    (``finally`` blocks and ``with`` blocks of the caller run: temporary
    folders go); a port in use is one line on stderr and ``SystemExit(1)``,
    never a traceback. ``options`` go to :func:`serve_http`.
    """
    if arguments is None:
        arguments = launch_arguments(description, port=port)
    ready = options.pop("on_ready", None)

    def announce(server: Server) -> None:
        print(f"Serving on {server.url} (press Ctrl-C to stop)", flush=True)
        if ready is not None:
            ready(server)

    start = None if arguments.no_browser else options.pop("start", "")
    previous = _stop_on_sigterm()
    try:
        serve_http(
            handle, port=arguments.port, start=start, on_ready=announce, **options
        )
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            print(
                f"Port {arguments.port} is in use (another copy of this app?): "
                "try --port 0 for any free port.",
                file=sys.stderr,
            )
            raise SystemExit(1) from None
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the server as Ctrl-C does; the old handler, or None
    when that is not possible (not the main thread, or no SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError, AttributeError):
        return None
