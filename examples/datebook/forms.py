"""The datebook's forms: their fields, and how a record form works.

Each form is a dict of elements; each element knows how to show a value and
read it back, and its lens converts the text to a Python value and checks
it. Entry refuses blank input by default; NULLABLE turns blank into None
(SQL NULL), BLANKABLE keeps it as ''. The functions make fresh dicts, one
per request, so nothing is shared between requests by accident.

This module must not know which pages there are: ``pages.py`` makes its
forms from :class:`RecordForm`.
"""

from __future__ import annotations

import datetime

from kali import HTTPError
from kali.forms import (
    BLANKABLE,
    DATE,
    EMAIL,
    NULLABLE,
    Checkbox,
    EmailEntry,
    Entry,
    EnumLens,
    Formlet,
    Hidden,
    IntegerLens,
    Memo,
    Nullable,
    RadioGroup,
    Required,
    Test,
    Upload,
)
from kali.pages import redirect_with
from kali.sqlite import fetch_one

#: The largest file a contact can have attached.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

#: A time of day as <input type="time"> sends it ("09:30"), or blank (None).
TIME = Nullable(Test(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|",
                     error="is not a time of day (HH:MM)."))  # fmt: skip

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


def appointment_elements():
    return {
        "title": Entry(label="What", maxlength=100, autofocus=""),
        "day": Entry(label="Day", lens=Required(DATE), type="date"),
        "start_time": Entry(label="From", lens=TIME, type="time"),
        "end_time": Entry(label="Until", lens=TIME, type="time"),
        "place": Entry(label="Where", lens=NULLABLE, maxlength=100),
        # The contact is chosen on a page of its own (a million contacts do
        # not fit in a <select>): the form carries only the id, which
        # AppointmentForm.render_field shows as the contact's name.
        "contact_id": Hidden(label="With", lens=IntegerLens(minimum=1)),
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=3, maxlength=1000),
    }


def task_elements():
    return {
        "title": Entry(label="Task", maxlength=200, autofocus=""),
        "due": Entry(label="Due", lens=DATE, type="date"),
        "priority": RadioGroup(EnumLens(PRIORITIES, base=1), "please choose one.",
                               label="Priority"),  # fmt: skip
        "done": Checkbox(label="Done"),
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=3, maxlength=4000),
    }


def attachment_elements():
    # A browser never refills a file input: after an error, the user picks
    # the file again (every other field keeps its input).
    return {
        "file": Upload(label="File", required="choose a file to attach.",
                       max_bytes=MAX_ATTACHMENT_BYTES),  # fmt: skip
        "description": Entry(label="Description", lens=NULLABLE, maxlength=200),
    }


class RecordForm(Formlet):
    """The form of a new record (``record_id`` None) or of the record
    ``record_id`` of ``table``, whose columns are named like the fields.

    A subclass sets ``table``, ``noun`` ("contact": the page is "New
    contact" or "Edit contact"), ``section`` (the menu entry to highlight)
    and ``list_url``, and passes its elements. Saving inserts or updates
    the record and commits; a new record's form has the double-submit
    guard. The page is ``form.tpl`` in the layout: the errors listed on top,
    each field as kali's form renderer writes it (label, control, message
    beside it), and Save / Cancel / Delete.
    """

    table = noun = section = list_url = ""

    def __init__(self, request, elements, record_id=None):
        self.book, self.record_id = request.book, record_id
        new = record_id is None
        super().__init__(elements, guard=self.book.submit_guard if new else None)
        self.title = f"{'New' if new else 'Edit'} {self.noun}"
        self.cancel_url = self.list_url
        self.delete_url = None if new else f"{self.list_url}/{record_id}/delete"

    def get_native(self):
        if self.record_id is None:
            return self.blank()
        # A sqlite3.Row works like a dict here; the date lens shows the
        # stored 'YYYY-MM-DD' text as it is.
        sql = f"SELECT * FROM {self.table} WHERE id = ?"
        return fetch_one(self.book.database, sql, [self.record_id])

    def blank(self):
        return {}

    def save(self, native, request):
        # Dates go in as text ('2024-06-04'): SQLite has no date type. The
        # column names are the form's field names, from this file.
        values = {
            name: value.isoformat() if isinstance(value, datetime.date) else value
            for name, value in native.items()
        }
        names = list(self.elements)
        if self.record_id is None:
            sql = f"INSERT INTO {self.table} ({', '.join(names)})"
            sql += f" VALUES ({', '.join(':' + name for name in names)})"
        else:
            sql = f"UPDATE {self.table} SET {', '.join(f'{n} = :{n}' for n in names)}"
            sql += " WHERE id = :id"
        cursor = self.book.database.execute(sql, {**values, "id": self.record_id})
        self.book.database.commit()
        if cursor.rowcount == 0:
            raise HTTPError(404, f"That {self.noun} was deleted meanwhile.")
        verb = "Added" if self.record_id is None else "Saved"
        self.record_id = self.record_id or cursor.lastrowid
        # Redirect after a successful POST, so that reloading the next page
        # does not post again (a double click on "Save" gets this same
        # redirect from the submit guard, and saves nothing). The first
        # field (name or title) names the record in the message.
        name = native[names[0]]
        return redirect_with(request, self.saved_url(), f"{verb} “{name}”.")

    def saved_url(self):
        return self.list_url

    def display(self, fields, errors):
        # The renderer's layout hook gets the form in pieces: keep them, and
        # let form.tpl put them into the app's own <form>.
        form = self.render_form(errors, layout=lambda pieces: pieces)
        return self.book.pages.render(
            self.request, "form", title=self.title, section=self.section,
            errors=self.render_errors(errors), fields=form.fields, hidden=form.hidden,
            cancel=self.cancel_url, delete=self.delete_url,
        )  # fmt: skip
