"""The ``Content-Disposition`` header value for a download's file name.

Any string may become a download name (what a user once uploaded, a record's
title): RFC 6266 gives the browser an ASCII stand-in in ``filename`` and the
real name in RFC 8187's ``filename*``. This module makes that value safe
whatever the name holds: a path keeps only its last part, control and
separator characters go, quotes, backslashes and ``%`` never reach the
quoted ASCII form, and the UTF-8 form is fully percent-encoded, so no name
can add a header or a parameter. Pure text in, text out: no HTTP objects.
"""

from __future__ import annotations

import os
import re
import unicodedata
import urllib.parse

#: The name offered when nothing usable is left of the one given.
DEFAULT_NAME = "download"

# What the ASCII stand-in keeps: printable ASCII except '"', '\\', '%' (a
# client could take it for an escape) and the separators '/' and ':'.
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&\'()+,\-.;=@\[\]^_`{}~]")


def _clean_name(name: str) -> str:
    """The last path part of ``name``, without control or format
    characters, line separators or leading/trailing dots and spaces."""
    last = re.split(r"[\\/]", str(name))[-1]
    kept = "".join(
        character
        for character in last
        if unicodedata.category(character)[0] not in "CZ" or character == " "
    )
    return kept.strip(" .")


def _ascii_stand_in(name: str) -> str:
    stem, extension = os.path.splitext(name)

    def to_ascii(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        plain = decomposed.encode("ascii", "ignore").decode("ascii")
        return _UNSAFE_ASCII.sub("_", plain)

    ascii_stem = to_ascii(stem).strip(" .") or DEFAULT_NAME
    return ascii_stem + to_ascii(extension).rstrip(" .")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The ``Content-Disposition`` value that offers ``filename`` (any
    string, e.g. what a user once uploaded) as the download's name:
    ``attachment`` (or ``inline``), the ASCII stand-in and the UTF-8 name."""
    name = _clean_name(filename) or DEFAULT_NAME
    kind = "inline" if inline else "attachment"
    encoded = urllib.parse.quote(name, safe="")  # leaves only RFC 8187 attr-chars
    return f"{kind}; filename=\"{_ascii_stand_in(name)}\"; filename*=UTF-8''{encoded}"
