"""Streaming ``multipart/form-data`` parsing (RFC 7578, RFC 2046 section 5.1).

:func:`parse_multipart` reads a body from a binary stream in chunks and
returns the form's ``(name, value)`` pairs: text fields as ``str``, file
parts as :class:`FileUpload`. It never holds the whole body: file contents
go to a :class:`tempfile.SpooledTemporaryFile` that moves to disk past the
memory budget, and text fields are capped by that budget (413 past it).

What it must not do:

* trust the client: a filename is kept verbatim and never used as a path,
  and every size is bounded (fields, part headers, text, padding);
* decide anything by where the stream's chunks happen to end. Delimiters are
  recognised with the same bytes whether they arrive whole or one at a time;
* know about requests, sockets or the Content-Type header (that is
  :mod:`kali.formdata`'s job, which also re-exports everything here).

Malformed bodies raise :class:`~kali.errors.ProtocolError` with status 400,
bodies over the limits 413.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Union, overload

from .errors import ProtocolError

__all__ = ["FileUpload", "analyze_disposition", "parse_header_value", "parse_multipart"]

#: The stream is read this much at a time.
READ_CHUNK_BYTES = 64 * 1024
#: FileUpload.save copies this much at a time.
COPY_CHUNK_BYTES = 64 * 1024
#: The headers of one part (Content-Disposition, Content-Type) are a few
#: hundred bytes from a browser; 16 KiB allows long filenames. Past it, 413.
MAX_PART_HEAD_BYTES = 16 * 1024
#: RFC 2046 allows spaces and tabs after a delimiter ("transport padding");
#: nothing sends more than a few, and the parser must hold them to decide.
MAX_PADDING_BYTES = 1024

Destination = Union[str, "os.PathLike[str]", IO[bytes]]

_TOKEN = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
# One "; name=value" (the value a token or a quoted-string) or an empty ";".
_PARAMETER = re.compile(
    rf'[ \t]*;[ \t]*(?:({_TOKEN})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|{_TOKEN}))?[ \t]*',
    re.DOTALL,
)
_QUOTED_PAIR = re.compile(r'\\([\\"])')
_PADDING = re.compile(rb"[ \t]{0,%d}" % (MAX_PADDING_BYTES + 1))


class FileUpload:
    """A file sent in a form: ``(filename, content_type, content)``.

    Compatible with kali 0.0.8's ``NamedTuple``: it unpacks, indexes, has
    ``len() == 3``, compares equal to the matching tuple and has ``_fields``,
    ``_replace`` and ``_asdict``; it is not a ``tuple`` subclass.

    ``filename`` is the client's string, verbatim and untrusted: never use it
    as a path. ``content`` reads the whole upload into memory on first use;
    for big files use :attr:`file` or :meth:`save`, and :meth:`close` (or a
    ``with`` block) to release the temporary file.
    """

    __slots__ = ("_filename", "_content_type", "_file", "_size", "_content")
    _fields = ("filename", "content_type", "content")

    def __init__(self, filename: str, content_type: str, content: bytes) -> None:
        self._filename = filename
        self._content_type = content_type
        self._content: bytes | None = bytes(content)
        self._file: IO[bytes] = io.BytesIO(self._content)
        self._size = len(self._content)

    @classmethod
    def from_file(cls, filename: str, content_type: str, file: IO[bytes]) -> FileUpload:
        """An upload whose content is the seekable binary ``file`` (now owned)."""
        upload = cls.__new__(cls)
        upload._filename = filename
        upload._content_type = content_type
        upload._content = None
        upload._file = file
        file.seek(0, os.SEEK_END)
        upload._size = file.tell()
        file.seek(0)
        return upload

    @property
    def filename(self) -> str:
        return self._filename

    @property
    def content_type(self) -> str:
        return self._content_type

    @property
    def size(self) -> int:
        """The content's length in bytes."""
        return self._size

    @property
    def file(self) -> IO[bytes]:
        """The content as a binary file, rewound to its start on each access."""
        self._file.seek(0)
        return self._file

    @property
    def content(self) -> bytes:
        """The whole content as bytes (read and kept on first access)."""
        if self._content is None:
            self._content = self.file.read()
        return self._content

    def save(self, destination: Destination) -> None:
        """Copy the content to a path or a binary file, 64 KiB at a time.

        The destination is chosen by the caller, never by :attr:`filename`.
        """
        source = self.file
        if isinstance(destination, (str, os.PathLike)):
            with open(destination, "wb") as target:
                shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
        else:
            shutil.copyfileobj(source, destination, COPY_CHUNK_BYTES)

    def close(self) -> None:
        """Release the content's file (a temporary file is deleted)."""
        self._file.close()

    def __enter__(self) -> FileUpload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The 0.0.8 NamedTuple protocol.
    def _astuple(self) -> tuple[str, str, bytes]:
        return (self._filename, self._content_type, self.content)

    def _replace(self, **changes: Any) -> FileUpload:
        values = self._asdict()
        values.update(changes)
        return FileUpload(**values)

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self._astuple()))

    def __iter__(self) -> Iterator[str | bytes]:
        return iter(self._astuple())

    def __len__(self) -> int:
        return 3

    @overload
    def __getitem__(self, index: int) -> str | bytes: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str | bytes, ...]: ...
    def __getitem__(self, index: int | slice) -> str | bytes | tuple[str | bytes, ...]:
        if isinstance(index, int) and index in (0, 1, -3, -2):
            return (self._filename, self._content_type)[index % 3]
        return self._astuple()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileUpload):
            if self._size != other._size:
                return False
            return self._astuple() == other._astuple()
        if isinstance(other, tuple):
            return self._astuple() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._astuple())

    def __repr__(self) -> str:
        # Like the NamedTuple's, but a big upload shows its size, not its bytes.
        shown = repr(self.content) if self._size <= 1024 else f"<{self._size} bytes>"
        return (
            f"FileUpload(filename={self._filename!r}, "
            f"content_type={self._content_type!r}, content={shown})"
        )


def parse_header_value(
    value: str, *, strict: bool
) -> tuple[str, dict[str, str]] | None:
    """Split ``type; name=value; name="quoted"`` into the lower-cased type
    and a dict of parameters (names lower-cased, values unquoted; the first
    of a repeated name wins).

    In a quoted value only ``\\\\`` and ``\\"`` are escapes; any other
    backslash stays, because browsers send Windows paths unescaped. With
    ``strict``, junk returns ``None``; otherwise junk is skipped.
    """
    semicolon = value.find(";")
    if semicolon < 0:
        semicolon = len(value)
    main = value[:semicolon].strip(" \t").lower()
    params: dict[str, str] = {}
    position = semicolon
    while position < len(value):
        match = _PARAMETER.match(value, position)
        end = match.end() if match else position
        if match is None or (end < len(value) and value[end] != ";"):
            if strict:
                return None
            position = value.find(";", position + 1)
            if position < 0:
                break
            continue
        name, raw = match.group(1), match.group(2)
        if name is not None:
            if raw.startswith('"'):
                raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
            params.setdefault(name.lower(), raw)
        position = end
    return main, params


def analyze_disposition(disposition: str) -> tuple[str, str | None]:
    """``(name, filename or None)`` from a part's Content-Disposition.

    RFC 7578 section 4.2: it must be ``form-data`` with a ``name``, quoted or
    a token; other parameters (``filename*`` too) are allowed and ignored.
    Raises ProtocolError (400) otherwise.
    """
    parsed = parse_header_value(disposition, strict=True)
    if parsed is None or parsed[0] != "form-data" or "name" not in parsed[1]:
        raise ProtocolError("malformed Content-Disposition in multipart data", 400)
    params = parsed[1]
    return params["name"], params.get("filename")


_PREAMBLE, _HEAD, _BODY, _DONE = range(4)


class _MultipartParser:
    """The sans-IO core of :func:`parse_multipart`: feed chunks, then finish."""

    def __init__(self, boundary: bytes, max_fields: int, max_memory_bytes: int):
        # RFC 2046: the CRLF before "--boundary" belongs to the delimiter.
        self._delimiter = b"\r\n--" + boundary
        # A virtual CRLF lets a delimiter at the very start of the body match.
        self._buffer = bytearray(b"\r\n")
        self._received = 0
        self._state = _PREAMBLE
        self._eof = False
        self._search_from = 0
        self._max_fields = max_fields
        self._max_memory = max_memory_bytes
        self._memory_in_files = 0  # bytes of earlier uploads still in memory
        self._text_bytes = 0
        self._pairs: list[tuple[str, str | FileUpload]] = []
        self._name = ""
        self._filename: str | None = None
        self._content_type = ""
        self._text = bytearray()
        self._spool: IO[bytes] | None = None
        self._spool_max = 0

    def feed(self, data: bytes) -> bool:
        """Take more bytes; True once the close delimiter has been seen."""
        self._received += len(data)
        self._buffer += data
        return self._run()

    def finish(self) -> list[tuple[str, str | FileUpload]]:
        """The stream has ended: return the pairs or raise ProtocolError."""
        self._eof = True
        if self._received == 0:
            return []  # no body at all: an empty form
        self._run()
        return self._pairs

    def discard(self) -> None:
        """Release every temporary file (after an error)."""
        for _, value in self._pairs:
            if isinstance(value, FileUpload):
                value.close()
        if self._spool is not None:
            self._spool.close()

    def _run(self) -> bool:
        """Parse what the buffer allows; True once the body is complete."""
        steps = {_PREAMBLE: self._step_preamble, _HEAD: self._step_head}
        while self._state != _DONE:
            if not steps.get(self._state, self._step_body)():
                return False
        return True

    def _classify(self, at: int) -> tuple[str, int]:
        """Is the delimiter candidate at ``at`` real? ("close" | "next" | "no"
        | "more", end of the delimiter line)."""
        buffer = self._buffer
        after = at + len(self._delimiter)
        undecided = ("no" if self._eof else "more", 0)
        if len(buffer) < after + 2:
            return undecided
        if buffer[after : after + 2] == b"--":
            return "close", after + 2  # the epilogue after it is ignored
        match = _PADDING.match(buffer, after)
        padding_end = match.end() if match else after
        if padding_end - after > MAX_PADDING_BYTES:
            return "no", 0
        if len(buffer) < padding_end + 2:
            return undecided
        if buffer[padding_end : padding_end + 2] == b"\r\n":
            return "next", padding_end + 2
        return "no", 0

    def _step_preamble(self) -> bool:
        buffer = self._buffer
        at = buffer.find(self._delimiter, self._search_from)
        while at >= 0:
            kind, end = self._classify(at)
            if kind == "no":
                at = buffer.find(self._delimiter, at + 1)
                continue
            if kind == "more":
                del buffer[:at]
                self._search_from = 0
                return False
            return self._after_delimiter(kind, end)
        if self._eof:
            raise ProtocolError("multipart body without a delimiter", 400)
        del buffer[: max(0, len(buffer) - len(self._delimiter) + 1)]
        self._search_from = 0
        return False

    def _step_head(self) -> bool:
        buffer = self._buffer
        limit = MAX_PART_HEAD_BYTES + 4
        blank = buffer.find(b"\r\n\r\n", 0, limit)
        bound = blank + 2 if blank >= 0 else len(buffer)
        at = buffer.find(self._delimiter, self._search_from, limit)
        while 0 <= at <= bound:
            kind, _ = self._classify(at)
            if kind == "more":
                return False
            if kind != "no":
                raise ProtocolError("multipart part without a blank line", 400)
            self._search_from = at + 1
            at = buffer.find(self._delimiter, at + 1, limit)
        if blank < 0:
            if len(buffer) >= limit:
                raise ProtocolError("multipart part headers too large", 413)
            if self._eof:
                raise ProtocolError("multipart body ends in part headers", 400)
            return False
        self._start_part(bytes(buffer[2:blank]))
        del buffer[: blank + 4]
        self._search_from = 0
        self._state = _BODY
        return True

    def _step_body(self) -> bool:
        buffer = self._buffer
        at = buffer.find(self._delimiter, self._search_from)
        while at >= 0:
            kind, end = self._classify(at)
            if kind == "no":
                at = buffer.find(self._delimiter, at + 1)
                continue
            self._emit(at)
            self._search_from = 0
            if kind == "more":
                return False
            self._finish_part()
            return self._after_delimiter(kind, end - at)
        if self._eof:
            raise ProtocolError("multipart body ends inside a part", 400)
        # Keep a tail that may be the start of a delimiter.
        self._emit(max(0, len(buffer) - len(self._delimiter) + 1))
        self._search_from = 0
        return False

    def _after_delimiter(self, kind: str, end: int) -> bool:
        if kind == "close":
            self._state = _DONE
            self._buffer.clear()
        else:
            # Keep the delimiter line's CRLF: the part's headers start after it.
            del self._buffer[: end - 2]
            self._state = _HEAD
            self._search_from = 0
        return True

    def _start_part(self, head: bytes) -> None:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("multipart part headers are not UTF-8", 400) from None
        lines: list[str] = []
        for line in text.split("\r\n") if text else ():
            if line[:1] in (" ", "\t") and lines:
                lines[-1] += " " + line.strip(" \t")  # RFC 5322 folding
            else:
                lines.append(line)
        headers: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            name = name.strip(" \t").lower()
            if not colon or not name:
                raise ProtocolError("malformed multipart part header", 400)
            if name in ("content-disposition", "content-type"):
                if name in headers:
                    raise ProtocolError("repeated multipart part header", 400)
                headers[name] = value.strip(" \t")
        if "content-disposition" not in headers:
            raise ProtocolError("multipart part without Content-Disposition", 400)
        self._name, self._filename = analyze_disposition(headers["content-disposition"])
        self._content_type = headers.get("content-type") or "text/plain"
        if len(self._pairs) >= self._max_fields:
            raise ProtocolError("too many form fields", 413)
        if self._filename is not None:
            # Uploads share the memory budget; once it is used up, every
            # further upload goes to disk after its first byte.
            self._spool_max = max(self._max_memory - self._memory_in_files, 1)
            self._spool = tempfile.SpooledTemporaryFile(max_size=self._spool_max)

    def _emit(self, count: int) -> None:
        """Move the first ``count`` buffered bytes into the current part."""
        if count <= 0:
            return
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        if self._spool is not None:
            self._spool.write(data)
            return
        self._text_bytes += count
        if self._text_bytes > self._max_memory:
            raise ProtocolError("form text fields too large", 413)
        self._text += data

    def _finish_part(self) -> None:
        if self._spool is not None:
            spool, self._spool = self._spool, None
            assert self._filename is not None
            size = spool.tell()
            if size <= self._spool_max:
                # Still in memory: keep plain bytes, so that small uploads
                # need no close() (a SpooledTemporaryFile warns if unclosed).
                spool.seek(0)
                content = spool.read()
                spool.close()
                upload = FileUpload(self._filename, self._content_type, content)
                self._memory_in_files += size
            else:
                upload = FileUpload.from_file(self._filename, self._content_type, spool)
            self._pairs.append((self._name, upload))
            return
        try:
            value = self._text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("form data is not valid UTF-8", 400) from None
        self._text = bytearray()
        self._pairs.append((self._name, value))


def parse_multipart(
    stream: IO[bytes],
    boundary: bytes,
    *,
    max_fields: int = 1000,
    max_memory_bytes: int = 1024 * 1024,
) -> list[tuple[str, str | FileUpload]]:
    """Parse a ``multipart/form-data`` body read from ``stream``.

    Returns ``(name, value)`` pairs in body order: ``str`` for text parts
    (UTF-8), :class:`FileUpload` for parts with a ``filename``. Reading stops
    at the close delimiter. Raises ProtocolError: 400 for a malformed body or
    invalid UTF-8; 413 for more than ``max_fields`` parts or text parts
    totalling more than ``max_memory_bytes``. On error no temporary file is
    left open; on success the caller owns the uploads (close them).
    """
    if not boundary:
        raise ProtocolError("multipart boundary is empty", 400)
    parser = _MultipartParser(boundary, max_fields, max_memory_bytes)
    try:
        while True:
            chunk = stream.read(READ_CHUNK_BYTES)
            if not chunk or parser.feed(chunk):
                break
        return parser.finish()
    except BaseException:
        parser.discard()
        raise
