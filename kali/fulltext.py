"""Search for list pages: an FTS5 index kept in sync, and a LIKE fallback.

What a user types into a search box is text, never query syntax. It is cut
into words (runs of letters, digits and combining marks, as FTS5's
``unicode61`` tokenizer cuts text), and every word must be found: through
the FTS5 index as a quoted phrase, the last word as a prefix
(``"zoe" "ang"*``), so quotes, ``*``, ``AND``, ``NEAR`` or a stray
parenthesis are only characters and never an FTS5 syntax error.

:class:`SearchIndex` is an *external-content* FTS5 table: it indexes the
columns of a table without a second copy of the text. Three triggers keep it
in step with every INSERT, UPDATE and DELETE on the table, inside the same
transaction; :meth:`SearchIndex.ensure` creates it, and fills it once with
``'rebuild'``, when it is missing or its columns changed. The tokenizer
folds case and drops accents ("zoe" finds "Zoë").

Without FTS5 in the SQLite build (or when asked), :func:`like_condition`
gives the fallback: each word must occur in one of the columns (``LIKE
'%word%'``; SQLite folds the case of ASCII letters only). That reads rows
one by one, so it is slower on big tables, but the caller's LIMIT still
bounds a page.

This module must not know about requests; SQL names reach it quoted by
:mod:`kali.listing`, which checked them.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from typing import Any

__all__ = [
    "SearchIndex",
    "has_fts5",
    "like_condition",
    "match_expression",
    "search_condition",
    "search_terms",
]

#: A search matching more rows than this is "dense": the list is read in
#: sort order through its index, each row checked against the matches, and
#: stops after a page. Below it, the matching rows are looked up and sorted,
#: which costs in proportion to their number. Around 10,000 the two cost the
#: same on a table of a million rows (bench/bench_listing.py).
DENSE_MATCH_ROWS = 10_000

#: At most this many words of a search are used (the rest are ignored): a
#: pasted paragraph should not become a query of hundreds of terms.
MAX_TERMS = 16


def _is_word_character(character: str) -> bool:
    # unicode61's token characters: letters, numbers, marks, private use.
    category = unicodedata.category(character)
    return category[0] in "LNM" or category == "Co"


def search_terms(text: str, max_terms: int = MAX_TERMS) -> list[str]:
    """The words of a search text (see the module docstring); ``[]`` when it
    has none, e.g. only punctuation."""
    terms: list[str] = []
    word: list[str] = []
    for character in text + " ":
        if _is_word_character(character):
            word.append(character)
        elif word:
            terms.append("".join(word))
            word = []
            if len(terms) == max_terms:
                break
    return terms


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression requiring every term, the last as a prefix.
    Each term is a quoted string (``"`` doubled), so it is never syntax."""
    if not terms:
        raise ValueError("no search terms")
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms]
    phrases[-1] += "*"
    return " ".join(phrases)


def like_condition(columns: list[str], terms: list[str]) -> tuple[str, list[Any]]:
    """``(sql, parameters)``: every term occurs in one of ``columns``
    (quoted SQL names), by ``LIKE`` with ``%``, ``_`` and ``\\`` escaped."""
    if not columns or not terms:
        raise ValueError("like_condition needs columns and terms")
    conditions: list[str] = []
    parameters: list[Any] = []
    for term in terms:
        pattern = "%" + _escape_like(term) + "%"
        conditions.append(
            "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")"
        )
        parameters.extend([pattern] * len(columns))
    return " AND ".join(conditions), parameters


def search_condition(
    connection: sqlite3.Connection,
    index: SearchIndex | None,
    columns: list[str],
    key: str,
    terms: list[str],
) -> tuple[str, list[Any]]:
    """``(sql, parameters)`` for rows matching every term: through ``index``
    when given (``key`` is the quoted key column), else by LIKE over the
    quoted ``columns``. ValueError when there is neither."""
    if index is not None:
        expression = match_expression(terms)
        dense = index.count(connection, expression, DENSE_MATCH_ROWS) > (
            DENSE_MATCH_ROWS
        )
        return index.condition(key, dense=dense), [expression]
    if not columns:
        raise ValueError("this list has no search columns")
    return like_condition(columns, terms)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def has_fts5(connection: sqlite3.Connection) -> bool:
    """Can this connection's SQLite make FTS5 tables? (A temporary probe
    table is made and dropped: FTS5 may be built in or loaded.)"""
    try:
        connection.execute("CREATE VIRTUAL TABLE temp.kali_fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    connection.execute("DROP TABLE temp.kali_fts5_probe")
    return True


def _tokenizer() -> str:
    # remove_diacritics 2 also folds accents on letters whose composed form
    # has several marks; it came with SQLite 3.27 (2019).
    level = 2 if sqlite3.sqlite_version_info >= (3, 27) else 1
    return f"unicode61 remove_diacritics {level}"


class SearchIndex:
    """The FTS5 index ``name`` of ``columns`` of ``table``, whose ``key`` is
    its rowid (an ``INTEGER PRIMARY KEY``). Names are plain identifiers."""

    def __init__(
        self, name: str, table: str, key: str, columns: tuple[str, ...]
    ) -> None:
        if not columns:
            raise ValueError("a search index needs columns")
        self.name, self.table, self.key, self.columns = name, table, key, columns

    def _statements(self) -> dict[str, str]:
        """Every schema object of the index: name -> its CREATE statement."""
        name, table, key = self.name, self.table, self.key
        quoted = ", ".join(f'"{c}"' for c in self.columns)
        new = ", ".join(f'new."{c}"' for c in self.columns)
        old = ", ".join(f'old."{c}"' for c in self.columns)
        insert = f'INSERT INTO "{name}" (rowid, {quoted}) VALUES (new."{key}", {new});'
        delete = (
            f'INSERT INTO "{name}" ("{name}", rowid, {quoted})'
            f" VALUES ('delete', old.\"{key}\", {old});"
        )
        return {
            name: (
                f'CREATE VIRTUAL TABLE "{name}" USING fts5({quoted},'
                f" content='{table}', content_rowid='{key}',"
                f" tokenize='{_tokenizer()}')"
            ),
            f"{name}_insert": (
                f'CREATE TRIGGER "{name}_insert" AFTER INSERT ON "{table}"'
                f" BEGIN {insert} END"
            ),
            f"{name}_delete": (
                f'CREATE TRIGGER "{name}_delete" AFTER DELETE ON "{table}"'
                f" BEGIN {delete} END"
            ),
            f"{name}_update": (
                f'CREATE TRIGGER "{name}_update" AFTER UPDATE OF "{key}", {quoted}'
                f' ON "{table}" BEGIN {delete} {insert} END'
            ),
        }

    def exists(self, connection: sqlite3.Connection) -> bool:
        """Is the index table there?"""
        cursor = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (self.name,),
        )
        try:
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def ensure(self, connection: sqlite3.Connection) -> bool:
        """Create the index and its triggers and fill it, unless they are
        there as they should be; returns True when it (re)built. Does not
        commit. ValueError if ``name`` is taken by a table that is not an
        FTS5 index."""
        wanted = self._statements()
        cursor = connection.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE name IN"
            f" ({', '.join('?' * len(wanted))})",
            list(wanted),
        )
        try:
            found = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
        finally:
            cursor.close()
        if {name: sql for name, (_, sql) in found.items()} == wanted:
            return False
        table_kind, table_sql = found.get(self.name, ("", ""))
        if table_kind and not (
            table_kind == "table" and "USING fts5" in (table_sql or "")
        ):
            raise ValueError(f"{self.name!r} exists and is not an FTS5 index")
        for name, (kind, _) in found.items():
            if kind == "trigger":
                connection.execute(f'DROP TRIGGER "{name}"')
        if table_kind:
            connection.execute(f'DROP TABLE "{self.name}"')
        for statement in wanted.values():
            connection.execute(statement)
        connection.execute(
            f'INSERT INTO "{self.name}" ("{self.name}") VALUES (\'rebuild\')'
        )
        return True

    def count(self, connection: sqlite3.Connection, expression: str, limit: int) -> int:
        """How many rows match ``expression``, counting no further than
        ``limit + 1``."""
        cursor = connection.execute(
            f'SELECT count(*) FROM (SELECT 1 FROM "{self.name}"'
            f' WHERE "{self.name}" MATCH ? LIMIT ?)',
            (expression, limit + 1),
        )
        try:
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def condition(self, key: str, *, dense: bool = False) -> str:
        """SQL true for rows (whose quoted key column is ``key``) matching the
        one ``?`` parameter, a :func:`match_expression`. ``dense``: keep
        SQLite from using the key for the lookup (the unary ``+``), so that
        it reads the rows in the order's index and checks each instead."""
        plus = "+" if dense else ""
        return (
            f'{plus}{key} IN (SELECT rowid FROM "{self.name}"'
            f' WHERE "{self.name}" MATCH ?)'
        )
