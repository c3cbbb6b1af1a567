"""Keyset pagination: the rows after (or before) a position in a sort order.

A position is the sort value and the key of one row. The rows after it are
read through the ``(sort column, key)`` index, starting at the position::

    WHERE name = ? AND id > ? ORDER BY id LIMIT 51    -- the rest of "Anna"
    WHERE name > ? ORDER BY name, id LIMIT ...        -- then what follows

so a page deep in the list costs what the first page costs: no OFFSET, no
counting. The key (unique, never NULL) orders rows whose sort values are
equal, so every row has exactly one place in the order.

NULLs are placed as SQLite places them: first going up, last going down
(descending is exactly ascending reversed). ``(name, id) > (NULL, 7)`` is
never true in SQL, so the order is read as a few ranges of the index, one
after the other, each with its own condition: the rest of the start row's
value, the values beyond it, the NULLs.

A position travels in a page link as :func:`encode_position` text: URL-safe
base64 of a small JSON list that also names the sort column and direction,
so a link cannot be replayed against another order. :func:`decode_position`
answers HTTPError(400) for anything it did not make. Positions are not
secret and need not be: their values only ever become SQL parameters.

This module must not know about requests or links; :mod:`kali.listing`
builds those. Every SQL name it gets was checked by the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from typing import Any

from .errors import HTTPError

__all__ = ["KeysetReader", "decode_position", "encode_position"]

#: A row's place in an order: ``(sort value, key)``.
Position = tuple[Any, Any]
#: One range of an index: ``(SQL condition, its parameters, ORDER BY)``.
Range = tuple[str, list[Any], str]


def _encode_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if value is None or isinstance(value, (int, float, str)):
        return value
    raise ValueError("not a column value")


def encode_position(sort: str, direction: str, value: Any, key: Any) -> str:
    """The page-link text for the position ``(value, key)`` in an order."""
    data = [sort, direction, _encode_value(value), _encode_value(key)]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_position(text: str, sort: str, direction: str) -> Position | None:
    """``(sort value, key)`` from :func:`encode_position` text made for this
    ``sort`` and ``direction``; None for ``''``. HTTPError(400) otherwise."""
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode("utf-8"))
        if not (isinstance(data, list) and len(data) == 4):
            raise ValueError("not a position")
        value, key = _decode_value(data[2]), _decode_value(data[3])
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise HTTPError(400, "This page link is damaged.") from None
    if data[0] != sort or data[1] != direction or key is None:
        raise HTTPError(400, "This page link belongs to another sort order.")
    return value, key


class KeysetReader:
    """The queries of one list page: rows of ``from_clause`` matching every
    SQL condition of ``filters`` (``?`` parameters in ``parameters``),
    ordered by the quoted column ``sort`` then the quoted ``key``.

    The rows must include the sort and key columns (ValueError otherwise).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        from_clause: str,
        *,
        sort: str,
        key: str,
        filters: list[str],
        parameters: list[Any],
    ) -> None:
        self.connection = connection
        self.from_clause = from_clause
        self.sort = sort
        self.key = key
        self.filters = filters
        self.parameters = parameters
        self._indices: tuple[int, int] | None = None

    def page(
        self,
        size: int,
        descending: bool,
        after: Position | None = None,
        before: Position | None = None,
    ) -> tuple[list[Any], bool, bool]:
        """``(rows, has_next, has_previous)``: up to ``size`` rows after
        ``after``, or before ``before`` (the first page when that reaches
        the start, so a page is full whenever the list has the rows)."""
        if before is not None:
            rows = self.rows(not descending, before, size + 1)
            if len(rows) > size:
                return rows[:size][::-1], True, True
        rows = self.rows(descending, after, size + 1)
        return rows[:size], len(rows) > size, after is not None

    def rows(self, descending: bool, start: Position | None, limit: int) -> list[Any]:
        """Up to ``limit`` rows in order, after ``start`` when given."""
        found: list[Any] = []
        for condition, parameters, ordering in self._ranges(descending, start):
            found.extend(
                self._select(condition, parameters, ordering, limit - len(found))
            )
            if len(found) >= limit:
                break
        return found

    def _ranges(self, descending: bool, start: Position | None) -> list[Range]:
        """The index ranges that follow ``start`` (or make up the whole
        order), in order: ``(condition, parameters, ORDER BY)`` each.

        Each is a plain range of the ``(column, key)`` index: an equality
        and a range on the key, or one range on the column. (A row-value
        comparison ``(column, key) > (?, ?)`` says it in one, but SQLite
        gives up the key part of its seek as soon as another bound is
        added, and then reads every row of the start row's value.)
        """
        column, key = self.sort, self.key
        order, compare = ("DESC", "<") if descending else ("ASC", ">")
        by_key = f"{key} {order}"
        by_both = f"{column} {order}, {key} {order}"
        if column == key:
            if start is None:
                return [("", [], by_key)]
            return [(f"{key} {compare} ?", [start[1]], by_key)]
        nulls: Range = (f"{column} IS NULL", [], by_key)
        values: Range = (f"{column} IS NOT NULL", [], by_both)
        if start is None:
            return [values, nulls] if descending else [nulls, values]
        value, after_key = start
        if value is None:  # inside the NULLs
            rest: Range = (
                f"{column} IS NULL AND {key} {compare} ?",
                [after_key],
                by_key,
            )
            return [rest] if descending else [rest, values]
        same: Range = (
            f"{column} = ? AND {key} {compare} ?",
            [value, after_key],
            by_key,
        )
        # "column < ?" also stops at the NULLs, which sort first.
        beyond: Range = (f"{column} {compare} ?", [value], by_both)
        return [same, beyond, nulls] if descending else [same, beyond]

    def _select(
        self, condition: str, parameters: list[Any], ordering: str, limit: int
    ) -> list[Any]:
        where = " AND ".join([*self.filters, condition] if condition else self.filters)
        cursor = self.connection.execute(
            f"SELECT * FROM {self.from_clause} WHERE {where or '1'}"
            f" ORDER BY {ordering} LIMIT ?",
            [*self.parameters, *parameters, limit],
        )
        try:
            if self._indices is None:
                names = [f'"{entry[0]}"' for entry in cursor.description]
                if self.sort not in names or self.key not in names:
                    raise ValueError(
                        f"the listed rows need the columns {self.sort} and {self.key}"
                    )
                self._indices = (names.index(self.sort), names.index(self.key))
            return cursor.fetchall()
        finally:
            cursor.close()

    def position(self, row: Any) -> Position:
        """``(sort value, key)`` of a row this reader returned."""
        assert self._indices is not None, "read rows first"
        return row[self._indices[0]], row[self._indices[1]]

    def count(self, limit: int) -> tuple[int, bool]:
        """``(rows matching, exact)``, counting no further than ``limit``."""
        where = " AND ".join(self.filters) or "1"
        cursor = self.connection.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.from_clause}"
            f" WHERE {where} LIMIT ?)",
            [*self.parameters, limit + 1],
        )
        try:
            number = int(cursor.fetchone()[0])
        finally:
            cursor.close()
        return min(number, limit), number <= limit
