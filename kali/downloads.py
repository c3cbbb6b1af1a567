"""Downloads: bytes, a file or rows as CSV, saved under a name you choose.

::

    from kali.downloads import download, download_csv, download_file

    return download(report_bytes, "Bericht März.pdf", content_type="application/pdf")
    return download_file(path, "contacts backup.sqlite3")
    return download_csv(db.execute("SELECT name, email FROM contact"), "contacts.csv")

Every one of them sets ``Content-Disposition: attachment`` with the name in
both forms browsers read (RFC 6266): ``filename="..."``, an ASCII stand-in
for old clients, and ``filename*=UTF-8''...``, the whole name
percent-encoded (RFC 8187). :func:`content_disposition` makes that value
from any string: a path keeps only its last part, control characters
(CR and LF among them) are dropped, and quotes, backslashes and everything
outside printable ASCII become ``_`` in the stand-in, so a name can never
end the header or add one.

CSV is streamed (``Response.stream``): rows are read from the cursor or
iterable while the response is sent, never all at once. A cell that a
spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a CR) gets a leading ``'`` unless ``guard_formulas=False``
(OWASP "CSV injection"); plain numbers such as ``-12.5`` are left alone.
``bom=True`` starts the file with a UTF-8 byte order mark, which Excel
needs to read UTF-8.

This module must not read request data or touch the database itself; it
only turns what the handler gives it into a Response.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from .disposition import content_disposition
from .response import Response

__all__ = [
    "content_disposition",
    "csv_chunks",
    "download",
    "download_csv",
    "download_file",
    "guard_formula",
]

#: The name used when the one given has nothing left after cleaning.

CSV_TYPE = "text/csv; charset=utf-8"

#: How many CSV rows go into one chunk of the stream: big enough that the
#: writes are few, small enough that memory stays flat.
CSV_CHUNK_ROWS = 500

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def download(
    data: bytes | str,
    filename: str,
    *,
    content_type: str = "application/octet-stream",
    inline: bool = False,
) -> Response:
    """``data`` (text is sent as UTF-8) offered as the file ``filename``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("download() takes bytes or str")
    return Response(
        bytes(data),
        headers=[
            ("content-type", content_type),
            ("content-disposition", content_disposition(filename, inline=inline)),
        ],
    )


def download_file(
    source: str | os.PathLike[str] | IO[bytes],
    filename: str | None = None,
    *,
    content_type: str = "application/octet-stream",
    inline: bool = False,
) -> Response:
    """The file at ``source`` (a path, or an open binary file left to you to
    close) offered as ``filename`` (default: the path's own name). Streamed
    from the disk, never read whole. OSError if the path cannot be opened;
    TypeError without a ``filename`` for a file object."""
    if filename is None:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError("download_file() needs a filename for a file object")
        filename = os.path.basename(os.fspath(source))
    return Response.file(
        source,
        content_type=content_type,
        headers={"content-disposition": content_disposition(filename, inline=inline)},
    )


def guard_formula(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a
    formula; plain numbers (``-3``, ``+1.5e3``) are returned unchanged."""
    first = value.lstrip(" ")[:1]
    if first and first in _FORMULA_STARTS and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any, guard: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", "replace")
    if guard and isinstance(value, str):
        return guard_formula(value)
    return value


def csv_chunks(
    rows: Iterable[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    bom: bool = False,
    guard_formulas: bool = True,
    dialect: str = "excel",
    chunk_rows: int = CSV_CHUNK_ROWS,
) -> Iterator[bytes]:
    """UTF-8 CSV bytes, a chunk per ``chunk_rows`` rows: the ``header`` (for
    an ``sqlite3.Cursor``, its column names by default), then ``rows``.
    NULL is an empty cell; BLOBs are read as UTF-8."""
    if header is None:
        description = getattr(rows, "description", None)
        if description:
            header = [str(column[0]) for column in description]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect=dialect)
    if bom:
        buffer.write("\ufeff")
    if header is not None:
        writer.writerow([_cell(name, guard_formulas) for name in header])
    count = 0
    for row in rows:
        writer.writerow([_cell(value, guard_formulas) for value in row])
        count += 1
        if count % chunk_rows == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    rest = buffer.getvalue()
    if rest:
        yield rest.encode("utf-8")


def download_csv(
    rows: Iterable[Sequence[Any]],
    filename: str,
    *,
    header: Sequence[str] | None = None,
    bom: bool = False,
    guard_formulas: bool = True,
    dialect: str = "excel",
) -> Response:
    """``rows`` (an ``sqlite3.Cursor``, or any iterable of sequences) as a
    CSV file called ``filename``, streamed (see :func:`csv_chunks`).

    The rows are read while the response is sent, after the handler has
    returned: pass ``cursor.fetchall()`` instead when they must be read
    inside the request's transaction. A failure half-way cuts the file
    short (a streamed response cannot turn into an error page any more).
    """
    return Response.stream(
        csv_chunks(
            rows, header, bom=bom, guard_formulas=guard_formulas, dialect=dialect
        ),
        content_type=CSV_TYPE,
        headers={"content-disposition": content_disposition(filename)},
    )
