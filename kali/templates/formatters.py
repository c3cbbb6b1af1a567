"""The built-in formatters (``{price:cents}``) and checking the apps' own.

A formatter is a function of one value whose result is inserted by the value
rule (so a ``str`` result is still HTML-escaped).  The built-ins all show
``None`` as nothing, as ``{name}`` does:

``:num``
    thousands separators: ``1234567`` → ``1,234,567`` (``'{:,}'.format``,
    as in kali 0.0.8; floats keep their decimals).
``:cents``
    thousands separators and two decimals: ``1234.5`` → ``1,234.50``
    (``'{:,.2f}'.format``, as in kali 0.0.8).
``:url``
    percent-encoded for one path segment or query value: every character but
    ASCII letters, digits and ``_.-~`` (``urllib.parse.quote(v, safe="")``).
``:date``
    a ``datetime.date``, a ``datetime.datetime`` or an ISO string
    (``2024-05-01``, ``2024-05-01 10:30:00``, ``2024-05-01T10:30``) shown as
    ``YYYY-MM-DD``; an empty string stays empty.

:data:`BUILTIN_FORMATTERS` is read-only; ``Template.REGISTRY`` starts as a
copy of it.  This module must not know about template syntax, files or HTTP.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

Formatter = Callable[[Any], Any]

# A formatter's name, as the lexer reads it after the ":" of {name:fmt}.
_FORMATTER_NAME = re.compile(r":?\w+")


def format_number(value: Any) -> str:
    """``:num``: ``1234567`` → ``'1,234,567'``; ``None`` → ``''``."""
    if value is None:
        return ""
    return f"{value:,}"


def format_cents(value: Any) -> str:
    """``:cents``: ``1234.5`` → ``'1,234.50'``; ``None`` → ``''``."""
    if value is None:
        return ""
    return f"{value:,.2f}"


def format_url(value: Any) -> str:
    """``:url``: ``'a b/é'`` → ``'a%20b%2F%C3%A9'``; ``None`` → ``''``.

    A ``str`` is encoded as UTF-8 (a lone surrogate becomes ``?``), ``bytes``
    are taken as they are, anything else is ``str(value)`` first.
    """
    if value is None:
        return ""
    if not isinstance(value, bytes):
        value = str(value).encode("utf-8", "replace")
    return quote(value, safe="")


def format_date(value: Any) -> str:
    """``:date``: a date, a datetime or an ISO string as ``'YYYY-MM-DD'``.

    ``None`` and ``''`` give ``''``.  Raises ValueError for a string that
    does not start with an ISO date followed by nothing, ``T`` or a space, and
    TypeError for any other type.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = _parse_iso_date(value)
    if not isinstance(value, datetime.date):
        raise TypeError(
            ":date needs a datetime.date, a datetime or an ISO date string "
            f"(YYYY-MM-DD), not {type(value).__name__}"
        )
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _parse_iso_date(text: str) -> datetime.date:
    try:
        if len(text) > 10 and text[10] not in "T ":
            raise ValueError
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(
            f":date needs an ISO date (YYYY-MM-DD), not {text!r}"
        ) from None


#: The formatters every template knows, by their ``':name'`` keys.
BUILTIN_FORMATTERS: Mapping[str, Formatter] = MappingProxyType(
    {
        ":num": format_number,
        ":cents": format_cents,
        ":url": format_url,
        ":date": format_date,
    }
)


def check_formatters(formatters: Mapping[str, Any]) -> dict[str, Formatter]:
    """``formatters`` keyed ``':name'``: ``{'money': f}`` → ``{':money': f}``.

    Names may be given with or without the ``:``.  Raises TypeError for a
    value that is not callable, ValueError for a name that ``{x:name}`` could
    not use (letters, digits and ``_`` only).
    """
    if not isinstance(formatters, Mapping):
        raise TypeError(
            f"formatters must be a mapping of names to functions, "
            f"not {type(formatters).__name__}"
        )
    checked: dict[str, Formatter] = {}
    for name, function in formatters.items():
        if not isinstance(name, str) or not _FORMATTER_NAME.fullmatch(name):
            raise ValueError(
                f"formatter name {name!r}: expected letters, digits or '_', "
                "as in {price:money}"
            )
        if not callable(function):
            raise TypeError(
                f"formatter {name!r} must be callable, not {type(function).__name__}"
            )
        checked[name if name.startswith(":") else ":" + name] = function
    return checked
