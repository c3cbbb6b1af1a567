"""iolists: response bodies as nested lists of text and bytes, and trusted markup.

An *iolist* (the name comes from Erlang) is any nesting of ``str``, ``bytes``,
lists, tuples, generators, dicts and other values. Handlers return one instead
of joining a big string; the response flattens it once, without recursion, so
nesting depth costs nothing but memory.

The flattening rules (kali 0.0.8 compatible):

* ``str`` becomes UTF-8 (unencodable characters are replaced);
* ``bytes``, ``bytearray`` and ``memoryview`` pass through;
* a ``dict`` becomes ``key: value\\r\\n`` lines, each key and value flattened;
* any other iterable (list, tuple, generator, ``sqlite3.Row``) is walked in order;
* anything else becomes ``str(x)``: ``None`` gives ``None`` and ``42`` gives ``42``.

Flattening never escapes anything. Escaping is the template engine's job, and
it uses the two trust markers defined here: :class:`Markup` (a ``str`` known to
be safe HTML) and :class:`Fragment` (a list of already-rendered chunks).

This is a leaf module: it imports nothing from kali.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any, Union

#: What a handler may return as a body: text, bytes, or any nesting of them.
#: (Typed loosely on purpose: generators, dicts and rows are all welcome.)
Body = Union[str, bytes, bytearray, memoryview, None, Any]

#: Bodies are sent in pieces of about this size: small pieces are coalesced so
#: that a page of ten thousand template chunks is a handful of ``send`` calls,
#: and a large body is never joined into one giant buffer.
DEFAULT_CHUNK_BYTES = 64 * 1024


class Markup(str):
    """A ``str`` that is already safe HTML: templates insert it unescaped.

    Anything with an ``__html__`` method is treated the same way (the
    convention shared by markupsafe, Jinja and WTForms).
    """

    __slots__ = ()

    def __html__(self) -> Markup:
        return self

    @classmethod
    def escape(cls, value: Any) -> Markup:
        """Escape ``value`` unless it is already trusted; see :func:`escape`."""
        return escape(value)


class Fragment(list):  # type: ignore[type-arg]
    """A list of already-rendered iolist pieces: trusted, inserted as it is.

    Template output is a Fragment. Putting one inside another template's
    substitution inserts it without walking or escaping it again, so nested
    templates cost nothing extra.
    """

    __slots__ = ()

    def __str__(self) -> str:
        """The HTML as text (``print(page)``, ``str(page)``, f-strings)."""
        return flatten(self).decode("utf-8")


def escape(value: Any) -> Markup:
    """HTML-escape ``str(value)`` (quotes included), unless it is trusted.

    ``None`` escapes to the empty string; objects with ``__html__`` are
    trusted and returned as Markup without change.
    """
    if value is None:
        return Markup()
    html_method = getattr(value, "__html__", None)
    if html_method is not None:
        return Markup(html_method())
    return Markup(html.escape(str(value), quote=True))


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def iter_bytes(body: Body) -> Iterator[bytes]:
    """Yield the byte pieces of ``body`` in order, by the rules above.

    Uses an explicit stack, so a body nested 100,000 levels deep flattens
    without touching the recursion limit.
    """
    stack: list[Iterator[Any]] = [iter((body,))]
    while stack:
        for item in stack[-1]:
            if isinstance(item, str):
                if item:
                    yield _encode(item)
            elif isinstance(item, bytes):
                if item:
                    yield item
            elif isinstance(item, (bytearray, memoryview)):
                if item:
                    yield bytes(item)
            elif isinstance(item, dict):
                stack.append(dict_lines(item))
                break
            else:
                try:
                    inner = iter(item)
                except TypeError:
                    yield _encode(str(item))
                else:
                    stack.append(inner)
                    break
        else:
            stack.pop()


def dict_lines(mapping: dict[Any, Any]) -> Iterator[Any]:
    """A dict as iolist pieces: ``key``, ``: ``, ``value``, CRLF per item."""
    for key, value in mapping.items():
        yield key
        yield b": "
        yield value
        yield b"\r\n"


def iter_chunks(body: Body, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
    """Yield ``body`` flattened, small pieces coalesced to about ``chunk_bytes``.

    Pieces at least ``chunk_bytes`` long are yielded as they are (no copy).
    """
    pending: list[bytes] = []
    size = 0
    for piece in iter_bytes(body):
        if len(piece) >= chunk_bytes:
            if pending:
                yield b"".join(pending)
                pending, size = [], 0
            yield piece
            continue
        pending.append(piece)
        size += len(piece)
        if size >= chunk_bytes:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def iter_stream_chunks(
    stream: Body, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Yield the items of ``stream`` flattened, each as soon as it is produced.

    The pieces of one item (a nested iolist yielded at once) are coalesced
    as :func:`iter_chunks` does, but nothing is held back waiting for the
    next item: a server-sent event, a progress line or a row batch goes out
    when its generator yields it. A list or tuple is all there already, so
    it is coalesced whole, like a ``str``, ``bytes`` or ``dict`` stream or a
    value that is not iterable.
    """
    if stream is None or isinstance(
        stream, (str, bytes, bytearray, memoryview, dict, list, tuple)
    ):
        yield from iter_chunks(stream, chunk_bytes)
        return
    try:
        items = iter(stream)
    except TypeError:
        yield from iter_chunks(stream, chunk_bytes)
        return
    for item in items:
        if type(item) is bytes:  # WSGI bodies and most generators: as it is
            if item:
                yield item
        else:
            yield from iter_chunks(item, chunk_bytes)


def flatten(body: Body) -> bytes:
    """The whole of ``body`` as one ``bytes`` value."""
    return b"".join(iter_bytes(body))
