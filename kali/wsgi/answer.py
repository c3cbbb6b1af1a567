"""A WSGI app's answer as a kali Response (PEP 3333): :func:`answer`.

The status and headers given to ``start_response``, what ``write()`` got
and the iterable the app returned become one Response: in memory when the
body is all there (a list, or all the Content-Length the app declared), a
file Response for a regular file handed over through ``wsgi.file_wrapper``,
else a stream sending each chunk when the app yields it. The app's
Content-Length is kept; a stream is held to it (``Response.stream``). The
app's iterable is closed exactly once, as soon as it is done with. No
sockets, no environ (``kali.wsgi.handler`` makes that).
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Optional

from ..response import HTML_TYPE, Response
from .application import HOP_BY_HOP

ExcInfo = tuple[type[BaseException], BaseException, Optional[TracebackType]]

_STATUS = re.compile(r"([1-5][0-9][0-9]) [^\r\n]*\Z")
_DIGITS = re.compile(r"[0-9]+\Z")


class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333): how an app hands kali a file as
    its body. Returned as it is, a regular file goes out through kali's file
    path (``os.sendfile`` where there is one, with its length); any other
    file-like object, or the wrapper inside another iterable (a byte range),
    is read in ``block_size`` blocks. ``close()`` closes the file."""

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size if block_size > 0 else 8192

    def __iter__(self) -> FileWrapper:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.block_size)
        if not data:
            raise StopIteration
        return bytes(data)

    # A range wrapper (werkzeug's) seeks to its start when it can, instead of
    # reading and dropping what comes before it.
    def seekable(self) -> bool:
        probe = getattr(self.filelike, "seekable", None)
        return bool(probe()) if probe is not None else False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self.filelike.seek(offset, whence))

    def tell(self) -> int:
        return int(self.filelike.tell())

    def close(self) -> None:
        _close(self.filelike)


def _close(result: object) -> None:
    closer = getattr(result, "close", None)
    if closer is not None:
        closer()


class Exchange:
    """One call of a WSGI app: start_response, write() and the body chunks,
    with PEP 3333's rules on when the status may still change."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        #: Bytes in ``chunks``.
        self.size = 0
        self.headers_sent = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a reference cycle
        elif self.status is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        if not isinstance(status, str) or not _STATUS.match(status):
            raise ValueError(f"bad WSGI status {status!r}")
        self.status = status
        self.headers = [(str(name), str(value)) for name, value in headers]
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: the data goes before the body."""
        self.add(data)

    def add(self, chunk: bytes) -> None:
        if not isinstance(chunk, bytes):
            raise TypeError(f"a WSGI body yielded {type(chunk).__name__}, not bytes")
        if self.status is None:
            raise RuntimeError("the WSGI app sent a body before start_response()")
        if chunk:
            self.headers_sent = True
            self.chunks.append(chunk)
            self.size += len(chunk)

    def take(self) -> list[bytes]:
        chunks, self.chunks, self.size = self.chunks, [], 0
        return chunks

    @property
    def code(self) -> int:
        if self.status is None:
            raise RuntimeError("the WSGI app returned without calling start_response()")
        return int(self.status[:3])

    def fields(self) -> list[tuple[str, str]]:
        """The app's headers that kali sends: not the hop-by-hop ones, nor
        Content-Length, which kali frames the message with itself."""
        return [
            (name, value)
            for name, value in self.headers
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"
        ]

    def declared_length(self) -> int | None:
        """The app's Content-Length, or None; ValueError when it is not a
        number, or several different ones."""
        values = {
            value.strip()
            for name, value in self.headers
            if name.lower() == "content-length"
        }
        if not values:
            return None
        value = values.pop()
        if values or not _DIGITS.match(value):
            raise ValueError("the WSGI app sent a bad Content-Length")
        return int(value)


class AppBody:
    """The iterable a WSGI app returned: iterated once, and closed exactly
    once whatever happens (PEP 3333), then ``after_close`` runs (the
    handler flushes ``wsgi.errors``)."""

    def __init__(
        self, result: Iterable[bytes], after_close: Callable[[], None]
    ) -> None:
        self.result = result
        self._after_close = after_close
        self._iterator: Iterator[bytes] | None = None
        self.closed = False

    @property
    def iterator(self) -> Iterator[bytes]:
        if self._iterator is None:
            self._iterator = iter(self.result)
        return self._iterator

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            _close(self.result)
        finally:
            self._after_close()


class AppResponse(Response):
    """A Response that still reads the WSGI app's iterable while it is sent
    (a stream or a file): releasing it closes the iterable."""

    app_body: AppBody | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.app_body is not None:
                self.app_body.close()


def iter_rest(exchange: Exchange, body: AppBody) -> Iterator[bytes]:
    """A streamed body: what the app has produced, then each chunk as the
    app yields it. An exception (the app failed, or ``start_response`` with
    ``exc_info`` once the head is gone) propagates: the server resets the
    connection, so the client sees a failure, not a short body. The app's
    iterable is closed as soon as it ends (or the response is released)."""
    try:
        yield from exchange.take()
        for chunk in body.iterator:
            exchange.add(chunk)
            yield from exchange.take()
    finally:
        body.close()


def file_response_of(exchange: Exchange, wrapper: FileWrapper) -> AppResponse | None:
    """A regular file the app returned through ``wsgi.file_wrapper``, from
    its current position, as a file Response; None for anything else."""
    file = wrapper.filelike
    try:
        info = os.fstat(file.fileno())
        offset = int(file.tell())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation too
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    available = max(0, info.st_size - offset)
    declared = exchange.declared_length()
    if declared is not None and declared > available:
        return None  # it falls short: the generic path sends it and resets
    response = AppResponse.file(
        file,
        content_type=HTML_TYPE,
        code=exchange.code,
        headers=exchange.fields(),
        offset=offset,
        length=available if declared is None else declared,
    )
    assert isinstance(response, AppResponse)
    return response


def has_all_it_declared(exchange: Exchange) -> bool:
    """Has the app produced all the Content-Length it declared? Then the
    body is complete (most framework pages come in one piece): it is sent
    as a whole, and the app's iterable is not asked for more."""
    if exchange.status is None:
        return False
    declared = exchange.declared_length()
    return declared is not None and exchange.size >= declared


def has_no_body(code: int) -> bool:
    # RFC 9110 6.4.1: 1xx, 204 and 304 responses never carry content.
    return code < 200 or code in (204, 304)


#: The end of an iterator, for next() (a WSGI body never yields it).
_END: Any = object()


def answer(
    exchange: Exchange, body: AppBody, *, head_only: bool, max_buffer_bytes: int
) -> Response:
    """The Response for one call of the app: collected when the body is all
    there (a list, or all the Content-Length it declared) or ends within
    ``max_buffer_bytes``, else streamed as the app yields it; the app's
    Content-Length kept either way. Raises what the app raises before its
    first byte (and RuntimeError, TypeError or ValueError for a broken app);
    the caller then closes ``body``."""
    result = body.result
    if (
        isinstance(result, FileWrapper)
        and exchange.status is not None
        and not exchange.chunks
        and not has_no_body(exchange.code)
    ):
        file_response = file_response_of(exchange, result)
        if file_response is not None:
            file_response.app_body = body
            return file_response
    complete = True
    if isinstance(result, (list, tuple)):  # all there already
        for chunk in result:
            exchange.add(chunk)
    else:
        iterator = body.iterator
        while not has_all_it_declared(exchange):
            if exchange.size > max_buffer_bytes:
                complete = False
                break
            chunk = next(iterator, _END)
            if chunk is _END:
                break
            exchange.add(chunk)
    code = exchange.code
    headers = exchange.fields()
    declared = exchange.declared_length()
    if has_no_body(code):
        body.close()
        return Response(b"", code=code, headers=headers)
    if head_only:  # nothing to send: the app may stop here
        body.close()
        if complete and declared is None:
            return Response(exchange.take(), code=code, headers=headers)
        return Response.stream((), code=code, headers=headers, content_length=declared)
    if complete:
        body.close()
        chunks = exchange.take()
        if declared is None or declared == sum(map(len, chunks)):
            return Response(chunks, code=code, headers=headers)
        # Longer: cut at the declared length; shorter: the connection
        # is reset once the body runs out, as under gunicorn.
        return Response.stream(
            chunks, code=code, headers=headers, content_length=declared
        )
    response = AppResponse.stream(
        iter_rest(exchange, body), code=code, headers=headers, content_length=declared
    )
    assert isinstance(response, AppResponse)
    response.app_body = body
    return response
