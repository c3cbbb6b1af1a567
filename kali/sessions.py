"""Signed-cookie sessions: remember a little per browser between requests.

A multi-step workflow ("pick a contact, then come back to the half-filled
appointment form") needs somewhere to keep the half-filled form. A session
keeps it in the browser's own cookie, signed so the browser cannot change
it, so the app needs no class-level globals and no table for it::

    sessions = Sessions()                     # a fresh secret per launch
    app = sessions.wrap(router)

    def pick_contact(request):
        request.session["draft"] = dict(request.POST.items())
        return Response.redirect("/contacts/pick")

The cookie holds ``base64url(JSON [issued_at, data]) "." base64url(HMAC)``:
HMAC-SHA256 under the secret, over the cookie name and the payload. It is
``HttpOnly`` (page scripts cannot read it) and ``SameSite=Lax`` by default
(``Strict`` on request), so other sites cannot ride on it. A cookie that was
tampered with, has expired or cannot be read gives an empty session, never
an error page. Values go through JSON: use str, numbers, bools, None, lists
and dicts with str keys (a tuple comes back as a list).

With a :class:`~kali.sqlite.TransactionGuard`, put the guard outside:
``guard.wrap(sessions.wrap(router))``. Then a request the guard refuses (it
forgot to commit, the database was busy) saves no session change either.

The data is signed, not encrypted: the user can read it (it is their own
browser), just not change it. Keep it small (``max_bytes``, 4000 by default:
browsers drop bigger cookies, so a bigger session raises ValueError rather
than vanish) and keep secrets out of it.

This module must not touch sockets or keep global state: each
:class:`Sessions` holds its own secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .request import Request
from .response import Response
from .routing import Handler

__all__ = ["SECRET_BYTES", "Session", "Sessions", "session_of"]

log = logging.getLogger("kali")

#: Size of a generated secret: 256 bits, the HMAC-SHA256 key size.
SECRET_BYTES = 32
#: A secret file shorter than this is treated as damaged and replaced.
MIN_SECRET_BYTES = 16
#: Browsers keep at least 4096 bytes per cookie (RFC 6265 6.1) including its
#: name and attributes; 4000 leaves room for the attributes.
DEFAULT_MAX_BYTES = 4000

# RFC 9110 5.6.2 token: what a cookie name may be.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*\Z")


class Session(dict[str, Any]):
    """A dict that notices when it changes: ``.modified`` becomes True on any
    assignment, deletion, ``clear()``, ``pop()``, ``update()``... Changing a
    value in place (``session['items'].append(x)``) is not noticed: set
    ``session.modified = True`` yourself then. ``.new`` is True when the
    request brought no valid session cookie."""

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, new: bool = True
    ) -> None:
        super().__init__(data or {})
        self.new = new
        self.modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def clear(self) -> None:
        super().clear()
        self.modified = True

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.modified = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.modified = True

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        flags = "new, " if self.new else ""
        flags += "modified" if self.modified else "unmodified"
        return f"<Session {dict.__repr__(self)} ({flags})>"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _BASE64URL.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signed-cookie sessions for every request of an app.

    ``secret``: the HMAC key (bytes, or a str encoded as UTF-8). None makes
    a random one per launch, so sessions end when the app restarts; pass
    :meth:`load_secret(path) <load_secret>` to keep them across restarts.
    ``cookie_name``: the cookie (a token). ``max_age``: seconds a session
    lives after it was last saved (None: until the browser closes; the
    signed timestamp is checked too, so an old cookie replayed is refused).
    ``same_site``: ``'Lax'`` (links from other sites bring the session,
    their form posts do not) or ``'Strict'`` (neither do). ``path``: the
    cookie's path. ``max_bytes``: the largest cookie (name and value) a save
    may produce; more raises ValueError. ``secure``: add ``Secure`` (only
    for an HTTPS server). ``clock``: seconds since the epoch (tests).

    Raises ValueError or TypeError for a bad argument.
    """

    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        cookie_name: str = "kali-session",
        max_age: int | None = None,
        same_site: str = "Lax",
        path: str = "/",
        max_bytes: int = DEFAULT_MAX_BYTES,
        secure: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is None:
            secret = secrets.token_bytes(SECRET_BYTES)
        elif isinstance(secret, str):
            secret = secret.encode("utf-8")
        elif not isinstance(secret, (bytes, bytearray)):
            raise TypeError("secret must be bytes, str or None")
        if not secret:
            raise ValueError("the secret must not be empty")
        if not _TOKEN.match(cookie_name):
            raise ValueError(f"invalid cookie name {cookie_name!r}")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0
        ):
            raise ValueError("max_age must be a positive int (seconds) or None")
        if same_site not in ("Lax", "Strict"):
            raise ValueError("same_site must be 'Lax' or 'Strict'")
        if not path.startswith("/") or re.search(r"[;\x00-\x1f\x7f]", path):
            raise ValueError(f"invalid cookie path {path!r}")
        if max_bytes <= len(cookie_name) + 1:
            raise ValueError("max_bytes is too small")
        self._secret = bytes(secret)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.same_site = same_site
        self.path = path
        self.max_bytes = max_bytes
        self.secure = secure
        self.clock = clock

    def __repr__(self) -> str:  # never shows the secret
        return f"<Sessions cookie {self.cookie_name!r}, max_age {self.max_age}>"

    # -- the cookie value ---------------------------------------------------------

    def _signature(self, payload: str) -> str:
        message = f"{self.cookie_name}\x00{payload}".encode("ascii")
        return _b64encode(hmac.new(self._secret, message, hashlib.sha256).digest())

    def encode(self, data: Mapping[str, Any]) -> str:
        """The signed cookie value for ``data``, stamped with the time now.

        Raises TypeError for a value JSON cannot hold and ValueError when
        the cookie would exceed ``max_bytes``.
        """
        try:
            text = json.dumps(
                [int(self.clock()), dict(data)],
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
            )
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"session values must be plain JSON data: {error}"
            ) from None
        payload = _b64encode(text.encode("utf-8"))
        value = f"{payload}.{self._signature(payload)}"
        size = len(self.cookie_name) + 1 + len(value)
        if size > self.max_bytes:
            raise ValueError(
                f"the session is too big for a cookie ({size} bytes, "
                f"max_bytes is {self.max_bytes}); keep big data in the database"
            )
        return value

    def decode(self, value: str) -> dict[str, Any] | None:
        """The data in a cookie value, or None if it is forged, expired or
        garbled (never an exception)."""
        if len(value) > 2 * self.max_bytes:
            return None
        payload, dot, signature = value.partition(".")
        if not (dot and _BASE64URL.match(payload) and _BASE64URL.match(signature)):
            return None
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        try:
            issued, data = json.loads(_b64decode(payload).decode("utf-8"))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if isinstance(issued, bool) or not isinstance(issued, int):
            return None
        if not isinstance(data, dict):
            return None
        if self.max_age is not None and self.clock() - issued > self.max_age:
            return None
        return data

    def _age(self, value: str) -> float:
        """Seconds since a (valid) cookie value was issued."""
        payload = value.partition(".")[0]
        issued = json.loads(_b64decode(payload).decode("utf-8"))[0]
        return self.clock() - float(issued)

    # -- one request ------------------------------------------------------------

    def load(self, request: Request) -> Session:
        """The request's session (empty and ``new`` without a valid cookie)."""
        value = request.cookies.get(self.cookie_name)
        data = self.decode(value) if value else None
        return Session(data, new=data is None)

    def save(self, session: Session, request: Request, response: Response) -> None:
        """Put ``session`` on ``response`` if it needs saving: set the cookie
        when it changed (or is half-way to ``max_age``, so an active user's
        session does not run out), delete it when it was emptied."""
        value = request.cookies.get(self.cookie_name)
        if not session.modified:
            if (
                self.max_age is None
                or session.new
                or not session
                or value is None
                or self._age(value) < self.max_age / 2
            ):
                return
        if session:
            response.set_cookie(
                self.cookie_name,
                self.encode(session),
                max_age=self.max_age,
                path=self.path,
                http_only=True,
                same_site=self.same_site,
                secure=self.secure,
            )
        elif value is not None:
            response.set_cookie(
                self.cookie_name,
                "",
                max_age=0,
                path=self.path,
                http_only=True,
                same_site=self.same_site,
                secure=self.secure,
            )

    def wrap(self, handler: Handler) -> Handler:
        """Middleware: ``request.session`` is the :class:`Session` while
        ``handler`` runs; the cookie is updated on its Response afterwards.

        A handler's iolist is wrapped in a Response first. When the handler
        raises (an HTTPError too), the exception propagates and nothing is
        saved. A session too big to save raises ValueError (a 500).
        """

        def with_session(request: Request) -> Response:
            session = self.load(request)
            # Request has a __dict__: a plain attribute, read as
            # request.session (or session_of(request) for type checkers).
            request.session = session  # type: ignore[attr-defined]
            result = handler(request)
            response = result if isinstance(result, Response) else Response(result)
            try:
                self.save(session, request, response)
            except BaseException:
                response.close()
                raise
            return response

        return with_session

    # -- persisted secrets --------------------------------------------------------

    @staticmethod
    def load_secret(path: str | os.PathLike[str]) -> bytes:
        """The secret kept in the file at ``path``, made on first use.

        A missing (or damaged, shorter than 16 bytes) file is replaced by
        32 random bytes, written to a temporary file readable only by the
        user (mode 0600 on POSIX; on Windows the user's own folders are
        private already) and renamed into place, so a crash never leaves a
        half-written secret. An existing file that others may read is made
        private again (POSIX). The folder must exist. OSError propagates.
        """
        path = os.fspath(path)
        try:
            with open(path, "rb") as file:
                secret = file.read()
        except FileNotFoundError:
            secret = b""
        if len(secret) >= MIN_SECRET_BYTES:
            _make_private(path)
            return secret
        if secret:
            log.warning("The session secret in %s was damaged; made a new one", path)
        secret = secrets.token_bytes(SECRET_BYTES)
        _write_private(path, secret)
        return secret


def session_of(request: Request) -> Session:
    """``request.session``, typed; RuntimeError when no :class:`Sessions`
    middleware wraps the handler."""
    session = getattr(request, "session", None)
    if not isinstance(session, Session):
        raise RuntimeError("no session: wrap the app with Sessions(...).wrap(app)")
    return session


def _make_private(path: str) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        log.warning("The session secret %s was readable by others; fixed", path)
        os.chmod(path, mode & 0o700)


def _write_private(path: str, data: bytes) -> None:
    temporary = f"{path}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with open(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly([temporary])
        raise
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def _remove_quietly(paths: Iterable[str]) -> None:
    for leftover in paths:
        try:
            os.remove(leftover)
        except OSError:
            pass


def _sync_folder(folder: str) -> None:
    """Make the rename durable (POSIX; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
