"""The access log line: one per connection, in the Combined Log Format.

    127.0.0.1 - - [05/Dec/2026:13:10:00 +0100] "GET /a?b=1 HTTP/1.1" 200 512
    "-" "Mozilla/5.0 ..." 0.6ms

(on one line)

That is Apache's and nginx's ``combined`` format (which log tools read),
followed by the time kali took, and, for a response cut short because the
client read it too slowly, ``truncated SENT/LENGTH``. The size is the body's
length as sent (``-`` when unknown).

Secrets stay out of it: the value of every query parameter whose name
contains ``token`` (the desktop launch's one-time code, an app's own tokens)
is replaced by ``REDACTED``, in the target and in the Referer.

Rules: pure text. This module reads a parsed head and touches no socket; it
imports nothing of kali but the head's type.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from .protocol import RequestHead

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
#: A query parameter whose name contains this has its value redacted.
SECRET_MARK = "token"
REDACTED = "REDACTED"


def log_time(now: float | None = None) -> str:
    """``05/Dec/2026:13:10:00 +0100``: local time with its offset, English
    month names whatever the locale."""
    moment = time.localtime(now)
    offset = moment.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return (
        f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} "
        f"{sign}{offset // 60:02d}{offset % 60:02d}"
    )


def redact(target: str) -> str:
    """``target`` with the value of every ``*token*`` query parameter
    replaced by ``REDACTED`` (the name compared case-insensitively, after
    percent-decoding)."""
    path, mark, query = target.partition("?")
    if not mark or SECRET_MARK not in unquote(query).lower():
        return target
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        if equals and SECRET_MARK in unquote(name.replace("+", " ")).lower():
            part = f"{name}={REDACTED}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


def quoted(text: str) -> str:
    """``text`` for a quoted log field: control characters, backslashes and
    double quotes escaped, so one request is one line and the fields split."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    out = []
    for char in text:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def header(head: RequestHead, name: str) -> str:
    for field, value in head.headers:
        if field == name:
            return value
    return "-"


def access_line(
    address: Any,
    head: RequestHead | None,
    status: int,
    size: int | None,
    milliseconds: float,
    *,
    truncated: tuple[int, int | None] | None = None,
) -> str:
    """The line for one connection. ``head`` None: no request was read (the
    request field is ``-``). ``truncated``: ``(sent, length)`` of a body cut
    short, ``sent`` then being the size field."""
    host = address[0] if isinstance(address, tuple) and address else "-"
    if head is None:
        request, referer, agent = "-", "-", "-"
    else:
        request = quoted(f"{head.method} {redact(head.target)} {head.version}")
        referer = quoted(redact(header(head, "referer")))
        agent = quoted(header(head, "user-agent"))
    if truncated is not None:
        size = truncated[0]
    line = (
        f'{host} - - [{log_time()}] "{request}" {status} '
        f'{"-" if size is None else size} "{referer}" "{agent}" {milliseconds:.1f}ms'
    )
    if truncated is not None:
        length = truncated[1]
        line += f" truncated {truncated[0]}/{'-' if length is None else length}"
    return line
