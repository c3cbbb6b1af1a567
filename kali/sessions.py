"""Signed-cookie sessions: remember a little per browser between requests.

A multi-step workflow needs to remember a little per browser: who is logged
in, a message for the next page, which half-filled form is waiting. A
session keeps that in the browser's own cookie, signed so the browser cannot
change it, so the app needs no class-level globals::

    sessions = Sessions(app_secret(data_folder))  # kali.appsecret
    app = sessions.wrap(router)

    def save_contact(request):
        ...
        request.session["last_contact"] = contact_id
        return Response.redirect("/contacts")

The cookie holds ``base64url(JSON [issued_at, data, id]) "." base64url(HMAC)``:
HMAC-SHA256 under the secret, over the cookie name and the payload. It is
``HttpOnly`` (page scripts cannot read it) and ``SameSite=Lax`` by default
(``Strict`` on request), so other sites cannot ride on it. A cookie that was
tampered with, has expired or cannot be read gives an empty session, never
an error page. Values go through JSON: use str, numbers, bools, None, lists
and dicts with str keys (a tuple comes back as a list).

**Lifetime.** A session lives ``max_age`` seconds (14 days by default) after
it was last saved, and is saved again once it is half that old, so only an
idle one runs out. The signed time is checked on every read: an old cookie
replayed is refused. ``max_age=None`` makes a cookie the browser forgets
when it closes, still refused after 14 days.

**The cookie's name** is ``cookie_name`` if given, else
``kali-session-<app_id>``, else ``kali-session-<port>`` (the port the
browser reached, from the Host header; plain ``kali-session`` without one):
two kali apps on one machine then keep separate sessions.

**Cookies are not isolated by port.** A browser sends the cookies of
``127.0.0.1`` (or ``localhost``) to every server on that host name,
whichever port it listens on: any other local program that serves web pages
there receives them, and can read the session's data (signed, not
encrypted) and replay it. So keep what the user typed, and anything
private, out of the session: store it server-side, in the app's database,
keyed by :attr:`Session.id` (a random id the signed cookie carries), and
keep only small, harmless values in the session itself.

With a :class:`~kali.sqlite.TransactionGuard`, put the guard outside:
``guard.wrap(sessions.wrap(router))``. Then a request the guard refuses (it
forgot to commit, the database was busy) saves no session change either.

Keep the session small (``max_bytes``, 4000 by default: browsers drop bigger
cookies, so a bigger session raises ValueError rather than vanish). The
secret must be the same in every process of the app (see
:mod:`kali.appsecret`); ``Sessions()`` without one reads ``KALI_SECRET``, or
makes one for this process only and says so in the log.

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
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from .appsecret import (
    make_private,
    process_secret,
    secret_from_environment,
    write_private_file,
)
from .request import Request
from .response import Response
from .routing import Handler

__all__ = [
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_MAX_AGE",
    "SECRET_BYTES",
    "Session",
    "Sessions",
    "session_of",
]

log = logging.getLogger("kali")

#: Size of a generated secret: 256 bits, the HMAC-SHA256 key size.
SECRET_BYTES = 32
#: A secret file shorter than this is treated as damaged and replaced.
MIN_SECRET_BYTES = 16
#: Browsers keep at least 4096 bytes per cookie (RFC 6265 6.1) including its
#: name and attributes; 4000 leaves room for the attributes.
DEFAULT_MAX_BYTES = 4000
#: How long a session lasts after it was last saved, unless ``max_age`` says
#: otherwise: two weeks, so a data-entry app used weekly keeps its session,
#: and a cookie copied somewhere stops working within a fortnight of disuse.
DEFAULT_MAX_AGE = 14 * 24 * 60 * 60
#: The cookie's name before the app id or port is added to it.
DEFAULT_COOKIE_NAME = "kali-session"
#: Random bytes in a session id: 144 bits, unguessable.
SESSION_ID_BYTES = 18

# RFC 9110 5.6.2 token: what a cookie name may be.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*\Z")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class Session(dict[str, Any]):
    """A dict that notices when it changes: ``.modified`` becomes True on any
    assignment, deletion, ``clear()``, ``pop()``, ``update()``... Changing a
    value in place (``session['items'].append(x)``) is not noticed: set
    ``session.modified = True`` yourself then. ``.new`` is True when the
    request brought no valid session cookie. ``.id`` is the session's random
    id, for data kept on the server."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        new: bool = True,
        session_id: str | None = None,
    ) -> None:
        super().__init__(data or {})
        self.new = new
        self.modified = False
        self._id = session_id

    @property
    def id(self) -> str:
        """A random id (24 URL-safe characters) that stays with this browser's
        session: the key for what the app keeps server-side for it (a draft
        in a table). Made when first asked for, which saves the session."""
        if self._id is None:
            self._id = secrets.token_urlsafe(SESSION_ID_BYTES)
            self.modified = True
        return self._id

    @property
    def has_id(self) -> bool:
        """Was :attr:`id` given out (by this request or an earlier one)?"""
        return self._id is not None

    @property
    def is_empty(self) -> bool:
        """No data and no id: nothing worth a cookie."""
        return not self and self._id is None

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def clear(self) -> None:
        """Empty the session and forget its id (the cookie is deleted)."""
        super().clear()
        self._id = None
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


def _port_of(request: Request) -> int | None:
    """The port the browser reached (from the Host header), if it names one."""
    base = request.base_url
    if not base:
        return None
    try:
        return urllib.parse.urlsplit(base).port
    except ValueError:  # not a port number
        return None


class Sessions:
    """Signed-cookie sessions for every request of an app.

    ``secret``: the HMAC key (bytes, or a str encoded as UTF-8), the same
    in every process of the app: :func:`kali.appsecret.app_secret` finds
    it. None reads ``KALI_SECRET``, or makes a random one for this process
    (said in an INFO log line: sessions then end when the app stops, and
    do not work across worker processes).
    ``cookie_name``: the cookie (a token); by default
    ``kali-session-<app_id>`` when ``app_id`` is given, else
    ``kali-session-<port>`` after the port of each request's Host header.
    ``max_age``: seconds a session lives after it was last saved (default
    14 days; it is saved again when half that old, and the signed time is
    checked on every read). None: a cookie the browser forgets when it
    closes, still refused after 14 days. ``same_site``: ``'Lax'`` (links
    from other sites bring the session, their form posts do not) or
    ``'Strict'`` (neither do). ``path``: the cookie's path. ``max_bytes``:
    the largest cookie (name and value) a save may produce; more raises
    ValueError. ``secure``: add ``Secure`` (only for an HTTPS server).
    ``clock``: seconds since the epoch (tests).

    Raises ValueError or TypeError for a bad argument.
    """

    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        cookie_name: str | None = None,
        app_id: str | None = None,
        max_age: int | None = DEFAULT_MAX_AGE,
        same_site: str = "Lax",
        path: str = "/",
        max_bytes: int = DEFAULT_MAX_BYTES,
        secure: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is None:
            secret = secret_from_environment() or process_secret("sessions")
        elif isinstance(secret, str):
            secret = secret.encode("utf-8")
        elif not isinstance(secret, (bytes, bytearray)):
            raise TypeError("secret must be bytes, str or None")
        if not secret:
            raise ValueError("the secret must not be empty")
        if cookie_name is None and app_id is not None:
            cookie_name = f"{DEFAULT_COOKIE_NAME}-{app_id}"
        if cookie_name is not None and not _TOKEN.match(cookie_name):
            raise ValueError(f"invalid cookie name {cookie_name!r}")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0
        ):
            raise ValueError("max_age must be a positive int (seconds) or None")
        if same_site not in ("Lax", "Strict"):
            raise ValueError("same_site must be 'Lax' or 'Strict'")
        if not path.startswith("/") or re.search(r"[;\x00-\x1f\x7f]", path):
            raise ValueError(f"invalid cookie path {path!r}")
        longest_name = cookie_name or f"{DEFAULT_COOKIE_NAME}-65535"
        if max_bytes <= len(longest_name) + 1:
            raise ValueError("max_bytes is too small")
        self._secret = bytes(secret)
        #: The cookie's name, or None when it is derived from each request's port.
        self.cookie_name = cookie_name
        self.max_age = max_age
        #: Seconds a session is accepted after it was last saved.
        self.lifetime = DEFAULT_MAX_AGE if max_age is None else max_age
        self.same_site = same_site
        self.path = path
        self.max_bytes = max_bytes
        self.secure = secure
        self.clock = clock

    def __repr__(self) -> str:  # never shows the secret
        name = self.cookie_name or f"{DEFAULT_COOKIE_NAME}-<port>"
        return f"<Sessions cookie {name!r}, max_age {self.max_age}>"

    def name_for(self, request: Request) -> str:
        """The session cookie's name for ``request``: ``cookie_name``, or
        ``kali-session-<port>`` after its Host header (``kali-session``
        when that names no port)."""
        if self.cookie_name is not None:
            return self.cookie_name
        port = _port_of(request)
        return DEFAULT_COOKIE_NAME if port is None else f"{DEFAULT_COOKIE_NAME}-{port}"

    # -- the cookie value ---------------------------------------------------------

    def _name(self, cookie_name: str | None) -> str:
        return cookie_name or self.cookie_name or DEFAULT_COOKIE_NAME

    def _signature(self, name: str, payload: str) -> str:
        message = f"{name}\x00{payload}".encode("ascii")
        return _b64encode(hmac.new(self._secret, message, hashlib.sha256).digest())

    def encode(self, data: Mapping[str, Any], cookie_name: str | None = None) -> str:
        """The signed cookie value for ``data`` (and its id, for a
        :class:`Session` that has one), stamped with the time now, for the
        cookie ``cookie_name`` (default: the configured name).

        Raises TypeError for a value JSON cannot hold and ValueError when
        the cookie would exceed ``max_bytes``.
        """
        name = self._name(cookie_name)
        content: list[Any] = [int(self.clock()), dict(data)]
        if isinstance(data, Session) and data.has_id:
            content.append(data.id)
        try:
            text = json.dumps(
                content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"session values must be plain JSON data: {error}"
            ) from None
        payload = _b64encode(text.encode("utf-8"))
        value = f"{payload}.{self._signature(name, payload)}"
        size = len(name) + 1 + len(value)
        if size > self.max_bytes:
            raise ValueError(
                f"the session is too big for a cookie ({size} bytes, "
                f"max_bytes is {self.max_bytes}); keep big data in the database"
            )
        return value

    def _read(self, value: str, name: str) -> tuple[int, dict[str, Any], str | None]:
        """``(issued, data, id)`` from a cookie value; ValueError if it is
        forged, expired or garbled."""
        if len(value) > 2 * self.max_bytes:
            raise ValueError("too long")
        payload, dot, signature = value.partition(".")
        if not (dot and _BASE64URL.match(payload) and _BASE64URL.match(signature)):
            raise ValueError("not a signed value")
        if not hmac.compare_digest(signature, self._signature(name, payload)):
            raise ValueError("forged")
        try:
            content = json.loads(_b64decode(payload).decode("utf-8"))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValueError("garbled") from None
        if not isinstance(content, list) or len(content) not in (2, 3):
            raise ValueError("garbled")
        issued, data = content[0], content[1]
        session_id = content[2] if len(content) == 3 else None
        if isinstance(issued, bool) or not isinstance(issued, int):
            raise ValueError("garbled")
        if not isinstance(data, dict):
            raise ValueError("garbled")
        if session_id is not None and not (
            isinstance(session_id, str) and _SESSION_ID.match(session_id)
        ):
            raise ValueError("garbled")
        if self.clock() - issued > self.lifetime:
            raise ValueError("expired")
        return issued, data, session_id

    def decode(
        self, value: str, cookie_name: str | None = None
    ) -> dict[str, Any] | None:
        """The data in a cookie value of ``cookie_name`` (default: the
        configured name), or None if it is forged, expired or garbled
        (never an exception)."""
        try:
            return self._read(value, self._name(cookie_name))[1]
        except ValueError:
            return None

    # -- one request ------------------------------------------------------------

    def load(self, request: Request) -> Session:
        """The request's session (empty and ``new`` without a valid cookie)."""
        name = self.name_for(request)
        value = request.cookies.get(name)
        if value:
            try:
                _issued, data, session_id = self._read(value, name)
            except ValueError:
                pass
            else:
                return Session(data, new=False, session_id=session_id)
        return Session(new=True)

    def save(self, session: Session, request: Request, response: Response) -> None:
        """Put ``session`` on ``response`` if it needs saving: set the cookie
        when it changed (or is half-way to its lifetime, so an active user's
        session does not run out), delete it when it was emptied."""
        name = self.name_for(request)
        value = request.cookies.get(name)
        if not session.modified:
            if session.new or session.is_empty or value is None:
                return
            try:
                issued = self._read(value, name)[0]
            except ValueError:
                return
            if self.clock() - issued < self.lifetime / 2:
                return
        if not session.is_empty:
            response.set_cookie(
                name,
                self.encode(session, name),
                max_age=self.max_age,
                path=self.path,
                http_only=True,
                same_site=self.same_site,
                secure=self.secure,
            )
        elif value is not None:
            response.set_cookie(
                name,
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
        """The secret kept in the file at ``path``, made on first use (for
        one process; :func:`kali.appsecret.app_secret` is the way for an app
        that several processes serve, and reads ``KALI_SECRET`` first).

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
            make_private(path)
            return secret
        if secret:
            log.warning("The session secret in %s was damaged; made a new one", path)
        secret = secrets.token_bytes(SECRET_BYTES)
        write_private_file(path, secret)
        return secret


def session_of(request: Request) -> Session:
    """``request.session``, typed; RuntimeError when no :class:`Sessions`
    middleware wraps the handler."""
    session = getattr(request, "session", None)
    if not isinstance(session, Session):
        raise RuntimeError("no session: wrap the app with Sessions(...).wrap(app)")
    return session
