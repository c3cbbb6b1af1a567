"""List pages on a big table: milliseconds per page, first page or page 500.

    python3 bench/bench_listing.py [--rows 100000,1000000] [--data DIR]
                                   [--db contacts.sqlite3] [--repeat 5]

Generates a contact table of ``--rows`` rows, for each size in turn (names,
e-mails, cities with 10 % NULLs, dates, notes) in a temporary file, or in
``--data`` or ``--db`` (kept, and reused by a later run with the same
``--rows``), makes the sort indexes and
the FTS5 search index with ``Listing.ensure_indexes``/``ensure_search_index``,
then times :meth:`kali.listing.Listing.page` the way a browser would ask
for pages (a query Bag in, rows and links out), best of ``--repeat`` runs:

* the first page, sorted by name up and down, by city (with NULLs) both ways;
* page 500 (the last page of a smaller table), reached by following
  ``next`` links (each is timed too: the slowest is reported), and its
  ``previous`` link;
* searches: a rare word, a common prefix, a word in every row (whole, as
  a short prefix, with a second word, counted up to 1000), a prefix of
  many words, matches that come last in the order, and the LIKE fallback
  on a rare word (slow on big tables by design: it reads rows one by one).

The target is 30 ms for each FTS5 and keyset figure; the exit status is 1
when one is over it (the fallback figure is reported, not judged).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kali.listing import Listing, Page  # noqa: E402
from kali.multidict import Bag  # noqa: E402
from kali.sqlite import connect  # noqa: E402

LIMIT_MS = 30.0

FIRST = "Anna Ben Carla Dieter Emma Fritz Greta Hans Ida Jonas Karin Lena Zoë".split()
LAST = "Adler Bauer Cramer Dorn Eck Fuchs Graf Haas Imhof Jung Kühn Lang Meyer".split()
CITIES = "Basel Bern Chur Genf Luzern Lugano Sitten Thun Zug Zürich".split()
WORDS = "call about invoice meeting garden order holiday project school train".split()

SCHEMA = """
CREATE TABLE IF NOT EXISTS contact (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE,
    email TEXT,
    city TEXT,
    created TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT ''
)
"""


def make_listing(
    full_text: bool | None = None, count_limit: int | None = None
) -> Listing:
    return Listing(
        "contact",
        count_limit=count_limit,
        columns={"name": "Name", "email": "E-mail", "city": "City", "created": "At"},
        sort=("name", "email", "city", "-created"),
        search=("name", "email", "notes"),
        full_text=full_text,
    )


def generate(path: str, rows: int) -> None:
    """Fill ``path`` with ``rows`` contacts (fast settings: bench data only)."""
    random.seed(12)
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute(SCHEMA)
        batch = []
        for number in range(1, rows + 1):
            first, last = random.choice(FIRST), random.choice(LAST)
            batch.append(
                (
                    f"{first} {last}{number % 997}",
                    f"{first.lower()}.{number}@example.org",
                    None if number % 10 == 0 else random.choice(CITIES),
                    f"20{random.randrange(10, 25)}-{random.randrange(1, 13):02d}"
                    f"-{random.randrange(1, 29):02d}",
                    " ".join(random.choices(WORDS, k=4)) + f" w{number}",
                )
            )
            if len(batch) == 10_000:
                raw.executemany(
                    "INSERT INTO contact (name, email, city, created, notes)"
                    " VALUES (?, ?, ?, ?, ?)",
                    batch,
                )
                batch = []
        raw.executemany(
            "INSERT INTO contact (name, email, city, created, notes)"
            " VALUES (?, ?, ?, ?, ?)",
            batch,
        )
        raw.commit()
    finally:
        raw.close()


def prepare(path: str, rows: int) -> None:
    if os.path.exists(path):
        check = sqlite3.connect(path)
        try:
            have = check.execute("SELECT count(*) FROM contact").fetchone()[0]
        except sqlite3.OperationalError:
            have = -1
        finally:
            check.close()
        if have == rows:
            return
        raise SystemExit(f"{path} holds another table; remove it or pick --db")
    started = time.perf_counter()
    generate(path, rows)
    db = connect(path)
    try:
        listing = make_listing()
        listing.ensure_indexes(db)
        listing.ensure_search_index(db)
        db.execute("ANALYZE")
    finally:
        db.close()
    print(f"generated {rows} rows in {time.perf_counter() - started:.1f} s")


def page(listing: Listing, db: sqlite3.Connection, url: str) -> Page:
    return listing.page(db, Bag(urllib.parse.parse_qsl(url.partition("?")[2])))


def next_of(listing: Listing, db: sqlite3.Connection, url: str) -> str:
    """The next link of the page at ``url`` (``url`` itself on the last page)."""
    return page(listing, db, url).next_url or url


def best_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def measure(path: str, repeat: int) -> list[tuple[str, float, bool]]:
    """``(label, milliseconds, judged against the target)`` per figure."""
    db = connect(path)
    try:
        listing = make_listing()
        listing.ensure_search_index(db)  # as an app does at start-up
        fallback = make_listing(full_text=False)
        counted = make_listing(count_limit=1000)
        results: list[tuple[str, float, bool]] = []

        def time_url(
            label: str, url: str, judged: bool = True, on: Listing = listing
        ) -> None:
            rows = len(page(on, db, url).rows)
            milliseconds = best_ms(lambda: page(on, db, url), repeat)
            results.append((f"{label} [{rows} rows]", milliseconds, judged))

        time_url("first page, name ▲", "?")
        time_url("first page, name ▼", "?dir=desc")
        time_url("first page, city ▲ (NULLs first)", "?sort=city")
        time_url("first page, city ▼ (NULLs last)", "?sort=city&dir=desc")
        time_url("first page, created ▼", "?sort=created")
        for label, query in (("name ▲", "?"), ("city ▼", "?sort=city&dir=desc")):
            # Page 500, or the last page of a smaller table.
            url, slowest, current, number = query, 0.0, page(listing, db, query), 1
            while number < 500 and current.next_url is not None:
                url, number = current.next_url, number + 1
                started = time.perf_counter()
                current = page(listing, db, url)
                slowest = max(slowest, (time.perf_counter() - started) * 1000)
            time_url(f"page {number}, {label} (via next links)", url)
            results.append(
                (f"slowest of {number - 1} next links, {label}", slowest, True)
            )
            if current.previous_url is not None:
                time_url(
                    f"page {number - 1}, {label} (previous link)", current.previous_url
                )
        time_url("search, rare word", "?q=w12345")
        time_url("search, two words, name ▼", "?q=zoe+adler12&dir=desc")
        time_url("search, name prefix 'kühn1'", "?q=k%C3%BChn1")
        time_url("search, common prefix 'ann'", "?q=ann")
        time_url("search, common word, city ▼", "?q=invoice&sort=city&dir=desc")
        # A word in every row (e-mails end in example.org), whole and as a
        # short prefix, and a prefix of too many words to expand.
        time_url("search, word in every row 'example'", "?q=example")
        time_url("search, every row, city ▼", "?q=example&sort=city&dir=desc")
        time_url("search, every row, short prefix 'ex'", "?q=ex")
        time_url("search, every row, two words", "?q=example+org")
        time_url("search, every row, counted to 1000", "?q=example", on=counted)
        time_url("search, every row, next link", next_of(listing, db, "?q=example"))
        time_url("search, 'w1' (many words, 11 % of rows)", "?q=w1")
        # Matches far down the order: the Zoës come last by name.
        time_url("search, 'zo' (last by name)", "?q=zo")
        time_url("search, LIKE fallback, rare word", "?q=w12345", False, fallback)
        return results
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000", help="sizes: 100000,1000000")
    parser.add_argument("--db", help="database file to make (or reuse): one size")
    parser.add_argument("--data", help="folder to keep contacts-<rows>.sqlite3 in")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    sizes = [int(text) for text in options.rows.split(",")]
    if options.db and len(sizes) > 1:
        parser.error("--db takes one size; use --data for several")
    over = False
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            path = options.db or os.path.join(
                options.data or folder, f"contacts-{rows}.sqlite3"
            )
            prepare(path, rows)
            results = measure(path, options.repeat)
            version = sqlite3.sqlite_version
            print(f"{rows} rows, SQLite {version}, best of {options.repeat}")
            for label, milliseconds, judged in results:
                flag = ""
                if judged and milliseconds > LIMIT_MS:
                    flag, over = f"  over {LIMIT_MS:.0f} ms", True
                print(f"  {label:<52} {milliseconds:8.2f} ms{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
