"""A datebook: contacts, appointments and tasks in an SQLite file.

This is what most local apps turn out to be: lists of records, forms to add
and change them, a search box, and a few files attached here and there. Run
it with::

    ./demo.sh datebook                        # data in your data folder
    ./demo.sh datebook --db /tmp/try.sqlite3  # or in a file of your choice
    ./demo.sh datebook --port 0 --no-browser  # any free port; open it yourself

Then try to break it. Leave a name blank, give a birthday in the future, end
an appointment before it starts: the form comes back with everything you
typed and a message beside each problem. Double-click "Save" on a new
contact: it is saved once. Half-fill an appointment, press "Choose
contact…", search for someone and choose them: you are back in the form with
your typing intact. Attach a file to a contact, download it, delete it.
Delete a contact who has appointments: the appointments stay, without them.

Every piece of kali is here once, doing its everyday job:

* a :class:`~kali.Router` with one servlet class per page;
* a :class:`~kali.TemplateFolder` of ``.tpl`` files in ``datebook/templates``:
  ``<extend>`` pages on one layout, ``<loop>`` lists, inline ``{@...}`` parts;
* :mod:`kali.forms`: a :class:`~kali.forms.Formlet` per form, lenses that
  convert and check, a :class:`~kali.forms.SubmitGuard` on the "new" forms,
  and an :class:`~kali.forms.Upload`;
* :mod:`kali.sqlite`: :func:`~kali.sqlite.connect` and the transaction guard;
* :mod:`kali.sessions`: short messages after a save, and the half-filled
  appointment while you choose a contact;
* a :class:`~kali.StaticFolder` for the stylesheet, and
  :func:`kali.desktop.data_folder` for where the database lives.

Read this file from top to bottom alongside the running app.
"""

from __future__ import annotations

import argparse
import datetime
import http
import logging
import re
import secrets
import sqlite3
import unicodedata
import urllib.parse
from pathlib import Path

from kali import HTTPError, Response, Router, StaticFolder, TemplateFolder, serve_http
from kali.desktop import data_folder
from kali.forms import (
    BLANKABLE,
    DATE,
    EMAIL,
    NULLABLE,
    Checkbox,
    EmailEntry,
    Entry,
    EnumLens,
    Form,
    Formlet,
    Hidden,
    IntegerLens,
    Memo,
    Nullable,
    RadioGroup,
    Required,
    SaveError,
    SubmitGuard,
    Test,
    Upload,
    render_error,
    tag,
)
from kali.sessions import Sessions
from kali.sqlite import TransactionGuard, connect

#: The folder name under the user's data folder (see ``main``).
APP_NAME = "kali-datebook"

# The templates and the stylesheet live beside this file.
HERE = Path(__file__).resolve().parent / "datebook"
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: The largest file a contact can have attached.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

# -- The database ----------------------------------------------------------------------
# The schema is created on the first run; "IF NOT EXISTS" makes that safe on
# every later run. Two choices about deleting a contact are made here, by the
# database itself: their appointments stay, with no contact (ON DELETE SET
# NULL), and their attachments go with them (ON DELETE CASCADE; the app then
# removes the files). kali.sqlite.connect turns foreign keys on, which SQLite
# otherwise leaves off.

SCHEMA = """
CREATE TABLE IF NOT EXISTS contact (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE COLLATE NOCASE,
    phone TEXT,
    birthday TEXT,                  -- YYYY-MM-DD, or NULL
    notes TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS appointment (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    day TEXT NOT NULL,              -- YYYY-MM-DD
    start_time TEXT,                -- HH:MM, or NULL for "some time that day"
    end_time TEXT,
    place TEXT,
    contact_id INTEGER REFERENCES contact (id) ON DELETE SET NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS appointment_by_day ON appointment (day);
CREATE INDEX IF NOT EXISTS appointment_by_contact ON appointment (contact_id);

CREATE TABLE IF NOT EXISTS task (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    due TEXT,                       -- YYYY-MM-DD, or NULL
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),
    done INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS attachment (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,         -- what the browser called it: shown, never a path
    stored_name TEXT NOT NULL UNIQUE,  -- what we called it in the folder
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    description TEXT
);
CREATE INDEX IF NOT EXISTS attachment_by_contact ON attachment (contact_id);
"""


def fold(text):
    """``text`` without case or accents, for searching and sorting.

    SQLite's own LIKE and NOCASE fold only the ASCII letters, so "zoë" would
    not find "ZOË", and "Ölaf" would sort after "Zoë". Python knows every
    script: NFKD splits "ö" into "o" and a combining mark, which is dropped,
    and ``casefold`` does the rest ("ß" -> "ss").
    """
    if not isinstance(text, str):
        return text
    letters = unicodedata.normalize("NFKD", text)
    return "".join(c for c in letters if not unicodedata.combining(c)).casefold()


def open_database(path):
    """Open (and on the first run, create) the datebook at ``path``."""
    # kali serves one request at a time, from the thread that runs the
    # server, which need not be the thread that opened the database:
    # check_same_thread=False allows that, and is safe because two requests
    # never run at once.
    database = connect(path, check_same_thread=False)
    database.create_function("fold", 1, fold, deterministic=True)
    database.executescript(SCHEMA)
    return database


def search_condition(*columns):
    """SQL that is true when one of ``columns`` contains the parameter ``:q``
    (already folded). The column names come from this file, never from input."""
    return " OR ".join(f"instr(fold({column}), :q) > 0" for column in columns)


# -- The forms -------------------------------------------------------------------------
# Each form is a dict of elements; each element knows how to show a value and
# read it back, and its lens converts the text to a Python value and checks
# it. Entry refuses blank input by default; NULLABLE turns blank into None
# (SQL NULL), BLANKABLE keeps it as ''. The functions make fresh dicts, one
# per request, so nothing is shared between requests by accident.

#: A time of day as <input type="time"> sends it ("09:30"), or blank (None).
TIME = Nullable(
    Test(
        r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|",
        error="is not a time of day (HH:MM).",
    )
)

#: Task priorities: the lens stores 1, 2 or 3 (``base=1``) and shows the words.
PRIORITIES = ["high", "normal", "low"]


def contact_elements():
    return {
        "name": Entry(label="Name", maxlength=100, autofocus=""),
        "email": EmailEntry(label="E-mail", lens=Nullable(EMAIL), maxlength=200),
        "phone": Entry(label="Phone", lens=NULLABLE, type="tel", maxlength=50),
        "birthday": Entry(label="Birthday", lens=DATE, type="date"),
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=4, maxlength=4000),
    }


class ContactChoice(Hidden):
    """The contact of an appointment: a hidden id, shown as the contact's name
    beside a "Choose contact…" button (see ``PickContact``).

    ``find_contact(id)`` returns the contact's row, or None.
    """

    def __init__(self, find_contact, template):
        super().__init__(lens=IntegerLens(minimum=1), label="With")
        self.find_contact = find_contact
        self.template = template

    def i2h(self, name, intermediate):
        hidden = tag(
            "input", {"type": "hidden", "name": name, "value": intermediate}, None
        )
        row = None
        if re.fullmatch(r"[0-9]{1,18}", intermediate):
            row = self.find_contact(int(intermediate))
        # {@person}...{^person}...{/person} in the template shows the first
        # part once per item: a list of one row, or nothing at all.
        return self.template(hidden=hidden, person=[row] if row else None)


def appointment_elements(contact_choice):
    return {
        "title": Entry(label="What", maxlength=100, autofocus=""),
        "day": Entry(label="Day", lens=Required(DATE), type="date"),
        "start_time": Entry(label="From", lens=TIME, type="time"),
        "end_time": Entry(label="Until", lens=TIME, type="time"),
        "place": Entry(label="Where", lens=NULLABLE, maxlength=100),
        "contact_id": contact_choice,
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=3, maxlength=1000),
    }


def task_elements():
    return {
        "title": Entry(label="Task", maxlength=200, autofocus=""),
        "due": Entry(label="Due", lens=DATE, type="date"),
        "priority": RadioGroup(
            EnumLens(PRIORITIES, base=1), "please choose one.", label="Priority"
        ),
        "done": Checkbox(label="Done"),
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=3, maxlength=4000),
    }


def attachment_elements():
    # A browser never refills a file input: after an error, the user picks
    # the file again (every other field keeps its input).
    return {
        "file": Upload(
            label="File",
            required="choose a file to attach.",
            max_bytes=MAX_ATTACHMENT_BYTES,
        ),
        "description": Entry(label="Description", lens=NULLABLE, maxlength=200),
    }


# -- Showing records -------------------------------------------------------------------
# Templates have no "if": they show what they are given. So the pages get
# their values ready to print, and an optional part is a list of one item or
# None (shown by {@part}...{/part}, or not at all).


def show_date(iso):
    """'2024-06-04' -> 'Tue 4 Jun 2024' (any locale: the names are fixed)."""
    if not iso:
        return ""
    day = datetime.date.fromisoformat(iso)
    weekday = "Mon Tue Wed Thu Fri Sat Sun".split()[day.weekday()]
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[day.month - 1]
    return f"{weekday} {day.day} {month} {day.year}"


def show_size(size):
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def plural(number, word):
    """'contact' for 1, 'contacts' for any other number."""
    return word if number == 1 else word + "s"


def count(number, word):
    """'no files', '1 file', '2 files'."""
    return f"{number or 'no'} {plural(number, word)}"


def optional(**values):
    """A part to show only when its first value is not empty."""
    first = next(iter(values.values()))
    return [values] if first else None


def agenda_items(rows):
    items = []
    for row in rows:
        time = row["start_time"] or ""
        if time and row["end_time"]:
            time += "–" + row["end_time"]
        items.append(
            {
                "id": row["id"],
                "title": row["title"],
                "day": show_date(row["day"]),
                "at": optional(time=time),
                "person": optional(id=row["contact_id"], name=row["contact_name"]),
                "where": optional(place=row["place"]),
            }
        )
    return items


def todo_items(rows, today):
    items = []
    for row in rows:
        if row["done"]:
            state, mark, toggle = "done", "Reopen", "Mark as not done"
        else:
            overdue = row["due"] is not None and row["due"] < today.isoformat()
            state, mark, toggle = ("overdue" if overdue else ""), "Done", "Mark as done"
        items.append(
            {
                "id": row["id"],
                "title": row["title"],
                "state": state,
                "mark": mark,
                "toggle": toggle,
                "priority": row["priority"],
                "priority_name": PRIORITIES[row["priority"] - 1],
                "due_text": show_date(row["due"]),
            }
        )
    return items


def contact_items(rows):
    return [dict(row, birthday=show_date(row["birthday"])) for row in rows]


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


def record_id(text):
    """The number in a URL such as /contacts/12, or a 404 for anything else."""
    # Not str.isdigit(): that also accepts "²" and other digits int() refuses.
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise HTTPError(404, "There is no such page.")
    return int(text)


def attachment_filename(client_name):
    """The name to show for an upload: the last part of what the browser
    sent (some send a whole Windows path), shortened; never used as a path."""
    name = re.split(r"[\\/]", client_name or "")[-1].strip()
    return name[:200] or "attachment"


def attachment_type(client_type):
    """The content type to store: the browser's, if it looks like one."""
    kind = (client_type or "").partition(";")[0].strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", kind):
        return kind
    return "application/octet-stream"


# -- What every page shares ------------------------------------------------------------


class Book:
    """The app's shared things: the database, the templates, the attachment
    folder, the sessions and the double-submit guard. ``make_app`` makes one;
    there is nothing at module level."""

    def __init__(self, database, attachments, sessions):
        self.database = database
        self.attachments = attachments
        self.sessions = sessions
        self.templates = TemplateFolder(TEMPLATES)
        # Remembers which "new record" forms were saved already.
        self.submit_guard = SubmitGuard()

    def page(self, request, name, /, **params):
        """Render ``templates/<name>.tpl``, which extends ``base.tpl``.

        The layout's own parameters get defaults here, and a message left in
        the session by the previous request (see :meth:`flash`) is shown
        once: ``pop`` takes it out of the session.
        """
        message = request.session.pop("flash", None)
        params["flash"] = self.templates("flash")(message=message) if message else None
        params.setdefault("section", "")
        params.setdefault("query", "")
        return self.templates(name)(**params)

    def loop(self, name, items, /, **context):
        """Render the ``<loop>`` file ``templates/<name>.tpl`` over ``items``."""
        return self.templates(name).loop(items, context)

    @staticmethod
    def flash(request, message):
        """Show ``message`` on the next page (the one a redirect leads to)."""
        request.session["flash"] = message

    def select(self, sql, params=()):
        """Every row ``sql`` finds (``params``: a list, or a dict for :names)."""
        return self.database.execute(sql, params).fetchall()

    def one(self, sql, params=()):
        """The row ``sql`` finds, or a 404 page."""
        row = self.database.execute(sql, params).fetchone()
        if row is None:
            raise HTTPError(404, "That record does not exist (any more).")
        return row

    def find_contact(self, contact_id):
        return self.database.execute(
            "SELECT id, name FROM contact WHERE id = ?", [contact_id]
        ).fetchone()


#: Appointments with their contact's name; add a WHERE and an ORDER BY.
APPOINTMENTS = """
SELECT appointment.*, contact.name AS contact_name
FROM appointment LEFT JOIN contact ON contact.id = appointment.contact_id
"""
#: All-day appointments first, then by time.
BY_TIME = "day, start_time IS NOT NULL, start_time"
#: Open tasks first, then by due date (undated last) and priority.
TASK_ORDER = "done, due IS NULL, due, priority, fold(title)"


class RecordForm(Formlet):
    """How every form of the datebook looks and behaves.

    A subclass passes its elements and fills in ``get_native`` and ``save``
    as for any Formlet; it may set ``heading``, ``section`` (the highlighted
    menu entry), ``cancel_url`` and ``delete_url``.
    """

    heading = ""
    section = ""
    cancel_url = "/"
    delete_url = None

    def __init__(self, book, elements, *, guard=None):
        super().__init__(elements, guard=guard)
        self.book = book

    def display(self, fields, errors):
        # ``fields`` maps each field name to its HTML, plus the guard's
        # hidden token; ``errors`` maps field names to messages.
        rows = [
            {"name": name, "field": html, "message": render_error(errors, name)}
            for name, html in fields.items()
            if name in self.elements
        ]
        token = fields.get(self.guard.field_name) if self.guard else None
        return self.book.page(
            self.request,
            "form",
            heading=self.heading,
            section=self.section,
            errors=self.render_errors(errors),
            fields=self.book.loop("fields", rows),
            token=token,
            cancel=self.cancel_url,
            delete=optional(url=self.delete_url),
        )

    def show(self, intermediate, errors):
        """Show the form with values as typed (not from the database), such
        as a draft kept in the session. ``errors`` may be empty."""
        fields = Form(self.elements).render(intermediate)
        if self.guard is not None:
            fields[self.guard.field_name] = self.guard.render(self.guard.issue())
        return self.display(fields, errors)


def confirm_delete(book, request, *, question, details, back, section):
    """The page that asks before deleting. Deleting happens only on POST:
    a link, a prefetch or a crawler (GET) never deletes anything."""
    return book.page(
        request,
        "confirm",
        question=question,
        details=details,
        verb="Delete",
        back=back,
        section=section,
    )


# -- The pages -------------------------------------------------------------------------
# Each add_*_pages function mounts one part of the app on the router. A
# servlet class serves one path: the router makes an instance per request
# (passing the "*" parts of the path to the constructor) and calls its
# do_GET or do_POST. Every handler that writes commits before it returns;
# the transaction guard around the app rolls back and reports any that
# forgets.


def find_contacts(book, query):
    """Every contact, or those whose name, e-mail, phone or notes contain ``query``."""
    if not query:
        return book.select("SELECT * FROM contact ORDER BY fold(name)")
    return book.select(
        "SELECT * FROM contact WHERE "
        + search_condition("name", "email", "phone", "notes")
        + " ORDER BY fold(name)",
        {"q": fold(query)},
    )


def coming_birthdays(book, today, days=30):
    """The contacts whose birthday falls within ``days``, soonest first."""
    people = []
    for row in book.select("SELECT * FROM contact WHERE birthday IS NOT NULL"):
        day = next_birthday(row["birthday"], today)
        if (day - today).days <= days:
            people.append({"id": row["id"], "name": row["name"], "day": day})
    people.sort(key=lambda person: person["day"])
    return [
        dict(person, when=show_date(person["day"].isoformat())) for person in people
    ]


def add_home_pages(router, book):
    @router.servlet("/")
    class Dashboard:
        def do_GET(self, request):
            today = datetime.date.today()
            coming = book.select(
                f"{APPOINTMENTS} WHERE day >= ? ORDER BY {BY_TIME} LIMIT 8",
                [today.isoformat()],
            )
            todo = book.select(
                f"SELECT * FROM task WHERE NOT done ORDER BY {TASK_ORDER} LIMIT 8"
            )
            contacts, ahead, undone = book.database.execute(
                "SELECT (SELECT count(*) FROM contact),"
                " (SELECT count(*) FROM appointment WHERE day >= ?),"
                " (SELECT count(*) FROM task WHERE NOT done)",
                [today.isoformat()],
            ).fetchone()
            cards = [
                {
                    "href": "/contacts",
                    "number": contacts,
                    "label": plural(contacts, "contact"),
                },
                {
                    "href": "/appointments",
                    "number": ahead,
                    "label": plural(ahead, "appointment") + " ahead",
                },
                {
                    "href": "/tasks",
                    "number": undone,
                    "label": "open " + plural(undone, "task"),
                },
            ]
            return book.page(
                request,
                "dashboard",
                section="home",
                today="Today, " + show_date(today.isoformat()),
                cards=cards,
                agenda=book.loop("agenda", agenda_items(coming)),
                todo=book.loop("todo", todo_items(todo, today), back="/"),
                birthdays=optional(people=coming_birthdays(book, today)),
            )

    # One search box for every list: the same folded search in each table.
    @router.servlet("/search")
    class Search:
        def do_GET(self, request):
            query = request.GET.get("q", "").strip()
            if not query:
                return book.page(
                    request,
                    "search",
                    summary="Type a word to look for in every list.",
                    results=None,  # {@results}...{/results} shows nothing
                )
            q = {"q": fold(query)}
            contacts = find_contacts(book, query)
            appointments = book.select(
                f"{APPOINTMENTS} WHERE "
                + search_condition("title", "place", "appointment.notes")
                + f" ORDER BY {BY_TIME}",
                q,
            )
            tasks = book.select(
                "SELECT * FROM task WHERE "
                + search_condition("title", "notes")
                + f" ORDER BY {TASK_ORDER}",
                q,
            )
            found = len(contacts) + len(appointments) + len(tasks)
            # The "Done" buttons in the results come back to these results.
            here = "/search?" + urllib.parse.urlencode({"q": query})
            return book.page(
                request,
                "search",
                query=query,
                summary=f"{found} found for “{query}”",
                results=[{}],  # shown once
                contacts=book.loop("contact_table", contact_items(contacts)),
                agenda=book.loop("agenda", agenda_items(appointments)),
                todo=book.loop(
                    "todo", todo_items(tasks, datetime.date.today()), back=here
                ),
            )


def add_contact_pages(router, book):
    database = book.database

    class ContactForm(RecordForm):
        section = "contacts"

        def __init__(self, guard=None):
            super().__init__(book, contact_elements(), guard=guard)

        def semantic_checks(self, native, errors):
            # Runs only when every field was fine on its own.
            birthday = native["birthday"]
            if birthday is not None and birthday > datetime.date.today():
                errors["birthday"] = "is in the future."

        def write(self, sql, native, **more):
            """Run an INSERT or UPDATE with the form's values and commit."""
            values = {
                "name": native["name"],
                "email": native["email"],
                "phone": native["phone"],
                # Dates go in as text: SQLite has no date type.
                "birthday": native["birthday"] and native["birthday"].isoformat(),
                "notes": native["notes"],
                **more,
            }
            try:
                cursor = database.execute(sql, values)
            except sqlite3.IntegrityError:
                # The UNIQUE e-mail refused it. Roll back (the failed INSERT
                # left a transaction open) and show the form again.
                database.rollback()
                raise SaveError(
                    {"email": "belongs to another contact already."}
                ) from None
            database.commit()
            return cursor

    @router.servlet("/contacts")
    class ContactList:
        def do_GET(self, request):
            query = request.GET.get("q", "").strip()
            rows = find_contacts(book, query)
            if query:
                summary = f"{len(rows)} found for “{query}”"
            else:
                summary = count(len(rows), "contact")
            return book.page(
                request,
                "contacts",
                section="contacts",
                query=query,
                summary=summary,
                table=book.loop("contact_table", contact_items(rows)),
            )

    # "/contacts/new" and "/contacts/pick" are tried before "/contacts/*":
    # the router prefers a literal path component to a wildcard.
    @router.servlet("/contacts/new")
    class NewContact(ContactForm):
        heading = "New contact"
        cancel_url = "/contacts"

        def __init__(self):
            super().__init__(guard=book.submit_guard)

        def get_native(self):
            return {}  # a blank form

        def save(self, native, request):
            cursor = self.write(
                "INSERT INTO contact (name, email, phone, birthday, notes)"
                " VALUES (:name, :email, :phone, :birthday, :notes)",
                native,
            )
            book.flash(request, f"Added “{native['name']}”.")
            # Redirect after a successful POST, so that reloading the next
            # page does not post again. (A double click on "Save" gets this
            # same redirect from the submit guard, and saves nothing.)
            return Response.redirect(f"/contacts/{cursor.lastrowid}")

    @router.servlet("/contacts/*")
    class ContactPage:
        def __init__(self, contact_id):
            self.contact_id = record_id(contact_id)

        def do_GET(self, request):
            contact = book.one("SELECT * FROM contact WHERE id = ?", [self.contact_id])
            appointments = book.select(
                f"{APPOINTMENTS} WHERE contact_id = ? ORDER BY {BY_TIME}",
                [self.contact_id],
            )
            files = [
                dict(
                    row,
                    size_text=show_size(row["size"]),
                    described=optional(description=row["description"]),
                )
                for row in book.select(
                    "SELECT * FROM attachment WHERE contact_id = ? ORDER BY id",
                    [self.contact_id],
                )
            ]
            return book.page(
                request,
                "contact",
                **contact_items([contact])[0],
                section="contacts",
                agenda=book.loop("agenda", agenda_items(appointments)),
                files=book.loop("files", files),
            )

    @router.servlet("/contacts/*/edit")
    class EditContact(ContactForm):
        heading = "Edit contact"

        def __init__(self, contact_id):
            super().__init__()
            self.contact_id = record_id(contact_id)
            self.cancel_url = f"/contacts/{self.contact_id}"
            self.delete_url = f"/contacts/{self.contact_id}/delete"

        def get_native(self):
            # A sqlite3.Row works like a dict here; the date lens shows the
            # stored 'YYYY-MM-DD' text as it is.
            return book.one("SELECT * FROM contact WHERE id = ?", [self.contact_id])

        def save(self, native, request):
            cursor = self.write(
                "UPDATE contact SET name = :name, email = :email, phone = :phone,"
                " birthday = :birthday, notes = :notes WHERE id = :id",
                native,
                id=self.contact_id,
            )
            if cursor.rowcount == 0:
                raise HTTPError(404, "That contact was deleted meanwhile.")
            book.flash(request, f"Saved “{native['name']}”.")
            return Response.redirect(self.cancel_url)

    @router.servlet("/contacts/*/delete")
    class DeleteContact:
        def __init__(self, contact_id):
            self.contact_id = record_id(contact_id)

        def do_GET(self, request):
            contact = book.one("SELECT * FROM contact WHERE id = ?", [self.contact_id])
            meetings, files = database.execute(
                "SELECT (SELECT count(*) FROM appointment WHERE contact_id = :id),"
                " (SELECT count(*) FROM attachment WHERE contact_id = :id)",
                {"id": self.contact_id},
            ).fetchone()
            return confirm_delete(
                book,
                request,
                question=f"Delete {contact['name']}?",
                details=(
                    f"They have {count(meetings, 'appointment')}, which stay in "
                    f"the datebook without a contact, and {count(files, 'file')} "
                    "attached, which are deleted with them."
                ),
                back=f"/contacts/{self.contact_id}",
                section="contacts",
            )

        def do_POST(self, request):
            contact = book.one("SELECT * FROM contact WHERE id = ?", [self.contact_id])
            stored = [
                row["stored_name"]
                for row in book.select(
                    "SELECT stored_name FROM attachment WHERE contact_id = ?",
                    [self.contact_id],
                )
            ]
            database.execute("DELETE FROM contact WHERE id = ?", [self.contact_id])
            database.commit()
            # The files go only once the rows are gone for good: a failed
            # commit must not leave rows whose files are missing.
            for name in stored:
                (book.attachments / name).unlink(missing_ok=True)
            book.flash(request, f"Deleted “{contact['name']}”.")
            return Response.redirect("/contacts")

    # The pick-a-contact step. The appointment form put what the user had
    # typed into the session as a "draft", with the address of the form to
    # go back to; here the user finds and chooses a contact, and goes back.
    @router.servlet("/contacts/pick")
    class PickContact:
        def draft(self, request):
            draft = request.session.get("draft")
            if not isinstance(draft, dict) or "back" not in draft:
                book.flash(request, "There was no appointment waiting for a contact.")
                return None
            return draft

        def do_GET(self, request):
            draft = self.draft(request)
            if draft is None:
                return Response.redirect("/appointments")
            query = request.GET.get("q", "").strip()
            title = draft["values"].get("title") or "the appointment"
            return book.page(
                request,
                "pick_contact",
                section="appointments",
                query=query,
                purpose=f"“{title}”",
                back=draft["back"] + "?draft=1",
                table=book.loop("pick_table", find_contacts(book, query)),
            )

        def do_POST(self, request):
            draft = self.draft(request)
            if draft is None:
                return Response.redirect("/appointments")
            chosen = request.POST.get("contact", "")
            if chosen:
                book.one("SELECT id FROM contact WHERE id = ?", [record_id(chosen)])
            draft["values"]["contact_id"] = chosen
            request.session["draft"] = draft  # assigning marks the session changed
            return Response.redirect(draft["back"] + "?draft=1")


def add_appointment_pages(router, book):
    database = book.database

    class AppointmentForm(RecordForm):
        section = "appointments"
        cancel_url = "/appointments"

        def __init__(self, guard=None):
            choice = ContactChoice(book.find_contact, book.templates("contact_choice"))
            super().__init__(book, appointment_elements(choice), guard=guard)

        def form_url(self):
            raise NotImplementedError

        def do_GET(self, request):
            # Back from choosing a contact: show the draft, not the database.
            draft = request.session.get("draft")
            if (
                "draft" in request.GET
                and isinstance(draft, dict)
                and draft.get("back") == self.form_url()
            ):
                self.request = request
                values = {name: "" for name in self.elements}
                values.update(draft.get("values", {}))
                return self.show(values, {})
            return super().do_GET(request)

        def do_POST(self, request):
            if request.POST.get("action") != "choose-contact":
                return super().do_POST(request)
            # "Choose contact…": keep everything as typed, valid or not, and
            # go to the contact list. Nothing is checked or saved yet.
            self.request = request
            values = Form(self.elements).parse(request.POST).intermediate
            draft = {"back": self.form_url(), "values": values}
            try:
                # The session is a cookie, which browsers limit to about 4 KB.
                book.sessions.encode({**request.session, "draft": draft})
            except ValueError:
                message = "are too long to keep while you choose; save first."
                return self.show(values, {"notes": message})
            request.session["draft"] = draft
            return Response.redirect("/contacts/pick")

        def semantic_checks(self, native, errors):
            start, end = native["start_time"], native["end_time"]
            if end is not None and start is None:
                errors["start_time"] = "is needed when there is an end time."
            elif end is not None and end <= start:
                errors["end_time"] = "must be later than the start."
            contact = native["contact_id"]
            if contact is not None and book.find_contact(contact) is None:
                errors["contact_id"] = "was deleted meanwhile; choose again."

        def values(self, native, **more):
            return {
                "title": native["title"],
                "day": native["day"].isoformat(),
                "start_time": native["start_time"],
                "end_time": native["end_time"],
                "place": native["place"],
                "contact_id": native["contact_id"],
                "notes": native["notes"],
                **more,
            }

        def saved(self, request, native):
            request.session.pop("draft", None)  # the draft is no longer needed
            book.flash(request, f"Saved “{native['title']}”.")
            return Response.redirect("/appointments")

    @router.servlet("/appointments")
    class AppointmentList:
        def do_GET(self, request):
            today = datetime.date.today().isoformat()
            coming = book.select(
                f"{APPOINTMENTS} WHERE day >= ? ORDER BY {BY_TIME}", [today]
            )
            past = book.select(
                f"{APPOINTMENTS} WHERE day < ? ORDER BY day DESC, start_time DESC"
                " LIMIT 50",
                [today],
            )
            return book.page(
                request,
                "appointments",
                section="appointments",
                coming=book.loop("agenda", agenda_items(coming)),
                past=book.loop("agenda", agenda_items(past)),
            )

    @router.servlet("/appointments/new")
    class NewAppointment(AppointmentForm):
        heading = "New appointment"

        def __init__(self):
            super().__init__(guard=book.submit_guard)

        def form_url(self):
            return "/appointments/new"

        def get_native(self):
            # /appointments/new?contact=3 (from a contact's page) starts
            # with that contact chosen.
            native = {"day": datetime.date.today()}
            contact = self.request.GET.get("contact", "")
            if re.fullmatch(r"[0-9]{1,18}", contact):
                native["contact_id"] = int(contact)
            return native

        def save(self, native, request):
            database.execute(
                "INSERT INTO appointment"
                " (title, day, start_time, end_time, place, contact_id, notes)"
                " VALUES (:title, :day, :start_time, :end_time, :place,"
                " :contact_id, :notes)",
                self.values(native),
            )
            database.commit()
            return self.saved(request, native)

    @router.servlet("/appointments/*/edit")
    class EditAppointment(AppointmentForm):
        heading = "Edit appointment"

        def __init__(self, appointment_id):
            super().__init__()
            self.appointment_id = record_id(appointment_id)
            self.delete_url = f"/appointments/{self.appointment_id}/delete"

        def form_url(self):
            return f"/appointments/{self.appointment_id}/edit"

        def get_native(self):
            return book.one(
                "SELECT * FROM appointment WHERE id = ?", [self.appointment_id]
            )

        def save(self, native, request):
            cursor = database.execute(
                "UPDATE appointment SET title = :title, day = :day,"
                " start_time = :start_time, end_time = :end_time, place = :place,"
                " contact_id = :contact_id, notes = :notes WHERE id = :id",
                self.values(native, id=self.appointment_id),
            )
            database.commit()
            if cursor.rowcount == 0:
                raise HTTPError(404, "That appointment was deleted meanwhile.")
            return self.saved(request, native)

    @router.servlet("/appointments/*/delete")
    class DeleteAppointment:
        def __init__(self, appointment_id):
            self.appointment_id = record_id(appointment_id)

        def do_GET(self, request):
            row = book.one(
                "SELECT * FROM appointment WHERE id = ?", [self.appointment_id]
            )
            return confirm_delete(
                book,
                request,
                question=f"Delete “{row['title']}”?",
                details=f"The appointment on {show_date(row['day'])} is deleted.",
                back=f"/appointments/{self.appointment_id}/edit",
                section="appointments",
            )

        def do_POST(self, request):
            row = book.one(
                "SELECT * FROM appointment WHERE id = ?", [self.appointment_id]
            )
            database.execute(
                "DELETE FROM appointment WHERE id = ?", [self.appointment_id]
            )
            database.commit()
            book.flash(request, f"Deleted “{row['title']}”.")
            return Response.redirect("/appointments")


def add_task_pages(router, book):
    database = book.database

    class TaskForm(RecordForm):
        section = "tasks"
        cancel_url = "/tasks"

        def __init__(self, guard=None):
            super().__init__(book, task_elements(), guard=guard)

        @staticmethod
        def values(native, **more):
            return {
                "title": native["title"],
                "due": native["due"] and native["due"].isoformat(),
                "priority": native["priority"],
                "done": int(native["done"]),
                "notes": native["notes"],
                **more,
            }

    @router.servlet("/tasks")
    class TaskList:
        def do_GET(self, request):
            today = datetime.date.today()
            rows = book.select(f"SELECT * FROM task ORDER BY {TASK_ORDER}")
            return book.page(
                request,
                "tasks",
                section="tasks",
                open=book.loop(
                    "todo",
                    todo_items([r for r in rows if not r["done"]], today),
                    back="/tasks",
                ),
                done=book.loop(
                    "todo",
                    todo_items([r for r in rows if r["done"]], today),
                    back="/tasks",
                ),
            )

    @router.servlet("/tasks/new")
    class NewTask(TaskForm):
        heading = "New task"

        def __init__(self):
            super().__init__(guard=book.submit_guard)

        def get_native(self):
            return {"priority": 2}

        def save(self, native, request):
            database.execute(
                "INSERT INTO task (title, due, priority, done, notes)"
                " VALUES (:title, :due, :priority, :done, :notes)",
                self.values(native),
            )
            database.commit()
            book.flash(request, f"Added “{native['title']}”.")
            return Response.redirect("/tasks")

    @router.servlet("/tasks/*/edit")
    class EditTask(TaskForm):
        heading = "Edit task"

        def __init__(self, task_id):
            super().__init__()
            self.task_id = record_id(task_id)
            self.delete_url = f"/tasks/{self.task_id}/delete"

        def get_native(self):
            return book.one("SELECT * FROM task WHERE id = ?", [self.task_id])

        def save(self, native, request):
            cursor = database.execute(
                "UPDATE task SET title = :title, due = :due, priority = :priority,"
                " done = :done, notes = :notes WHERE id = :id",
                self.values(native, id=self.task_id),
            )
            database.commit()
            if cursor.rowcount == 0:
                raise HTTPError(404, "That task was deleted meanwhile.")
            book.flash(request, f"Saved “{native['title']}”.")
            return Response.redirect("/tasks")

    # The "Done" buttons of the task lists post here; "back" says which list
    # to return to (only our own paths: "/..." but not "//elsewhere").
    @router.servlet("/tasks/*/done")
    class ToggleTask:
        def __init__(self, task_id):
            self.task_id = record_id(task_id)

        def do_POST(self, request):
            book.one("SELECT id FROM task WHERE id = ?", [self.task_id])
            database.execute(
                "UPDATE task SET done = NOT done WHERE id = ?", [self.task_id]
            )
            database.commit()
            back = request.POST.get("back", "/tasks")
            if not re.fullmatch(r"/(?![/\\])[^\s]*", back):
                back = "/tasks"
            return Response.redirect(back)

    @router.servlet("/tasks/*/delete")
    class DeleteTask:
        def __init__(self, task_id):
            self.task_id = record_id(task_id)

        def do_GET(self, request):
            row = book.one("SELECT * FROM task WHERE id = ?", [self.task_id])
            return confirm_delete(
                book,
                request,
                question=f"Delete “{row['title']}”?",
                details="The task is deleted, done or not.",
                back=f"/tasks/{self.task_id}/edit",
                section="tasks",
            )

        def do_POST(self, request):
            row = book.one("SELECT * FROM task WHERE id = ?", [self.task_id])
            database.execute("DELETE FROM task WHERE id = ?", [self.task_id])
            database.commit()
            book.flash(request, f"Deleted “{row['title']}”.")
            return Response.redirect("/tasks")


def add_attachment_pages(router, book):
    database = book.database

    @router.servlet("/contacts/*/attach")
    class AttachFile(RecordForm):
        section = "contacts"

        def __init__(self, contact_id):
            super().__init__(book, attachment_elements(), guard=book.submit_guard)
            self.contact_id = record_id(contact_id)
            self.cancel_url = f"/contacts/{self.contact_id}"
            contact = book.one(
                "SELECT name FROM contact WHERE id = ?", [self.contact_id]
            )
            self.heading = f"Attach a file to {contact['name']}"

        def get_native(self):
            return {}

        def save(self, native, request):
            upload = native["file"]
            # Never use upload.filename as a path: it is whatever the browser
            # sent ("../../.bashrc" is a fine name to a browser). The file is
            # stored under a random name of ours; the database remembers the
            # browser's name, for showing and for downloading.
            stored_name = secrets.token_hex(16)
            path = book.attachments / stored_name
            upload.save(path)
            try:
                database.execute(
                    "INSERT INTO attachment (contact_id, filename, stored_name,"
                    " content_type, size, description)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        self.contact_id,
                        attachment_filename(upload.filename),
                        stored_name,
                        attachment_type(upload.content_type),
                        upload.size,
                        native["description"],
                    ],
                )
                database.commit()
            except BaseException:
                path.unlink(missing_ok=True)  # the guard rolls the row back
                raise
            book.flash(request, f"Attached “{attachment_filename(upload.filename)}”.")
            return Response.redirect(self.cancel_url)

    @router.servlet("/attachments/*")
    class Download:
        def __init__(self, attachment_id):
            self.attachment_id = record_id(attachment_id)

        def do_GET(self, request):
            row = book.one(
                "SELECT * FROM attachment WHERE id = ?", [self.attachment_id]
            )
            path = book.attachments / row["stored_name"]
            if not path.is_file():
                raise HTTPError(404, "The file is missing from the attachments folder.")
            # Streamed from the file, never read whole; download_name makes
            # it a download under the original name (any script, quoted
            # properly for the browser).
            return Response.file(
                path, content_type=row["content_type"], download_name=row["filename"]
            )

    @router.servlet("/attachments/*/delete")
    class DeleteAttachment:
        def __init__(self, attachment_id):
            self.attachment_id = record_id(attachment_id)

        def do_GET(self, request):
            row = book.one(
                "SELECT * FROM attachment WHERE id = ?", [self.attachment_id]
            )
            return confirm_delete(
                book,
                request,
                question=f"Delete “{row['filename']}”?",
                details="The attached file is deleted from the datebook's folder.",
                back=f"/contacts/{row['contact_id']}",
                section="contacts",
            )

        def do_POST(self, request):
            row = book.one(
                "SELECT * FROM attachment WHERE id = ?", [self.attachment_id]
            )
            database.execute(
                "DELETE FROM attachment WHERE id = ?", [self.attachment_id]
            )
            database.commit()
            (book.attachments / row["stored_name"]).unlink(missing_ok=True)
            book.flash(request, f"Deleted “{row['filename']}”.")
            return Response.redirect(f"/contacts/{row['contact_id']}")


# -- Putting it together ---------------------------------------------------------------


def make_app(db_path, attachments):
    """The datebook on the database file ``db_path``, keeping attached files
    in the folder ``attachments`` (created if needed).

    Returns the handler to serve: the router, inside the sessions, inside the
    transaction guard. ``app.guard.close()`` closes the database.
    """
    db_path = Path(db_path)
    attachments = Path(attachments)
    attachments.mkdir(parents=True, exist_ok=True)
    guard = TransactionGuard()
    database = guard.register(open_database(db_path))
    try:
        # The session secret is kept beside the database (readable only by
        # you), so a half-filled form survives a restart of the app.
        secret = Sessions.load_secret(db_path.with_name(db_path.stem + ".session-key"))
        sessions = Sessions(secret, cookie_name="datebook-session")
        book = Book(database, attachments, sessions)
        router = Router()
        router.delegate_folder("/static/", StaticFolder(STATIC))
        add_home_pages(router, book)
        add_contact_pages(router, book)
        add_appointment_pages(router, book)
        add_task_pages(router, book)
        add_attachment_pages(router, book)
    except BaseException:
        guard.close()
        raise
    # From the inside out: the router finds the page, the sessions give it
    # request.session (and save it in a cookie afterwards), and the guard
    # makes sure no request leaves half its changes behind.
    return guard.wrap(sessions.wrap(router))


def error_page(request, status, message):
    """404s and other error pages, in the datebook's own layout.

    The server calls this (``serve_http(..., error_page=error_page)``) for
    every error status, whether the router, an ``HTTPError`` or a crash.
    """
    try:
        heading = http.HTTPStatus(status).phrase
    except ValueError:
        heading = "Error"
    if status >= 500 or not message:
        message = (
            "Something went wrong on our side; the details are in the log."
            if status >= 500
            else "That did not work."
        )
    page = TemplateFolder(TEMPLATES)("error")(
        heading=heading, message=message, section="", query="", flash=None
    )
    return Response(page, code=status)


def default_database(create=True):
    """Where the datebook lives unless --db says otherwise."""
    return data_folder(APP_NAME, create=create) / "datebook.sqlite3"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="datebook",
        description="Contacts, appointments and tasks in your browser, "
        "kept in an SQLite file.",
    )
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"the database file (default: {default_database(create=False)}); "
        "attached files go in a folder beside it",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="the port to serve on (default: %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser tab; just print the address",
    )
    args = parser.parse_args(argv)
    # See each request on the console.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    db_path = args.db.expanduser() if args.db else default_database()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    attachments = db_path.with_name(db_path.stem + "-attachments")
    app = make_app(db_path, attachments)
    logging.getLogger("kali").info("Datebook in %s, files in %s", db_path, attachments)
    try:
        serve_http(
            app,
            port=args.port,
            start=None if args.no_browser else "",
            error_page=error_page,
        )
    finally:
        app.guard.close()


if __name__ == "__main__":
    main()
