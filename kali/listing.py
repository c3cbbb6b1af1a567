"""Lists of records: paged, sorted and searched, one page at a time.

A :class:`Listing` describes a list page once (which table, which columns
may be sorted, which are searched, how many rows a page holds); its
:meth:`~Listing.page` reads the request's query and answers a :class:`Page`:
the rows, and every link the page needs, ready to put in a template::

    contacts = Listing(
        "contact",
        columns={"name": "Name", "email": "E-mail", "created": "Added"},
        sort=("name", "email", "-created"),     # "-": newest first on a click
        search=("name", "email", "notes"),
    )
    contacts.ensure_indexes(db)          # at start-up: one index per sort
    contacts.ensure_search_index(db)     # and the FTS5 index, where there is one

    def contact_list(request):
        page = contacts.page(db, request)
        ...   # page.rows, page.headings, page.next_url, page.search ...

Page links carry the position they continue from (keyset pagination, see
:mod:`kali.keyset`): page 500 costs what page 1 costs, through the
``(sort column, key)`` indexes that :meth:`Listing.ensure_indexes` makes.
Search goes through an FTS5 index where the SQLite build has one, else a
LIKE scan (:mod:`kali.fulltext`, which also says how a search that matches
most of a big table stays as quick as a rare one). Counting is off by
default (a count reads the matching rows); ``count_limit=1000`` counts up
to 1000.

Bad input is a 400 with a short message: a sort column that is not listed,
a direction other than ``asc``/``desc``, a damaged page link, or a search
text over ``max_search_chars``. Every SQL name comes from the Listing's
arguments (checked to be plain identifiers), never from the request.

This module must not render HTML, open connections or keep state between
pages: a Listing is read-only after construction.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Union

from .fulltext import SearchIndex, SearchPlan, has_fts5, like_condition, search_terms
from .keyset import KeysetReader, RowCheck, encode_position
from .listpage import Heading, Links, ListOptions, Page, PageRequest
from .request import Request

__all__ = ["Heading", "Listing", "Page"]  # Heading and Page: from kali.listpage

#: What ``Listing.page`` reads the query from.
Query = Union[Request, Mapping[str, Any], Any]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _identifier(name: object, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{what} must be a plain SQL identifier, not {name!r}")
    return name


def _table_columns(connection: sqlite3.Connection, table: str) -> set[str]:
    """The column names of ``table``; ValueError when there is no such table."""
    rows = connection.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
    if not rows:
        raise ValueError(f"no table {table!r} in this database")
    return {row[1] for row in rows}


def _quoted(name: str) -> str:
    return f'"{name}"'  # checked by _identifier: no quote inside


class Listing:
    """A paged, sortable, searchable list over a table or a query.

    ``source`` is a table name, or a ``SELECT`` whose rows are listed (then
    ``table`` names the table its ``key`` belongs to, for the indexes and
    search). ``columns`` maps column names to heading labels. ``sort`` lists
    the columns the list may be sorted by (``'-created'``: descending on the
    first click); ``default_sort`` is one of them (default: the first),
    ``'-name'`` for descending. ``search`` lists the searched columns.
    ``key`` is a unique, non-NULL column (the rowid alias for FTS5 search):
    it orders rows with equal sort values. ``page_size`` is rows per page.
    ``full_text``: None uses FTS5 when :meth:`ensure_search_index` made the
    index, False always the LIKE fallback, True requires FTS5.
    ``count_limit``: count matching rows up to this many (None: no count).
    ``prefix`` prefixes the query parameter names (``sort``, ``dir``, ``q``,
    ``after``, ``before``), for two lists on one page.

    Raises ValueError or TypeError for bad arguments.
    """

    def __init__(
        self,
        source: str,
        *,
        columns: Mapping[str, str] | None = None,
        sort: Sequence[str] = (),
        default_sort: str | None = None,
        search: Sequence[str] = (),
        key: str = "id",
        table: str | None = None,
        page_size: int = 50,
        full_text: bool | None = None,
        count_limit: int | None = None,
        prefix: str = "",
        search_index: str | None = None,
        max_search_chars: int = 500,
    ) -> None:
        if not isinstance(source, str):
            raise TypeError("source must be a table name or a SELECT")
        self.key = _identifier(key, "key")
        if _IDENTIFIER.match(source):
            self.table: str | None = table or source
            self.from_clause = _quoted(source)
        elif re.match(r"\s*(SELECT|WITH)\b", source, re.IGNORECASE):
            self.table = table
            self.from_clause = f"({source}) AS kali_listing"
        else:
            raise ValueError(f"source must be a table name or a SELECT: {source!r}")
        if self.table is not None:
            _identifier(self.table, "table")
        if isinstance(sort, str):
            raise TypeError("sort must be a sequence of column names")
        sort_columns: dict[str, str] = {}  # column -> direction of a first click
        for entry in sort or (key,):
            descending = isinstance(entry, str) and entry.startswith("-")
            name = _identifier(entry[1:] if descending else entry, "a sort column")
            sort_columns[name] = "desc" if descending else "asc"
        default = default_sort or next(
            ("-" if d == "desc" else "") + n for n, d in sort_columns.items()
        )
        default_name = default[1:] if default.startswith("-") else default
        if default_name not in sort_columns:
            raise ValueError(f"default_sort {default!r} is not in sort")
        self.options = ListOptions(
            columns={
                _identifier(name, "a column"): str(label)
                for name, label in (columns or {}).items()
            },
            sort_columns=sort_columns,
            default_sort=default_name,
            default_direction="desc" if default.startswith("-") else "asc",
            prefix=str(prefix),
            max_search_chars=max_search_chars,
        )
        if isinstance(search, str):
            raise TypeError("search must be a sequence of column names")
        self.search_columns = tuple(
            _identifier(name, "a search column") for name in search
        )
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise TypeError("page_size must be an int")
        if not 1 <= page_size <= 10_000:
            raise ValueError("page_size must be 1-10000")
        self.page_size = page_size
        if count_limit is not None and count_limit < 1:
            raise ValueError("count_limit must be positive (or None)")
        self.count_limit = count_limit
        self.full_text = full_text
        self.index: SearchIndex | None = None
        if self.search_columns and self.table is not None:
            name = _identifier(search_index or f"{self.table}_search", "search_index")
            self.index = SearchIndex(name, self.table, self.key, self.search_columns)
        if full_text and self.index is None:
            raise ValueError("full_text=True needs search columns and a table")

    # -- set-up (once, at start-up) ---------------------------------------------------

    def ensure_indexes(self, connection: sqlite3.Connection) -> list[str]:
        """Create the ``(sort column, key)`` index every sort needs, if
        missing, and commit; returns their names. Needs a ``table``.
        ValueError if a transaction is open (commit it first)."""
        table = self._table_for("ensure_indexes")
        _check_no_transaction(connection)
        existing = _table_columns(connection, table)
        names = []
        for column in self.options.sort_columns:
            if column == self.key:
                continue  # the key orders itself
            if column not in existing:
                # A column of the query, not of the table (a JOIN's): no
                # index on the table can serve it. (A double-quoted name that
                # is no column would be a string constant to SQLite.)
                continue
            name = f"{table}_by_{column}"
            connection.execute(
                f"CREATE INDEX IF NOT EXISTS {_quoted(name)} ON {_quoted(table)}"
                f" ({_quoted(column)}, {_quoted(self.key)})"
            )
            names.append(name)
        connection.commit()
        return names

    def ensure_search_index(self, connection: sqlite3.Connection) -> bool:
        """Create the FTS5 index of the search columns with the triggers that
        keep it in sync, filled once from the table (again whenever the
        columns change), and commit. Returns True when searches use it, False
        when they use the LIKE fallback (``full_text=False``, or no FTS5 in
        this SQLite build; RuntimeError then with ``full_text=True``).
        ValueError if a transaction is open."""
        if self.index is None:
            self._table_for("ensure_search_index")
            raise ValueError("ensure_search_index needs search columns")
        if self.full_text is False:
            return False
        _check_no_transaction(connection)
        missing = set(self.index.columns) - _table_columns(connection, self.index.table)
        if missing:
            raise ValueError(
                f"search columns not in table {self.index.table!r}: "
                + ", ".join(sorted(missing))
            )
        if not has_fts5(connection):
            if self.full_text:
                raise RuntimeError("this SQLite build has no FTS5")
            return False
        self.index.ensure(connection)
        connection.commit()
        return True

    def _table_for(self, method: str) -> str:
        if self.table is None:
            raise ValueError(f"{method} needs table= for a SELECT source")
        return self.table

    # -- one page --------------------------------------------------------------------

    def page(
        self,
        connection: sqlite3.Connection,
        query: Query,
        *,
        where: str = "",
        parameters: Sequence[Any] = (),
        base_url: str | None = None,
    ) -> Page:
        """The page that ``query`` asks for (a Request, whose ``GET`` is read,
        or a Bag or dict of query parameters).

        ``where`` is an extra SQL condition of yours with ``?`` placeholders
        for ``parameters`` (e.g. ``"contact_id = ?"``). Links start with
        ``base_url`` (default: the request's path; ``''`` without a Request,
        which makes them relative: ``?sort=name``). Raises HTTPError(400) for
        a bad sort, direction, page link or search text.
        """
        if base_url is None:
            base_url = query.root_url(query.path) if isinstance(query, Request) else ""
        values = query.GET if isinstance(query, Request) else query
        state = PageRequest.read(self.options, values)
        filters = [f"({where})"] if where else []
        filter_parameters: list[Any] = list(parameters)
        terms = search_terms(state.search)
        use_fts = bool(terms) and self._uses_fts(connection)
        plan: SearchPlan | None = None
        check: RowCheck | None = None
        search_filters: list[str] = []
        search_parameters: list[Any] = []
        if use_fts:
            assert self.index is not None
            plan = self.index.plan(connection, terms)
            check = plan.row_check(connection, _quoted(self.key), self.page_size + 1)
            if check is None:
                sql, search_parameters = plan.condition(_quoted(self.key))
                search_filters = [sql]
        elif terms:
            if not self.search_columns:
                raise ValueError("this list has no search columns")
            sql, search_parameters = like_condition(
                [_quoted(column) for column in self.search_columns], terms
            )
            search_filters = [sql]
        reader = KeysetReader(
            connection,
            self.from_clause,
            sort=_quoted(state.sort),
            key=_quoted(self.key),
            filters=filters + search_filters,
            parameters=filter_parameters + search_parameters,
            check=check,
        )
        rows, has_next, has_previous = reader.page(
            self.page_size, state.direction == "desc", state.after, state.before
        )
        total: int | None = None
        exact = False
        if self.count_limit and plan is not None:
            # Through the index, a chunk of matches at a time: the page's
            # own plan may gather every match, or test rows one by one.
            total, exact = plan.count(
                connection,
                self.from_clause,
                _quoted(self.key),
                filters,
                filter_parameters,
                self.count_limit,
            )
        elif self.count_limit:
            total, exact = reader.count(self.count_limit)
        links = Links(self.options, base_url, state)

        def link(row: Any) -> str:
            return encode_position(state.sort, state.direction, *reader.position(row))

        next_url = previous_url = None
        if rows and has_next:
            next_url = links.url(after=link(rows[-1]))
        if rows and has_previous:
            previous_url = links.url(before=link(rows[0]))
        elif has_previous:  # nothing left past the link: offer the start
            previous_url = links.url()
        return Page(
            rows=rows,
            sort=state.sort,
            direction=state.direction,
            search=state.search,
            search_name=self.options.prefix + "q",
            headings=links.headings(),
            next_url=next_url,
            previous_url=previous_url,
            first_url=links.url(),
            hidden_fields=links.hidden_fields(),
            total=total,
            total_is_exact=exact,
            full_text=use_fts,
        )

    def _uses_fts(self, connection: sqlite3.Connection) -> bool:
        if self.full_text is False or self.index is None:
            return False
        if self.index.exists(connection):
            return True
        if self.full_text:
            raise RuntimeError("call ensure_search_index() before searching")
        return False

    def __repr__(self) -> str:
        return f"<Listing {self.from_clause} sort={list(self.options.sort_columns)}>"


def _check_no_transaction(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        raise ValueError("a transaction is open: commit it before setting up")
