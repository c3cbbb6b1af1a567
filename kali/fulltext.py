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

A search is read one of three ways (:meth:`SearchIndex.plan`), by how
many rows match, counted up to :data:`DENSE_MATCH_ROWS` through the index:

* few: the matching rows are looked up and sorted (cost: the matches);
* many: the list is read in its order, each row tested against the index
  by its rowid, until a page is full (cost: the rows read). FTS5 finds a
  whole word by rowid at once, but merges a prefix's matches anew for each
  row, so the last word is first replaced by the words of the index that
  start with it (``"ann"*`` -> ``("anna" OR "annette")``, read from an
  ``fts5vocab`` table), when they are few (:data:`MAX_PREFIX_WORDS`);
* many, when that testing finds too few rows in its budget (the matches
  lie further down the order) or a prefix remains: the matches are
  gathered once and the list is read in its order against them.

A count (``count_limit``) reads the matches in rowid order, a chunk at a
time, and stops at the limit.

Without FTS5 in the SQLite build (or when asked), :func:`like_condition`
gives the fallback: each word must occur in one of the columns (``LIKE
'%word%'``; SQLite folds the case of ASCII letters only). That reads rows
one by one, so it is slower on big tables, but the caller's LIMIT still
bounds a page.

This module must not know about requests; SQL names reach it quoted by
:mod:`kali.listing`, which checked them.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from .keyset import RowCheck

__all__ = [
    "SearchIndex",
    "SearchPlan",
    "folded_prefix",
    "has_fts5",
    "like_condition",
    "match_expression",
    "search_condition",
    "search_terms",
]

#: A search matching more rows than this is "dense": the list is read in
#: its order, rows tested one by one or against the matches gathered (see
#: the module docstring). Up to it, the matching rows are looked up and
#: sorted, which costs in proportion to their number: a few ms for 10,000
#: (bench/bench_listing.py).
DENSE_MATCH_ROWS = 10_000

#: The last word of a search is replaced by the index's words that start
#: with it when there are at most this many (see the module docstring).
MAX_PREFIX_WORDS = 8

#: How much a dense search may test row by row for one page before it
#: gathers the matches instead: ``CHECK_BUDGET // (n + 1)`` rows for a
#: search of n words and alternatives (400 for one word; testing a word
#: costs some 15-40 µs a row). Matches spread through the order fill a
#: page well within it; matches far down the order use it up.
CHECK_BUDGET = 800

#: A dense search that found no row in its budget (its matches lie further
#: down the order) looks them up and sorts them (cost: the matches) when
#: they are at most this many, else reads the order against them all.
SORT_MATCH_ROWS = 100_000

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


def _joined(phrases: list[str]) -> str:
    # FTS5 wants AND spelled out before a parenthesis.
    return " AND ".join(phrases)


def _quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _alternatives(words: list[str]) -> str:
    quoted = [_quote(word) for word in words]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


#: A prefix found fewer times than this in the index (a rare one) is
#: searched as it is: its few rows cost less than its words, one by one.
FEW_PREFIX_ROWS = 64

# The vocabulary is read this many rows (word occurrences) at a time.
_VOCABULARY_ROWS = 64

# A match_expression: quoted phrases with no quote inside, the last a prefix.
_PLAIN_EXPRESSION = re.compile(r'((?:"[^"]*" )*)"([^"]+)"\*\Z')


def folded_prefix(term: str) -> str | None:
    """``term`` as the index's tokenizer folds it, when that is certain:
    ASCII letters and digits (lower-cased), and from SQLite 3.27 on, Latin
    letters U+00C0-U+017F that are an ASCII letter with accents ("Zoë" ->
    "zoe"); None for anything else (the prefix is then searched as is)."""
    folded: list[str] = []
    for character in term:
        if character.isascii():
            if not character.isalnum():
                return None
            folded.append(character.lower())
            continue
        if not ("\u00c0" <= character <= "\u017f" and _diacritics_level() == 2):
            return None
        decomposed = unicodedata.normalize("NFD", character)
        base, marks = decomposed[0], decomposed[1:]
        if not (base.isascii() and base.isalpha() and marks):
            return None
        if not all(unicodedata.combining(mark) for mark in marks):
            return None
        folded.append(base.lower())
    return "".join(folded) or None


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


def _diacritics_level() -> int:
    # remove_diacritics 2 also folds accents on letters whose composed form
    # has several marks; it came with SQLite 3.27 (2019).
    return 2 if sqlite3.sqlite_version_info >= (3, 27) else 1


def _tokenizer() -> str:
    return f"unicode61 remove_diacritics {_diacritics_level()}"


class SearchIndex:
    """The FTS5 index ``name`` of ``columns`` of ``table``, whose ``key`` is
    its rowid (an ``INTEGER PRIMARY KEY``). Names are plain identifiers."""

    def __init__(
        self, name: str, table: str, key: str, columns: tuple[str, ...]
    ) -> None:
        if not columns:
            raise ValueError("a search index needs columns")
        self.name, self.table, self.key, self.columns = name, table, key, columns
        #: The ``fts5vocab`` table listing the index's words (``instance``
        #: kind: a range of words costs no reading of their rows).
        self.vocabulary = f"{name}_vocab"

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
            self._ensure_vocabulary(connection)
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
        self._ensure_vocabulary(connection)
        return True

    def _ensure_vocabulary(self, connection: sqlite3.Connection) -> None:
        # "IF NOT EXISTS": a table of yours by that name is left alone (and
        # prefixes are then searched as they are).
        connection.execute(
            f'CREATE VIRTUAL TABLE IF NOT EXISTS "{self.vocabulary}"'
            f" USING fts5vocab(\"{self.name}\", 'instance')"
        )

    def _has_vocabulary(self, connection: sqlite3.Connection) -> bool:
        cursor = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            (self.vocabulary,),
        )
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row is not None and "fts5vocab" in str(row[0]).lower()

    def words(
        self, connection: sqlite3.Connection, prefix: str, limit: int = MAX_PREFIX_WORDS
    ) -> list[str] | None:
        """The index's words that start with ``prefix`` (folded as the
        tokenizer folds it), in order; None when there are more than
        ``limit``, or the prefix cannot be folded for certain
        (:func:`folded_prefix`), or there is no vocabulary table yet
        (:meth:`ensure` makes it)."""
        return self._words(connection, prefix, limit)[0]

    def _words(
        self, connection: sqlite3.Connection, prefix: str, limit: int
    ) -> tuple[list[str] | None, bool]:
        """``(words or None, few)``: ``few`` when the words occur fewer than
        :data:`FEW_PREFIX_ROWS` times in all (then the prefix is cheap)."""
        folded = folded_prefix(prefix)
        if folded is None or not self._has_vocabulary(connection):
            return None, False
        # The words' rows in index order, a few dozen at a time: a rare
        # word has few, and after a common word the next read starts at
        # the next word (the first >= w + NUL: no word holds a NUL), where
        # reading the range at once would read every row of every word.
        end = folded[:-1] + chr(ord(folded[-1]) + 1)
        sql = (
            f'SELECT term FROM "{self.vocabulary}" WHERE term >= ? AND term < ? LIMIT ?'
        )
        found: list[str] = []
        start, reads = folded, 0
        while len(found) <= limit:
            cursor = connection.execute(sql, (start, end, _VOCABULARY_ROWS))
            try:
                rows = cursor.fetchall()
            finally:
                cursor.close()
            reads += 1
            for (word,) in rows:
                if not found or found[-1] != word:
                    found.append(str(word))
            if len(rows) < _VOCABULARY_ROWS:
                few = reads == 1 and len(rows) < FEW_PREFIX_ROWS
                return (found if len(found) <= limit else None), few
            start = found[-1] + "\x00"
        return None, False

    def expression(self, connection: sqlite3.Connection, terms: list[str]) -> str:
        """:func:`match_expression` of ``terms``, the last term's prefix
        replaced by the words it stands for when :meth:`words` knows them
        (the same rows match)."""
        return self._phrases(connection, terms, rare_as_is=False)[0]

    def _phrases(
        self, connection: sqlite3.Connection, terms: list[str], rare_as_is: bool
    ) -> tuple[str, list[str] | None]:
        """``(expression, one expression per term or None while a prefix
        remains)``; ``rare_as_is``: keep a prefix of :data:`FEW_PREFIX_ROWS`."""
        expression = match_expression(terms)
        words, few = self._words(connection, terms[-1], MAX_PREFIX_WORDS)
        if not words or (few and rare_as_is):
            # Unknown; or no word (the prefix matches nothing); or words
            # in so few rows that the prefix costs less than the words.
            return expression, None
        phrases = [_quote(term) for term in terms[:-1]] + [_alternatives(words)]
        return _joined(phrases), phrases

    def plan(self, connection: sqlite3.Connection, terms: list[str]) -> SearchPlan:
        """How to read the rows matching every term (see the module
        docstring); counts up to :data:`DENSE_MATCH_ROWS` + 1 matches."""
        expression, phrases = self._phrases(connection, terms, rare_as_is=True)
        matches = self.count(connection, expression, DENSE_MATCH_ROWS, expand=False)
        return SearchPlan(self, expression, phrases, matches > DENSE_MATCH_ROWS)

    def count(
        self,
        connection: sqlite3.Connection,
        expression: str,
        limit: int,
        *,
        expand: bool = True,
    ) -> int:
        """How many rows match ``expression``, counting no further than
        ``limit + 1``. A :func:`match_expression` is first given the words
        of its prefix (:meth:`expression`; unless ``expand`` is False): the
        same count, sooner."""
        plain = _PLAIN_EXPRESSION.match(expression) if expand else None
        if plain:
            whole = re.findall(r'"([^"]*)"', plain.group(1))
            terms = [*whole, plain.group(2)]
            expression = self._phrases(connection, terms, rare_as_is=True)[0]
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


class SearchPlan:
    """How one search reads its rows (made by :meth:`SearchIndex.plan`):
    its MATCH ``expression``, whether it is ``dense`` (matches more than
    :data:`DENSE_MATCH_ROWS` rows), and ``phrases``, one expression per
    term that a row must match (None while the last is still a prefix)."""

    def __init__(
        self,
        index: SearchIndex,
        expression: str,
        phrases: list[str] | None,
        dense: bool,
    ) -> None:
        self.index, self.expression, self.phrases = index, expression, phrases
        self.dense = dense

    def condition(self, key: str) -> tuple[str, list[Any]]:
        """``(sql, parameters)`` true for the matching rows (``key``: the
        quoted key column), the matches gathered once per query."""
        return self.index.condition(key, dense=self.dense), [self.expression]

    def row_check(
        self, connection: sqlite3.Connection, key: str, rows: int
    ) -> RowCheck | None:
        """A :class:`~kali.keyset.RowCheck` testing rows one by one, for a
        dense search whose terms are all whole words, when its budget
        (:data:`CHECK_BUDGET`) holds ``rows`` rows; else None."""
        if not self.dense or self.phrases is None:
            return None
        words = sum(phrase.count('"') // 2 for phrase in self.phrases)
        budget = CHECK_BUDGET // (1 + words)
        if budget < rows:
            return None
        name = f'"{self.index.name}"'
        # One EXISTS per term: FTS5 tests one word by rowid quickly, but an
        # AND of words can walk one word's rows up to the other's next.
        sql = "SELECT " + " AND ".join(
            f"EXISTS (SELECT 1 FROM {name} WHERE {name} MATCH ?{number} AND rowid = ?1)"
            for number in range(2, len(self.phrases) + 2)
        )
        phrases = self.phrases

        def test(value: Any) -> bool:
            cursor = connection.execute(sql, [value, *phrases])
            try:
                return bool(cursor.fetchone()[0])
            finally:
                cursor.close()

        def fallback(passed: int) -> tuple[str, list[Any]]:
            # Some rows passed: the matches are spread, and the rest of the
            # page is near. None: they may all come last, where reading the
            # order would read the list; looking them up costs what they do.
            dense = bool(passed) or (
                self.index.count(
                    connection, self.expression, SORT_MATCH_ROWS, expand=False
                )
                > SORT_MATCH_ROWS
            )
            return self.index.condition(key, dense=dense), [self.expression]

        return RowCheck(test, budget, fallback)

    def count(
        self,
        connection: sqlite3.Connection,
        from_clause: str,
        key: str,
        filters: list[str],
        parameters: list[Any],
        limit: int,
    ) -> tuple[int, bool]:
        """``(rows, exact)``: the rows of ``from_clause`` that match and
        pass ``filters`` (``parameters``), counted no further than
        ``limit``. The matches are read in rowid order a chunk at a time
        (the first chunk ``limit + 1``), so a count stops where it may."""
        name = f'"{self.index.name}"'
        chunk_of = (
            f"SELECT rowid FROM {name} WHERE {name} MATCH ? AND rowid >= ?"
            " ORDER BY rowid LIMIT ?"
        )
        where = " AND ".join([*filters, f"{key} IN ({chunk_of})"])
        counting = (
            f"SELECT count(*) FROM (SELECT 1 FROM {from_clause} WHERE {where} LIMIT ?)"
        )
        measuring = f"SELECT count(*), max(rowid) FROM ({chunk_of})"
        total, start, size = 0, -(2**63), limit + 1
        while True:
            arguments = [self.expression, start, size]
            total += _one(
                connection, counting, [*parameters, *arguments, limit + 1 - total]
            )[0]
            if total > limit:
                return limit, False
            chunk, last = _one(connection, measuring, arguments)
            if chunk < size:
                return total, True
            start, size = int(last) + 1, min(size * 4, 100_000)


def _one(connection: sqlite3.Connection, sql: str, parameters: list[Any]) -> Any:
    cursor = connection.execute(sql, parameters)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()
