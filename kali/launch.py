"""Launching an app: ``serve_http`` and the desktop wiring around the loop.

``serve_http`` makes a :class:`~kali.server.Server`, binds it, and before
serving wires in what the app asked for: one instance per app
(``kali.desktop.InstanceLock``; :func:`claim_instance` takes it before the
app opens its database), quitting when the last page closes
(``kali.pagewatch``; ``--keep-running`` or ``KALI_KEEP_RUNNING=1`` turn
that off), commands from the terminal (``kali.console``), the launch token
(``kali.desktop.LaunchPolicy``), and the browser opened at the start page.
Then it runs the loop until a ``shut_down`` response, ``stop()`` or Ctrl-C,
and undoes the wiring.

A URL holding a secret (a launch code) never goes on a command line, where
any local user can read it (``/proc/PID/cmdline``), nor in the log: the
browser is given a small page readable only by the user (mode 0600, in a
private folder) that sends it on, and the log shows the URL redacted.

Rules: this module sits above the loop and drives it only through its public
methods (``bind``, ``every``, ``call_soon``, ``stop``, ``handler``...); the
loop imports nothing from here. The desktop modules are imported only when
an app asks for them, so ``import kali`` stays cheap. No sockets here.
"""

from __future__ import annotations

import argparse
import errno
import html
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .accesslog import redact
from .connection import Timeouts
from .handling import AppOptions, ErrorPage, Handler
from .protocol import Limits
from .server import Server

if TYPE_CHECKING:
    import ssl

    from .cors import CorsPolicy
    from .desktop import InstanceLock

__all__ = [
    "claim_instance",
    "keep_running_requested",
    "launch_arguments",
    "launch_browser",
    "open_browser",
    "run_app",
    "serve_http",
    "write_launch_file",
]

log = logging.getLogger("kali")

#: The environment variable that keeps an app serving after its last tab
#: closes (``quit_when_closed`` off): for tests, servers and headless runs.
KEEP_RUNNING_VARIABLE = "KALI_KEEP_RUNNING"
#: ``KALI_LAUNCH_FILE=0`` gives the browser the URL with its one-time code
#: instead of a launch file, for browsers that cannot read the user's temporary
#: or runtime folders (Ubuntu's snap Firefox and Chromium).
LAUNCH_FILE_VARIABLE = "KALI_LAUNCH_FILE"
#: A launch file made without a folder to put it in (``launch_browser`` on
#: its own) is removed this long after the browser was started, or at exit.
LAUNCH_FILE_SECONDS = 120.0
LAUNCH_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Opening the app…</title>
<meta http-equiv="refresh" content="0;url={url}"></head>
<body><p><a href="{url}">Open the app</a></p></body></html>
"""


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


def write_launch_file(url: str, folder: str | os.PathLike[str]) -> Path:
    """Write a page that sends the browser to ``url`` into ``folder``,
    readable only by the user (mode 0600 where there are modes; on Windows
    the folder's access list decides); its path. OSError if it cannot."""
    import secrets  # on first use: it pulls in hashlib

    path = Path(folder) / f"open-{secrets.token_hex(8)}.html"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(LAUNCH_PAGE.format(url=html.escape(url)).encode("utf-8"))
    return path


def _launch_target(url: str, folder: str | os.PathLike[str] | None) -> str:
    """What to give the browser for ``url``: ``url`` itself, or, when it
    holds a secret, the ``file:`` URL of a launch file."""
    if redact(url) == url:
        return url
    if os.environ.get(LAUNCH_FILE_VARIABLE, "").strip() == "0":
        return url  # a browser that cannot read the file (snap): the code is one-time
    if folder is not None:
        return write_launch_file(url, folder).as_uri()
    temporary = tempfile.TemporaryDirectory(prefix="kali-launch-")
    try:
        path = write_launch_file(url, temporary.name)
    except BaseException:
        temporary.cleanup()
        raise
    remover = threading.Timer(LAUNCH_FILE_SECONDS, temporary.cleanup)
    remover.daemon = True  # at exit, TemporaryDirectory removes it anyway
    remover.start()
    return path.as_uri()


def launch_browser(
    url: str,
    logger: logging.Logger = log,
    *,
    background: bool = True,
    folder: str | os.PathLike[str] | None = None,
) -> None:
    """Open ``url`` with :mod:`webbrowser` (which honours ``BROWSER``).

    In the background by default, so a slow browser start never delays
    serving; a failure is only logged. A ``url`` with a secret (a query
    parameter named like ``kali-token``) is never put on the browser's
    command line: the browser opens a launch file holding it
    (:func:`write_launch_file`, in ``folder``, or in a private temporary
    folder removed ``LAUNCH_FILE_SECONDS`` later), and the log shows
    the URL with the secret ``REDACTED`` (``kali.accesslog.redact``).
    """
    logger.info("Opening %s", redact(url))

    def launch() -> None:
        import webbrowser  # on first use: it is slow to import

        target = redact(url)
        try:
            target = _launch_target(url, folder)
            if not webbrowser.open(target):
                logger.warning("No browser found; visit %s", target)
        except Exception:
            logger.exception("Could not open a browser; visit %s", target)

    if background:
        threading.Thread(target=launch, name="kali-browser", daemon=True).start()
    else:
        launch()


def open_browser(
    server: Server, start: str = "", *, folder: str | os.PathLike[str] | None = None
) -> None:
    """Open the user's browser at ``start`` on the bound ``server`` (with a
    one-time launch code, if the token is on), in a daemon thread: never
    blocks. ``folder`` is where a launch file goes (see :func:`launch_browser`)."""
    launch_browser(server.launch_url(start), server.log, folder=folder)


def keep_running_requested(environ: Any = None) -> bool:
    """Does ``KALI_KEEP_RUNNING`` (in ``environ``, default ``os.environ``) ask
    to keep serving after the last tab closes (``1``, ``true``, ``yes``, ``on``)?"""
    value = (os.environ if environ is None else environ).get(KEEP_RUNNING_VARIABLE, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def claim_instance(
    app_id: str | InstanceLock,
    arguments: argparse.Namespace | None = None,
    *,
    start: str | None = "",
    logger: logging.Logger | None = None,
) -> InstanceLock:
    """Make this process the one running instance of ``app_id``; call it
    before the app opens its database, and pass the result to
    :func:`run_app` or :func:`serve_http` as ``app_id``.

    When another instance runs, it is opened in the browser at ``start``
    (``None``, or ``--no-browser`` in ``arguments``: its address is only
    logged) and ``SystemExit(0)`` is raised; when it runs but did not answer
    (busy for longer than the wait), ``SystemExit(1)`` after one line.
    Returns the held :class:`~kali.desktop.InstanceLock`: keep it, the lock
    lasts as long as the process (or until its ``release()``).
    """
    from .desktop import InstanceBusy, InstanceLock

    logger = logger or log
    show_info_lines(logger)
    if arguments is not None and getattr(arguments, "no_browser", False):
        start = None
    instance = app_id if isinstance(app_id, InstanceLock) else InstanceLock(app_id)
    try:
        running = instance.running_launch_url(start or "")
    except InstanceBusy as error:
        logger.warning("%s", error)
        raise SystemExit(1) from None
    if running is None:
        return instance
    _forward(instance, running, start, logger)
    raise SystemExit(0)


def _forward(
    instance: InstanceLock, url: str, start: str | None, logger: logging.Logger
) -> None:
    """Send the user to the running instance at ``url`` (a second launch)."""
    logger.info("%s is already running: %s", instance.app_id, redact(url))
    if start is not None:
        # The launch file goes beside the record; the instance removes it.
        launch_browser(url, logger, background=False, folder=instance.folder)
    elif redact(url) != url:
        path = write_launch_file(url, instance.folder)
        logger.info("Open it with %s", path.as_uri())


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
    app_id: str | InstanceLock | None = None,
    quit_when_closed: bool | float = False,
    cors_origins: Iterable[str] = (),
    cors_credentials: bool = False,
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
    ``cors_origins`` invites pages of other origins (``"http://localhost:5173"``)
    to call the app (CORS, ``kali.cors.CorsPolicy``; ``cors_credentials``
    lets them send cookies); ValueError for a malformed origin.
    ``port=0`` picks a free port. OSError from binding propagates before any
    browser opens.

    Desktop-app options: ``commands`` (True or a ``kali.console.Commands``)
    reads commands from the terminal between requests; ``app_id`` (a name,
    or the lock :func:`claim_instance` returned) keeps one instance per app
    (a second launch opens the running one and returns);
    ``quit_when_closed`` (True, or a grace period in seconds) returns once no
    page of the app has been open for the grace period, unless
    ``KALI_KEEP_RUNNING=1`` is set. With ``token=True`` the browser is
    opened with a one-time code through a private launch file.
    """
    if debug:  # strict templates (kali.templates): a missing name raises
        os.environ.setdefault("KALI_DEBUG", "1")
    show_info_lines(logger or log)
    if quit_when_closed and keep_running_requested():
        (logger or log).info(
            "%s is set: serving until stopped, even with no page open.",
            KEEP_RUNNING_VARIABLE,
        )
        quit_when_closed = False
    cors: CorsPolicy | None = None  # the default: CORS off, kali.cors not loaded
    if cors_origins != () or cors_credentials:
        from .cors import cors_policy

        cors = cors_policy(cors_origins, credentials=cors_credentials)
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
        options=AppOptions(
            debug,
            error_page,
            logger or log,
            cors=cors,
        ),
    )
    instance = None
    owned = False  # made here: released here (a claimed one lives on)
    if app_id is not None:
        from .desktop import InstanceBusy, InstanceLock

        if isinstance(app_id, InstanceLock):
            instance = app_id
        else:
            instance, owned = InstanceLock(app_id), True
        try:
            running = instance.running_launch_url(start or "")
        except InstanceBusy as error:
            server.log.warning("%s", error)
            return
        if running is not None:
            _forward(instance, running, start, server.log)
            return
    try:
        server.bind()
    except BaseException:
        if owned and instance is not None:
            instance.release()
        raise
    cleanups: list[Callable[[], None]] = []
    try:
        launch_folder = None
        if server.policy is not None and server.policy.token is not None:
            from .launchtoken import protect_launch

            protect_launch(server)
            launch_folder = tempfile.mkdtemp(prefix="kali-launch-")  # mode 0700
            cleanups.append(partial(shutil.rmtree, launch_folder, ignore_errors=True))
        if instance is not None:
            instance.acquire(server)
            cleanups.append(instance.release if owned else instance.retire)
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
            open_browser(server, start, folder=launch_folder)
        elif launch_folder is not None:
            path = write_launch_file(server.launch_url(""), launch_folder)
            server.log.info("Open the app with %s", path.as_uri())
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
    """Read a desktop app's command line: ``--port`` (0 = any free port),
    ``--no-browser`` and ``--keep-running``, beside whatever arguments
    ``parser`` already has."""
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
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep serving when no page is open (for tests and servers; "
        f"{KEEP_RUNNING_VARIABLE}=1 does the same)",
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
    given): ``--port``, ``--no-browser`` and ``--keep-running`` (turns
    ``quit_when_closed`` off). The address is printed once the
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
    if getattr(arguments, "keep_running", False):
        options["quit_when_closed"] = False
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
