"""StaticFolder: serve the files of one folder, and never anything outside it.

Mount it with ``router.delegate_folder('/files/', StaticFolder('path/to/dir'))``.
It reads ``request.path_suffix()``: ``/files/a/b.png`` is the file
``a/b.png`` of the folder, and a trailing slash (``/files/a/``) asks for a
listing of ``a``.

What it does, for GET and HEAD (other methods: 405):

* files go out with ``Response.file``, so the server streams them with
  ``socket.sendfile`` and never reads them whole; the content type comes from
  the file name (``; charset=utf-8`` for text);
* a strong ``etag`` (size and mtime) and ``last-modified`` on every file, 304
  for a matching ``If-None-Match`` or a fresh ``If-Modified-Since`` (a date
  in the future is invalid and ignored, RFC 9110 13.1.3);
* a single ``Range: bytes=...`` is a 206 (browsers seek in audio and video
  this way), an unsatisfiable one 416, several ranges the whole file;
* a folder asked for without its trailing slash is a 301 to the slash form
  (query kept), so that relative links in its page work;
* the ``index`` file of a folder, if it has one, passes every check a direct
  request for it would (a symlink out of the folder is a 404, one to a
  private name a 403);
* a folder listing, sorted, with URL-encoded links and escaped names, showing
  only regular files and folders that could be served.

What it refuses: an encoded slash (``%2f``, any case) anywhere in the path,
a path component that is empty, ``.`` or ``..``, or that
contains NUL, ``\\`` or ``:`` (drive letters, alternate data streams), on
Windows also device names (``CON``, ``aux.txt``) and names ending in a dot or
space, and any path whose real path (symlinks resolved) is outside the
folder: all 404, with no reason given. Names starting with ``.`` or ``_`` are
403 (kept from kali 0.0.8), and so are real paths through such names.

This module must not touch sockets and must never read a whole file.
"""

from __future__ import annotations

import email.utils
import mimetypes
import os
import re
import stat
import sys
import time
import urllib.parse
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import RoutingError
from .iolist import escape
from .multidict import Bag
from .request import Request
from .response import Response
from .routing import method_error

_GET_AND_HEAD = ("GET", "HEAD")

#: Types browsers depend on, fixed here so that every platform agrees (the
#: Windows registry is known to map ``.js`` to ``text/plain``, which breaks
#: JavaScript modules). Other extensions go to ``mimetypes.guess_type``.
BROWSER_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".html": "text/html", ".htm": "text/html", ".css": "text/css",
        ".js": "text/javascript", ".mjs": "text/javascript",
        ".json": "application/json", ".txt": "text/plain", ".md": "text/markdown",
        ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
        ".ico": "image/x-icon", ".wasm": "application/wasm",
        ".woff": "font/woff", ".woff2": "font/woff2",
        ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
        ".opus": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac",
        ".m4a": "audio/mp4", ".mp4": "video/mp4", ".webm": "video/webm",
        ".pdf": "application/pdf",
    }
)  # fmt: skip

#: Compressed files are served as what they are, not as their contents (a
#: ``content-encoding`` would make the browser unpack them).
_ENCODED_TYPES = MappingProxyType(
    {
        "gzip": "application/gzip",
        "bzip2": "application/x-bzip2",
        "xz": "application/x-xz",
    }
)

#: Non-``text/*`` types that are text too and get ``; charset=utf-8``.
_TEXT_TYPES = frozenset(
    {"application/javascript", "application/json", "application/xml"}
)

_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"}
)

#: A single byte range (RFC 9110 14.1.2); at most 18 digits, so a hostile
#: header cannot make int() work hard.
_RANGE = re.compile(r"\s*(\d{0,18})\s*-\s*(\d{0,18})\s*")

#: How many file names a StaticFolder remembers the content type of
#: (``mimetypes.guess_type`` costs a few microseconds per call).
MAX_REMEMBERED_TYPES = 1024

LINK = '<li><a href="{href}">{name}</a></li>\r\n'

#: What a listing of a folder with nothing to show says.
EMPTY_FOLDER = '<p class="note">This folder is empty.</p>'


def is_windows_trap(name: str) -> bool:
    """Does ``name`` mean something else to Windows than it says (a device
    such as ``CON`` or ``aux.txt``, or a name Windows silently trims)?"""
    if name.endswith((".", " ")):
        return True
    return name.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES


def refusal(component: str, *, windows: bool = sys.platform == "win32") -> int:
    """0 if a path component may be served, else its status: 404 for one
    that could climb out of the folder or confuse the file system, 403 for a
    private (``.``/``_``) name."""
    if component in ("", ".", "..") or any(c in component for c in "\x00\\:"):
        return 404
    if windows and is_windows_trap(component):
        return 404
    if component[0] in "._":
        return 403
    return 0


def content_type_for(name: str, overrides: Mapping[str, str] = BROWSER_TYPES) -> str:
    """The ``content-type`` for a file called ``name``."""
    extension = os.path.splitext(name)[1].lower()
    kind = overrides.get(extension)
    if kind is None:
        guess, encoding = mimetypes.guess_type(name, strict=False)
        if encoding is not None:
            kind = _ENCODED_TYPES.get(encoding, "application/octet-stream")
        else:
            kind = guess or "application/octet-stream"
    if kind.startswith("text/") or kind in _TEXT_TYPES:
        kind += "; charset=utf-8"
    return kind


def _parse_date(value: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
        return moment.timestamp()  # naive dates are taken as local; fine here
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def has_encoded_slash(request: Request) -> bool:
    """Does the path as sent contain ``%2f`` (any case)? The request's path
    splits it like ``/``, so ``a%2Fb`` would reach ``a/b``: a file server
    refuses it rather than guess what was meant."""
    return "%2f" in request.url.path.lower()


def is_not_modified(
    headers: Bag, etag: str, mtime: float, *, now: float | None = None
) -> bool:
    """Do the request's conditionals (RFC 9110 13.1.2-3) allow a 304?

    An ``If-Modified-Since`` later than ``now`` (default: the clock) is
    invalid and ignored (RFC 9110 13.1.3): a client cannot hold a copy from
    the future, and a 304 then could keep a stale copy forever."""
    listed = headers.get_list("if-none-match")
    if listed:
        tags = {tag.strip() for tag in ",".join(listed).split(",")}
        # If-None-Match uses the weak comparison: W/"x" matches "x".
        tags |= {tag[2:] for tag in tags if tag.startswith("W/")}
        return "*" in tags or etag in tags
    since = headers.get("if-modified-since")
    if since is not None:
        moment = _parse_date(since)
        if moment is None or moment > (time.time() if now is None else now):
            return False
        return int(mtime) <= moment
    return False


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """The single ``bytes`` range of a Range header as ``(start, stop)``,
    ``stop`` exclusive; None to send the whole file (no, several or invalid
    ranges). Raises HTTPError 416 (with ``content-range: bytes */size``)
    when the range is valid but outside the file."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE.fullmatch(spec)
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        stop = size if not last else min(int(last) + 1, size)
        if last and int(last) < start:
            return None  # invalid: ignored, RFC 9110 14.2
    elif last:
        start, stop = max(0, size - int(last)), size
    else:
        return None
    if start >= size or start >= stop:
        raise RoutingError(416, headers=[("content-range", f"bytes */{size}")])
    return start, stop


def _if_range_holds(value: str | None, etag: str, mtime: float) -> bool:
    # RFC 9110 13.1.5: a Range only applies while the validator still holds;
    # an entity tag must match strongly, a date exactly.
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    moment = _parse_date(value)
    return moment is not None and int(mtime) == int(moment)


class StaticFolder:
    """A handler serving the folder ``real_path`` (mount with ``delegate_folder``).

    ``index``: a file name (e.g. ``'index.html'``) served instead of the
    listing when a folder has it, after the checks a direct request for it
    passes; ValueError for a name that could never be served (a path, a
    ``.``/``_`` name). ``listing=False`` turns listings into 404s.
    ``content_types`` maps extra extensions (``'.dat'``) to types.
    ``cache_control`` is sent with every file; the default ``no-cache`` makes
    browsers revalidate (a cheap 304), so edits show up at once.
    """

    def __init__(
        self,
        real_path: str | os.PathLike[str],
        *,
        index: str | None = None,
        listing: bool = True,
        content_types: Mapping[str, str] | None = None,
        cache_control: str | None = "no-cache",
    ) -> None:
        if index is not None and (
            not isinstance(index, str)
            or refusal(index, windows=True)
            or any(sep in index for sep in "/\\")
        ):
            raise ValueError(
                f"index must be a plain file name such as 'index.html', not {index!r}"
            )
        self.root = real_path
        self.real_root = os.path.realpath(real_path)
        self.index = index
        self.listing = listing
        self.types: Mapping[str, str] = (
            {**BROWSER_TYPES, **{k.lower(): v for k, v in content_types.items()}}
            if content_types
            else BROWSER_TYPES
        )
        self.cache_control = cache_control
        # File name -> content type; bounded, and private to this folder.
        self._types_seen: dict[str, str] = {}

    def content_type(self, name: str) -> str:
        """The ``content-type`` for the file ``name`` (remembered per name)."""
        kind = self._types_seen.get(name)
        if kind is None:
            if len(self._types_seen) >= MAX_REMEMBERED_TYPES:
                self._types_seen.clear()
            kind = self._types_seen[name] = content_type_for(name, self.types)
        return kind

    def __call__(self, request: Request) -> Response:
        if request.command not in _GET_AND_HEAD:
            raise method_error(request.command, _GET_AND_HEAD)
        suffix = request.path_suffix()
        if not suffix:  # mounted with delegate(): add the folder's slash
            return Response.redirect(request.app_url([""], request.GET))
        if has_encoded_slash(request):
            raise RoutingError(404)
        want_folder = suffix[-1] == ""
        parts = suffix[:-1] if want_folder else suffix
        statuses = [refusal(part) for part in parts]
        if 404 in statuses:
            raise RoutingError(404)
        if 403 in statuses:
            raise RoutingError(403)
        real = self.resolve(parts)
        if want_folder:
            return self.folder(request, real)
        if os.path.isdir(real):  # the folder's own URL ends with a slash
            location = request.app_url([*parts, ""], request.GET or None)
            return Response("", code=301, headers={"location": location})
        return self.file(request, real)

    def resolve(self, parts: list[str]) -> str:
        """The real path of ``parts`` inside the folder; HTTPError 404 when it
        lies outside (symlinks), 403 when it goes through a private name."""
        return self.check(os.path.realpath(os.path.join(self.real_root, *parts)))

    def check(self, real: str) -> str:
        """``real`` (a real path: symlinks resolved) if it may be served;
        HTTPError 404 when it lies outside the folder, 403 when it goes
        through a private name."""
        relative = self.relative(real)
        if relative is None:
            raise RoutingError(404)
        if any(name.startswith((".", "_")) for name in relative):
            raise RoutingError(403)
        return real

    def is_public(self, real: str) -> bool:
        """Is the real path ``real`` inside the folder and not under a
        private (``.``/``_``) name?"""
        relative = self.relative(real)
        return relative is not None and not any(
            name.startswith((".", "_")) for name in relative
        )

    def relative(self, real: str) -> list[str] | None:
        """The components of ``real`` below the folder, or None if outside."""
        root = os.path.normcase(self.real_root)
        path = os.path.normcase(real)
        if path == root:
            return []
        prefix = root if root.endswith(os.sep) else root + os.sep
        if not path.startswith(prefix):
            return None
        return real[len(prefix) :].split(os.sep)

    # -- files ---------------------------------------------------------------

    def file(self, request: Request, real: str) -> Response:
        """A 200, 206 or 304 for the file ``real`` (already checked)."""
        try:
            info = os.stat(real)
        except (OSError, ValueError):
            raise RoutingError(404) from None
        if not stat.S_ISREG(info.st_mode):  # directories, FIFOs, devices
            raise RoutingError(404)
        size = info.st_size
        etag = f'"{size:x}-{info.st_mtime_ns:x}"'
        headers = [
            ("etag", etag),
            ("last-modified", email.utils.formatdate(info.st_mtime, usegmt=True)),
        ]
        if self.cache_control:
            headers.append(("cache-control", self.cache_control))
        if is_not_modified(request.headers, etag, info.st_mtime):
            return Response(b"", code=304, headers=headers)
        headers.append(("accept-ranges", "bytes"))
        span = None
        asked = request.headers.get("range")
        if asked is not None and _if_range_holds(
            request.headers.get("if-range"), etag, info.st_mtime
        ):
            span = parse_range(asked, size)
        kind = self.content_type(os.path.basename(real))
        try:
            if span is None:
                return Response.file(real, content_type=kind, headers=headers)
            start, stop = span
            headers.append(("content-range", f"bytes {start}-{stop - 1}/{size}"))
            return Response.file(
                real,
                content_type=kind,
                code=206,
                headers=headers,
                offset=start,
                length=stop - start,
            )
        except OSError:  # vanished or unreadable since the stat
            raise RoutingError(404) from None

    # -- folders -------------------------------------------------------------

    def folder(self, request: Request, real: str) -> Response:
        """The index file or a listing of the folder ``real``."""
        if not os.path.isdir(real):
            raise RoutingError(404)
        index = self.index_file(real)
        if index is not None:
            return self.file(request, index)
        if not self.listing:
            raise RoutingError(404)
        try:
            entries = self.entries(real)
        except OSError:
            raise RoutingError(404) from None
        items: list[Any] = []
        if len(request.path) > 1:  # kept from 0.0.8, even at the mount root
            items.append(LINK.format(href="..", name=".."))
        for name, is_dir in entries:
            slash = "/" if is_dir else ""
            href = urllib.parse.quote(name, safe="") + slash
            items.append(LINK.format(href=href, name=escape(name + slash)))
        return Response.generic(
            ["<ul>", items, "</ul>", "" if entries else EMPTY_FOLDER],
            title="Showing Folder /" + "/".join(request.path[:-1]),
        )

    def index_file(self, real: str) -> str | None:
        """The real path of the index file of the folder ``real``, checked
        as a direct request for it would be (HTTPError 404 when it leads out
        of the folder, 403 to a private name); None when there is no index
        or it is a folder. ``file()`` then refuses anything not a regular
        file."""
        if self.index is None:
            return None
        candidate = os.path.join(real, self.index)
        if not os.path.lexists(candidate):
            return None
        index = self.check(os.path.realpath(candidate))
        return None if os.path.isdir(index) else index

    def entries(self, real: str) -> list[tuple[str, bool]]:
        """Sorted ``(name, is_folder)`` of what a listing may show: regular
        files and folders only (no FIFO, socket, device or broken link), no
        private names, and no link leading outside the folder or to a
        private name."""
        found = []
        with os.scandir(real) as scan:
            for entry in scan:
                if refusal(entry.name):
                    continue
                try:
                    if entry.is_symlink() and not self.is_public(
                        os.path.realpath(entry.path)
                    ):
                        continue
                    # Both follow symlinks: a broken one is neither.
                    is_dir = entry.is_dir()
                    if not is_dir and not entry.is_file():
                        continue
                except OSError:
                    continue
                found.append((entry.name, is_dir))
        found.sort()
        return found
