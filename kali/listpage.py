"""One page of a list: what the request asks for, and the links it shows.

:class:`kali.listing.Listing` runs the queries; this module reads a list's
query parameters (``sort``, ``dir``, ``q``, ``after``, ``before``, each
optionally prefixed) against a :class:`ListOptions`, refusing anything
else with HTTPError(400), and builds the links of a :class:`Page`: to the
next and previous page, to the first page, and one per sortable column
(:class:`Heading`, with its arrow). Links keep the page's other query
parameters, and leave out values that are the defaults, so the plain list
is just its path.

This module must not run SQL or render HTML.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import HTTPError
from .keyset import Position, decode_position

__all__ = ["Heading", "ListOptions", "Links", "Page", "PageRequest"]

_DIRECTIONS = ("asc", "desc")
_ARROWS = {"asc": "▲", "desc": "▼"}
_PARAMETERS = ("sort", "dir", "q", "after", "before")


@dataclass(frozen=True)
class ListOptions:
    """What a request may ask of a list: ``columns`` (name -> heading
    label), ``sort_columns`` (name -> the direction a click on it starts
    with), ``default_sort`` and ``default_direction``, the parameter
    ``prefix`` and ``max_search_chars``."""

    columns: Mapping[str, str]
    sort_columns: Mapping[str, str]
    default_sort: str
    default_direction: str
    prefix: str = ""
    max_search_chars: int = 500

    def first_direction(self, sort: str) -> str:
        """The direction a list sorted by ``sort`` starts in."""
        if sort == self.default_sort:
            return self.default_direction
        return self.sort_columns[sort]


@dataclass(frozen=True)
class Heading:
    """A column heading: ``label``, and ``url`` to sort by it (None when the
    column is not sortable). ``direction`` is ``'asc'``/``'desc'`` when the
    list is sorted by this column now, else None."""

    name: str
    label: str
    url: str | None
    direction: str | None

    @property
    def arrow(self) -> str:
        """``'▲'``, ``'▼'`` or ``''``: the sort state to show beside the label."""
        return _ARROWS.get(self.direction or "", "")

    @property
    def aria_sort(self) -> str:
        """The ``aria-sort`` value for the ``<th>``."""
        return {"asc": "ascending", "desc": "descending"}.get(
            self.direction or "", "none"
        )


@dataclass(frozen=True)
class Page:
    """One page of a :class:`Listing`.

    ``rows`` (at most ``page_size``), the current ``sort`` column,
    ``direction`` and ``search`` text (the search box's value; ``search_name``
    is its field name), ``headings`` (one :class:`Heading` per column),
    ``next_url``/``previous_url`` (None at either end), ``first_url``,
    ``hidden_fields`` (``(name, value)`` pairs for the search form, so a
    search keeps the sort and the page's other query parameters), ``total``
    (None unless the Listing counts; at most its ``count_limit``, with
    ``total_is_exact`` False past it) and ``full_text`` (the search used FTS5).
    """

    rows: list[Any]
    sort: str
    direction: str
    search: str
    search_name: str
    headings: list[Heading]
    next_url: str | None
    previous_url: str | None
    first_url: str
    hidden_fields: list[tuple[str, str]]
    total: int | None
    total_is_exact: bool
    full_text: bool

    @property
    def is_first(self) -> bool:
        return self.previous_url is None

    def values(self) -> dict[str, Any]:
        """The page as template values: its fields (headings and hidden
        fields as mappings, since templates read names from mappings) and
        the ready HTML of :mod:`kali.listhtml`: ``search_form``, ``head``
        (the heading row) and ``pager``. ``template(**page.values())``."""
        from .listhtml import head_row, pager, search_form  # writes the HTML

        return {
            "rows": self.rows,
            "sort": self.sort,
            "direction": self.direction,
            "search": self.search,
            "search_name": self.search_name,
            "headings": [
                {
                    "name": heading.name,
                    "label": heading.label,
                    "url": heading.url,
                    "arrow": heading.arrow,
                    "aria_sort": heading.aria_sort,
                }
                for heading in self.headings
            ],
            "hidden": [{"name": n, "value": v} for n, v in self.hidden_fields],
            "next_url": self.next_url,
            "previous_url": self.previous_url,
            "first_url": self.first_url,
            "total": self.total,
            "search_form": search_form(self),
            "head": head_row(self),
            "pager": pager(self),
        }


@dataclass(frozen=True)
class PageRequest:
    """What the request asks of a list, read and checked: ``sort``,
    ``direction``, ``search``, the position to start ``after`` or end
    ``before``, and the ``others`` query parameters (not the list's)."""

    sort: str
    direction: str
    search: str
    after: Position | None
    before: Position | None
    others: list[tuple[str, str]]  # query parameters that are not the list's

    @classmethod
    def read(cls, listing: ListOptions, values: Any) -> PageRequest:
        """From a Bag or mapping of query parameters (or None);
        HTTPError(400) for a bad sort, direction, page link or search."""
        names = {part: listing.prefix + part for part in _PARAMETERS}

        def get(part: str) -> str:
            value = values.get(names[part]) if values is not None else None
            return value if isinstance(value, str) else ""

        sort = get("sort") or listing.default_sort
        if sort not in listing.sort_columns:
            raise HTTPError(400, "This list cannot be sorted that way.")
        direction = get("dir") or listing.first_direction(sort)
        if direction not in _DIRECTIONS:
            raise HTTPError(400, "A list is sorted 'asc' or 'desc'.")
        search = get("q").strip()
        if len(search) > listing.max_search_chars:
            raise HTTPError(400, "The search text is too long.")
        after = decode_position(get("after"), sort, direction)
        before = decode_position(get("before"), sort, direction)
        if after is not None and before is not None:
            raise HTTPError(400, "A page link has either after= or before=.")
        own = set(names.values())
        pairs = list(values.items()) if values is not None else []
        others = [
            (str(name), value)
            for name, value in pairs
            if name not in own and isinstance(value, str)
        ]
        return cls(sort, direction, search, after, before, others)


class Links:
    """The URLs of a page (each ``base_url`` + ``?query``): ``url()`` to
    the page after or before a position, or re-sorted; ``headings()``."""

    def __init__(self, listing: ListOptions, base_url: str, state: PageRequest) -> None:
        self.listing = listing
        self.base_url = base_url
        self.state = state

    def _pairs(self, sort: str, direction: str, search: str) -> list[tuple[str, str]]:
        listing, prefix = self.listing, self.listing.prefix
        pairs = list(self.state.others)
        if sort != listing.default_sort:
            pairs.append((prefix + "sort", sort))
        if direction != listing.first_direction(sort):
            pairs.append((prefix + "dir", direction))
        if search:
            pairs.append((prefix + "q", search))
        return pairs

    def url(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
    ) -> str:
        state = self.state
        pairs = self._pairs(
            sort or state.sort, direction or state.direction, state.search
        )
        if after is not None:
            pairs.append((self.listing.prefix + "after", after))
        if before is not None:
            pairs.append((self.listing.prefix + "before", before))
        return self.base_url + "?" + urllib.parse.urlencode(pairs)

    def headings(self) -> list[Heading]:
        listing, state = self.listing, self.state
        headings = []
        for name, label in listing.columns.items():
            url = direction = None
            if name in listing.sort_columns:
                if name == state.sort:
                    direction = state.direction
                    flipped = "asc" if direction == "desc" else "desc"
                    url = self.url(sort=name, direction=flipped)
                else:
                    url = self.url(sort=name, direction=listing.first_direction(name))
            headings.append(Heading(name, label, url, direction))
        return headings

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The fields a search form sends besides the search text."""
        state = self.state
        return self._pairs(state.sort, state.direction, "")
