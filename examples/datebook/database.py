"""The datebook's database: the schema, its upkeep, and the three lists.

Everything that knows SQL lives here; the pages (``pages.py``) only ask.
The database must answer every page quickly at any size, a million contacts
included, so each question the pages ask has an index that answers it
without reading the table:

* lists are read a page at a time through ``(sort column, id)`` indexes
  (:class:`kali.listing.Listing`), searched through FTS5 indexes;
* sorting by name ignores case and accents: SQLite cannot index Python's
  :func:`fold` directly, so each row keeps its *sort key* in a column of its
  own, which triggers keep up to date on every INSERT and UPDATE;
* the dashboard's counts stop at :data:`COUNT_LIMIT` ("1,000+"), and its
  birthdays come from an index on the month and day of the birthday.

It also keeps the *drafts*: an appointment form the user left half-filled
to choose its contact, kept here rather than in the session cookie (which
the browser sends to every local server on the same host name), under the
session's id, and deleted after :data:`DRAFT_LIFETIME_SECONDS`.

This module must not know about requests or templates.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import json
import sqlite3
import time
import unicodedata

from kali.fulltext import DENSE_MATCH_ROWS, match_expression, search_terms
from kali.listing import Listing
from kali.sqlite import connect

# The tables, as the first datebook made them ("IF NOT EXISTS": a no-op on
# every later run). Two choices about deleting a contact are made by the
# database itself: their appointments stay, with no contact (ON DELETE SET
# NULL), and their attachments go with them (ON DELETE CASCADE).
# kali.sqlite.connect turns foreign keys on, which SQLite leaves off.
# Dates are text, "YYYY-MM-DD", and times "HH:MM"; NULL when not given (a
# start_time of NULL: some time that day). An attachment's filename is what
# the browser called it (shown, never used as a path), its stored_name what
# the upload folder called it.
SCHEMA = """
CREATE TABLE IF NOT EXISTS contact (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE COLLATE NOCASE,
    phone TEXT, birthday TEXT, notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS appointment (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, day TEXT NOT NULL,
    start_time TEXT, end_time TEXT, place TEXT,
    contact_id INTEGER REFERENCES contact (id) ON DELETE SET NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS task (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, due TEXT,
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),
    done INTEGER NOT NULL DEFAULT 0, notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS attachment (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
    filename TEXT NOT NULL, stored_name TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL, size INTEGER NOT NULL, description TEXT
);
CREATE INDEX IF NOT EXISTS attachment_by_contact ON attachment (contact_id);
CREATE TABLE IF NOT EXISTS draft (
    session_id TEXT PRIMARY KEY, back TEXT NOT NULL, fields TEXT NOT NULL,
    saved REAL NOT NULL
);
"""

#: A draft nobody came back to is deleted after this long: the life of an
#: idle session (kali.sessions' default), after which its id is gone anyway.
DRAFT_LIFETIME_SECONDS = 14 * 24 * 60 * 60

#: The sort keys (table, column, its value from the row, the columns it is
#: made of). ``starts`` puts the appointments of a day without a time first;
#: ``rank`` is the order of a to-do list: open tasks first, then by due
#: date (undated last: "~" sorts after digits), priority and title.
SORT_KEYS = (
    ("contact", "name_key", "fold(name)", "name"),
    ("appointment", "starts", "day || ' ' || ifnull(start_time, '')",
     "day, start_time"),
    ("appointment", "title_key", "fold(title)", "title"),
    ("task", "rank", "done || ifnull(due, '~') || priority || fold(title)",
     "done, due, priority, title"),
    ("task", "title_key", "fold(title)", "title"),
)  # fmt: skip

# The indexes the lists do not make themselves: birthdays by month and day,
# and a contact's appointments in time order (which also serves ON DELETE).
INDEXES = """
CREATE INDEX IF NOT EXISTS contact_by_birthday_day ON contact (substr(birthday, 6));
CREATE INDEX IF NOT EXISTS appointment_by_contact_starts
    ON appointment (contact_id, starts);
"""

#: Counts stop here: counting a million rows takes longer than a page may.
COUNT_LIMIT = 1000

#: Appointments with their contact's name (the list's rows, and the agenda's).
APPOINTMENT_ROWS = (
    "SELECT appointment.*, contact.name AS contact_name FROM appointment"
    " LEFT JOIN contact ON contact.id = appointment.contact_id"
)
#: Tasks, with whether each is overdue.
TASK_ROWS = "SELECT *, NOT done AND due < date('now', 'localtime') AS overdue FROM task"

# The three lists: what each shows, how it may be sorted, what it searches.
# A Listing holds no data; the pages ask it for one page at a time.
def contact_list(count_limit):
    return Listing(
        "contact", count_limit=count_limit, search=("name", "email", "phone", "notes"),
        columns={"name_key": "Name", "email": "E-mail", "phone": "Phone",
                 "birthday": "Birthday"},
        sort=("name_key", "email", "phone", "birthday", "id"),  # id: order added
    )  # fmt: skip


CONTACTS, MANY_CONTACTS = contact_list(COUNT_LIMIT), contact_list(None)
APPOINTMENTS = Listing(
    APPOINTMENT_ROWS, table="appointment", count_limit=COUNT_LIMIT,
    columns={"starts": "When", "title_key": "What"}, sort=("starts", "title_key"),
    search=("title", "place", "notes"),
)  # fmt: skip
TASKS = Listing(
    TASK_ROWS, table="task", count_limit=COUNT_LIMIT, search=("title", "notes"),
    columns={"rank": "To do", "title_key": "Task", "due": "Due",
             "priority": "Priority"},
    sort=("rank", "title_key", "due", "priority"),
)  # fmt: skip


def find_contacts(database, query, base_url):
    """A page of the contact list, for ``query`` (a dict of the query's
    parameters).

    A search that finds more than DENSE_MATCH_ROWS (10,000) contacts is not
    counted, and shown in the order the contacts were added unless another
    column was chosen: in name order, a common first name ("Olaf") comes
    after all the others, and finding its first page would read most of a
    million rows. Added, the matches are spread evenly: a page is found
    after a few hundred rows.
    """
    terms, index = search_terms(query.get("q", "")), CONTACTS.index
    if not terms or not index.exists(database) or index.count(
        database, match_expression(terms), DENSE_MATCH_ROWS
    ) <= DENSE_MATCH_ROWS:
        return CONTACTS.page(database, query, base_url=base_url)
    if query.get("sort", "name_key") == "name_key":
        query = {**query, "sort": "id"}
    page = MANY_CONTACTS.page(database, query, base_url=base_url)
    return dataclasses.replace(page, total=DENSE_MATCH_ROWS, total_is_exact=False)


def fold(text):
    """``text`` without case or accents, for sorting (and SQL's ``fold()``).

    SQLite's own NOCASE folds only the ASCII letters, so "Ölaf" would sort
    after "Zoë". Python knows every script: NFKD splits "ö" into "o" and a
    combining mark, which is dropped, and ``casefold`` does the rest ("ß" ->
    "ss"). (Searching needs no fold: the FTS5 index folds by itself.)
    """
    if not isinstance(text, str):
        return text
    letters = unicodedata.normalize("NFKD", text)
    return "".join(c for c in letters if not unicodedata.combining(c)).casefold()


def open_database(path):
    """Open the datebook at ``path``: created on the first run, brought up to
    date on later ones (a database of the first datebook gets its sort keys,
    indexes and search indexes here, once)."""
    # kali serves one request at a time, from the server's thread, which
    # need not be the one that opened the database: check_same_thread=False
    # allows that, and is safe because two requests never run at once.
    database = connect(path, check_same_thread=False)
    try:
        database.create_function("fold", 1, fold, deterministic=True)
        # Several processes may open a new datebook at once (gunicorn -w 2):
        # every step is idempotent, so one that lost a race to another
        # process ("already exists", "locked") rolls back and tries again,
        # and then finds the other's work in place.
        deadline = time.monotonic() + SETUP_SECONDS
        while True:
            try:
                set_up(database)
                break
            except sqlite3.OperationalError:
                database.rollback()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    except BaseException:
        database.close()
        raise
    return database


#: How long opening a datebook retries its setup while other processes set
#: up the same new file.
SETUP_SECONDS = 30.0


def set_up(database):
    """Create or bring up to date the tables, sort keys, indexes and search
    indexes (each step does nothing when its work is there already)."""
    database.executescript(SCHEMA)
    add_sort_keys(database)
    database.executescript(INDEXES)
    for listing in (CONTACTS, APPOINTMENTS, TASKS):
        listing.ensure_indexes(database)
        listing.ensure_search_index(database)


def add_sort_keys(database):
    """Add the :data:`SORT_KEYS` columns (filled for the rows there are) and
    the triggers that keep them right on every INSERT and UPDATE."""
    for table, column, value, sources in SORT_KEYS:
        has = database.execute(f"PRAGMA table_info({table})").fetchall()
        if column not in [row["name"] for row in has]:
            database.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            database.execute(f"UPDATE {table} SET {column} = {value}")
        for name, event in (("insert", "INSERT"), ("update", f"UPDATE OF {sources}")):
            database.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_{column}_{name} AFTER {event}"
                f" ON {table} BEGIN UPDATE {table} SET {column} = {value}"
                " WHERE id = new.id; END"
            )
    database.commit()


def save_draft(database, session_id, back, fields, now=None):
    """Keep ``fields`` (each field's text as typed) and ``back`` (the form's
    address) as the draft of session ``session_id``, replacing its last
    one, and delete the drafts nobody came back to. The caller commits."""
    now = time.time() if now is None else now
    database.execute(
        "DELETE FROM draft WHERE saved < ?", [now - DRAFT_LIFETIME_SECONDS]
    )
    database.execute(
        "INSERT OR REPLACE INTO draft (session_id, back, fields, saved)"
        " VALUES (?, ?, ?, ?)",
        [session_id, back, json.dumps(fields, ensure_ascii=False), now],
    )


def load_draft(database, session_id, now=None):
    """The draft of session ``session_id`` as ``{"back": ..., "values":
    {...}}``, or None (none, or too old)."""
    now = time.time() if now is None else now
    row = database.execute(
        "SELECT back, fields FROM draft WHERE session_id = ? AND saved >= ?",
        [session_id, now - DRAFT_LIFETIME_SECONDS],
    ).fetchone()
    return None if row is None else {"back": row[0], "values": json.loads(row[1])}


def delete_draft(database, session_id):
    """Forget the draft of session ``session_id``. The caller commits."""
    database.execute("DELETE FROM draft WHERE session_id = ?", [session_id])


def count_up_to(database, sql, parameters=()):
    """``(number, more)``: how many rows ``sql`` finds, up to
    :data:`COUNT_LIMIT`, and whether there are more than that."""
    counting = f"SELECT count(*) FROM ({sql} LIMIT ?)"
    found = database.execute(counting, [*parameters, COUNT_LIMIT + 1]).fetchone()[0]
    return min(found, COUNT_LIMIT), found > COUNT_LIMIT


def coming_birthdays(database, today, days=30, limit=10):
    """The first ``limit`` contacts whose birthday is within ``days`` of
    ``today``, soonest first, each with the ``day`` it falls on.

    The index on ``substr(birthday, 6)`` ("MM-DD") finds them in one range,
    or two when the days cross New Year.
    """
    start = today.strftime("%m-%d")
    end = (today + datetime.timedelta(days=days)).strftime("%m-%d")
    if start == "03-01" and not calendar.isleap(today.year):
        start = "02-29"  # born on 29 February: celebrated on 1 March
    ranges = [(start, end)] if start <= end else [(start, "12-31"), ("01-01", end)]
    sql = ("SELECT id, name, birthday FROM contact WHERE substr(birthday, 6)"
           " BETWEEN ? AND ? ORDER BY substr(birthday, 6) LIMIT ?")  # fmt: skip
    rows = []
    for low, high in ranges:
        rows += database.execute(sql, [low, high, limit]).fetchall()
    rows = rows[:limit]
    return [dict(row, day=next_birthday(row["birthday"], today)) for row in rows]


def next_birthday(iso, today):
    """The next date (today or later) on which a birthday falls."""
    born = datetime.date.fromisoformat(iso)
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a year that has none
            day = datetime.date(year, 3, 1)
        if day >= today:
            return day
    raise AssertionError("a birthday comes round every year")
