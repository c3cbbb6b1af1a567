"""The chunked transfer coding's decoder: chunked body bytes in, body bytes out.

A request body sent with ``Transfer-Encoding: chunked`` (RFC 9112 section 7.1)
arrives as size lines, chunk data and a trailer section. :class:`ChunkedDecoder`
is fed whatever bytes the server received after the head (sans-IO, like
:class:`~kali.protocol.HeadParser`) and returns the body bytes decoded from
them; ``kali.protocol`` decides, from the head, that a body is chunked at all.

What it must not do:

* read from a socket, or wait: the server feeds it, under its own deadlines;
* merge chunk extensions or trailer fields into anything: they are checked
  for syntax (trailer fields by the head's field-line grammar), then ignored;
* give a different answer depending on how the bytes were split: every
  decision is made at a fixed byte position;
* hold more than one line of framing: chunk data passes straight through,
  and a line is refused once it is longer than its limit.
"""

from __future__ import annotations

import re

from .errors import ProtocolError
from .protocol import _TCHAR, Limits, _parse_field_line

__all__ = ["MAX_CHUNK_LINE_BYTES", "ChunkedDecoder"]

#: A chunk-size line (the size in hex plus any chunk extensions) longer than
#: this is a 400: a size needs at most 16 hex digits, clients send no
#: extensions, and the decoder holds the line until its end has arrived.
MAX_CHUNK_LINE_BYTES = 4 * 1024
# chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 section 7.1.1);
# chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*%s+(?:[ \t]*=[ \t]*(?:%s+|"
    rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*'
    % (_TCHAR, _TCHAR)
)
_DEFAULT_LIMITS = Limits()  # frozen: one instance serves every decoder
# The decoder's states: the line it waits for, or chunk data.
_SIZE_LINE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    """Incremental decoder of one ``Transfer-Encoding: chunked`` request body
    (RFC 9112 section 7.1), sans-IO like :class:`~kali.protocol.HeadParser`.

    :meth:`feed` takes whatever bytes arrived and returns the body bytes
    decoded from them (maybe ``b""``); :attr:`done` is true once the last
    chunk and the trailer section have arrived, and bytes after them are in
    :attr:`trailing`. Chunk extensions and trailer fields are checked for
    syntax, then ignored (none is ever merged into the headers). Every
    decision is made at a fixed byte position, so any split of the same
    bytes gives the same body or the same error.

    Raises :class:`ProtocolError`: 400 for a malformed body, 413 as soon as a
    chunk size would take the body past ``limits.max_body_bytes``, 431 for a
    trailer section over ``max_head_bytes`` or ``max_header_fields``.
    """

    def __init__(self, limits: Limits = _DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._state = _SIZE_LINE
        self._line = bytearray()  # the line being received, CRLF included
        self._left = 0  # chunk data still due
        self._promised = 0  # the sizes of all chunks so far
        self._trailer_bytes = 0
        self._trailer_fields = 0
        self._error: ProtocolError | None = None
        #: Body bytes returned so far.
        self.body_bytes = 0
        #: Bytes received after the end of the chunked body.
        self.trailing = b""

    @property
    def done(self) -> bool:
        """Have the last chunk and the trailer section arrived?"""
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        """Add ``data``; return the body bytes decoded from it.

        After a ProtocolError every call raises the same error; after the
        end of the body, RuntimeError (read :attr:`trailing` instead).
        """
        if self._error is not None:
            raise self._error
        if self._state == _DONE:
            raise RuntimeError("the chunked body is complete; read .trailing")
        try:
            decoded = self._decode(data)
        except ProtocolError as error:
            self._error = error
            self._line = bytearray()
            raise
        self.body_bytes += len(decoded)
        return decoded

    def eof(self) -> None:
        """The client closed: ProtocolError (400) unless the body was whole."""
        if self._state != _DONE and self._error is None:
            raise ProtocolError("incomplete chunked body", 400)

    def _decode(self, data: bytes) -> bytes:
        view = memoryview(data)
        pieces = []
        position, end = 0, len(data)
        while position < end:
            if self._state == _DATA:
                take = min(self._left, end - position)
                pieces.append(view[position : position + take])
                position += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
                continue
            position = self._take_line(data, position)
            if self._state == _DONE:
                self.trailing = data[position:]
                break
        return b"".join(pieces)

    def _line_limit(self) -> int:
        """The most content bytes (CRLF not counted) the current line may have."""
        if self._state == _SIZE_LINE:
            return MAX_CHUNK_LINE_BYTES
        if self._state == _DATA_END:
            return 0
        return max(0, self._limits.max_head_bytes - self._trailer_bytes)

    def _take_line(self, data: bytes, position: int) -> int:
        """Add the bytes of the current line found from ``position`` on, act
        on the line once it has ended; return where the next byte starts.
        Only the first limit + 2 bytes of a line are ever looked at."""
        line = self._line
        room = self._line_limit() + 2 - len(line)
        newline = data.find(b"\n", position, position + room)
        if newline < 0:
            line += data[position : position + room]
            if len(line) == self._line_limit() + 2:
                self._too_long()
            return min(len(data), position + room)
        line += data[position : newline + 1]
        if len(line) < 2 or line[-2] != 0x0D:
            raise ProtocolError("bare LF in a chunked body", 400)
        content = bytes(line[:-2])
        if b"\r" in content:
            raise ProtocolError("bare CR in a chunked body", 400)
        self._line = bytearray()
        self._end_line(content)
        return newline + 1

    def _too_long(self) -> None:
        if self._state == _SIZE_LINE:
            raise ProtocolError("chunk size line too long", 400)
        if self._state == _DATA_END:
            raise ProtocolError("chunk data longer than its size", 400)
        raise ProtocolError("trailer section too large", 431)

    def _end_line(self, content: bytes) -> None:
        state = self._state
        if state == _SIZE_LINE:
            match = _CHUNK_LINE.fullmatch(content)
            if match is None:
                raise ProtocolError("invalid chunk size line", 400)
            size = int(match.group(1), 16)
            self._promised += size
            if self._promised > self._limits.max_body_bytes:
                raise ProtocolError("request body too large", 413)
            self._left = size
            self._state = _DATA if size else _TRAILER
        elif state == _DATA_END:
            if content:
                raise ProtocolError("chunk data longer than its size", 400)
            self._state = _SIZE_LINE
        elif not content:  # the blank line that ends the trailer section
            self._state = _DONE
        else:
            self._trailer_fields += 1
            if self._trailer_fields > self._limits.max_header_fields:
                raise ProtocolError("too many trailer fields", 431)
            self._trailer_bytes += len(content) + 2
            _parse_field_line(content)  # checked, then ignored
