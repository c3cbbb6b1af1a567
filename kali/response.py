"""Response: a status, headers and a body, validated when it is made.

A Response is a plain value: handlers build one (or return an iolist, which
the server wraps), middleware may replace it, and the server loop sends it.
Everything a client could be hurt by is checked at construction: the status
must be a real code, header names must be tokens and header values may not
contain CR, LF or NUL (no response splitting), and ``content-length`` is
always computed by kali.

Bodies come in three kinds:

* an iolist (the 0.0.8 way), flattened into byte chunks at construction, so
  generators run inside the server's error guard;
* a file (``Response.file``), sent with ``socket.sendfile`` where possible
  and never read whole;
* a stream (``Response.stream``), an iterable consumed while sending, each
  item sent as soon as it is produced; it has a content-length only when
  given one: for exports too big to build first, and for events.

This module must not touch sockets: ``kali.server`` does the sending.
"""

from __future__ import annotations

import json as _json
import logging
import os
import re
import sys
import traceback
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol, Union

from .disposition import content_disposition
from .iolist import Body, escape, iter_chunks, iter_stream_chunks

if TYPE_CHECKING:
    from .templates import Template

log = logging.getLogger("kali")

Headers = Union[Mapping[str, Any], Iterable[tuple[str, Any]], None]


class ShownRequest(Protocol):
    """What a page about a request (``swear``, ``from_exception``) shows of
    it: a ``kali.request.Request``. A Protocol, not an import: the request
    module builds Responses (``normalize``), so it sits above this one."""

    command: str
    uri: str

    @property
    def url(self) -> urllib.parse.ParseResult: ...


# RFC 9110 5.6.2: field names are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")

#: Added to every response unless the app set the header itself: browsers
#: must not guess a content type, and other sites must not frame the app
#: (clickjacking a local app that can change data).
DEFAULT_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
)

HTML_TYPE = "text/html; charset=utf-8"


def _reason_table() -> dict[int, bytes]:
    table = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
    table[302] = b"Moved Temporarily"  # kept from 0.0.8 (RFC 1945's phrase)
    return table


_STATUS_LINES = {
    code: f"HTTP/1.0 {code} {phrase.decode('ascii')}\r\n"
    for code, phrase in _reason_table().items()
}


def check_header(name: Any, value: Any) -> tuple[str, str]:
    """Validate one header; returns ``(lower-case name, str value)``.

    Raises ValueError for a name that is not a token or a value with CR, LF
    or NUL in it.
    """
    name_text = str(name)
    if not _TOKEN.match(name_text):
        raise ValueError(f"invalid header name {name_text!r}")
    value_text = str(value)
    if _FORBIDDEN_IN_VALUE.search(value_text):
        raise ValueError(f"header {name_text!r}: value contains CR, LF or NUL")
    return name_text.lower(), value_text


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [check_header(name, value) for name, value in items]


def _with_type(headers: Headers, content_type: str) -> list[tuple[str, str]]:
    """The app's headers, with ``content_type`` first unless they set one."""
    pairs = _header_pairs(headers)
    if not any(name == "content-type" for name, _ in pairs):
        pairs.insert(0, ("content-type", content_type))
    return pairs


def _has_no_body(code: int) -> bool:
    # RFC 9110 6.4.1: 1xx, 204 and 304 responses never carry content.
    return code < 200 or code in (204, 304)


#: The head of a plain HTML response, up to its content-length value, and
#: the rest after it: the same bytes ``Response.head`` would build.
_HTML_HEAD_PREFIXES = {
    code: f"{status}content-type: {HTML_TYPE}\r\ncontent-length: ".encode("latin-1")
    for code, status in _STATUS_LINES.items()
    if not _has_no_body(code)
}
_HTML_HEAD_END = (
    "".join(f"\r\n{name}: {value}" for name, value in DEFAULT_HEADERS).encode("latin-1")
    + b"\r\n\r\n"
)


#: The style of kali's own pages (errors, listings, ``generic``): the
#: examples' look in a few lines, with no file, font or image to fetch.
#: Every declaration ends in ``;`` so that no rule reads as a placeholder.
PAGE_STYLE = (
    "body{margin:0;padding:0 1rem;background:#f3f4f7;color:#1f2430;"
    'line-height:1.45;font-family:system-ui,-apple-system,"Segoe UI",Roboto,'
    '"Noto Sans",Arial,sans-serif;}'
    "main{max-width:46rem;margin:3rem auto;padding:1.25rem 1.75rem;"
    "background:#fff;border:1px solid #dde1e8;border-radius:8px;}"
    "h1{margin:0 0 .75rem;font-size:1.4rem;}"
    "p{margin:.5rem 0;}a{color:#2a3eb1;}.note{color:#5f6675;}"
    "ul{margin:0;padding:0;list-style:none;}"
    "li a{display:block;padding:.25rem .6rem;border-radius:6px;"
    "text-decoration:none;}li a:hover{background:#e8ecff;}"
    "pre{overflow:auto;padding:.75rem 1rem;background:#f3f4f7;"
    "border-radius:6px;font-size:.85rem;}"
)

#: kali's page: ``title`` (escaped) as title and heading, then ``body`` raw.
#: It names no Python or kali version: pages must not tell a visitor
#: (or a page of another site reading them) what to attack.
PAGE = (
    "<!DOCTYPE html>\n"
    '<html lang="en"><head><meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '<title>{title}</title><link rel="icon" href="data:,">\n'
    f"<style>{PAGE_STYLE}</style></head>\n"
    "<body><main><h1>{title}</h1>\n"
    "{.body}\n"
    "</main></body></html>\n"
)

#: What kali's own error pages say when given no words of their own (no
#: message, or just the reason phrase): one plain sentence.
ERROR_SENTENCES: Mapping[int, str] = MappingProxyType(
    {
        400: "The request could not be understood.",
        403: "This page may not be opened from here.",
        404: "There is no page at this address. Check it for typing "
        "mistakes, or go back and follow a link.",
        405: "This page does not take that kind of request.",
        408: "The request took too long to arrive; please try again.",
        409: "Someone changed this meanwhile; please try again.",
        411: "The request did not say how long its body is.",
        413: "What was sent is too large.",
        414: "The address is too long.",
        415: "This page does not take that kind of content.",
        416: "That part of the file does not exist.",
        431: "The request's headers are too large.",
        500: "Something went wrong on the server; the details are in its log.",
        501: "The server does not know that kind of request.",
        503: "The app is busy; please try again in a moment.",
    }
)
CLIENT_ERROR_SENTENCE = "The request could not be completed."
SERVER_ERROR_SENTENCE = ERROR_SENTENCES[500]


def error_sentence(code: int) -> str | None:
    """The plain sentence kali's pages show for an error ``code`` with no
    message of its own; None below 400."""
    if code < 400:
        return None
    default = SERVER_ERROR_SENTENCE if code >= 500 else CLIENT_ERROR_SENTENCE
    return ERROR_SENTENCES.get(code, default)


class _LazyTemplate:
    """A class attribute holding a Template's text, compiled when first read:
    ``import kali`` stays cheap, and most runs never show a default page.
    Assigning the attribute (``Response.TEMPLATE_GENERIC = Template(...)``,
    as 0.0.8 code may) replaces it as before."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.compiled: Template | None = None  # the one cached value

    def __get__(self, instance: object, owner: type | None = None) -> Template:
        if self.compiled is None:
            from . import templates  # deferred: a page is rarely needed

            self.compiled = templates.Template(self.text)
        return self.compiled


class Response:
    """An HTTP/1.0 response. ``Response(content, code=200, headers=None,
    shut_down=False)``; ``content`` is any iolist.

    Attributes: ``code``, ``shut_down``, ``headers`` (the pairs sent, lower-
    case names), ``head`` (status line and headers as bytes), ``body`` (bytes)
    and ``content`` (head + body, as 0.0.8 had it).
    Raises ValueError for a bad status code or header.
    """

    REASON: dict[int, bytes] = _reason_table()

    #: 0.0.8's page titles for ``swear``, kept for old code that reads them;
    #: kali no longer picks from them (its pages are calm and deterministic).
    MINCED_OATHS = [
        "Ack", "ARGH", "Aw, SNAP", "Blargh", "Blasted Thing", "Confound it",
        "Crud", "Oh crud", "Curses", "Gack", "Dag Blammit", "Dag Nabbit",
        "Darkness Everywhere", "Drat", "Fiddlesticks", "Flaming Flamingos",
        "Good Grief", "Golly Gee Willikers", "Oh, Snot",
        "Oh, Sweet Cheese and Crackers", "Great Googly Moogly", "Great Scott",
        "Jeepers", "Heavens to Betsy", "Crikey", "Cheese and Rice all Friday",
        "Infernal Tarnation", "Mercy", "[Insert Curse Word Here]", "Nuts",
        "Oh Heavens", "Rats", "Wretch it all", "Whiskey Tango ....",
        "Woe be unto me", "Woe is me",
    ]  # fmt: skip

    #: The title of every ``swear`` page (a forgotten commit, a failure
    #: shown in debug mode).
    SWEAR_TITLE = "Something went wrong"

    # The default pages, compiled when first shown (see _LazyTemplate).
    TEMPLATE_GENERIC = _LazyTemplate(PAGE)
    TEMPLATE_GRIPE = _LazyTemplate(
        '<p class="note">Something went wrong during: {command} '
        '<a href="{url}">{url}</a></p>\n'
    )
    TEMPLATE_STACK_TRACE = _LazyTemplate(
        "<p>Here is the traceback (shown because debug mode is on). Perhaps "
        "you can send it to the responsible party.</p>\n<pre>{trace}</pre>\n"
    )
    TEMPLATE_QUIET_FAILURE = _LazyTemplate(
        "<p>The details are in the server's log.</p>\n"
    )

    _head: bytes | None  # serialised status line and headers, when known
    _headers: list[tuple[str, str]] | None

    def __init__(
        self,
        content: Body,
        *,
        code: int = 200,
        headers: Headers = None,
        shut_down: bool = False,
    ) -> None:
        self._start(code, headers, shut_down)
        chunks: list[bytes]
        if isinstance(content, str):  # the common cases, without a walk
            chunks = [content.encode("utf-8", "replace")]
        elif type(content) is bytes:
            chunks = [content]
        else:
            chunks = list(iter_chunks(content))
        code = self.code
        if code < 200 or code == 204 or code == 304:  # never a body
            chunks = []
        self._chunks = chunks
        length = len(chunks[0]) if len(chunks) == 1 else sum(map(len, chunks))
        self._length: int | None = length
        prefix = None if self._app_headers else _HTML_HEAD_PREFIXES.get(code)
        if prefix is None:
            self._finish()
        else:  # most pages: plain HTML, serialised now as 0.0.8 did
            self._headers = None
            self._head = b"%s%d%s" % (prefix, length, _HTML_HEAD_END)

    def _start(self, code: int, headers: Headers, shut_down: bool) -> None:
        if type(code) is not int:  # the fast check first; HTTPStatus is fine
            if isinstance(code, bool) or not isinstance(code, int):
                raise ValueError(f"status code must be an int, not {code!r}")
            code = int(code)
        if not 100 <= code <= 599:
            raise ValueError(f"status code {code} is not in 100-599")
        self.code = code
        self.shut_down = bool(shut_down)
        self._app_headers = [] if headers is None else _header_pairs(headers)
        self._chunks = []
        self._file: IO[bytes] | None = None
        self._file_offset = 0
        self._stream: Iterator[bytes] | None = None
        self._head = None

    def _finish(self) -> None:
        """Compute the headers actually sent from the app's and the body's."""
        self._head = None  # both built when first asked for
        self._headers = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The header pairs sent, names lower-case: the app's, then the
        content type, length and kali's defaults where the app set none."""
        if self._headers is None:
            self._headers = self._sent_headers()
        return self._headers

    def _sent_headers(self) -> list[tuple[str, str]]:
        given = {name for name, _ in self._app_headers}
        pairs = [pair for pair in self._app_headers if pair[0] != "content-length"]
        if "content-type" not in given and not _has_no_body(self.code):
            pairs.insert(0, ("content-type", HTML_TYPE))
        if self._length is not None and not _has_no_body(self.code):
            pairs.append(("content-length", str(self._length)))
        pairs.extend(pair for pair in DEFAULT_HEADERS if pair[0] not in given)
        return pairs

    # -- reading it back --------------------------------------------------

    @property
    def reason(self) -> str:
        return self.REASON.get(self.code, b"Unknown").decode("ascii")

    @property
    def head(self) -> bytes:
        """Status line, headers and the blank line, ready to send."""
        if self._head is None:
            status = _STATUS_LINES.get(self.code)
            if status is None:
                status = f"HTTP/1.0 {self.code} {self.reason}\r\n"
            if self.headers:
                fields = "\r\n".join(map(": ".join, self.headers))
                text = f"{status}{fields}\r\n\r\n"
            else:
                text = status + "\r\n"
            self._head = text.encode("latin-1", "replace")
        return self._head

    @property
    def content_length(self) -> int | None:
        """The body size, or None for a stream of unknown length."""
        return self._length

    @property
    def body(self) -> bytes:
        """The whole body as bytes (reads a file body; consumes a stream)."""
        return b"".join(self.iter_body())

    @property
    def content(self) -> bytes:
        """The whole message, as 0.0.8's ``Response.content`` was."""
        return self.head + self.body

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The last value sent for header ``name`` (case-insensitive)."""
        name = name.lower()
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return default

    @property
    def chunks(self) -> list[bytes] | None:
        """The body's byte chunks when it is held in memory (every iolist
        body); None for a file or stream body. Do not modify the list."""
        if self._file is None and self._stream is None:
            return self._chunks
        return None

    @property
    def file_span(self) -> tuple[IO[bytes], int, int] | None:
        """``(file, offset, length)`` for a file body (the server sends it with
        ``socket.sendfile``), else None."""
        if self._file is None or self._length is None:
            return None
        return self._file, self._file_offset, self._length

    def iter_body(self, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        """The body in chunks of bytes, whatever its kind."""
        if self._file is not None:
            self._file.seek(self._file_offset)
            remaining = self._length
            while remaining is None or remaining > 0:
                size = chunk_bytes if remaining is None else min(chunk_bytes, remaining)
                block = self._file.read(size)
                if not block:
                    break
                if remaining is not None:
                    remaining -= len(block)
                yield block
        elif self._stream is not None:
            stream, self._stream = self._stream, None
            if self._length is None:
                yield from stream
            else:
                yield from _held_to_length(stream, self._length)
        else:
            yield from self._chunks

    def close(self) -> None:
        """Release a file body, and close a stream's iterable (a generator
        left half-way runs its ``finally``); the server calls this after
        sending."""
        if self._file is not None and self._owns_file:
            self._file.close()
        source, self._stream_source = self._stream_source, None
        closer = getattr(source, "close", None)
        if closer is not None:
            closer()

    _owns_file = False
    #: A stream body's iterable, closed by close().
    _stream_source: object = None

    # -- changing headers after construction ---------------------------------

    def set_header(self, name: str, value: Any) -> Response:
        """Replace every value of header ``name``; returns self.

        Raises ValueError for a bad name or value. ``content-length`` cannot be
        set: kali always computes it.
        """
        name, text = check_header(name, value)
        if name == "content-length":
            raise ValueError("content-length is computed by kali")
        self._app_headers = [p for p in self._app_headers if p[0] != name]
        self._app_headers.append((name, text))
        self._finish()
        return self

    def add_header(self, name: str, value: Any) -> Response:
        """Add another value for header ``name`` (e.g. ``set-cookie``); returns self."""
        pair = check_header(name, value)
        if pair[0] == "content-length":
            raise ValueError("content-length is computed by kali")
        self._app_headers.append(pair)
        self._finish()
        return self

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        path: str = "/",
        http_only: bool = True,
        same_site: str | None = "Lax",
        secure: bool = False,
    ) -> Response:
        """Add a ``set-cookie`` header (HttpOnly and SameSite=Lax by default).

        ``value`` may contain only cookie-octets (RFC 6265 4.1.1); anything else
        raises ValueError, so quote or encode it first. Returns self.
        """
        if not _TOKEN.match(name):
            raise ValueError(f"invalid cookie name {name!r}")
        if not re.fullmatch(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*", value):
            raise ValueError(f"cookie {name!r}: value has characters needing encoding")
        parts = [f"{name}={value}", f"Path={path}"]
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if http_only:
            parts.append("HttpOnly")
        if same_site:
            if same_site not in ("Strict", "Lax", "None"):
                raise ValueError("same_site must be 'Strict', 'Lax' or 'None'")
            parts.append(f"SameSite={same_site}")
        if secure:
            parts.append("Secure")
        return self.add_header("set-cookie", "; ".join(parts))

    def delete_cookie(self, name: str, *, path: str = "/") -> Response:
        """Tell the browser to forget cookie ``name``; returns self."""
        return self.set_cookie(name, "", max_age=0, path=path)

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.reason}>"

    # -- constructors ----------------------------------------------------------

    @classmethod
    def file(
        cls,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        code: int = 200,
        headers: Headers = None,
        offset: int = 0,
        length: int | None = None,
        download_name: str | None = None,
    ) -> Response:
        """A response whose body is (a span of) a file, streamed, never read whole.

        ``source`` is a path (opened here, closed after sending) or a binary file
        object (left open for the caller). ``download_name`` adds a
        ``content-disposition: attachment`` header. Raises OSError if the path
        cannot be opened.
        """
        self = cls.__new__(cls)
        extra = _with_type(headers, content_type)
        if download_name is not None:
            extra.append(("content-disposition", content_disposition(download_name)))
        self._start(code, extra, False)
        if isinstance(source, (str, os.PathLike)):
            self._file = open(source, "rb")  # noqa: SIM115 - closed by close()
            self._owns_file = True
        else:
            self._file = source
        size = (
            os.fstat(self._file.fileno()).st_size if _has_fileno(self._file) else None
        )
        if size is None:
            self._file.seek(0, os.SEEK_END)
            size = self._file.tell()
        offset = max(0, min(offset, size))
        self._file_offset = offset
        self._length = (
            size - offset if length is None else max(0, min(length, size - offset))
        )
        self._finish()
        return self

    @classmethod
    def stream(
        cls,
        chunks: Iterable[Body],
        *,
        content_type: str = HTML_TYPE,
        code: int = 200,
        headers: Headers = None,
        content_length: int | None = None,
    ) -> Response:
        """A response whose body is produced while it is sent: each item of
        ``chunks`` (any iolist) goes out as soon as the iterable yields it,
        so a slow generator's first event is not held back by its next (a
        list or tuple, all there already, goes out in coalesced blocks).

        Without ``content_length`` the body has none (HTTP/1.0 ends it by
        closing the connection). With it (the size known in advance: a
        file, another server's answer), that length is sent and the body is
        held to it: what goes past it is cut off, and a body that ends early
        raises ValueError while being sent, so the server resets the
        connection and the client sees a failure, not a short body that
        looks complete. ``close()`` closes ``chunks`` if it can be closed.

        An exception half-way through cannot become an error page any more:
        the server resets the connection. A stream holds kali's one thread
        until it ends; long work belongs in ``kali.jobs``.
        """
        if content_length is not None and (
            isinstance(content_length, bool)
            or not isinstance(content_length, int)
            or content_length < 0
        ):
            raise ValueError(
                f"content_length must be an int >= 0 or None, not {content_length!r}"
            )
        self = cls.__new__(cls)
        self._start(code, _with_type(headers, content_type), False)
        self._stream = iter_stream_chunks(chunks)
        self._stream_source = chunks
        self._length = content_length
        self._finish()
        return self

    @staticmethod
    def json(data: Any, *, code: int = 200, headers: Headers = None) -> Response:
        """``data`` as UTF-8 JSON with ``application/json``. TypeError for
        values JSON cannot encode."""
        text = _json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return Response(
            text, code=code, headers=_with_type(headers, "application/json")
        )

    @staticmethod
    def redirect(url: str) -> Response:
        """302 to ``url`` with an empty body; ValueError if it has CR or LF."""
        return Response("", code=302, headers={"location": url})

    @staticmethod
    def plain_text(text: Body) -> Response:
        """200 with ``text/plain; charset=utf-8``; ``text`` may be any iolist."""
        return Response(text, headers={"content-type": "text/plain; charset=utf-8"})

    @staticmethod
    def generic(body: Body = None, *, title: Any = None, code: int = 200) -> Response:
        """A plain HTML page: ``title`` (escaped; default: the reason phrase)
        as title and heading, then the body inserted **raw**. With no body,
        an error status gets a plain sentence (``error_sentence``), any
        other "No further information."."""
        if title is None or title == "" or title == b"":
            title = Response.REASON.get(code, b"Unknown").decode("ascii")
        if not body:
            sentence = error_sentence(code) or "No further information."
            body = ["<p>", sentence, "</p>"]
        page = Response.TEMPLATE_GENERIC(title=title, body=body)
        return Response(page, code=code)

    #: Set on pages made by :meth:`error_page`: the server re-renders them
    #: with the app's ``error_page`` function when it has one.
    error_message: str | None = None
    is_error_page = False

    @staticmethod
    def error_page(
        code: int, message: str | None = None, *, headers: Headers = None
    ) -> Response:
        """kali's plain page for an error status: the reason phrase as title,
        then ``message`` (escaped), or a plain sentence when there is none
        or it only repeats the reason phrase."""
        reason = Response.REASON.get(code, b"").decode("ascii")
        shown = message if message and message != reason else None
        page = Response.generic(
            ["<p>", escape(shown), "</p>"] if shown else None,
            code=code,
        )
        for name, value in _header_pairs(headers):
            page.add_header(name, value)
        page.is_error_page = True
        page.error_message = message
        page.error_headers = tuple(_header_pairs(headers))
        return page

    error_headers: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def swear(request: ShownRequest, detail: Body, *, code: int = 500) -> Response:
        """A ``generic`` page titled ``SWEAR_TITLE`` (0.0.8 picked a random
        minced oath), naming the request, then ``detail`` raw."""
        gripe = Response.TEMPLATE_GRIPE(
            command=request.command, url=request.url.geturl()
        )
        return Response.generic([gripe, detail], code=code, title=Response.SWEAR_TITLE)

    @staticmethod
    def from_exception(request: ShownRequest) -> Response:
        """Call inside ``except``: a 500 page. With ``request.debug`` it shows the
        traceback; otherwise a short note, and the traceback goes to the log."""
        if getattr(request, "debug", False):
            detail = Response.TEMPLATE_STACK_TRACE(trace=traceback.format_exc())
        else:
            log.error(
                "During %s %s", request.command, request.uri, exc_info=sys.exc_info()
            )
            detail = Response.TEMPLATE_QUIET_FAILURE()
        return Response.swear(request, detail)


def _held_to_length(chunks: Iterator[bytes], length: int) -> Iterator[bytes]:
    """A stream's chunks held to its declared ``length``: cut past it (and
    logged), ValueError when the stream ends before it."""
    remaining = length
    if remaining:
        for chunk in chunks:
            if len(chunk) >= remaining:
                if len(chunk) > remaining:
                    log.warning(
                        "A streamed body went past its content-length (%d);"
                        " the rest is not sent.",
                        length,
                    )
                yield chunk[:remaining]
                return
            remaining -= len(chunk)
            yield chunk
    if remaining:
        raise ValueError(
            f"The streamed body ended after {length - remaining} of its"
            f" {length} bytes (content-length)."
        )


def _has_fileno(stream: IO[bytes]) -> bool:
    try:
        stream.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True
