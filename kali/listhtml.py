"""The HTML around a list page: its search form, sortable headings and pager.

A :class:`kali.listpage.Page` knows its links; these functions write the
three pieces every list page shows with them, so a list template needs only
``{.search_form}``, ``{.head}`` (the table's heading row), its own row loop
and ``{.pager}``. Every value is escaped here; the results are Markup.
The links carry ``rel="next"``/``rel="prev"`` and the headings
``aria-sort``, for browsers, screen readers and tests alike.

This module must not run SQL or read requests: it only writes HTML from a
page's values.
"""

from __future__ import annotations

from typing import Any

from .iolist import Markup, escape

__all__ = ["head_row", "pager", "search_form"]


def search_form(page: Any, *, label: str = "Search", button: str = "Search") -> Markup:
    """A GET form with the search box; it keeps the sort and the page's
    other query parameters in hidden fields (a search starts at page one)."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in page.hidden_fields
    )
    return Markup(
        f'<form method="get" role="search" class="list-search">{hidden}'
        f'<input type="search" name="{escape(page.search_name)}" '
        f'value="{escape(page.search)}" aria-label="{escape(label)}" '
        f'placeholder="{escape(label)}…"> <button>{escape(button)}</button></form>'
    )


def head_row(page: Any) -> Markup:
    """``<tr>`` of ``<th>``: a sortable column's label links to sorting by it
    (the other way round when it is the current sort), with its arrow."""
    cells = []
    for heading in page.headings:
        label = escape(heading.label)
        if heading.url is not None:
            arrow = f" {heading.arrow}" if heading.arrow else ""
            label = Markup(f'<a href="{escape(heading.url)}">{label}{arrow}</a>')
        cells.append(f'<th aria-sort="{heading.aria_sort}">{label}</th>')
    return Markup("<tr>" + "".join(cells) + "</tr>")


def pager(page: Any, *, previous: str = "← Previous", next: str = "Next →") -> Markup:
    """Links to the previous and next pages (and nothing when there is one
    page only)."""
    links = []
    if page.previous_url is not None:
        links.append(
            f'<a rel="first" href="{escape(page.first_url)}">First</a> '
            f'<a rel="prev" href="{escape(page.previous_url)}">{escape(previous)}</a>'
        )
    if page.next_url is not None:
        links.append(f'<a rel="next" href="{escape(page.next_url)}">{escape(next)}</a>')
    if not links:
        return Markup("")
    return Markup('<nav class="pager">' + " ".join(links) + "</nav>")
