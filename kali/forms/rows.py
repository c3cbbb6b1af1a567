"""RowChoice: the options of a select list or radio group, read from a table.

A form often asks "which one?" of rows in the database: the contact of an
appointment, the category of an expense. :class:`RowChoice` is a
:class:`~kali.forms.lenses.ChoiceLens` over such rows, for
:class:`~kali.forms.choices.Pick` or :class:`~kali.forms.choices.RadioGroup`::

    contact = Pick(RowChoice(db, "contact", label="name"), label="With")

Each option's value is the row's ``id`` (or the ``value`` column) and its
text the ``label`` column. The rows are read again every time the field is
rendered and every time a choice is posted, never cached, so a row added or
renamed a moment ago shows up at once. A posted id that is no longer in the
table (deleted since the form was shown) is not a crash but a message beside
the field: "that choice is no longer available; please choose again."

Table and column names are checked to be plain identifiers when the lens is
made, and written bracket-quoted; values go to SQLite as parameters. A
``where`` condition is SQL text written by the application, never by a
user: its values belong in ``parameters``. For anything more elaborate (a
join, a computed label) use :meth:`RowChoice.from_query`.

This module knows nothing of HTTP, nor of :mod:`kali.sqlite`: it takes a
``sqlite3.Connection`` (or a function returning one) and only runs SELECTs
on it. It does not import :mod:`sqlite3` itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from .lenses import ChoiceLens, ValidationError

__all__ = ["UNAVAILABLE", "RowChoice", "check_identifier"]

#: The message for a posted value that is not (or no longer) among the rows.
UNAVAILABLE = "that choice is no longer available; please choose again."

# An SQL identifier kali writes into a query: ASCII letters, digits and "_",
# not starting with a digit. Anything else could change the query's meaning.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# One ORDER BY term: a column, an optional collation, an optional direction.
_ORDER_TERM = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\s+COLLATE\s+([A-Za-z_][A-Za-z0-9_]*))?"
    r"(?:\s+(ASC|DESC))?\s*",
    re.IGNORECASE,
)

#: A ``sqlite3.Connection`` (anything with ``cursor()``), or a function
#: without arguments that returns one.
Database = Union[Any, Callable[[], Any]]
#: Query parameters: a sequence for ``?`` marks, a mapping for ``:name``.
Parameters = Union[Sequence[Any], Mapping[str, Any]]


def check_identifier(name: Any, what: str = "name") -> str:
    """Return ``name`` quoted for SQL, or raise ValueError if it is not a
    plain identifier (TypeError if it is not a str).

    The quotes are brackets, not double quotes: SQLite reads a double-quoted
    name that matches no column as a string, so a misspelt column would
    silently label every option with its own name.
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {name!r}")
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not a plain SQL identifier"
            " (letters, digits and _, not starting with a digit)"
        )
    return f"[{name}]"


def _order_clause(order_by: str | Sequence[str]) -> str:
    """``ORDER BY`` terms from ``"name"``, ``"name DESC"``, ``"name COLLATE
    NOCASE"``, a comma-separated list of those, or a sequence of them."""
    terms = order_by.split(",") if isinstance(order_by, str) else list(order_by)
    if not terms:
        raise ValueError("order_by needs at least one column")
    written = []
    for term in terms:
        match = _ORDER_TERM.fullmatch(term) if isinstance(term, str) else None
        if match is None:
            raise ValueError(
                f"order_by term {term!r} is not 'column [COLLATE name] [ASC|DESC]'"
            )
        column, collation, direction = match.groups()
        text = check_identifier(column, "order_by column")
        if collation:
            text += f" COLLATE {collation}"
        if direction:
            text += f" {direction.upper()}"
        written.append(text)
    return ", ".join(written)


class RowChoice(ChoiceLens):
    """Choose a row of ``table``: the value is its ``value`` column (``id``),
    the text shown its ``label`` column (``name``).

    ``database`` is a ``sqlite3.Connection`` or a function without
    arguments returning one (called on every read; the connection stays the
    caller's to close). ``order_by`` is a column (default: the label), or
    ``"column [COLLATE name] [ASC|DESC]"`` terms separated by commas or in a
    list. ``where`` is an SQL condition written by the application, with
    ``?`` or ``:name`` marks whose values are ``parameters``. ``error`` is
    the message when a posted value is not among the rows.

    Blank input (nothing chosen) becomes ``None``; a chosen value becomes the
    row's value as stored (an ``int`` for an INTEGER id). Rows whose value is
    NULL are left out; a NULL label shows as blank.

    Raises TypeError or ValueError at construction for a ``database`` that is
    neither kind of thing, and for a table, column or order that is not a
    plain identifier. SQL errors (no such table) are raised when the rows
    are read.
    """

    def __init__(
        self,
        database: Database,
        table: str,
        *,
        label: str = "name",
        value: str = "id",
        order_by: str | Sequence[str] | None = None,
        where: str | None = None,
        parameters: Parameters = (),
        error: str = UNAVAILABLE,
    ) -> None:
        columns = [check_identifier(value, "value"), check_identifier(label, "label")]
        query = f"SELECT {', '.join(columns)} FROM {check_identifier(table, 'table')}"
        if where is not None:
            if not isinstance(where, str) or not where.strip():
                raise ValueError(f"where must be a non-blank condition, not {where!r}")
            query += f" WHERE ({where})"
        # One row by its value, for to_native: an indexed lookup, not a scan.
        named = isinstance(parameters, Mapping)
        lookup = (
            f"{query} {'AND' if where is not None else 'WHERE'} {columns[0]} = "
            + (":_kali_value" if named else "?")
        )
        query += f" ORDER BY {_order_clause(label if order_by is None else order_by)}"
        self._setup(database, query, parameters, error)
        self._lookup: str | None = lookup

    @classmethod
    def from_query(
        cls,
        database: Database,
        query: str,
        parameters: Parameters = (),
        *,
        error: str = UNAVAILABLE,
    ) -> RowChoice:
        """A RowChoice over the rows of ``query``, a SELECT written by the
        application whose first column is the value and second the label,
        in display order::

            RowChoice.from_query(db, "SELECT id, name || ' (' || city || ')'"
                                     " FROM shop WHERE open = ? ORDER BY name", [1])

        Raises ValueError when ``query`` is not a str starting with SELECT
        (or WITH).
        """
        words = query.split(None, 1) if isinstance(query, str) else []
        if not words or words[0].upper() not in ("SELECT", "WITH"):
            raise ValueError(f"from_query needs a SELECT statement, not {query!r}")
        choice = cls.__new__(cls)
        choice._setup(database, query, parameters, error)
        choice._lookup = None  # an arbitrary SELECT: read its rows
        return choice

    def _setup(
        self, database: Database, query: str, parameters: Parameters, error: str
    ) -> None:
        if not hasattr(database, "cursor") and not callable(database):
            raise TypeError(
                "RowChoice needs a sqlite3.Connection or a function returning"
                f" one, not {database!r}"
            )
        self.database = database
        #: The SELECT that reads the choices (for reading, and for tests).
        self.query = query
        self.parameters = parameters
        self.error = error

    def _connection(self) -> Any:
        # A Connection is itself callable (it makes statements), so look for
        # cursor() first and call only what lacks it.
        if hasattr(self.database, "cursor"):
            return self.database
        connection = self.database()
        if not hasattr(connection, "cursor"):
            raise TypeError(
                f"the RowChoice database function returned {connection!r},"
                " not a sqlite3.Connection"
            )
        return connection

    def rows(self) -> Iterator[tuple[Any, Any]]:
        """Read ``(value, label)`` for every row now, as stored."""
        return self._read(self.query, self.parameters)

    def _read(self, query: str, parameters: Parameters) -> Iterator[tuple[Any, Any]]:
        cursor = self._connection().cursor()
        try:
            # Plain tuples whatever the connection's row_factory is.
            cursor.row_factory = None
            cursor.execute(query, parameters)
            found = cursor.fetchall()
        finally:
            cursor.close()
        for row in found:
            if row[0] is not None:
                yield row[0], row[1]

    def string_pairs(self) -> Iterable[tuple[str, str]]:
        for value, label in self.rows():
            yield self.to_text(value), "" if label is None else str(label)

    def to_text(self, n: Any) -> str:
        return "" if n is None else str(n)

    def to_native(self, s: str) -> Any:
        if not s:
            return None
        rows = self.rows()
        if self._lookup is not None:
            if isinstance(self.parameters, Mapping):
                rows = self._read(self._lookup, {**self.parameters, "_kali_value": s})
            else:
                rows = self._read(self._lookup, [*self.parameters, s])
        for value, _ in rows:
            if self.to_text(value) == s:
                return value
        raise ValidationError(self.error)
