"""Form data: query strings, urlencoded and multipart bodies, Content-Type.

Turns the bytes of a query string or a request body into ``(name, value)``
pairs for :class:`~kali.multidict.Bag`, and keeps the kali 0.0.8 multipart
helpers (``analyze_*``) working. The streaming multipart parser and
:class:`FileUpload` live in :mod:`kali.multipart` and are re-exported here.

What it must not do: read a socket, build a Request, or let a client make it
hold unbounded data. Text must be valid UTF-8 (else 400), and the limits of
:class:`~kali.protocol.Limits` apply (413 past them).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from typing import IO
from urllib.parse import unquote_to_bytes

from .errors import ProtocolError
from .multipart import (
    FileUpload,
    analyze_disposition,
    parse_header_value,
    parse_multipart,
)
from .protocol import Limits

__all__ = [
    "FileUpload",
    "analyze_disposition",
    "analyze_multipart_form_data",
    "analyze_single_part",
    "parse_content_type",
    "parse_form",
    "parse_multipart",
    "parse_query",
    "parse_urlencoded",
]

_DEFAULT_LIMITS = Limits()
# RFC 2046 section 5.1.1 allows 70 characters; be lenient but bounded, and
# never let a CR or LF (which delimiter search relies on) into a boundary.
_BOUNDARY = re.compile(rb"[^\r\n]{1,200}")


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``('type/subtype', params)`` from a Content-Type value.

    The media type and parameter names are lower-cased, quoted values
    unquoted; ``('', {})`` for ``None`` or an empty value. Junk between
    parameters is skipped, never an error.
    """
    if not value:
        return "", {}
    parsed = parse_header_value(value, strict=False)
    assert parsed is not None  # only strict parsing gives up
    return parsed


def _decode_component(raw: bytes) -> str:
    # application/x-www-form-urlencoded: '+' is a space, %XX a byte, and a
    # bad escape such as %ZZ stays as it is (WHATWG URL, "urlencoded parser").
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("form data is not valid UTF-8", 400) from None


def parse_urlencoded(data: bytes, *, max_fields: int = 1000) -> list[tuple[str, str]]:
    """Parse ``name=value&...`` bytes into pairs, blank values kept.

    Empty segments (``a=1&&b=2``) are skipped; a segment without ``=`` is a
    name with an empty value. Raises ProtocolError: 400 if the raw or
    percent-decoded bytes are not UTF-8, 413 for more than ``max_fields``.
    """
    pairs: list[tuple[str, str]] = []
    for segment in data.split(b"&"):
        if not segment:
            continue
        if len(pairs) >= max_fields:
            raise ProtocolError("too many form fields", 413)
        name, _, value = segment.partition(b"=")
        pairs.append((_decode_component(name), _decode_component(value)))
    return pairs


def parse_query(query: str) -> list[tuple[str, str]]:
    """Parse a URL's query string (without ``?``) into pairs.

    Same rules as :func:`parse_urlencoded`, without a field limit (the
    request line is already bounded). A ``str`` query is taken as UTF-8.
    """
    if not query:
        return []
    try:
        raw = query.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ProtocolError("query string is not valid UTF-8", 400) from None
    return parse_urlencoded(raw, max_fields=len(raw) + 1)


def parse_form(
    content_type: str | None,
    body: bytes | IO[bytes],
    limits: Limits = _DEFAULT_LIMITS,
) -> list[tuple[str, str | FileUpload]]:
    """The form fields of a request body, by its Content-Type.

    ``application/x-www-form-urlencoded`` and ``multipart/form-data`` are
    parsed (media type case-insensitive, parameters allowed); any other type
    gives ``[]``. ``body`` is bytes or a binary file read from its current
    position. Raises ProtocolError: 400 for malformed data or a multipart
    type without a boundary, 413 past ``limits``.
    """
    if not content_type:
        return []
    media_type, params = parse_content_type(content_type)
    if media_type == "application/x-www-form-urlencoded":
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = body.read(limits.max_form_memory_bytes + 1)
        if len(data) > limits.max_form_memory_bytes:
            raise ProtocolError("form data too large", 413)
        return list(parse_urlencoded(data, max_fields=limits.max_form_fields))
    if media_type == "multipart/form-data":
        boundary = params.get("boundary", "").encode("latin-1", "replace")
        if not _BOUNDARY.fullmatch(boundary):
            raise ProtocolError("multipart form without a valid boundary", 400)
        stream = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
        return parse_multipart(
            stream,
            boundary,
            max_fields=limits.max_form_fields,
            max_memory_bytes=limits.max_form_memory_bytes,
        )
    return []


# kali 0.0.8 compatibility (the implementation module exports these).


def analyze_multipart_form_data(
    boundary: bytes, payload: bytes
) -> Iterator[tuple[str, str | FileUpload]]:
    """0.0.8 API: the pairs of a whole multipart ``payload`` (see
    :func:`parse_multipart`; ``boundary`` is without the leading ``--``)."""
    return iter(parse_multipart(io.BytesIO(payload), boundary))


def analyze_single_part(part: bytes) -> tuple[str, str | FileUpload]:
    """0.0.8 API: one part (``headers CRLF CRLF content``, without the
    delimiters around it) as ``(name, str or FileUpload)``."""
    boundary = uuid.uuid4().hex.encode("ascii")
    while boundary in part:
        boundary = uuid.uuid4().hex.encode("ascii")
    body = b"--%s\r\n%s\r\n--%s--\r\n" % (boundary, part, boundary)
    # The body holds exactly one part, so success means exactly one pair.
    return parse_multipart(io.BytesIO(body), boundary, max_fields=1)[0]
