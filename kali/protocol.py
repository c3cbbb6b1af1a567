"""The request-head parser: bytes in, a checked :class:`RequestHead` out.

This module is sans-IO: :class:`HeadParser` is fed whatever bytes the server
happened to receive and answers "need more" (``None``), a finished head, or a
:class:`~kali.errors.ProtocolError` whose ``status`` is the answer to send.
It never touches a socket, a clock or a thread, so every rule here is tested
byte by byte without a network (the shape of h11's ``receive_data``).

What it must not do:

* read a body: the server reads exactly ``content_length`` bytes, or feeds
  a chunked body through :class:`kali.chunked.ChunkedDecoder`, starting
  with :attr:`HeadParser.trailing`;
* echo request bytes in error messages (they end up in a page and a log);
* give a different answer depending on how the bytes were split into
  chunks. Every check is decided at a fixed byte position, in the order the
  bytes arrive, so feeding the whole head or one byte at a time ends in the
  same head or the same error.

Decisions beyond RFC 9112, for a single-threaded localhost server:

* Lines end with CRLF only. A bare LF or bare CR anywhere in the head is a 400
  (RFC 9112 section 2.2 allows accepting a bare LF; refusing it removes a
  class of request-smuggling disagreements and no browser sends one).
* The request-target must be origin-form (``/path?query``) or absolute-form
  with an ``http``/``https`` scheme. ``OPTIONS *`` (asterisk-form) is refused
  with 400 as well: a local app has no server-wide options to report.
* A request body is framed by ``Content-Length`` or by
  ``Transfer-Encoding: chunked`` alone, from an HTTP/1.1 client
  (``kali.chunked`` decodes it). Every ambiguous framing is refused
  (RFC 9112 sections 6.1 and 6.3): both headers (400), a Transfer-Encoding
  from an HTTP/1.0 client (400), chunked twice or not last (400), and any
  other coding (501: kali decodes none).
* Header names that would be confused with ``Content-Length`` or
  ``Transfer-Encoding`` once ``_`` and ``-`` are treated alike (CGI/WSGI
  environ keys do that) are refused with 400, as is a repeated
  ``Content-Type`` (two bodies' worth of meaning in one request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from .errors import ProtocolError

__all__ = [
    "KNOWN_METHODS",
    "HeadParser",
    "HeaderFields",
    "Limits",
    "RequestHead",
    "parse_request_head",
    "plain_head",
]

#: Methods kali knows; any other token is answered 501 Not Implemented
#: (RFC 9110 section 9.1), a syntactically bad method 400.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)


@dataclass(frozen=True)
class Limits:
    """Size limits for one request; every field has a documented default."""

    #: 8 KiB is the request-line size RFC 9112 section 3 recommends supporting
    #: at least; browsers cap URLs near there in practice. Longer gets 414.
    max_request_line_bytes: int = 8 * 1024
    #: The whole head (request line and header lines, without the final blank
    #: line). 32 KiB leaves room for a 12 KB cookie plus ordinary headers; 431.
    max_head_bytes: int = 32 * 1024
    #: Browsers send 10-25 fields; 100 is generous and bounds per-field work; 431.
    max_header_fields: int = 100
    #: A declared body above this is answered 413 from the header alone, before
    #: reading it. 64 MiB suits local uploads; raise it for bigger files.
    max_body_bytes: int = 64 * 1024 * 1024
    #: Form text (urlencoded bodies, multipart text fields) is held in memory
    #: up to this; past it 413. Uploaded files stay in memory up to this too,
    #: then go to a temporary file.
    max_form_memory_bytes: int = 1024 * 1024
    #: More fields or parts than this in one form is a 413: real forms have
    #: dozens, and each field costs a dict entry and an allocation.
    max_form_fields: int = 1000


class HeaderFields(tuple[tuple[str, str], ...]):
    """The parser's header fields: a tuple of ``(name, value)`` pairs in
    arrival order, names already lower-cased (so a Request takes them as
    they are). Any other tuple of pairs is lower-cased by the Request."""

    __slots__ = ()


class RequestHead(NamedTuple):
    """A parsed, checked request head (request line plus header fields).

    A NamedTuple rather than a frozen dataclass: one is built per request, and
    a tuple is several times cheaper to make.
    """

    method: str
    #: The request-target as sent (visible ASCII), e.g. ``/a?b=1``.
    target: str
    #: ``HTTP/1.0`` or ``HTTP/1.1``.
    version: str
    #: ``(name, value)`` in arrival order; names lower-cased, values decoded
    #: as Latin-1 with surrounding spaces and tabs stripped.
    headers: HeaderFields
    #: The declared body length; 0 when there is no Content-Length.
    content_length: int
    #: The authority of an absolute-form target, else the Host header value,
    #: else ``None`` (an HTTP/1.0 request without Host).
    host: str | None
    #: ``Expect: 100-continue`` was sent (RFC 9110 section 10.1.1).
    expect_continue: bool
    #: The body is framed by ``Transfer-Encoding: chunked`` (HTTP/1.1 only;
    #: then ``content_length`` is 0): read it with
    #: :class:`kali.chunked.ChunkedDecoder`.
    chunked: bool = False


_new_tuple = tuple.__new__

# The patterns of the careful path (HeadParser, absolute-form targets,
# Referer URLs) are kept as source and compiled on first use, by re's own
# cache: most requests take the fast path and never need them.

# RFC 9110 section 5.6.2: token = 1*tchar.
_TCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
_TOKEN = _TCHAR + rb"+"
_TCHARS = _TCHAR + rb"*"
# The request-target may hold visible ASCII only (RFC 9112 section 3.2).
_VCHARS = rb"[\x21-\x7e]*"
# The longest prefix of the line's remainder that can still become
# HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 section 2.3).
_VERSION_PREFIX = rb"H(?:T(?:T(?:P(?:/(?:[0-9](?:\.[0-9]?)?)?)?)?)?)?"
_VERSION_LENGTH = len(b"HTTP/1.1")
_SUPPORTED_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
# absolute-form with an http(s) scheme; the authority ends at / ? or #.
_ABSOLUTE_FORM = rb"(?i:https?)://([^/?#]*)"
# Field values: no CTL except HTAB, and no DEL (RFC 9110 section 5.5).
_BAD_VALUE_BYTE = rb"[\x00-\x08\x0a-\x1f\x7f]"
_CR_OR_LF = rb"[\r\n]"
# Host = uri-host [ ":" port ] (RFC 9110 section 7.2, RFC 3986 section 3.2.2).
# No userinfo: RFC 9110 section 4.2.4 makes it an error in http(s) URIs.
# Matched on a value already decoded as Latin-1 (the classes are ASCII).
_HOST_TEXT = re.compile(
    r"(?:\[[0-9A-Za-z:.%~_-]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]*)(?::[0-9]*)?"
)
# A URL that names an origin: scheme "://" authority, then a path, query,
# fragment or nothing (for Referer; RFC 3986 section 3).
_URL_ORIGIN = r"(?s)([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(?:[/?#].*)?"


def is_valid_authority(authority: str) -> bool:
    """Is ``authority`` a ``host[:port]`` by RFC 9110 section 7.2?

    kali's own grammar, applied before any library parses a URL-ish field:
    a bracketed host must be a real IPv6 address (``urllib.parse`` raises
    ``ValueError`` on ``[zz]`` or ``[1.2.3.4]``), and no userinfo is allowed.
    """
    if not _HOST_TEXT.fullmatch(authority):
        return False
    if authority[:1] == "[":
        import ipaddress  # only for the rare bracketed host

        inner = authority[1 : authority.index("]")]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return False
    return True


def url_origin(url: str) -> tuple[str, str] | None:
    """``(scheme, authority)`` of an absolute URL such as a Referer, or None
    when it does not follow kali's grammar (so nothing else has to parse it)."""
    match = re.fullmatch(_URL_ORIGIN, url.strip())
    if match is None or not is_valid_authority(match.group(2)):
        return None
    return match.group(1).lower(), match.group(2).lower()


# Content-Length = 1*DIGIT; 18 digits always fit in a 64-bit integer.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
#: The names _build_head looks at; names confused with Content-Length or
#: Transfer-Encoding once "_" and "-" are treated alike are refused there.
_FRAMING_NAMES = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "expect",
        "content_length",
        "transfer_encoding",
    }
)
# The fast path's shape, on the head decoded as Latin-1: a plain origin-form
# request line, then field lines each after its CRLF (no obs-fold, no CTL but
# HTAB, no bare CR or LF). Anything else takes the careful path, which gives
# the precise error.
_PLAIN_HEAD = re.compile(
    r"([A-Z]{3,7}) (/[\x21-\x7e]*) (HTTP/1\.[01])"
    r"((?:\r\n[-!#$%&'*+.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*)"
)


def _match_end(pattern: bytes, data: bytes, start: int) -> int:
    """Where the match of ``pattern`` at ``start`` ends (``start`` if none)."""
    match = re.compile(pattern).match(data, start)
    return start if match is None else match.end()


def _check_request_line(line: bytes, complete: bool) -> tuple[str, str, str] | None:
    """Check ``request-line = method SP request-target SP HTTP-version``.

    ``line`` has no CR or LF. When ``complete`` is false it is the part that
    has arrived so far: an error is raised as soon as it is certain, and it is
    the same error the complete line would get, because the checks run left
    to right and stop at the first offending byte.
    """
    method_end = _match_end(_TCHARS, line, 0)
    if method_end == len(line):
        if complete:
            raise ProtocolError("malformed request line", 400)
        return None
    if line[method_end] != 0x20:
        raise ProtocolError("invalid method", 400)
    if method_end == 0:
        raise ProtocolError("malformed request line", 400)
    method = line[:method_end].decode("ascii")
    if method not in KNOWN_METHODS:
        raise ProtocolError("method not implemented", 501)

    target_start = method_end + 1
    target_end = _match_end(_VCHARS, line, target_start)
    if target_end == len(line):
        if complete:
            raise ProtocolError("malformed request line", 400)
        return None
    if line[target_end] != 0x20 or target_end == target_start:
        raise ProtocolError("invalid request target", 400)
    target = line[target_start:target_end]
    if not target.startswith(b"/"):
        absolute = re.match(_ABSOLUTE_FORM, target)
        authority = absolute.group(1) if absolute else b""
        if not authority or not is_valid_authority(authority.decode("ascii")):
            raise ProtocolError("invalid request target", 400)

    version = line[target_end + 1 :]
    valid_end = _match_end(_VERSION_PREFIX, version, 0)
    if valid_end < len(version) or (complete and valid_end < _VERSION_LENGTH):
        if valid_end < len(version) and version[valid_end] == 0x20:
            raise ProtocolError("malformed request line", 400)
        raise ProtocolError("invalid HTTP version", 400)
    if not complete:
        return None
    version_text = version.decode("ascii")
    if version_text not in _SUPPORTED_VERSIONS:
        raise ProtocolError("HTTP version not supported", 505)
    return method, target.decode("ascii"), version_text


def _parse_field_line(line: bytes) -> tuple[str, str]:
    """``field-line = field-name ":" OWS field-value OWS`` (RFC 9112 section 5)."""
    if line[0] in b" \t":
        # RFC 9112 section 5.2: obs-fold is refused outside message/http.
        raise ProtocolError("folded header line", 400)
    colon = line.find(b":")
    if colon < 0:
        raise ProtocolError("header line without a colon", 400)
    name = line[:colon]
    if name and name[-1] in b" \t":
        # RFC 9112 section 5.1: whitespace before the colon MUST get a 400.
        raise ProtocolError("whitespace before a header colon", 400)
    if not re.fullmatch(_TOKEN, name):
        raise ProtocolError("invalid header name", 400)
    value = line[colon + 1 :].strip(b" \t")
    if re.search(_BAD_VALUE_BYTE, value):
        raise ProtocolError("control character in a header value", 400)
    return name.decode("ascii").lower(), value.decode("latin-1")


def _build_head(
    request_line: tuple[str, str, str],
    fields: list[tuple[str, str]],
    limits: Limits,
) -> RequestHead:
    """Apply the rules that need the whole head (RFC 9112 sections 3.2, 6)."""
    method, target, version = request_line
    host = length_text = None
    hosts = lengths = content_types = 0
    expect_continue = False
    codings: list[str] | None = None
    for name, value in fields:  # one pass, one set lookup for most fields
        if name not in _FRAMING_NAMES:
            continue
        if name == "host":
            hosts += 1
            host = value
        elif name == "content-length":
            lengths += 1
            length_text = value
        elif name == "content-type":
            content_types += 1
        elif name == "transfer-encoding":
            # A list, possibly over several lines (RFC 9110 section 5.3).
            if codings is None:
                codings = []
            codings += [item.strip(" \t").lower() for item in value.split(",")]
        elif name == "expect":
            # RFC 9110 section 10.1.1: ignored in an HTTP/1.0 request.
            expect_continue = expect_continue or (
                version == "HTTP/1.1" and value.lower() == "100-continue"
            )
        else:
            raise ProtocolError("ambiguous header name", 400)
    if hosts > 1:  # RFC 9112 section 3.2: several Host lines MUST get a 400.
        raise ProtocolError("more than one Host header", 400)
    # RFC 9112 section 6.3: differing lengths are unrecoverable; repeated
    # identical ones are refused too, as nothing legitimate sends them.
    if lengths > 1:
        raise ProtocolError("more than one Content-Length header", 400)
    if content_types > 1:
        raise ProtocolError("more than one Content-Type header", 400)
    chunked = codings is not None and _is_chunked(codings, lengths, version)
    if host is None:
        if version == "HTTP/1.1":
            raise ProtocolError("missing Host header", 400)
    elif not is_valid_authority(host):
        raise ProtocolError("invalid Host header", 400)
    content_length = 0
    if length_text is not None:
        if not _CONTENT_LENGTH.fullmatch(length_text):
            raise ProtocolError("invalid Content-Length", 400)
        content_length = int(length_text)
        if content_length > limits.max_body_bytes:
            raise ProtocolError("request body too large", 413)
    # RFC 9112 section 3.2.2: the authority of an absolute-form target wins.
    if target[0] != "/":
        absolute = re.match(_ABSOLUTE_FORM, target.encode("ascii"))
        if absolute is not None:
            host = absolute.group(1).decode("ascii")
    # RequestHead(...) without its Python-level __new__ (what _make does).
    return _new_tuple(
        RequestHead,
        (
            method,
            target,
            version,
            _new_tuple(HeaderFields, fields),
            content_length,
            host,
            expect_continue,
            chunked,
        ),
    )


def _is_chunked(codings: list[str], lengths: int, version: str) -> bool:
    """True for a body framed by chunked alone; else the ProtocolError for
    an ambiguous or unsupported framing (RFC 9112 sections 6.1, 6.3)."""
    if lengths:  # a classic request-smuggling signal
        raise ProtocolError("both Content-Length and Transfer-Encoding", 400)
    if version != "HTTP/1.1":  # RFC 9112 6.1: the framing is faulty
        raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request", 400)
    codings = [coding for coding in codings if coding]  # empty list elements
    if "chunked" in codings and codings[-1:] != ["chunked"]:
        raise ProtocolError("chunked is not the last transfer coding", 400)
    if codings.count("chunked") > 1:
        raise ProtocolError("chunked applied more than once", 400)
    if codings != ["chunked"]:
        if not codings:
            raise ProtocolError("empty Transfer-Encoding", 400)
        raise ProtocolError("transfer coding not implemented", 501)
    return True


def plain_head(data: bytes, limits: Limits) -> tuple[RequestHead, bytes] | None:
    """The fast path: ``(head, bytes after it)`` for a plainly valid head
    that is whole in ``data``, the first chunk received.

    None means "not that case" (incomplete, too big, anything unusual): then
    :class:`HeadParser` decides, so every error and every edge case stays
    exactly as the careful byte-by-byte path has it.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 2 > limits.max_head_bytes:
        return None
    match = _PLAIN_HEAD.fullmatch(data[:end].decode("latin-1"))
    if match is None or match.end(3) > limits.max_request_line_bytes:
        return None
    method, target, version, block = match.groups()
    if method not in KNOWN_METHODS:
        return None
    fields = []
    if block:
        lines = block.split("\r\n")  # lines[0] is "": the block starts with CRLF
        if len(lines) > limits.max_header_fields + 1:
            return None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.append((name.lower(), value.strip(" \t")))
    try:
        head = _build_head((method, target, version), fields, limits)
    except ProtocolError:
        return None
    return head, data[end + 4 :]


class HeadParser:
    """Incremental parser for one request head.

    Call :meth:`feed` with each chunk received; it returns ``None`` until the
    blank line that ends the head has arrived, then the :class:`RequestHead`.
    Bytes after the head (the start of the body) are in :attr:`trailing`.
    When the client closes early, call :meth:`eof`.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._line_start = 0  # offset of the line being read
        self._scanned = 0  # [line_start, scanned) holds no CR or LF
        self._request_line: tuple[str, str, str] | None = None
        self._fields: list[tuple[str, str]] = []
        self._head: RequestHead | None = None
        self._error: ProtocolError | None = None
        self._trailing = b""
        self._received = 0

    @property
    def trailing(self) -> bytes:
        """Bytes received after the end of the head: the start of the body."""
        return self._trailing

    @property
    def received_bytes(self) -> int:
        """How many bytes have been fed in all (head and trailing bytes)."""
        return self._received

    def feed(self, data: bytes) -> RequestHead | None:
        """Add ``data``; return the head once complete, else ``None``.

        Raises :class:`ProtocolError` (its ``status`` is the answer) when the
        bytes so far can no longer be a valid head; after that, every call
        raises the same error. Raises :class:`RuntimeError` if called after
        the head was returned.
        """
        if self._head is not None:
            raise RuntimeError("the request head is complete; read .trailing")
        if self._error is not None:
            raise self._error
        self._received += len(data)
        if not self._buffer and self._request_line is None:
            head = self._whole_head(data)
            if head is not None:
                return head
        self._buffer += data
        try:
            return self._advance()
        except ProtocolError as error:
            self._error = error
            self._buffer = bytearray()
            raise

    def eof(self) -> None:
        """The client closed the connection.

        Raises ``ProtocolError`` (400) if part of a head had arrived; returns
        ``None`` if nothing had (nothing to answer), or if the head was
        already complete or refused.
        """
        if self._head is None and self._error is None and self._received:
            raise ProtocolError("incomplete request", 400)

    def _whole_head(self, data: bytes) -> RequestHead | None:
        whole = plain_head(data, self._limits)
        if whole is None:
            return None
        head, self._trailing = whole
        self._head = head  # from now on, feed() refuses more bytes
        return head

    def _advance(self) -> RequestHead | None:
        limits = self._limits
        buffer = self._buffer
        while True:
            start = self._line_start
            if self._request_line is None:
                # A content byte at offset max_request_line_bytes means too long.
                line_end = start + limits.max_request_line_bytes + 1
                end = min(line_end, limits.max_head_bytes)
            else:
                # The blank line may start at max_head_bytes; nothing else may.
                end = max(limits.max_head_bytes, start + 1)
            match = re.compile(_CR_OR_LF).search(buffer, self._scanned, end)
            if match is None:
                if self._request_line is None:
                    _check_request_line(bytes(buffer[start:end]), complete=False)
                if len(buffer) >= end:
                    if self._request_line is None and end == line_end:
                        raise ProtocolError("request line too long", 414)
                    raise ProtocolError("request head too large", 431)
                self._scanned = len(buffer)
                return None
            at = match.start()
            self._scanned = at
            if self._request_line is None:
                # Errors in the bytes before a CR or LF come first.
                _check_request_line(bytes(buffer[start:at]), complete=False)
            if buffer[at] == 0x0A:
                raise ProtocolError("bare LF in the request head", 400)
            if at + 1 == len(buffer):
                return None  # a CR: wait for its LF
            if buffer[at + 1] != 0x0A:
                raise ProtocolError("bare CR in the request head", 400)
            line = bytes(buffer[start:at])
            self._line_start = self._scanned = at + 2
            if at + 2 > limits.max_head_bytes and line:
                raise ProtocolError("request head too large", 431)
            if self._request_line is None:
                self._request_line = _check_request_line(line, complete=True)
            elif line:
                if len(self._fields) >= limits.max_header_fields:
                    raise ProtocolError("too many header fields", 431)
                self._fields.append(_parse_field_line(line))
            else:
                head = _build_head(self._request_line, self._fields, limits)
                self._trailing = bytes(buffer[at + 2 :])
                self._buffer = bytearray()
                self._head = head
                return head


def parse_request_head(
    data: bytes, limits: Limits = Limits()
) -> tuple[RequestHead, bytes]:
    """Parse a whole buffer: ``(head, bytes after the head)``.

    Raises :class:`ProtocolError`, with status 400 if the head is incomplete.
    """
    parser = HeadParser(limits)
    head = parser.feed(data)
    if head is None:
        raise ProtocolError("incomplete request", 400)
    return head, parser.trailing
