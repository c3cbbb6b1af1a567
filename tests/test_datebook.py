"""The datebook example (examples/datebook/), page by page, in-process.

Each test gets a fresh database file and attachments folder under tmp_path,
and a kali.testing Client (with the example's error pages) that keeps the
session cookie like a browser. After every test the database must have no
transaction left open: every handler commits its own work.
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib
import os
import re
import sqlite3
import stat
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from examples import load_example
from kali.testing import Client

ROOT = Path(__file__).resolve().parents[1]

NAME = "Zoë Ångström 中文 🐍 <b>&amp;</b>"
NOTES = "Café ☕\nsecond line — ünïcödé\n\n  indented"
TODAY = datetime.date.today()


datebook = load_example("datebook")
cli = importlib.import_module("example_datebook.__main__")


class Book:
    """The app under test, its client and its files."""

    def __init__(self, folder: Path):
        self.db_path = folder / "datebook.sqlite3"
        self.attachments = folder / "files"
        self.app = datebook.make_app(self.db_path, self.attachments)
        self.database = self.app.guard.connections[0]
        self.client = Client(self.app, error_page=datebook.error_page)

    def token(self, path):
        """GET a guarded form and return its one-time submit token."""
        page = self.client.get(path)
        assert page.status == 200, page.text
        return re.search(r'name="submit_token" value="([^"]+)"', page.text).group(1)

    def count(self, table):
        return self.database.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def add_contact(self, name=NAME, **fields):
        data = {
            "name": name,
            "email": "",
            "phone": "",
            "birthday": "",
            "notes": "",
            "submit_token": self.token("/contacts/new"),
            **fields,
        }
        saved = self.client.post("/contacts/new", data=data)
        assert saved.status == 302, saved.text
        return int(saved.location.rsplit("/", 1)[1])

    def add_appointment(self, title="Lunch", **fields):
        data = {
            "title": title,
            "day": (TODAY + datetime.timedelta(days=1)).isoformat(),
            "start_time": "",
            "end_time": "",
            "place": "",
            "contact_id": "",
            "notes": "",
            "submit_token": self.token("/appointments/new"),
            **fields,
        }
        saved = self.client.post("/appointments/new", data=data)
        assert saved.status == 302, saved.text
        return self.database.execute("SELECT max(id) FROM appointment").fetchone()[0]

    def attach(self, contact_id, name="notes.txt", content=b"hello", kind="text/plain"):
        return self.client.post(
            f"/contacts/{contact_id}/attach",
            data={
                "description": "",
                "submit_token": self.token(f"/contacts/{contact_id}/attach"),
            },
            files={"file": (name, content, kind)},
        )


@pytest.fixture
def book(tmp_path):
    book = Book(tmp_path)
    try:
        yield book
        assert not book.database.in_transaction, "a handler left a transaction open"
    finally:
        book.app.guard.close()


def field_value(page, name):
    """The value attribute of input ``name`` in the page, unescaped."""
    match = re.search(rf'<input [^>]*name="{name}" value="([^"]*)"', page.text)
    assert match, f"no input {name}"
    return html.unescape(match.group(1))


def textarea(page, name):
    match = re.search(
        rf'<textarea [^>]*name="{name}"[^>]*>\n?(.*?)</textarea>', page.text, re.S
    )
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1))


# -- Pages, files and the first run ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "Today, "),
        ("/contacts", "Contacts"),
        ("/contacts/new", "New contact"),
        ("/appointments", "Appointments"),
        ("/appointments/new", "New appointment"),
        ("/tasks", "Tasks"),
        ("/tasks/new", "New task"),
        ("/search", "Search"),
        ("/search?q=nothing", "Search"),
    ],
)
def test_every_page_renders_in_the_layout(book, path, title):
    page = book.client.get(path)
    assert page.status == 200
    assert page.content_type == "text/html"
    assert f"<title>{title}" in page.text
    assert '<link rel="stylesheet" href="/static/style.css">' in page.text
    assert "{" not in page.text  # no placeholder left unfilled


def test_the_stylesheet_is_served_from_the_static_folder(book):
    sheet = book.client.get("/static/style.css")
    assert sheet.status == 200
    assert sheet.content_type == "text/css"
    assert b"header.top" in sheet.body
    assert book.client.get("/static/nothing.css").status == 404


def test_first_run_creates_the_schema_and_a_private_session_secret(tmp_path, book):
    assert book.db_path.is_file()
    assert book.attachments.is_dir()
    secret = tmp_path / "datebook.session-key"
    assert secret.is_file()
    if os.name == "posix":
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    tables = {
        row[0]
        for row in book.database.execute("SELECT name FROM sqlite_master")
        if not row[0].startswith("sqlite_")
    }
    assert {"contact", "appointment", "task", "attachment"} <= tables
    mode = book.database.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert book.database.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_second_run_keeps_the_data_and_the_session(tmp_path):
    first = Book(tmp_path)
    try:
        first.add_contact("Ada")
    finally:
        first.app.guard.close()
    again = Book(tmp_path)
    try:
        again.client.cookies.update(first.client.cookies)  # the same, kept secret
        page = again.client.get("/contacts/1")
        assert page.status == 200
        assert "Added “Ada”." in page.text  # the message survived the restart
    finally:
        again.app.guard.close()


# -- Contacts: create, validate, edit, search ------------------------------------------


def test_a_form_with_errors_comes_back_with_the_input_kept(book):
    token = book.token("/contacts/new")
    data = {
        "name": "   ",
        "email": "zoë@example.org",
        "phone": "+46 70 123 45 67",
        "birthday": "2999-01-01",
        "notes": NOTES,
        "submit_token": token,
    }
    page = book.client.post("/contacts/new", data=data)
    assert page.status == 200
    assert '<ul class="errors" role="alert"><li><strong>Name</strong>' in page.text
    assert "may not be blank." in page.text
    assert field_value(page, "email") == "zoë@example.org"
    assert field_value(page, "phone") == "+46 70 123 45 67"
    assert field_value(page, "birthday") == "2999-01-01"
    assert textarea(page, "notes") == NOTES
    # The same form (and token) again, with a name: now the birthday is wrong.
    page = book.client.post("/contacts/new", data={**data, "name": NAME})
    assert page.status == 200
    assert "is in the future." in page.text
    assert field_value(page, "name") == NAME
    assert "<b>" not in page.text.split("<main>")[1]  # escaped, not markup
    assert book.count("contact") == 0
    # Fixed: saved, and the next page says so once.
    saved = book.client.post(
        "/contacts/new", data={**data, "name": NAME, "birthday": "1990-02-03"}
    )
    assert saved.status == 302 and saved.location == "/contacts/1"
    page = book.client.get("/contacts/1")
    assert f"Added “{html.escape(NAME, quote=False)}”." in page.text
    assert "Sat 3 Feb 1990" in page.text
    assert "Added" not in book.client.get("/contacts/1").text
    row = book.database.execute("SELECT * FROM contact").fetchone()
    assert (row["name"], row["email"], row["birthday"], row["notes"]) == (
        NAME,
        "zoë@example.org",
        "1990-02-03",
        NOTES,
    )


def test_a_double_submit_saves_the_contact_once(book):
    token = book.token("/contacts/new")
    data = {"name": "Ada", "email": "", "phone": "", "birthday": "", "notes": ""}
    first = book.client.post("/contacts/new", data={**data, "submit_token": token})
    second = book.client.post("/contacts/new", data={**data, "submit_token": token})
    assert first.status == second.status == 302
    assert second.location == first.location
    assert book.count("contact") == 1


def test_a_taken_email_is_a_field_error_and_rolls_back(book):
    book.add_contact("Ada", email="ada@example.org")
    token = book.token("/contacts/new")
    page = book.client.post(
        "/contacts/new",
        data={
            "name": "Another Ada",
            "email": "ADA@example.org",
            "phone": "",
            "birthday": "",
            "notes": "",
            "submit_token": token,
        },
    )
    assert page.status == 200
    assert "belongs to another contact already." in page.text
    assert field_value(page, "name") == "Another Ada"
    assert book.count("contact") == 1


def test_editing_a_contact_shows_and_saves_the_record(book):
    contact = book.add_contact(
        NAME, email="z@example.org", notes=NOTES, birthday="1990-02-03"
    )
    form = book.client.get(f"/contacts/{contact}/edit")
    assert form.status == 200
    assert field_value(form, "name") == NAME
    assert field_value(form, "birthday") == "1990-02-03"
    assert textarea(form, "notes") == NOTES
    assert "submit_token" not in form.text  # only "new" forms are guarded
    assert f'href="/contacts/{contact}/delete"' in form.text
    saved = book.client.post(
        f"/contacts/{contact}/edit",
        data={
            "name": "Zoë Å.",
            "email": "",
            "phone": "☎ 123",
            "birthday": "",
            "notes": "",
        },
    )
    assert saved.status == 302 and saved.location == f"/contacts/{contact}"
    page = book.client.get(saved.location)
    assert "Saved “Zoë Å.”." in page.text and "☎ 123" in page.text
    row = book.database.execute("SELECT * FROM contact").fetchone()
    assert (row["email"], row["birthday"]) == (None, None)  # blank is NULL


def test_search_ignores_case_and_accents_in_every_script(book):
    book.add_contact("Zoë Ångström", email="zoe@example.org")
    book.add_contact("Ölaf", notes="plays the ТУБА")
    book.add_contact("Bob")
    book.add_appointment("Climbing with ZOË", place="Boulderhalle")
    page = book.client.get("/contacts", query={"q": "zoË"})
    assert "1 found for “zoË”" in page.text
    assert "Zoë Ångström" in page.text and "Bob" not in page.text
    assert "Zoë Ångström" in book.client.get("/contacts?q=angstrom").text
    page = book.client.get("/contacts", query={"q": "туба"})
    assert "Ölaf" in page.text and "Zoë" not in page.text
    page = book.client.get("/contacts", query={"q": "50%_"})
    assert "No contacts found." in page.text
    page = book.client.get("/contacts")
    assert "3 contacts" in page.text
    names = re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', page.text)
    assert names == ["Bob", "Ölaf", "Zoë Ångström"]  # "Ö" sorts as "o"
    everything = book.client.get("/search", query={"q": "zoe"})
    assert "2 found for “zoe”" in everything.text
    assert "Climbing with ZOË" in everything.text
    assert "No contacts found." not in everything.text


def test_a_blank_search_shows_no_results_and_done_buttons_come_back(book):
    page = book.client.get("/search")
    assert "Type a word to look for in every list." in page.text
    assert "<h2>Contacts</h2>" not in page.text
    token = book.token("/tasks/new")
    book.client.post(
        "/tasks/new",
        data={"title": "Buy milk & honey", "priority": "1", "submit_token": token},
    )
    page = book.client.get("/search", query={"q": "MILK &"})
    assert "1 found for “MILK &amp;”" in page.text
    back = field_value(page, "back")
    assert back == "/search?q=MILK+%26"
    assert book.client.post("/tasks/1/done", data={"back": back}).location == back


# -- Appointments and the pick-a-contact step ------------------------------------------


def test_appointment_times_are_checked_against_each_other(book):
    token = book.token("/appointments/new")
    data = {
        "title": "Dentist",
        "day": "",
        "start_time": "25:00",
        "end_time": "",
        "place": "",
        "contact_id": "",
        "notes": "",
        "submit_token": token,
    }
    page = book.client.post("/appointments/new", data=data)
    assert "<strong>Day</strong>: may not be blank." in page.text
    assert "<strong>From</strong>: is not a time of day (HH:MM)." in page.text
    assert field_value(page, "start_time") == "25:00"
    day = TODAY.isoformat()
    page = book.client.post(
        "/appointments/new",
        data={**data, "day": day, "start_time": "", "end_time": "10:00"},
    )
    assert "is needed when there is an end time." in page.text
    page = book.client.post(
        "/appointments/new",
        data={**data, "day": day, "start_time": "10:00", "end_time": "09:30"},
    )
    assert "must be later than the start." in page.text
    saved = book.client.post(
        "/appointments/new",
        data={**data, "day": day, "start_time": "09:00", "end_time": "09:30"},
    )
    assert saved.status == 302
    dashboard = book.client.get("/")
    assert "Dentist" in dashboard.text and "09:00–09:30" in dashboard.text


def test_choosing_a_contact_keeps_the_half_filled_appointment(book):
    zoe = book.add_contact("Zoë Ångström")
    book.add_contact("Bob")
    token = book.token("/appointments/new")
    typed = {
        "title": "Lunch ☕",
        "day": "2030-02-30",  # not a date: kept as typed all the same
        "start_time": "12:30",
        "end_time": "",
        "place": "Café Zimt",
        "contact_id": "",
        "notes": NOTES,
        "submit_token": token,
    }
    away = book.client.post(
        "/appointments/new", data={**typed, "action": "choose-contact"}
    )
    assert away.status == 302 and away.location == "/contacts/pick"
    assert book.count("appointment") == 0

    picker = book.client.get("/contacts/pick", query={"q": "ZOË"})
    assert picker.status == 200
    assert "for “Lunch ☕”" in picker.text
    assert f'name="contact" value="{zoe}"' in picker.text
    assert "Bob" not in picker.text
    assert 'href="/appointments/new?draft=1"' in picker.text  # Cancel keeps the draft

    back = book.client.post("/contacts/pick", data={"contact": str(zoe)})
    assert back.status == 302 and back.location == "/appointments/new?draft=1"
    form = book.client.get(back.location)
    assert field_value(form, "title") == "Lunch ☕"
    assert field_value(form, "day") == "2030-02-30"
    assert field_value(form, "start_time") == "12:30"
    assert field_value(form, "place") == "Café Zimt"
    assert textarea(form, "notes") == NOTES
    assert field_value(form, "contact_id") == str(zoe)
    assert "<strong>Zoë Ångström</strong>" in form.text

    # The impossible date is still refused when saving; then fixed and saved.
    token = re.search(r'name="submit_token" value="([^"]+)"', form.text).group(1)
    again = {**typed, "contact_id": str(zoe), "submit_token": token}
    page = book.client.post("/appointments/new", data=again)
    assert "does not look like a date (YYYY-MM-DD)." in page.text
    assert "<strong>Zoë Ångström</strong>" in page.text
    saved = book.client.post("/appointments/new", data={**again, "day": "2030-02-28"})
    assert saved.status == 302
    row = book.database.execute("SELECT * FROM appointment").fetchone()
    assert (row["title"], row["contact_id"], row["notes"]) == ("Lunch ☕", zoe, NOTES)
    # The draft is gone from the session once saved.
    plain = book.client.get("/appointments/new?draft=1")
    assert field_value(plain, "title") == ""
    listing = book.client.get("/appointments").text
    assert (
        "Lunch ☕" in listing
        and f'<a href="/contacts/{zoe}">Zoë Ångström</a>' in listing
    )


def test_choosing_nobody_and_cancelling_from_the_edit_form(book):
    zoe = book.add_contact("Zoë")
    appointment = book.add_appointment("Tea", contact_id=str(zoe))
    url = f"/appointments/{appointment}/edit"
    form = book.client.get(url)
    assert "<strong>Zoë</strong>" in form.text
    data = {
        "title": "Tea for two",
        "day": TODAY.isoformat(),
        "start_time": "",
        "end_time": "",
        "place": "",
        "contact_id": str(zoe),
        "notes": "",
        "action": "choose-contact",
    }
    assert book.client.post(url, data=data).location == "/contacts/pick"
    # Another form's ?draft=1 does not pick up this draft.
    assert field_value(book.client.get("/appointments/new?draft=1"), "title") == ""
    back = book.client.post("/contacts/pick", data={"contact": ""})
    assert back.location == f"{url}?draft=1"
    form = book.client.get(back.location)
    assert field_value(form, "title") == "Tea for two"
    assert field_value(form, "contact_id") == ""
    assert "nobody in particular" in form.text
    # Without ?draft=1 the form shows the stored record.
    assert field_value(book.client.get(url), "title") == "Tea"


def test_the_picker_without_a_draft_goes_back_to_the_appointments(book):
    book.add_contact("Zoë")
    for answer in (
        book.client.get("/contacts/pick"),
        book.client.post("/contacts/pick", data={"contact": "1"}),
    ):
        assert answer.status == 302 and answer.location == "/appointments"
    page = book.client.get("/appointments")
    assert "There was no appointment waiting for a contact." in page.text


def test_the_picker_refuses_a_contact_that_does_not_exist(book):
    book.client.post(
        "/appointments/new",
        data={"title": "x", "day": "", "action": "choose-contact"},
    )
    assert book.client.post("/contacts/pick", data={"contact": "99"}).status == 404
    assert book.client.post("/contacts/pick", data={"contact": "x"}).status == 404


def test_a_draft_is_kept_in_the_database_not_in_the_cookie(book):
    """A cookie goes to every local server on the host name: what the user
    typed stays in the app's database, under the session's id."""
    notes = "🐍" * 1000  # 4,000 bytes: more than a cookie holds
    token = book.token("/appointments/new")
    away = book.client.post(
        "/appointments/new",
        data={
            "title": "Surprise party",
            "day": "",
            "notes": notes,
            "submit_token": token,
            "action": "choose-contact",
        },
    )
    assert away.status == 302 and away.location == "/contacts/pick"
    cookies = " ".join(book.client.cookies.values())
    for part in cookies.split("."):  # the signed payloads, decoded
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert b"Surprise" not in decoded and "🐍".encode() not in decoded
    [(session_id, fields)] = book.database.execute(
        "SELECT session_id, fields FROM draft"
    ).fetchall()
    assert "Surprise party" in fields and len(session_id) == 24
    form = book.client.get("/appointments/new?draft=1")
    assert field_value(form, "title") == "Surprise party"
    assert textarea(form, "notes") == notes
    # Another browser (another session) does not see it.
    other = Client(book.app, error_page=datebook.error_page)
    assert field_value(other.get("/appointments/new?draft=1"), "title") == ""
    assert other.get("/contacts/pick").location == "/appointments"


def test_old_drafts_are_deleted_when_another_is_kept(book):
    database = datebook.database
    old = time.time() - database.DRAFT_LIFETIME_SECONDS - 1
    database.save_draft(book.database, "old-session", "/appointments/new", {}, old)
    book.database.commit()
    assert database.load_draft(book.database, "old-session") is None  # expired
    book.client.post(
        "/appointments/new",
        data={"title": "x", "day": "", "action": "choose-contact"},
    )
    ids = [row[0] for row in book.database.execute("SELECT session_id FROM draft")]
    assert "old-session" not in ids and len(ids) == 1


def test_a_new_appointment_from_a_contact_page_starts_with_the_contact(book):
    zoe = book.add_contact("Zoë")
    page = book.client.get(f"/contacts/{zoe}")
    assert f'href="/appointments/new?contact={zoe}"' in page.text
    form = book.client.get(f"/appointments/new?contact={zoe}")
    assert field_value(form, "contact_id") == str(zoe)
    assert field_value(form, "day") == TODAY.isoformat()


def test_deleting_an_appointment(book):
    appointment = book.add_appointment("Dentist")
    url = f"/appointments/{appointment}/delete"
    confirm = book.client.get(url)
    assert confirm.status == 200 and "Delete “Dentist”?" in confirm.text
    assert book.count("appointment") == 1
    done = book.client.post(url)
    assert done.status == 302 and book.count("appointment") == 0
    assert "Deleted “Dentist”." in book.client.get(done.location).text


# -- Tasks -----------------------------------------------------------------------------


def test_tasks_are_created_ticked_edited_and_deleted(book):
    token = book.token("/tasks/new")
    data = {"title": "", "due": "", "priority": "", "notes": "", "submit_token": token}
    page = book.client.post("/tasks/new", data=data)
    assert "<strong>Task</strong>: may not be blank." in page.text
    assert "<strong>Priority</strong>: please choose one." in page.text
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    saved = book.client.post(
        "/tasks/new",
        data={**data, "title": "Renew passport", "due": yesterday, "priority": "0"},
    )
    assert saved.status == 302
    row = book.database.execute("SELECT * FROM task").fetchone()
    assert (row["title"], row["priority"], row["done"]) == ("Renew passport", 1, 0)
    dashboard = book.client.get("/").text
    assert '<li class="overdue">' in dashboard and "Renew passport" in dashboard

    ticked = book.client.post("/tasks/1/done", data={"back": "/"})
    assert ticked.location == "/"
    assert book.database.execute("SELECT done FROM task").fetchone()[0] == 1
    # "back" may only lead into this app, and is checked before the work:
    # a bad one is a 400 that ticked nothing (a NUL was a 500 after the commit).
    for elsewhere in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\x00",
        "/tasks\r\nSet-Cookie: x=1",
        "/ä",
    ):
        answer = book.client.post("/tasks/1/done", data={"back": elsewhere})
        assert answer.status == 400, elsewhere
        assert book.database.execute("SELECT done FROM task").fetchone()[0] == 1
    assert book.client.post("/tasks/1/done").location == "/tasks"  # no back: the list
    assert book.client.post("/tasks/1/done", data={"back": "/"}).location == "/"
    assert book.client.get("/tasks/1/done").status == 405

    form = book.client.get("/tasks/1/edit")
    assert field_value(form, "title") == "Renew passport"
    saved = book.client.post(
        "/tasks/1/edit",
        data={
            "title": "Renew passport ✈",
            "due": "",
            "priority": "2",
            "done": "on",
            "notes": "",
        },
    )
    assert saved.status == 302
    row = book.database.execute("SELECT * FROM task").fetchone()
    assert (row["title"], row["priority"], row["done"], row["due"]) == (
        "Renew passport ✈",
        3,
        1,
        None,
    )
    assert '<li class="done">' in book.client.get("/tasks").text
    assert book.client.post("/tasks/1/delete").status == 302
    assert book.count("task") == 0


# -- Attachments -----------------------------------------------------------------------


def test_an_attachment_is_stored_under_our_name_and_downloaded_under_its_own(book):
    zoe = book.add_contact("Zoë")
    content = "Grüße ☕\n".encode() * 1000
    saved = book.attach(zoe, "C:\\Users\\zoë\\..\\Visitenkarte Zoë.txt", content)
    assert saved.status == 302 and saved.location == f"/contacts/{zoe}"
    row = book.database.execute("SELECT * FROM attachment").fetchone()
    assert row["filename"] == "Visitenkarte Zoë.txt"
    assert row["size"] == len(content)
    assert row["content_type"] == "text/plain; charset=utf-8"  # by the extension
    stored = list(book.attachments.iterdir())
    assert [path.name for path in stored] == [row["stored_name"]]
    assert re.fullmatch(r"[0-9a-f]{32}\.txt", row["stored_name"])
    assert stored[0].read_bytes() == content
    page = book.client.get(f"/contacts/{zoe}")
    assert "Visitenkarte Zoë.txt" in page.text and "11.7 KB" in page.text
    assert "Attached “Visitenkarte Zoë.txt”." in page.text

    download = book.client.get(f"/attachments/{row['id']}")
    assert download.status == 200
    assert download.body == content
    assert download.content_type == "text/plain"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Visitenkarte%20Zo%C3%AB.txt" in disposition


def test_a_download_name_with_quotes_and_any_script_cannot_break_the_header(book):
    zoe = book.add_contact("Zoë")
    name = 'Zoë "the card"; filename=evil.exe\r\nX-Evil: 1 中文.txt'
    assert book.attach(zoe, name, b"card").status == 302
    download = book.client.get("/attachments/1")
    assert download.body == b"card"
    assert "x-evil" not in download.headers
    disposition = download.headers["content-disposition"]
    # One quoted ASCII stand-in (no quote or backslash inside), then the
    # whole name percent-encoded: nothing a name holds can end either part.
    parts = re.fullmatch(
        r"attachment; filename=\"[^\"\\\\]+\"; filename\*=UTF-8''([A-Za-z0-9%._~-]+)",
        disposition,
    )
    assert parts, disposition
    stored = book.database.execute("SELECT filename FROM attachment").fetchone()[0]
    assert "中文" in stored
    assert urllib.parse.unquote(parts.group(1)) == re.sub(r"[\r\n]", "", stored)


def test_an_attachment_needs_a_file_and_a_size_and_is_never_typed_by_the_browser(
    book, monkeypatch
):
    zoe = book.add_contact("Zoë")
    token = book.token(f"/contacts/{zoe}/attach")
    page = book.client.post(
        f"/contacts/{zoe}/attach",
        data={"description": "the card", "submit_token": token},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert "choose a file to attach." in page.text
    assert field_value(page, "description") == "the card"
    monkeypatch.setattr(datebook.forms, "MAX_ATTACHMENT_BYTES", 10)
    page = book.attach(zoe, "big.bin", b"x" * 11)
    assert "is too large (at most 10 bytes)." in page.text
    monkeypatch.undo()
    assert book.count("attachment") == 0 and not list(book.attachments.iterdir())
    assert book.attach(zoe, "page.html", b"<script>", "text/html").status == 302
    download = book.client.get("/attachments/1")
    assert download.content_type == "application/octet-stream"


def test_an_attachment_whose_row_is_rolled_back_leaves_no_file(book):
    zoe = book.add_contact("Zoë")
    # The INSERT of the attachment's row fails, after the file was saved.
    book.database.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON attachment"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    page = book.attach(zoe, "a.txt")
    assert page.status == 500
    assert "disk full" not in page.text
    assert book.count("attachment") == 0
    assert list(book.attachments.iterdir()) == []


def test_deleting_an_attachment_removes_the_file(book):
    zoe = book.add_contact("Zoë")
    book.attach(zoe, "a.txt")
    stored = next(book.attachments.iterdir())
    confirm = book.client.get("/attachments/1/delete")
    assert "Delete “a.txt”?" in confirm.text and stored.exists()
    done = book.client.post("/attachments/1/delete")
    assert done.status == 302 and done.location == f"/contacts/{zoe}"
    assert not stored.exists() and book.count("attachment") == 0
    assert "Deleted “a.txt”." in done.follow().text
    assert book.client.get("/attachments/1").status == 404


def test_a_missing_attachment_file_is_a_404(book):
    zoe = book.add_contact("Zoë")
    book.attach(zoe)
    next(book.attachments.iterdir()).unlink()
    page = book.client.get("/attachments/1")
    assert page.status == 404
    assert "There is no such file." in page.text


# -- Deleting a contact ----------------------------------------------------------------


def test_deleting_a_contact_keeps_appointments_and_removes_files(book):
    zoe = book.add_contact("Zoë")
    book.add_appointment("Lunch", contact_id=str(zoe))
    book.attach(zoe, "a.txt")
    book.attach(zoe, "b.txt")
    confirm = book.client.get(f"/contacts/{zoe}/delete")
    assert confirm.status == 200
    assert "Delete Zoë?" in confirm.text
    assert "They have 1 appointment, which stay" in confirm.text
    assert "and 2 files attached, which are deleted" in confirm.text
    assert '<form class="panel confirm" method="post">' in confirm.text
    assert book.count("contact") == 1  # asking deletes nothing

    done = book.client.post(f"/contacts/{zoe}/delete")
    assert done.status == 302 and done.location == "/contacts"
    assert "Deleted “Zoë”." in book.client.get("/contacts").text
    assert book.client.get(f"/contacts/{zoe}").status == 404
    row = book.database.execute("SELECT title, contact_id FROM appointment").fetchone()
    assert tuple(row) == ("Lunch", None)
    assert book.count("attachment") == 0
    assert list(book.attachments.iterdir()) == []


@pytest.mark.parametrize("method", ["DELETE", "PUT"])
def test_deleting_takes_a_post(book, method):
    zoe = book.add_contact("Zoë")
    answer = book.client.request(method, f"/contacts/{zoe}/delete")
    assert answer.status == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert book.count("contact") == 1


# -- Not found -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        "/contacts/99",
        "/contacts/abc",
        "/contacts/²",
        "/contacts/-1",
        "/contacts/" + "9" * 30,
        "/contacts/1.0",
        "/tasks/abc/edit",
        "/appointments/-1/delete",
        "/contacts/1/nothing",
        "/contacts/99/edit",
        "/contacts/99/delete",
        "/contacts/99/attach",
        "/appointments/99/edit",
        "/appointments/99/delete",
        "/tasks/99/edit",
        "/tasks/99/delete",
        "/attachments/99",
        "/attachments/99/delete",
        "/attachments/x",
    ],
)
def test_unknown_pages_and_records_are_404_in_the_app_layout(book, path):
    book.add_contact("Zoë")
    page = book.client.get(path)
    assert page.status == 404
    assert "<title>Not Found · Datebook</title>" in page.text


@pytest.mark.parametrize(
    "path", ["/contacts/99/delete", "/tasks/99/done", "/attachments/99/delete"]
)
def test_posting_to_a_missing_record_is_a_404(book, path):
    assert book.client.post(path).status == 404


def test_a_failure_is_a_500_in_the_layout_without_details(book):
    zoe = book.add_contact("Zoë")
    book.database.execute("ALTER TABLE attachment RENAME TO secret_detail")
    page = book.client.get(f"/contacts/{zoe}")
    assert page.status == 500
    assert "<title>Internal Server Error · Datebook</title>" in page.text
    assert "Something went wrong on our side" in page.text
    assert "secret" not in page.text and "attachment" not in page.text
    book.database.execute("ALTER TABLE secret_detail RENAME TO attachment")


# -- Running it ------------------------------------------------------------------------


def test_main_serves_the_database_given_without_opening_a_browser(
    tmp_path, monkeypatch
):
    served = {}

    def fake_serve_http(app, **options):
        served.update(options)
        page = Client(app, error_page=options["error_page"]).get("/")
        served["status"] = page.status

    monkeypatch.setattr(cli, "serve_http", fake_serve_http)
    target = tmp_path / "sub" / "mine.sqlite3"
    cli.main(["--db", str(target), "--port", "0", "--no-browser"])
    assert served["port"] == 0 and served["start"] is None and served["status"] == 200
    assert target.is_file()
    assert (tmp_path / "sub" / "mine-attachments").is_dir()
    with sqlite3.connect(target) as check:
        assert check.execute("SELECT count(*) FROM contact").fetchone() == (0,)
    check.close()


def test_main_defaults_to_the_data_folder_and_opens_the_browser(tmp_path, monkeypatch):
    served = {}
    monkeypatch.setattr(cli, "serve_http", lambda _, **options: served.update(options))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "data"))
    cli.main([])
    assert served["port"] == 8080 and served["start"] == ""
    expected = cli.default_database(create=False)
    assert expected.is_file() and expected.name == "datebook.sqlite3"
    assert "kali-datebook" in expected.parts


def test_ctrl_c_stops_main_quietly_and_closes_the_database(tmp_path, monkeypatch):
    apps = []

    def interrupted(app, **options):
        apps.append(app)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "serve_http", interrupted)
    cli.main(["--db", str(tmp_path / "db.sqlite3"), "--no-browser"])  # no raise
    assert apps[0].guard.connections == []  # closed


@pytest.mark.skipif(os.name != "posix", reason="demo.sh is a POSIX shell script")
def test_the_demo_launcher_lists_the_datebook():
    listing = subprocess.run(
        ["sh", str(ROOT / "demo.sh")], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(
        r"^  datebook +A datebook: contacts, appointments and tasks in an SQLite",
        listing,
        re.M,
    )
    assert re.search(r"^  intro +", listing, re.M)  # the one-file examples too


# -- Lists: pages, sorting, searching --------------------------------------------------


def add_contacts(book, names):
    """Contacts added the quick way, by SQL (the triggers keep the sort keys)."""
    book.database.executemany(
        "INSERT INTO contact (name, email) VALUES (?, ?)",
        [(name, f"{number:03d}@example.org") for number, name in enumerate(names)],
    )
    book.database.commit()


def links(page, rel):
    found = re.findall(rf'rel="{rel}" href="([^"]+)"', page.text)
    return [html.unescape(url) for url in found]


def titles(page):
    return re.findall(r'class="what" href="[^"]+">([^<]+)<', page.text)


def listed_names(page):
    return re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', page.text)


def test_the_contact_list_comes_in_pages_of_50_in_name_order(book):
    names = [f"{'Ö' if n % 2 else 'o'}laf {n:03d}" for n in range(120)] + ["Zoë"]
    add_contacts(book, names)
    first = book.client.get("/contacts")
    assert "121 contacts" in first.text
    assert links(first, "prev") == [] and len(links(first, "next")) == 1
    seen, page = [], first
    while True:
        seen.append(listed_names(page))
        following = links(page, "next")
        if not following:
            break
        page = book.client.get(following[0])
    assert [len(names) for names in seen] == [50, 50, 21]
    everything = [name for names in seen for name in names]
    # "Ö" sorts as "o": the numbers decide, whatever the accent.
    assert everything == sorted(names, key=datebook.database.fold)
    back = book.client.get(links(page, "prev")[0])
    assert listed_names(back) == seen[1]


def test_a_heading_sorts_the_list_both_ways(book):
    add_contacts(book, ["Bob", "ann", "Åsa", "Carl"])  # e-mails 000 to 003
    page = book.client.get("/contacts")
    assert listed_names(page) == ["ann", "Åsa", "Bob", "Carl"]
    heading = '<th aria-sort="ascending"><a href="/contacts?dir=desc">Name</a> ▲'
    assert heading in page.text
    by_email = book.client.get("/contacts?sort=email")
    assert listed_names(by_email) == ["Bob", "ann", "Åsa", "Carl"]
    assert 'href="/contacts?sort=email&amp;dir=desc"' in by_email.text
    backwards = book.client.get("/contacts?sort=email&dir=desc")
    assert listed_names(backwards) == ["Carl", "Åsa", "ann", "Bob"]
    assert "▼" in backwards.text
    for bad in ("sort=notes", "dir=up", "after=garbage", "sort=email;drop"):
        assert book.client.get(f"/contacts?{bad}").status == 400


def test_a_search_in_a_list_keeps_its_sort_and_ignores_accents(book):
    add_contacts(book, ["Zoë Ångström", "Zoe Berg", "Bob"])
    page = book.client.get("/contacts?sort=email&dir=desc")
    search = page.form(1)  # the list's own search box (0 is the header's)
    search["q"] = "ZOE"
    found = search.submit()
    assert found.url.startswith("/contacts?")
    assert "2 found for “ZOE”" in found.text
    assert listed_names(found) == ["Zoe Berg", "Zoë Ångström"]  # e-mail, down
    assert listed_names(book.client.get("/contacts?q=angstr")) == ["Zoë Ångström"]
    nothing = book.client.get("/contacts", query={"q": 'AND "( *'})
    assert nothing.status == 200 and "No contacts found." in nothing.text


def test_the_appointments_open_at_today_and_page_back_into_the_past(book):
    day = datetime.timedelta(days=1)
    book.database.executemany(
        "INSERT INTO appointment (title, day, start_time) VALUES (?, ?, ?)",
        [(f"Past {n:02d}", str(TODAY - (60 - n) * day), None) for n in range(60)]
        + [
            ("Later today", str(TODAY), "18:00"),
            ("All day", str(TODAY), None),
            ("Tomorrow", str(TODAY + day), "08:00"),
        ],
    )
    book.database.commit()
    page = book.client.get("/appointments")
    assert titles(page) == ["All day", "Later today", "Tomorrow"]
    assert "63 appointments" in page.text and links(page, "next") == []
    earlier = book.client.get(links(page, "prev")[0])
    assert titles(earlier) == [f"Past {n:02d}" for n in range(10, 60)]
    assert links(earlier, "next")  # and on to today again
    by_title = book.client.get("/appointments?sort=title_key")
    assert titles(by_title)[:2] == ["All day", "Later today"]
    found = book.client.get("/appointments?q=today")
    assert "1 found for “today”" in found.text


def test_appointments_all_in_the_past_are_listed_from_the_first(book):
    for title, day in (("Old", "2001-01-01"), ("Older", "2000-01-01")):
        book.add_appointment(title, day=day)
    page = book.client.get("/appointments")
    assert titles(page) == ["Older", "Old"]
    assert links(page, "prev") == [] and links(page, "next") == []


def test_tasks_come_open_first_by_due_date_and_sort_by_priority(book):
    day = datetime.timedelta(days=1)
    book.database.executemany(
        "INSERT INTO task (title, due, priority, done) VALUES (?, ?, ?, ?)",
        [
            ("undated", None, 1, 0),
            ("later", (TODAY + 9 * day).isoformat(), 3, 0),
            ("soon", (TODAY + day).isoformat(), 2, 0),
            ("finished", TODAY.isoformat(), 1, 1),
            ("late", (TODAY - day).isoformat(), 3, 0),
        ],
    )
    book.database.commit()
    page = book.client.get("/tasks")
    assert titles(page) == ["late", "soon", "later", "undated", "finished"]
    assert '<li class="overdue">' in page.text and '<li class="done">' in page.text
    by_priority = book.client.get("/tasks?sort=priority")
    assert titles(by_priority) == ["undated", "finished", "soon", "later", "late"]
    # Ticking a task from a sorted page comes back to that page.
    back = field_value(by_priority, "back")
    assert back == "/tasks?sort=priority"
    assert book.client.post("/tasks/1/done", data={"back": back}).location == back
    found = book.client.get("/tasks?q=SOO")
    assert titles(found) == ["soon"]


def test_the_global_search_links_to_the_rest_of_a_long_result(book):
    add_contacts(book, [f"Olaf {n}" for n in range(60)])
    page = book.client.get("/search?q=olaf")
    assert "60 found for “olaf”" in page.text
    assert len(listed_names(page)) == 50
    assert 'href="/contacts?q=olaf">All the contacts found' in page.text


def test_the_dashboard_counts_stop_at_a_thousand(book):
    add_contacts(book, [f"Person {n}" for n in range(1001)])
    page = book.client.get("/")
    assert '<span class="count">1,000+</span> Contacts' in page.text
    assert "1,000+ contacts" in book.client.get("/contacts").text


# -- Birthdays, the export, old databases ----------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        # Across New Year, soonest first.
        ("2023-12-20", ["Dec 24", "Jan 02", "Jan 19"]),
        # Born on 29 February: on 1 March in other years.
        ("2023-03-01", ["Feb 29", "Mar 01", "Mar 31"]),
        ("2024-02-28", ["Feb 28", "Feb 29", "Mar 01"]),
    ],
)
def test_coming_birthdays_are_found_through_the_month_and_day(book, today, expected):
    born = {
        "Dec 24": "1980-12-24", "Jan 02": "1990-01-02", "Jan 19": "1970-01-19",
        "Feb 29": "1992-02-29", "Mar 01": "1985-03-01", "Mar 31": "1999-03-31",
        "Feb 28": "1960-02-28", "Apr 30": "2000-04-30", "Jul 01": "2001-07-01",
    }  # fmt: skip
    book.database.executemany(
        "INSERT INTO contact (name, birthday) VALUES (?, ?)", born.items()
    )
    book.database.commit()
    today = datetime.date.fromisoformat(today)
    found = datebook.database.coming_birthdays(book.database, today)
    assert [row["name"] for row in found] == expected
    assert all(0 <= (row["day"] - today).days <= 30 for row in found)
    plan = book.database.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM contact"
        " WHERE substr(birthday, 6) BETWEEN '01-01' AND '01-31'"
    ).fetchall()
    assert "contact_by_birthday_day" in str([tuple(row) for row in plan])


def test_the_dashboard_shows_the_birthdays_within_30_days(book):
    soon = TODAY + datetime.timedelta(days=3)
    born = soon.replace(year=1992)  # a leap year: 29 February too
    book.add_contact("Ada", birthday=born.isoformat())
    book.add_contact("Bob", birthday="")
    page = book.client.get("/")
    assert "Birthdays in the next 30 days" in page.text
    assert datebook.pages.show_date(soon) in page.text and "Ada" in page.text


def test_the_contacts_download_as_csv_for_a_spreadsheet(book):
    book.add_contact("Zoë", email="zoe@example.org", notes="=1+2")
    book.add_contact("Ada", birthday="1990-02-03")
    download = book.client.get("/contacts.csv")
    assert download.status == 200
    assert download.content_type == "text/csv"
    assert 'filename="contacts.csv"' in download.headers["content-disposition"]
    text = download.body.decode("utf-8-sig")  # the BOM tells Excel it is UTF-8
    assert text.splitlines() == [
        "name,email,phone,birthday,notes",
        "Ada,,,1990-02-03,",
        "Zoë,zoe@example.org,,,'=1+2",  # a formula is only text
    ]


OLD_SCHEMA = """

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


def test_a_database_of_the_first_datebook_opens_with_its_data(tmp_path):
    path = tmp_path / "datebook.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_SCHEMA)
        old.executemany(
            "INSERT INTO contact (name, email) VALUES (?, ?)",
            [("Zoë Ångström", "z@example.org"), ("Ölaf", None), ("bob", None)],
        )
        old.execute("INSERT INTO task (title, priority) VALUES ('Renew passport', 1)")
        old.execute(
            "INSERT INTO appointment (title, day) VALUES ('Dentist', '2031-01-02')"
        )
    old.close()
    book = Book(tmp_path)
    try:
        page = book.client.get("/contacts")
        assert listed_names(page) == ["bob", "Ölaf", "Zoë Ångström"]
        assert listed_names(book.client.get("/contacts?q=zoe")) == ["Zoë Ångström"]
        assert "Renew passport" in book.client.get("/tasks").text
        assert "Dentist" in book.client.get("/appointments").text
        book.add_contact("Ann")  # new rows get their sort keys too
        assert listed_names(book.client.get("/contacts"))[0] == "Ann"
    finally:
        book.app.guard.close()
    again = Book(tmp_path)  # a second start changes nothing
    again.app.guard.close()


# -- The test client's forms -----------------------------------------------------------


def test_a_contact_is_added_through_the_form_as_a_browser_would(book):
    form = book.client.get("/contacts/new").form("record")
    form["name"] = NAME
    form["birthday"] = datetime.date(1990, 2, 3)
    form["notes"] = NOTES
    saved = form.submit()
    assert saved.status_code == 302
    page = saved.follow()
    assert page.url == "/contacts/1"
    assert "Sat 3 Feb 1990" in page.text
    again = form.submit()  # the same form, sent twice: saved once
    assert again.location == saved.location and book.count("contact") == 1
    edit = book.client.get("/contacts/1/edit").form("record")
    assert edit["name"] == NAME
    assert edit["notes"] == NOTES.replace("\n", "\r\n")  # a browser sends CRLF
    assert "submit_token" not in edit  # only "new" forms are guarded


# -- Safety: replays, a locked database, huge numbers, several processes, fsync -------


def test_a_resubmitted_form_does_not_bring_back_an_old_session(book):
    """A double submit answers with the first answer again, but never with
    its Set-Cookie: that held the session as it was then, and would wipe
    what happened since (here: a half-typed appointment waiting for its
    contact)."""
    token = book.token("/contacts/new")
    data = {"name": "Ada", "email": "", "phone": "", "birthday": "", "notes": "",
            "submit_token": token}  # fmt: skip
    first = book.client.post("/contacts/new", data=data)
    assert first.status == 302 and first.headers.get_list("set-cookie")
    assert "Added “Ada”." in book.client.get(first.location).text  # shown once
    away = book.client.post(
        "/appointments/new",
        data={"title": "Half-typed", "day": "", "action": "choose-contact"},
    )
    assert away.location == "/contacts/pick"
    session_now = dict(book.client.cookies)

    again = book.client.post("/contacts/new", data=data)  # the reload
    assert again.status == 302 and again.location == first.location
    assert again.headers.get_list("set-cookie") == []
    assert dict(book.client.cookies) == session_now
    assert book.count("contact") == 1
    page = book.client.get(first.location)
    assert "Added “Ada”." not in page.text  # the old message did not come back
    draft = book.client.get("/appointments/new?draft=1")
    assert field_value(draft, "title") == "Half-typed"  # the draft is still there


def test_a_locked_database_gives_the_form_back_as_typed(book):
    token = book.token("/contacts/new")
    data = {"name": NAME, "email": "", "phone": "", "birthday": "", "notes": NOTES,
            "submit_token": token}  # fmt: skip
    other = sqlite3.connect(book.db_path)  # another program, holding the lock
    try:
        other.execute("BEGIN IMMEDIATE")
        page = book.client.post("/contacts/new", data=data)
        assert page.status == 503 and page.headers.get("retry-after") == "1"
        assert "The database is busy; your input is kept" in page.text
        assert field_value(page, "name") == NAME and textarea(page, "notes") == NOTES
        assert field_value(page, "submit_token") == token  # the same form
        # Choosing a contact keeps a draft: the same answer, input kept.
        away = book.client.post(
            "/appointments/new",
            data={"title": "Tea", "day": "", "action": "choose-contact"},
        )
        assert away.status == 503 and field_value(away, "title") == "Tea"
    finally:
        other.rollback()
        other.close()
    saved = book.client.post("/contacts/new", data=data)  # "try again"
    assert saved.status == 302 and book.count("contact") == 1


def test_the_busy_timeout_is_short():
    database = datebook.open_database(":memory:")
    try:
        assert database.execute("PRAGMA busy_timeout").fetchone()[0] <= 1000
    finally:
        database.close()


def test_a_30_digit_contact_id_is_a_form_error_not_a_500(book):
    token = book.token("/appointments/new")
    page = book.client.post(
        "/appointments/new",
        data={
            "title": "Lunch",
            "day": TODAY.isoformat(),
            "contact_id": "9" * 30,
            "submit_token": token,
        },  # fmt: skip
    )
    assert page.status == 200 and "is too large." in page.text
    assert field_value(page, "title") == "Lunch"
    assert book.count("appointment") == 0


def test_two_processes_on_one_datebook_accept_each_others_forms_and_sessions(
    tmp_path, monkeypatch
):
    """As under gunicorn -w 2: two apps built independently on the same data
    folder share the secret file, so a form shown by one is saved by the
    other, and a session written by one is read by the other."""
    monkeypatch.delenv("KALI_SECRET", raising=False)
    one, two = Book(tmp_path), Book(tmp_path)
    try:
        two.client.cookies = one.client.cookies  # one browser
        token = one.token("/contacts/new")
        saved = two.client.post(
            "/contacts/new",
            data={
                "name": "Ada",
                "email": "",
                "phone": "",
                "birthday": "",
                "notes": "",
                "submit_token": token,
            },  # fmt: skip
        )
        assert saved.status == 302, saved.text  # not "This form had expired"
        assert "Added “Ada”." in one.client.get(saved.location).text
        again = one.client.post(
            "/appointments/new",
            data={"title": "Tea", "day": "", "action": "choose-contact"},
        )
        assert again.location == "/contacts/pick"
        picker = two.client.get("/contacts/pick")
        assert picker.status == 200 and "for “Tea”" in picker.text
    finally:
        one.app.guard.close()
        two.app.guard.close()


def test_an_attachment_is_on_the_disk_before_its_row_commits(book, monkeypatch):
    """Write the file, fsync it and its folder, then commit the row naming
    it: after a power cut no row names an empty file."""
    events = []
    real_fsync = os.fsync

    def fsync(descriptor):
        real_fsync(descriptor)
        kind = "folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file"
        events.append(f"fsync {kind}")

    contact = book.add_contact("Ada")
    monkeypatch.setattr(os, "fsync", fsync)
    book.database.set_trace_callback(
        lambda sql: (
            events.append(sql.split()[0].upper())
            if sql.split()[0].upper() in ("COMMIT", "INSERT")
            else None
        )
    )
    try:
        assert book.attach(contact, content=b"x" * 100_000).status == 302
    finally:
        book.database.set_trace_callback(None)
    [name] = [
        row[0] for row in book.database.execute("SELECT stored_name FROM attachment")
    ]
    assert (book.attachments / name).read_bytes() == b"x" * 100_000
    row_insert = max(i for i, event in enumerate(events) if event == "INSERT")
    commit = events.index("COMMIT", row_insert)
    assert events.index("fsync file") < commit
    if os.name == "posix":
        assert events.index("fsync folder") < commit


OPEN_TOGETHER = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
from datebook.database import open_database
open_database(Path(sys.argv[2])).close()
print("opened")
"""


def test_processes_opening_a_new_datebook_at_once_all_succeed(tmp_path):
    # gunicorn -w 2 on a first run: both workers create the same new file.
    import sys

    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "examples")]),
    }
    for round_number in range(4):
        go = tmp_path / f"go-{round_number}"
        database = tmp_path / f"new-{round_number}.sqlite3"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_TOGETHER, str(go), str(database)],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        time.sleep(0.5)  # all three imported and waiting
        go.touch()
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0 and out.strip() == "opened", err
        with sqlite3.connect(database) as check:
            names = {row[0] for row in check.execute("SELECT name FROM sqlite_master")}
        check.close()
        assert {"contact", "contact_search"} <= names
