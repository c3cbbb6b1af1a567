"""The value rule: how a substituted value becomes template output.

Compiled templates write into two lists: ``text``, the byte chunks of the text
being produced, and ``out``, the finished output (a
:class:`~kali.iolist.Fragment`).  Escaped text is appended to ``text``; a
trusted value that may be large or nested (template output, a raw value) is
placed in ``out`` as it is, after :func:`flush` has moved the pending text
there.  At the end the template flushes once more, so its output is a short
list of byte chunks and inserted values.  Nothing inserted is ever copied,
walked or escaped again, so templates nest at no extra cost.

The rule, for ``{name}`` and ``{name:fmt}`` (:func:`insert_value`):

* ``None`` gives nothing;
* template output (a ``Fragment``) is inserted as it is;
* ``bytes``, ``bytearray`` and ``memoryview`` are trusted bytes;
* anything with ``__html__`` (``Markup``) is trusted: ``__html__()`` is used;
* a ``str`` is escaped, quotes included (as :func:`html.escape`);
* a ``dict`` gives ``key: value`` lines ending in CRLF, the rule applied to
  each key and value;
* any other iterable (list, tuple, set, generator, ``sqlite3.Row``) gets the
  rule for each element, at any depth (an explicit stack, no recursion);
* anything else is ``str(value)``, escaped.

This module must not know about template syntax, files or HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from kali.iolist import Fragment, dict_lines


class _Missing:
    """The type of :data:`MISSING`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`lookup` returns when no mapping has the name.
MISSING: Final = _Missing()


def escape_text(text: str) -> bytes:
    """``text`` HTML-escaped exactly as :func:`html.escape` does, as UTF-8.

    Characters that UTF-8 cannot encode (lone surrogates) become ``?``, as in
    :func:`kali.iolist.flatten`.
    """
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
        .encode("utf-8", "replace")
    )


def flush(text: list[bytes], out: list[Any]) -> None:
    """Move the pending ``text`` chunks into ``out`` as one chunk."""
    if text:
        out.append(b"".join(text))
        text.clear()


def insert_value(value: Any, text: list[bytes], out: list[Any]) -> None:
    """Apply the value rule (module docstring) to ``value``."""
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        for item in stack[-1]:
            cls = item.__class__
            if cls is str:
                text.append(escape_text(item))
            elif cls is int:
                text.append(b"%d" % item)
            elif cls is float or cls is bool:
                text.append(str(item).encode())
            elif item is None:
                pass
            elif isinstance(item, Fragment):
                flush(text, out)
                out.append(item)
            elif isinstance(item, bytes):
                text.append(item)
            elif isinstance(item, (bytearray, memoryview)):
                text.append(bytes(item))
            elif hasattr(item, "__html__"):
                insert_raw(item.__html__(), text, out)
            elif isinstance(item, str):
                text.append(escape_text(item))
            elif isinstance(item, dict):
                stack.append(dict_lines(item))
                break
            else:
                try:
                    inner = iter(item)
                except TypeError:
                    text.append(escape_text(str(item)))
                else:
                    stack.append(inner)
                    break
        else:
            stack.pop()


def insert_raw(value: Any, text: list[bytes], out: list[Any]) -> None:
    """Insert ``value`` unescaped (``{.name}``): it is an iolist, taken as it is.

    A ``str`` is encoded into the pending text, ``bytes`` join it, ``None``
    gives nothing; anything else (a list, template output, a number) is placed
    in the output for the response to flatten by the iolist rules.
    """
    if isinstance(value, str):
        text.append(value.encode("utf-8", "replace"))
    elif isinstance(value, bytes):
        text.append(value)
    elif value is not None:
        flush(text, out)
        out.append(value)


def lookup(name: str, mappings: Iterable[Any]) -> Any:
    """``mapping[name]`` from the first of ``mappings`` that has it, else MISSING.

    A KeyError or an IndexError (what ``sqlite3.Row`` raises) means "not here".
    """
    for mapping in mappings:
        try:
            return mapping[name]
        except LookupError:
            pass
    return MISSING


def iter_items(value: Any, source: str) -> Iterable[Any]:
    """What ``{@name:item}`` loops over: the elements of ``value``.

    ``None`` has no elements, and a mapping's elements are its values, as a
    ``sqlite3.Row``'s are: a row of cells may be a list, a tuple, a dict or a
    Row.  A ``str`` or ``bytes`` value raises TypeError (looping over its
    characters is never what a template means); so does a non-iterable.
    """
    if value is None:
        return ()
    if value.__class__ is dict or isinstance(value, Mapping):
        return value.values()
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            f"{source} loops over the items of a list, not over the characters "
            f"of a {type(value).__name__}"
        )
    try:
        iterator: Iterator[Any] = iter(value)
    except TypeError:
        raise TypeError(
            f"{source} needs a list or another iterable, not a {type(value).__name__}"
        ) from None
    return iterator


def iter_mappings(value: Any, source: str) -> Iterator[Any]:
    """What ``{@name}`` loops over: mappings whose keys become names.

    Each element must be a mapping (a dict, a ``sqlite3.Row``: anything with
    ``keys()``), otherwise TypeError says to name the item instead.
    """
    for item in iter_items(value, source):
        if not hasattr(item, "keys"):
            raise TypeError(
                f"{source} gives each item's keys as names, so its items must "
                f"be mappings (dict, sqlite3.Row), not {type(item).__name__}; "
                f"to use the items themselves, name them: "
                f"{{@{source[2:-1]}:item}}"
            )
        yield item
