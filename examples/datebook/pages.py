"""The pages: what they share, today's page, the search, the contacts with
the files attached to them, the appointments and the tasks.

Each page is a servlet class at module level, mounted by ``make_app`` (in
``__init__.py``): the router makes an instance per request, passing the
path's ``*`` values converted by the constructor's annotations (``int``:
``/contacts/abc`` is a 404), and calls its ``do_GET`` or ``do_POST``. The
app's shared things (database, pages, upload folder, sessions, submit
guard) are ``request.book``, which ``make_app`` puts there: nothing is kept
at module level.

Templates have conditions (``{?place}…{/place}``), loops (``{@rows}…{/rows}``)
and formatters (``{day:day}``), so the pages hand them rows as SQLite gives
them, and the templates decide how each value shows. Every handler that
writes commits before it returns; the transaction guard around the app rolls
back (and reports) any that forgets, and the upload folder removes a file
whose row was rolled back.
"""

from __future__ import annotations

import datetime
import re
import sqlite3
import urllib.parse
from pathlib import Path

from kali import Response, Servlet, TemplateFolder
from kali.downloads import download_csv
from kali.forms import Form, SaveError
from kali.keyset import encode_position
from kali.pages import Pages, local_url, redirect_with
from kali.sqlite import fetch_one, fetch_one_or_none, is_busy_error

from . import database as lists
from . import forms

TEMPLATES = Path(__file__).resolve().parent / "templates"


def show_date(value):
    """'2024-06-04' (or a date) -> 'Tue 4 Jun 2024', in any locale: the
    templates' ``{day:day}``."""
    if not value:
        return ""
    day = datetime.date.fromisoformat(value) if isinstance(value, str) else value
    weekday = "Mon Tue Wed Thu Fri Sat Sun".split()[day.weekday()]
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[day.month - 1]
    return f"{weekday} {day.day} {month} {day.year}"


def show_size(size):
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def show_number(number, more=False):
    """1234 -> '1,234'; with ``more`` (counting stopped there) '1,234+'."""
    return f"{number:,}{'+' if more else ''}"


def plural(word, number, more=False):
    """'contact' for exactly 1, 'contacts' for any other number."""
    return word if number == 1 and not more else word + "s"


def make_pages():
    """The datebook's pages: each template inside ``base.tpl``."""
    formatters = {"day": show_date, "size": show_size,
                  "priority": lambda number: forms.PRIORITIES[number - 1]}  # fmt: skip
    # section: the menu entry to highlight; query: the search box's text.
    return Pages(TemplateFolder(TEMPLATES, formatters=formatters), section="", query="")


def error_page(request, status, message):
    """404s and other error pages, in the datebook's own layout (for
    ``serve_http(error_page=...)``, whatever raised them)."""
    return make_pages().error_page(request, status, message)


def render(request, template, **values):
    """A part of a page (``agenda``, ``todo``, ``contact_table``), to pass
    to the page as a value."""
    return request.book.pages.templates(template)(**values)


def headings(page):
    """A list's column headings as templates read them: by name."""
    return [{"label": h.label, "url": h.url, "arrow": h.arrow, "aria_sort": h.aria_sort}
            for h in page.headings]  # fmt: skip


def contact_table(request, page, pick=False):
    rows, names = page.rows, headings(page)
    return render(request, "contact_table", rows=rows, headings=names, pick=pick)


def show_list(request, page, word, buttons, *, sort_bar=False, pick=False, **values):
    """``list.tpl``: one page of a :class:`~kali.listing.Listing` (``page``)
    with its search box (which keeps the sort), a summary ("3 contacts"),
    ``buttons`` (``(url, label)`` pairs; one whose label starts with "New"
    is the main one), the ``items`` (rendered by the caller), sort links
    for a list that is no table (``sort_bar``) and the page links."""
    number, more = page.total, not page.total_is_exact
    counted = f"{show_number(number, more)} {plural(word, number, more)}"
    found = f"{show_number(number, more)} found for “{page.search}”"
    values.setdefault("summary", found if page.search else counted)
    return request.book.pages.render(
        request, "list", search=page.search, pick=pick, sort_bar=sort_bar,
        hidden=[{"name": name, "value": value} for name, value in page.hidden_fields],
        headings=headings(page),
        buttons=[{"href": href, "label": label, "main": label.startswith("New")}
                 for href, label in buttons],
        previous_url=page.previous_url, next_url=page.next_url, **values,
    )  # fmt: skip


class Dashboard(Servlet):
    def do_GET(self, request):
        database, today = request.book.database, datetime.date.today()
        now = [today.isoformat()]
        cards = [
            {"href": url, "label": label,
             "number": show_number(*lists.count_up_to(database, sql, parameters))}
            for url, label, sql, parameters in (
                ("/contacts", "Contacts", "SELECT 1 FROM contact", []),
                ("/appointments", "Appointments ahead",
                 "SELECT 1 FROM appointment WHERE starts >= ?", now),
                ("/tasks", "Open tasks", "SELECT 1 FROM task WHERE rank < '1'", []),
            )
        ]  # fmt: skip
        agenda = f"{lists.APPOINTMENT_ROWS} WHERE starts >= ? ORDER BY starts LIMIT 8"
        todo = f"{lists.TASK_ROWS} WHERE rank < '1' ORDER BY rank LIMIT 8"  # open: '0…'
        return request.book.pages.render(
            request, "dashboard", title="Today, " + show_date(today), section="home",
            cards=cards, birthdays=lists.coming_birthdays(database, today),
            agenda=render(request, "agenda",
                          rows=database.execute(agenda, now).fetchall()),
            todo=render(request, "todo", back="/",
                        rows=database.execute(todo).fetchall()),
        )  # fmt: skip


class Search(Servlet):
    """One search box for every list: the first page of each list's search,
    with a link to the rest."""

    def do_GET(self, request):
        query, pages = request.GET.get("q", "").strip(), request.book.pages
        if not query:
            summary = "Type a word to look for in every list."
            return pages.render(request, "search", title="Search", summary=summary,
                                results=False)  # fmt: skip
        db, q = request.book.database, {"q": query}
        found = {
            "contacts": lists.find_contacts(db, q, "/contacts"),
            "appointments": lists.APPOINTMENTS.page(db, q, base_url="/appointments"),
            "tasks": lists.TASKS.page(db, q, base_url="/tasks"),
        }
        total = sum(page.total for page in found.values())
        more = not all(page.total_is_exact for page in found.values())
        # The "Done" buttons in the results come back to these results.
        here = "/search?" + urllib.parse.urlencode({"q": query})
        return pages.render(
            request, "search", title="Search", query=query, results=True,
            summary=f"{show_number(total, more)} found for “{query}”",
            contacts=contact_table(request, found["contacts"]),
            agenda=render(request, "agenda", rows=found["appointments"].rows),
            todo=render(request, "todo", rows=found["tasks"].rows, back=here),
            # A link to the whole of each list's search, when it has more.
            **{f"more_{name}": page.next_url and page.first_url
               for name, page in found.items()},
        )  # fmt: skip


class DeletePage(Servlet):
    """The page that asks before deleting a record (GET), and deletes it
    (POST): a link, a prefetch or a crawler never deletes anything.

    A subclass names the ``table`` and ``section``, and writes the texts,
    filled from the record's row: the ``question``, the ``details``, the
    way ``back``, and where to go ``after``; the column ``name`` names the
    record in "Deleted “…”". ``before_delete()`` may do more.
    """

    table = section = question = details = back = after = ""
    name = "title"

    def __init__(self, request, record_id: int):
        self.book = request.book
        sql = f"SELECT * FROM {self.table} WHERE id = ?"
        self.row = dict(fetch_one(self.book.database, sql, [record_id]))

    def do_GET(self, request):
        title, back = self.question.format(**self.row), self.back.format(**self.row)
        return self.book.pages.render(request, "confirm", title=title, back=back,
                                      details=self.describe(), section=self.section)

    def describe(self):
        return self.details.format(**self.row)

    def do_POST(self, request):
        self.before_delete()
        sql = f"DELETE FROM {self.table} WHERE id = ?"
        self.book.database.execute(sql, [self.row["id"]])
        self.book.database.commit()
        name, after = self.row[self.name], self.after.format(**self.row)
        return redirect_with(request, after, f"Deleted “{name}”.")

    def before_delete(self):
        pass


# -- Contacts --------------------------------------------------------------------------


class ContactList(Servlet):
    def do_GET(self, request):
        query = dict(request.GET.items())
        page = lists.find_contacts(request.book.database, query, "/contacts")
        buttons = [("/contacts.csv", "Export (CSV)"), ("/contacts/new", "New contact")]
        return show_list(
            request, page, "contact", buttons, items=contact_table(request, page),
            title="Contacts", section="contacts",
        )  # fmt: skip


class ExportContacts(Servlet):
    """Every contact as a spreadsheet, streamed row by row as it downloads."""

    def do_GET(self, request):
        rows = request.book.database.execute(
            "SELECT name, email, phone, birthday, notes FROM contact ORDER BY name_key")
        return download_csv(rows, "contacts.csv", bom=True)  # bom: for Excel


class ContactPage(Servlet):
    def __init__(self, request, contact_id: int):
        self.book, self.contact_id = request.book, contact_id

    def do_GET(self, request):
        database, where = self.book.database, [self.contact_id]
        contact = fetch_one(database, "SELECT * FROM contact WHERE id = ?", where)
        # The latest 20 appointments: a page stays small, whatever happened.
        agenda = f"{lists.APPOINTMENT_ROWS} WHERE contact_id = ? ORDER BY starts DESC"
        agenda = database.execute(agenda + " LIMIT 20", where).fetchall()
        files = "SELECT * FROM attachment WHERE contact_id = ? ORDER BY id"
        return self.book.pages.render(
            request, "contact", **contact, title=contact["name"], section="contacts",
            agenda=render(request, "agenda", rows=agenda),
            files=database.execute(files, where).fetchall(),
        )  # fmt: skip


class ContactForm(forms.RecordForm):
    """/contacts/new, and /contacts/ID/edit."""

    table, noun, section, list_url = "contact", "contact", "contacts", "/contacts"

    def __init__(self, request, contact_id: int = None):
        super().__init__(request, forms.contact_elements(), contact_id)
        if contact_id is not None:
            self.cancel_url = f"/contacts/{contact_id}"

    def semantic_checks(self, native, errors):
        # Runs only when every field was fine on its own.
        birthday = native["birthday"]
        if birthday is not None and birthday > datetime.date.today():
            errors["birthday"] = "is in the future."

    def save(self, native, request):
        try:
            return super().save(native, request)
        except sqlite3.IntegrityError:
            # The UNIQUE e-mail refused it. Roll back (the failed statement
            # left a transaction open) and show the form again.
            self.book.database.rollback()
            raise SaveError({"email": "belongs to another contact already."}) from None

    def saved_url(self):
        return f"/contacts/{self.record_id}"


class DeleteContact(DeletePage):
    table, section, name = "contact", "contacts", "name"
    question, back, after = "Delete {name}?", "/contacts/{id}", "/contacts"

    def describe(self):
        meetings, files = self.book.database.execute(
            "SELECT (SELECT count(*) FROM appointment WHERE contact_id = :id),"
            " (SELECT count(*) FROM attachment WHERE contact_id = :id)", self.row
        ).fetchone()  # fmt: skip
        return (
            f"They have {meetings or 'no'} {plural('appointment', meetings)}, which"
            f" stay in the datebook without a contact, and {files or 'no'}"
            f" {plural('file', files)} attached, which are deleted with them."
        )

    def before_delete(self):
        # The files go once the rows are gone for good (the upload folder
        # waits for the commit): a delete that fails keeps them.
        sql = "SELECT stored_name FROM attachment WHERE contact_id = ?"
        for (name,) in self.book.database.execute(sql, [self.row["id"]]).fetchall():
            self.book.files.delete(name, self.book.database)


class AttachFile(forms.RecordForm):
    section = "contacts"

    def __init__(self, request, contact_id: int):
        sql = "SELECT id, name FROM contact WHERE id = ?"
        contact = fetch_one(request.book.database, sql, [contact_id])
        super().__init__(request, forms.attachment_elements())
        self.title = f"Attach a file to {contact['name']}"
        self.contact_id, self.cancel_url = contact_id, f"/contacts/{contact_id}"

    def save(self, native, request):
        upload, database, files = native["file"], self.book.database, self.book.files
        # The folder stores the file under a random name of its own: the
        # browser's name ("../../.bashrc" is a fine name to a browser) is only
        # shown, and is the download's name. The file belongs to the
        # transaction: if the INSERT fails, it is removed again.
        stored_name = files.save(upload, database)
        filename = attachment_filename(upload.filename)
        database.execute(
            "INSERT INTO attachment (contact_id, filename, stored_name, content_type,"
            " size, description) VALUES (?, ?, ?, ?, ?, ?)",
            [self.contact_id, filename, stored_name, files.content_type(stored_name),
             upload.size, native["description"]],
        )  # fmt: skip
        database.commit()
        return redirect_with(request, self.cancel_url, f"Attached “{filename}”.")


def attachment_filename(client_name):
    """The name to show for an upload: the last part of what the browser
    sent (some send a whole Windows path), shortened; never used as a path."""
    name = re.split(r"[\\/]", client_name or "")[-1].strip()
    return name[:200] or "attachment"


class Download(Servlet):
    def __init__(self, request, attachment_id: int):
        self.book, self.attachment_id = request.book, attachment_id

    def do_GET(self, request):
        sql = "SELECT * FROM attachment WHERE id = ?"
        row = fetch_one(self.book.database, sql, [self.attachment_id])
        # Streamed from the disk, typed by its extension (never by the
        # browser that sent it), saved under its own name in any script.
        return self.book.files.serve(row["stored_name"], download_name=row["filename"])


class DeleteAttachment(DeletePage):
    table, section, name = "attachment", "contacts", "filename"
    question = "Delete “{filename}”?"
    details = "The attached file is deleted from the datebook's folder."
    back = after = "/contacts/{contact_id}"

    def before_delete(self):
        self.book.files.delete(self.row["stored_name"], self.book.database)


# -- Appointments ----------------------------------------------------------------------
# An appointment's contact is chosen from the contact list, which may hold a
# million people: the form sends the user to /contacts/pick and back. The
# half-filled appointment waits meanwhile as a "draft": the text of every
# field exactly as typed (valid or not), and the address of the form to go
# back to. It is kept in the database under the session's id, not in the
# session cookie: the browser sends cookies to every local server on the
# same host name, and what the user typed is theirs alone.


def draft_of(request):
    """The draft waiting in this browser's session, or None."""
    session = request.session
    if not session.has_id:  # never kept anything: no id to look under
        return None
    return lists.load_draft(request.book.database, session.id)


class AppointmentList(Servlet):
    def do_GET(self, request):
        database, query = request.book.database, request.GET
        today = datetime.date.today().isoformat()
        exists = "SELECT 1 FROM appointment WHERE starts {} ?"
        if not query and all(  # there are appointments before today, and after
            fetch_one_or_none(database, exists.format(op), [today]) for op in "<>"
        ):
            # The plain list opens at today, "after" the last moment of
            # yesterday; its "Previous" link leads into the past.
            query = {"after": encode_position("starts", "asc", today, 0)}
        page = lists.APPOINTMENTS.page(database, query, base_url="/appointments")
        items = render(request, "agenda", rows=page.rows)
        return show_list(
            request, page, "appointment", [("/appointments/new", "New appointment")],
            items=items, sort_bar=True, title="Appointments", section="appointments",
        )  # fmt: skip


class AppointmentForm(forms.RecordForm):
    """/appointments/new (``?contact=ID`` to start with that contact), and
    /appointments/ID/edit; ``?draft=1`` shows the draft instead."""

    table, noun, section = "appointment", "appointment", "appointments"
    list_url = "/appointments"

    def __init__(self, request, appointment_id: int = None):
        super().__init__(request, forms.appointment_elements(), appointment_id)
        self.form_url = request.root_url(request.path)

    def get_native(self):
        # Back from choosing a contact: the draft, not the database. Every
        # lens shows text as it is, so the draft comes back exactly as typed
        # ("2030-02-30" included).
        if "draft" in self.request.GET:
            draft = draft_of(self.request)
            if draft is not None and draft["back"] == self.form_url:
                return draft["values"]
        return super().get_native()

    def blank(self):
        contact = self.request.GET.get("contact", "")
        return {"day": datetime.date.today(), "contact_id": contact}

    def render_field(self, field):
        # The contact: its hidden id, shown as its name beside a "Choose
        # contact…" button.
        if field.name != "contact_id":
            return super().render_field(field)
        sql = "SELECT name FROM contact WHERE id = ?"
        contact = fetch_one_or_none(self.book.database, sql, [field.value])
        return self.book.pages.templates("contact_choice")(
            hidden=field.control, name=contact and contact["name"], error=field.error
        )

    def do_POST(self, request):
        if request.POST.get("action") != "choose-contact":
            return super().do_POST(request)
        # "Choose contact…": keep everything as typed, valid or not, and go
        # to the contact list. Nothing is checked or saved yet.
        self.request = request
        values = Form(self.elements).parse(request.POST).intermediate
        database = self.book.database
        try:
            # request.session.id: made (and saved in the cookie) if need be.
            lists.save_draft(database, request.session.id, self.form_url, values)
            database.commit()
        except sqlite3.OperationalError as error:
            if not is_busy_error(error):
                raise
            database.rollback()  # another program holds the database
            return self.answer_busy(values)  # the form as typed, "try again"
        return Response.redirect("/contacts/pick")

    def semantic_checks(self, native, errors):
        start, end = native["start_time"], native["end_time"]
        if end is not None and start is None:
            errors["start_time"] = "is needed when there is an end time."
        elif end is not None and end <= start:
            errors["end_time"] = "must be later than the start."
        contact, sql = native["contact_id"], "SELECT 1 FROM contact WHERE id = ?"
        if contact and not fetch_one_or_none(self.book.database, sql, [contact]):
            errors["contact_id"] = "was deleted meanwhile; choose again."

    def save(self, native, request):
        # The draft is no longer needed: it goes in the same transaction as
        # the appointment (RecordForm.save commits both).
        if request.session.has_id:
            lists.delete_draft(self.book.database, request.session.id)
        return super().save(native, request)


class DeleteAppointment(DeletePage):
    table, section, after = "appointment", "appointments", "/appointments"
    question, back = "Delete “{title}”?", "/appointments/{id}/edit"
    details = "The appointment on {day} is deleted."


class PickContact(Servlet):
    """Choose the contact of the appointment waiting in the session."""

    def do_GET(self, request):
        draft = draft_of(request)
        if draft is None:
            return no_draft(request)
        query = dict(request.GET.items())
        page = lists.find_contacts(request.book.database, query, "/contacts/pick")
        title = draft["values"].get("title") or "the appointment"
        cancel = draft["back"] + "?draft=1"  # Cancel keeps the draft
        return show_list(
            request, page, "contact", [(cancel, "Cancel")], title="Choose a contact",
            items=contact_table(request, page, pick=True), pick=True,
            summary=f"for “{title}”", section="appointments",
        )  # fmt: skip

    def do_POST(self, request):
        draft, database = draft_of(request), request.book.database
        if draft is None:
            return no_draft(request)
        chosen = request.POST.get("contact", "")
        if chosen:  # a contact that is not there (any more) is a 404
            sql = "SELECT id FROM contact WHERE id = ?"
            chosen = str(fetch_one(database, sql, [chosen])["id"])
        draft["values"]["contact_id"] = chosen
        lists.save_draft(database, request.session.id, draft["back"], draft["values"])
        database.commit()
        return Response.redirect(draft["back"] + "?draft=1")


def no_draft(request):
    message = "There was no appointment waiting for a contact."
    return redirect_with(request, "/appointments", message)


# -- Tasks -----------------------------------------------------------------------------


class TaskList(Servlet):
    def do_GET(self, request):
        page = lists.TASKS.page(request.book.database, request)
        # The "Done" buttons come back to this very page of the list.
        items = render(request, "todo", rows=page.rows, back=request.uri)
        return show_list(
            request, page, "task", [("/tasks/new", "New task")], items=items,
            sort_bar=True, title="Tasks", section="tasks",
        )  # fmt: skip


class TaskForm(forms.RecordForm):
    """/tasks/new, and /tasks/ID/edit."""

    table, noun, section, list_url = "task", "task", "tasks", "/tasks"

    def __init__(self, request, task_id: int = None):
        super().__init__(request, forms.task_elements(), task_id)

    def blank(self):
        return {"priority": 2}


class ToggleTask(Servlet):
    """The "Done" buttons post here; ``back`` says which page to return to."""

    def __init__(self, request, task_id: int):
        self.book, self.task_id = request.book, task_id

    def do_POST(self, request):
        # Where to go back to is checked first: an address that is no page
        # of this app ("//elsewhere", a NUL in it) is a 400 that changed
        # nothing, rather than a failed redirect after the commit.
        back = local_url(request.POST.get("back", "/tasks"))
        database = self.book.database
        fetch_one(database, "SELECT id FROM task WHERE id = ?", [self.task_id])
        database.execute("UPDATE task SET done = NOT done WHERE id = ?", [self.task_id])
        database.commit()
        return Response.redirect(back)


class DeleteTask(DeletePage):
    table, section, after = "task", "tasks", "/tasks"
    question, back = "Delete “{title}”?", "/tasks/{id}/edit"
    details = "The task is deleted, done or not."
