"""Start and stop like a desktop program: a data folder, one instance per app.

* :func:`data_folder` is where an app keeps its files (its SQLite database)
  on Linux/BSD, macOS and Windows.
* :class:`InstanceLock` (``serve_http(..., app_id="notes")``, or
  ``kali.launch.claim_instance`` before the app opens its database) keeps one
  running instance per app and user. Liveness is an OS lock on a file in the
  user's runtime folder (``flock``; ``msvcrt.locking`` on Windows), taken
  without waiting and held for the process's life: the kernel drops it when
  the process ends, however it ends, and a process busy for minutes still
  holds it. A second launch that cannot take the lock knows the app runs; it
  then reads the running instance's record (pid, address, port, a random
  secret; mode 0600) only to find *where* to send the user, and asks that
  port first who it is: ``GET /__kali__/instance?nonce=N`` must answer the
  HMAC of ``N`` and the port under the recorded secret. Nothing secret is
  sent with that question.
* :class:`LaunchPolicy` is the launch token (``token=True``) as
  ``serve_http`` applies it: one-time launch codes, and a cookie bound to
  this process and port (see its docstring for what it does not protect).
* :func:`watch_pages` (``quit_when_closed``) lives in :mod:`kali.pagewatch`.

This module never imports ``socket``: the probe goes through
:mod:`http.client`. It must not be imported by anything below the launch
layer.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .iolist import Body
from .launchtoken import LaunchPolicy, _mac, mint_code, protect_launch
from .pagewatch import LAUNCH_PROBE_PATH, PageWatcher, watch_pages
from .response import Response
from .security import TOKEN_QUERY_NAME

if TYPE_CHECKING:
    from .handling import Handler
    from .request import Request
    from .server import Server

__all__ = [
    "InstanceBusy",
    "InstanceLock",
    "LaunchPolicy",
    "PageWatcher",
    "data_folder",
    "runtime_folder",
    "watch_pages",
]

log = logging.getLogger("kali")

INSTANCE_PATH = LAUNCH_PROBE_PATH
#: How long a second launch waits for the running instance to say where it
#: is. It serves one request at a time, so this is how long a busy instance
#: (a long upload, a locked database) may take to get to the question;
#: a starting one writes its record within a second.
LAUNCH_WAIT_SECONDS = 20.0
#: Kept for callers of the first desktop API: the probe now waits up to
#: ``wait_seconds``, since the lock already says the app is alive.
PROBE_SECONDS = 5.0
#: Launch files a second launch leaves for the browser in the running
#: instance's folder; the instance removes them when it ends.
LAUNCH_FILE_PATTERN = "open-*.html"
#: Characters no file name may hold on some system we support.
_FORBIDDEN_IN_NAME = set('/\\:*?"<>|') | {chr(code) for code in range(32)} | {"\x7f"}
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{kind}{digit}" for kind in ("COM", "LPT") for digit in range(1, 10)
}


class InstanceBusy(RuntimeError):
    """Another process holds the app's instance lock but did not say where it
    serves within the wait (busy for longer than that, or still starting)."""


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
    as taken, with a warning: one instance per app is then not enforced.
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


# -- one instance per app -------------------------------------------------------------


class InstanceLock:
    """One running instance of app ``app_id`` per user.

    ``serve_http(app_id=...)`` uses it in three steps::

        lock = InstanceLock("notes")
        url = lock.running_launch_url(start)  # a live instance's URL, or None
        server.bind()                          # only when url is None
        lock.acquire(server)                   # record it; answer the probe
        ...                                    # serve
        lock.release()                         # remove the record, unlock

    :meth:`claim` alone takes the lock; do it before opening the app's
    database (``kali.launch.claim_instance`` does). ``folder`` overrides
    :func:`runtime_folder`; ``wait_seconds`` bounds how long a second launch
    waits for a busy instance to answer. Raises ValueError for an ``app_id``
    that is not a plain folder name.
    """

    def __init__(
        self,
        app_id: str,
        *,
        folder: str | os.PathLike[str] | None = None,
        wait_seconds: float = LAUNCH_WAIT_SECONDS,
    ) -> None:
        self.app_id = check_app_name(app_id)
        self._folder = Path(folder) if folder is not None else None
        self.wait_seconds = wait_seconds
        #: Proves to a later launch that the answering server is this one.
        self.secret = secrets.token_hex(32)
        #: The port this instance serves on, once acquired (part of the proof).
        self.port = 0
        self._held: int | None = None
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

    @property
    def is_held(self) -> bool:
        """Does this object hold the app's lock?"""
        return self._held is not None

    def claim(self) -> bool:
        """Take the app's lock without waiting: True if this process holds it
        now (it is *the* instance), False if another process does. Held until
        :meth:`release` or the process ends. OSError if the lock file cannot
        be opened."""
        if self._held is not None:
            return True
        # Not inherited by child processes (PEP 446): a browser started from
        # here must not keep the app "running" after it ends.
        fd = os.open(self.folder / "instance.lock", os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            return False
        self._held = fd
        return True

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
        launch_key = record.get("launch_key")
        if launch_key is not None and not (
            isinstance(launch_key, str)
            and len(launch_key) == 64
            and _is_hex(launch_key)
        ):
            return None
        if record["scheme"] not in ("http", "https"):
            return None
        if not 0 < record["port"] < 65536:
            return None
        return record

    def is_alive(self, record: dict[str, Any], timeout: float = PROBE_SECONDS) -> bool:
        """Does the kali server holding ``record``'s secret answer at its port
        within ``timeout`` seconds? Sends a nonce and nothing else."""
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
                host, port, timeout=timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request(
                "GET",
                f"{INSTANCE_PATH}?nonce={nonce}",
                headers={"Cache-Control": "no-store"},
            )
            answer = connection.getresponse()
            body = answer.read(256)
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        expected = _proof(record["secret"], nonce, port).encode("ascii")
        return answer.status == 200 and hmac.compare_digest(body.strip(), expected)

    def launch_url(self, record: dict[str, Any], start: str = "") -> str:
        """The URL to open the recorded instance at ``start``, with a fresh
        one-time launch code if it has a launch token."""
        origin = f"{record['scheme']}://{record['host']}:{record['port']}"
        target = "/" + start.lstrip("/")
        if record.get("launch_key"):
            code = mint_code(bytes.fromhex(record["launch_key"]), record["port"])
            target += ("&" if "?" in target else "?") + f"{TOKEN_QUERY_NAME}={code}"
        return origin + target

    # -- the three steps -----------------------------------------------------------

    def running_launch_url(self, start: str = "") -> str | None:
        """None once this process holds the app's lock (bind, then
        :meth:`acquire`); else the launch URL (at ``start``) of the instance
        that holds it, once that instance proved who it is.

        Raises :class:`InstanceBusy` when the holder did not answer within
        ``wait_seconds``: the app runs, and no second one may start.
        """
        if self.claim():
            return None
        deadline = time.monotonic() + self.wait_seconds
        while True:
            record = self.read_record()
            remaining = deadline - time.monotonic()
            if record is not None and self.is_alive(record, max(remaining, 0.1)):
                return self.launch_url(record, start)
            if self.claim():  # it ended meanwhile: this launch takes over
                return None
            if time.monotonic() >= deadline:
                raise InstanceBusy(
                    f"{self.app_id} is running but did not answer within "
                    f"{self.wait_seconds:.0f} s; not starting a second copy."
                )
            time.sleep(0.1)

    def acquire(self, server: Server) -> None:
        """Record ``server`` (bound) as the running instance, and make it answer
        the liveness probe (this wraps ``server.handler``). Takes the lock if
        not held yet: InstanceBusy if another process holds it. With a launch
        token, gives the server its :class:`LaunchPolicy`. OSError if the
        record cannot be written."""
        assert server.policy is not None, "bind() first"
        if not self.claim():
            raise InstanceBusy(f"another process runs {self.app_id}")
        policy = protect_launch(server)
        old = self.read_record()
        if old is not None and old["secret"] != self.secret:
            log.info("Replacing the stale instance file %s", self.path)
        record = {
            "kali_instance": 1,
            "app_id": self.app_id,
            "pid": os.getpid(),
            "scheme": server.scheme,
            "host": server.host,
            "port": server.port,
            "secret": self.secret,
            "launch_key": None if policy is None else policy.key.hex(),
            "url": server.url,
        }
        self._write(json.dumps(record, indent=1))
        self.port = server.port
        self.acquired = True
        server.handler = self.wrap(server.handler)
        server.log.info("Running as %s (%s)", self.app_id, self.path)

    def retire(self) -> None:
        """Remove the record if it is still this instance's, and the launch
        files left for the browser; keep the lock."""
        if not self.acquired:
            return
        record = self.read_record()
        if record is not None and record["secret"] == self.secret:
            _remove(self.path)
        for leftover in self.folder.glob(LAUNCH_FILE_PATTERN):
            _remove(leftover)
        self.acquired = False

    def release(self) -> None:
        """:meth:`retire`, then give the lock up (a later launch may serve)."""
        self.retire()
        if self._held is not None:
            fd, self._held = self._held, None
            _unlock_and_close(fd)

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
            _remove(temporary)
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
                _proof(self.secret, nonce, self.port),
                headers={
                    "content-type": "text/plain; charset=utf-8",
                    "cache-control": "no-store",
                },
            )

        return answering

    def __repr__(self) -> str:
        return f"<InstanceLock {self.app_id!r}>"


def _proof(secret: str, nonce: str, port: int) -> str:
    return _mac(secret.encode("utf-8"), "instance", nonce, port)


def _is_hex(text: str) -> bool:
    return all(character in "0123456789abcdef" for character in text)


def _remove(path: str | os.PathLike[str]) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
