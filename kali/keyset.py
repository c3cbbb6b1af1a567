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

A condition too costly to test on every row of a long scan (a search
that matches most rows, :mod:`kali.fulltext`) can be a :class:`RowCheck`:
the rows are read in order without it and tested one by one in Python, up
to a budget of rows; past it, the rest is read with the condition's SQL
form, which costs once per query instead of once per row.

This module must not know about requests or links; :mod:`kali.listing`
builds those. Every SQL name it gets was checked by the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import HTTPError

__all__ = ["KeysetReader", "RowCheck", "decode_position", "encode_position"]

#: A row's place in an order: ``(sort value, key)``.
Position = tuple[Any, Any]
#: One range of an index: ``(SQL condition, its parameters, ORDER BY)``.
Range = tuple[str, list[Any], str]


@dataclass(frozen=True)
class RowCheck:
    """A condition on rows, tested by ``test(key)`` on at most ``budget``
    rows of a page's scan; past that, ``fallback(passed)`` (how many of
    the tested rows passed) gives ``(sql, parameters)``: a condition that
    selects the same rows in one query."""

    test: Callable[[Any], bool]
    budget: int
    fallback: Callable[[int], tuple[str, list[Any]]]


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

    ``check``: a :class:`RowCheck` the rows must also pass.

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
        check: RowCheck | None = None,
    ) -> None:
        self.connection = connection
        self.from_clause = from_clause
        self.sort = sort
        self.key = key
        self.filters = filters
        self.parameters = parameters
        self.check = check
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
        if self.check is None:
            return self._read(self.filters, self.parameters, descending, start, limit)
        return self._checked(self.check, descending, start, limit)

    def _read(
        self,
        filters: list[str],
        parameters: list[Any],
        descending: bool,
        start: Position | None,
        limit: int,
    ) -> list[Any]:
        found: list[Any] = []
        for condition, range_parameters, ordering in self._ranges(descending, start):
            found.extend(
                self._select(
                    [*filters, condition] if condition else filters,
                    [*parameters, *range_parameters],
                    ordering,
                    limit - len(found),
                )
            )
            if len(found) >= limit:
                break
        return found

    def _checked(
        self, check: RowCheck, descending: bool, start: Position | None, limit: int
    ) -> list[Any]:
        """Rows passing ``check``: tested one by one while the budget
        lasts (in batches that double, the first one a page) and the rows
        passing so far promise a page within it; else read with its
        fallback."""
        found: list[Any] = []
        position, tested, batch_size = start, 0, limit
        while tested < check.budget:
            asked = min(batch_size, check.budget - tested)
            batch = self._read(
                self.filters, self.parameters, descending, position, asked
            )
            tested += len(batch)
            for row in batch:
                if check.test(self.position(row)[1]):
                    found.append(row)
                    if len(found) == limit:
                        return found
            if len(batch) < asked:
                return found  # the end of the list
            position, batch_size = self.position(batch[-1]), batch_size * 2
            if found and tested * limit > check.budget * len(found):
                break  # at this rate the page would take more than the budget
        # From the start again: the same ranges as a reader without the
        # check (going on from the last row tested may add one, whose
        # query would gather the matches once more).
        sql, parameters = check.fallback(len(found))
        return self._read(
            [*self.filters, sql],
            [*self.parameters, *parameters],
            descending,
            start,
            limit,
        )

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
        self, filters: list[str], parameters: list[Any], ordering: str, limit: int
    ) -> list[Any]:
        cursor = self.connection.execute(
            f"SELECT * FROM {self.from_clause} WHERE {' AND '.join(filters) or '1'}"
            f" ORDER BY {ordering} LIMIT ?",
            [*parameters, limit],
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
        """``(rows matching, exact)``, counting no further than ``limit``
        (with a check: through its fallback, which may cost more)."""
        filters, parameters = self.filters, self.parameters
        if self.check is not None:
            sql, more = self.check.fallback(1)
            filters, parameters = [*filters, sql], [*parameters, *more]
        cursor = self.connection.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.from_clause}"
            f" WHERE {' AND '.join(filters) or '1'} LIMIT ?)",
            [*parameters, limit + 1],
        )
        try:
            number = int(cursor.fetchone()[0])
        finally:
            cursor.close()
        return min(number, limit), number <= limit
