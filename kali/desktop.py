"""Start and stop like a desktop program: a data folder, one instance per app.

* :func:`data_folder` is where an app keeps its files (its SQLite database)
  on Linux/BSD, macOS and Windows.
* :class:`InstanceLock` (``serve_http(..., app_id="notes")``) keeps one
  running instance per app and user: the running one writes a small file
  (pid, address, a random secret, the launch URL; mode 0600) in the user's
  runtime folder, and a second launch that finds it alive only opens the
  browser at it. "Alive" means: a GET of ``/__kali__/instance?nonce=N`` on
  the recorded port answers the HMAC of ``N`` under the recorded secret, so a
  file left by a crash, or another program that got the port since, is
  recognised as stale and replaced.
* :func:`watch_pages` (``quit_when_closed``) lives in :mod:`kali.pagewatch`.

Two launches at the same moment are serialised by an OS lock on a second
file (``flock``; ``msvcrt.locking`` on Windows), held from the liveness
check until the winner has written its record; the kernel drops it if the
process dies, so it can never go stale. This module never imports
``socket``: the probe goes through :mod:`http.client`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import secrets
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .iolist import Body
from .pagewatch import PageWatcher, watch_pages
from .response import Response
from .security import SecurityPolicy

if TYPE_CHECKING:
    from .handling import Handler
    from .request import Request
    from .server import Server

__all__ = [
    "InstanceLock",
    "PageWatcher",
    "data_folder",
    "runtime_folder",
    "watch_pages",
]

log = logging.getLogger("kali")

INSTANCE_PATH = "/__kali__/instance"
#: How long the liveness check waits for the running instance. It serves one
#: request at a time, so give it time to finish a slow one; a dead port
#: refuses the connection at once.
PROBE_SECONDS = 5.0
#: How long a launch waits for another launch of the same app to finish its
#: check and write its record (a probe plus binding: seconds at most).
LAUNCH_WAIT_SECONDS = 15.0
#: Characters no file name may hold on some system we support.
_FORBIDDEN_IN_NAME = set('/\\:*?"<>|') | {chr(code) for code in range(32)} | {"\x7f"}
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{kind}{digit}" for kind in ("COM", "LPT") for digit in range(1, 10)
}


def check_app_name(name: str) -> str:
    """``name`` if it is usable as a folder name everywhere; else ValueError.

    Refused: empty names, ``.`` and ``..``, path separators and the other
    characters Windows forbids, leading or trailing spaces or dots, and
    Windows device names.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("an app name must be a non-empty string")
    if name in (".", "..") or _FORBIDDEN_IN_NAME & set(name):
        raise ValueError(f"{name!r} cannot be a folder name (separator or '..')")
    if name != name.strip(" .") or len(name) > 128:
        raise ValueError(f"{name!r}: no leading or trailing spaces or dots")
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        raise ValueError(f"{name!r} is a device name on Windows")
    return name


def _base_data_folder() -> Path:
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        if appdata:
            return Path(appdata)
        return Path.home() / "AppData" / "Roaming"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    # XDG Base Directory spec: a relative XDG_DATA_HOME is invalid, ignore it.
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path.home() / ".local" / "share"


def data_folder(app_name: str, *, create: bool = True) -> Path:
    """The folder where app ``app_name`` keeps the user's data.

    ``$XDG_DATA_HOME/<name>`` (default ``~/.local/share/<name>``) on Linux and
    BSD, ``~/Library/Application Support/<name>`` on macOS,
    ``%APPDATA%\\<name>`` on Windows. Created (private to the user, mode
    0700) unless ``create=False``. Raises ValueError for a name that is not
    a plain folder name (see :func:`check_app_name`), OSError if it cannot
    be created.
    """
    folder = _base_data_folder() / check_app_name(app_name)
    if create:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def runtime_folder(app_name: str) -> Path:
    """Where :class:`InstanceLock` keeps its files for ``app_name``, created:
    ``$XDG_RUNTIME_DIR/kali/<name>`` when that variable names a folder
    (Linux: a per-user tmpfs, emptied at logout), else the data folder."""
    check_app_name(app_name)
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        folder = Path(runtime) / "kali" / app_name
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder
    return data_folder(app_name)


# -- an OS lock that dies with its process ------------------------------------


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False if it is held.

    A file system without locks (OSError other than "would block") counts
    as taken: launches then merely lose their ordering.
    """
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except PermissionError:
            return False
        except OSError as error:
            # msvcrt reports a held lock as EACCES or EDEADLOCK.
            return error.errno not in (13, 36)
        return True
    else:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:
            log.warning("Cannot lock the instance file (%s); going on.", error)
        return True


def _unlock_and_close(fd: int) -> None:
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        # POSIX: closing the descriptor releases flock.
    except OSError:
        pass
    finally:
        os.close(fd)


class InstanceLock:
    """One running instance of app ``app_id`` per user.

    ``serve_http(app_id=...)`` uses it in three steps::

        lock = InstanceLock("notes")
        url = lock.running_launch_url(start)  # a live instance's URL, or None
        server.bind()                          # only when url is None
        lock.acquire(server)                   # record it; answer the probe
        ...                                    # serve
        lock.release()                         # remove the record

    ``folder`` overrides :func:`runtime_folder`. Raises ValueError for an
    ``app_id`` that is not a plain folder name.
    """

    def __init__(
        self,
        app_id: str,
        *,
        folder: str | os.PathLike[str] | None = None,
        probe_seconds: float = PROBE_SECONDS,
        wait_seconds: float = LAUNCH_WAIT_SECONDS,
    ) -> None:
        self.app_id = check_app_name(app_id)
        self._folder = Path(folder) if folder is not None else None
        self.probe_seconds = probe_seconds
        self.wait_seconds = wait_seconds
        #: Proves to a later launch that the answering server is this one.
        self.secret = secrets.token_hex(32)
        self._mutex: int | None = None
        self._closer: Callable[[], object] | None = None
        self.acquired = False

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = runtime_folder(self.app_id)
        else:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self._folder

    @property
    def path(self) -> Path:
        """The record of the running instance (JSON)."""
        return self.folder / "instance.json"

    # -- the launch mutex --------------------------------------------------------

    def _lock(self, wait_seconds: float) -> bool:
        """Hold the launch mutex (waiting up to ``wait_seconds``); True if held."""
        if self._mutex is not None:
            return True
        fd = os.open(self.folder / "instance.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_seconds
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                log.warning("Another launch of %s holds its lock; going on.", self)
                return False
            time.sleep(0.05)
        self._mutex = fd
        # Released at the latest when this object is dropped (the process
        # exiting releases it anyway).
        self._closer = weakref.finalize(self, _unlock_and_close, fd)
        return True

    def _unlock(self) -> None:
        if self._closer is not None:
            self._closer()
        self._mutex = self._closer = None

    # -- the record ----------------------------------------------------------------

    def read_record(self) -> dict[str, Any] | None:
        """The record on disk, if there is a well-formed one."""
        try:
            with open(self.path, encoding="utf-8") as file:
                record = json.load(file)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("kali_instance") != 1:
            return None
        kinds = {"port": int, "host": str, "scheme": str, "secret": str, "pid": int}
        for key, kind in kinds.items():
            if not isinstance(record.get(key), kind):
                return None
        token = record.get("token")
        if not (token is None or isinstance(token, str)):
            return None
        if record["scheme"] not in ("http", "https"):
            return None
        if not 0 < record["port"] < 65536:
            return None
        return record

    def is_alive(self, record: dict[str, Any]) -> bool:
        """Does a kali server holding ``record``'s secret answer at its port?"""
        nonce = secrets.token_hex(16)
        host = record["host"].strip("[]")
        port = record["port"]
        connection: http.client.HTTPConnection
        if record["scheme"] == "https":
            import ssl

            context = ssl.create_default_context()
            context.check_hostname = False  # the HMAC below proves who answers
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.probe_seconds, context=context
            )
        else:
            connection = http.client.HTTPConnection(
                host, port, timeout=self.probe_seconds
            )
        headers = {"Cache-Control": "no-store"}
        if record.get("token"):
            policy = SecurityPolicy(port, None, token=record["token"])
            headers["Cookie"] = f"{policy.cookie_name}={record['token']}"
        try:
            connection.request("GET", f"{INSTANCE_PATH}?nonce={nonce}", headers=headers)
            answer = connection.getresponse()
            body = answer.read(256)
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        expected = _proof(record["secret"], nonce).encode("ascii")
        return answer.status == 200 and hmac.compare_digest(body.strip(), expected)

    def launch_url(self, record: dict[str, Any], start: str = "") -> str:
        """The URL to open the recorded instance at ``start`` (with its token)."""
        policy = SecurityPolicy(
            record["port"], None, scheme=record["scheme"], token=record.get("token")
        )
        origin = f"{record['scheme']}://{record['host']}:{record['port']}"
        return origin + policy.launch_target(start)

    # -- the three steps -----------------------------------------------------------

    def running_launch_url(self, start: str = "") -> str | None:
        """The launch URL (at ``start``) of a live instance of this app, or None.

        On None the caller is expected to bind and call :meth:`acquire`
        (or :meth:`release` if it gives up): the launch mutex stays held
        until then, so a simultaneous launch waits and then finds this one.
        """
        self._lock(self.wait_seconds)
        record = self.read_record()
        if record is not None:
            if self.is_alive(record):
                self._unlock()
                return self.launch_url(record, start)
            log.info("Replacing the stale instance file %s", self.path)
        return None

    def acquire(self, server: Server) -> None:
        """Record ``server`` (bound) as the running instance, and make it answer
        the liveness probe (this wraps ``server.handler``). OSError if the
        record cannot be written."""
        assert server.policy is not None, "bind() first"
        self._lock(self.wait_seconds)
        try:
            record = {
                "kali_instance": 1,
                "app_id": self.app_id,
                "pid": os.getpid(),
                "scheme": server.scheme,
                "host": server.host,
                "port": server.port,
                "secret": self.secret,
                "token": server.policy.token,
                "url": server.launch_url(""),
            }
            self._write(json.dumps(record, indent=1))
            self.acquired = True
        finally:
            self._unlock()
        server.handler = self.wrap(server.handler)
        server.log.info("Running as %s (%s)", self.app_id, self.path)

    def release(self) -> None:
        """Remove the record if it is still this instance's; drop the mutex."""
        if self.acquired:
            self._lock(min(self.wait_seconds, 2.0))
            record = self.read_record()
            if record is not None and record["secret"] == self.secret:
                try:
                    os.remove(self.path)
                except OSError:
                    pass
            self.acquired = False
        self._unlock()

    def _write(self, text: str) -> None:
        """Replace the record atomically: a reader sees the old or the new one."""
        descriptor, temporary = tempfile.mkstemp(
            dir=self.folder, prefix=".instance-", suffix=".tmp"
        )  # mkstemp makes it 0600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
            for attempt in range(20):
                try:
                    os.replace(temporary, self.path)
                    break
                except PermissionError:  # Windows: a reader has it open
                    if attempt == 19:
                        raise
                    time.sleep(0.05)
        except BaseException:
            try:
                os.remove(temporary)
            except OSError:
                pass
            raise

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` behind the ``/__kali__/instance`` probe endpoint."""

        def answering(request: Request) -> Response | Body:
            if request.url.path != INSTANCE_PATH:
                return handler(request)
            nonce = request.GET.get("nonce") or ""
            if request.command not in ("GET", "HEAD") or not 16 <= len(nonce) <= 128:
                return Response.error_page(400, "Not a valid instance check.")
            return Response(
                _proof(self.secret, nonce),
                headers={
                    "content-type": "text/plain; charset=utf-8",
                    "cache-control": "no-store",
                },
            )

        return answering

    def __repr__(self) -> str:
        return f"<InstanceLock {self.app_id!r}>"


def _proof(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()
