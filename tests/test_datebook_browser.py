"""The datebook example in a real headless Chromium, from first page to delete.

One user session: create a contact with non-ASCII text, hit a validation
error and find the input kept, fix and save, edit, plan an appointment
through the pick-a-contact step, attach and download a file, photograph the
dashboard, and delete the contact. A second session pages through a long
contact list, sorts it by a heading and searches it.
"""

from __future__ import annotations

import json

import pytest
from browser import read_png

from examples import load_example

pytestmark = pytest.mark.browser


NAME = "Zoë Ångström"
NOTES = "Café ☕ on Fridays\nsecond line — ünïcödé"
TITLE = "Lunch ☕ mit Zoë"
FILE_NAME = "Visitenkarte Zoë.txt"
FILE_TEXT = "Zoë Ångström\nGrüße aus Göteborg ☕\n"


def choose_file(page, selector, path):
    """Put a file into an <input type=file>, as the file chooser would."""
    found = page.send(
        "Runtime.evaluate",
        {"expression": f"document.querySelector({json.dumps(selector)})"},
    )
    page.send(
        "DOM.setFileInputFiles",
        {"files": [str(path)], "objectId": found["result"]["objectId"]},
    )


def click_and_wait(page, selector):
    with page.expect_navigation():
        page.click(selector)


def path_of(page):
    return page.evaluate("location.pathname + location.search")


def test_the_datebook_from_first_page_to_delete(page, kali_server, tmp_path):
    datebook = load_example("datebook")
    attachments = tmp_path / "files"
    app = datebook.make_app(tmp_path / "datebook.sqlite3", attachments)
    try:
        server = kali_server(app, error_page=datebook.error_page)
        page.set_viewport(1024, 768)
        page.goto(server.url)
        assert page.text("h1").startswith("Today, ")

        # -- A new contact, refused once, then saved -----------------------------------
        click_and_wait(page, "a.nav-contacts")
        assert page.text("h1") == "Contacts"
        click_and_wait(page, "main a.button.primary")
        assert path_of(page) == "/contacts/new"
        assert page.evaluate("document.activeElement.id") == "name"
        page.fill("#name", NAME)
        page.fill("#email", "zoe@example.org")
        page.fill("#notes", NOTES)
        page.set_value("#birthday", "2999-01-01")
        page.submit("form.record")

        assert "Birthday: is in the future." in page.text("ul.errors")
        assert page.text("#birthday-error") == "is in the future."
        invalid = page.evaluate("document.querySelector('#birthday').ariaInvalid")
        assert invalid == "true"
        assert page.value("#name") == NAME
        assert page.value("#email") == "zoe@example.org"
        assert page.value("#notes") == NOTES
        assert page.value("#birthday") == "2999-01-01"

        page.set_value("#birthday", "1990-02-03")
        click_and_wait(page, "form.record .actions button.primary")
        assert path_of(page) == "/contacts/1"
        assert page.text("h1") == NAME
        assert page.text(".flash") == f"Added “{NAME}”."
        assert "Sat 3 Feb 1990" in page.text("dl.details")

        # -- Edited --------------------------------------------------------------------
        click_and_wait(page, "main a[href='/contacts/1/edit']")
        assert page.value("#notes") == NOTES
        page.fill("#phone", "+46 31 123 45 67")
        with page.expect_navigation():
            page.press("Enter")  # Enter presses the form's first button: "Save"
        assert path_of(page) == "/contacts/1"
        assert page.text(".flash") == f"Saved “{NAME}”."
        assert "+46 31 123 45 67" in page.text("dl.details")

        # -- An appointment, with a contact picked from the list -----------------------
        page.goto(server.url + "appointments/new")
        page.fill("#title", TITLE)
        page.set_value("#day", "2031-05-06")
        page.set_value("#start_time", "12:30")
        page.fill("#place", "Café Zimt")
        assert page.text(".chosen").startswith("nobody in particular")
        click_and_wait(page, "button[value=choose-contact]")
        assert path_of(page) == "/contacts/pick"
        assert f"for “{TITLE}”" in page.text("main .toolbar")
        page.fill("main input[name=q]", "ZOE")
        page.submit("main form[role=search]")
        assert path_of(page) == "/contacts/pick?q=ZOE"
        click_and_wait(page, "button[name=contact][value='1']")
        assert path_of(page) == "/appointments/new?draft=1"
        assert page.value("#title") == TITLE
        assert page.value("#day") == "2031-05-06"
        assert page.value("#start_time") == "12:30"
        assert page.value("#place") == "Café Zimt"
        assert page.text(".chosen strong") == NAME
        click_and_wait(page, "form.record .actions button.primary")
        assert path_of(page) == "/appointments"
        assert TITLE in page.text("ul.agenda")
        assert NAME in page.text("ul.agenda")

        # -- A file attached and downloaded --------------------------------------------
        card = tmp_path / FILE_NAME
        card.write_text(FILE_TEXT, encoding="utf-8")
        page.goto(server.url + "contacts/1")
        click_and_wait(page, "a[href='/contacts/1/attach']")
        choose_file(page, "#file", card)
        page.fill("#description", "Visitenkarte")
        click_and_wait(page, "form.record .actions button.primary")
        assert path_of(page) == "/contacts/1"
        assert page.text(".flash") == f"Attached “{FILE_NAME}”."
        assert FILE_NAME in page.text("ul.files")
        stored = list(attachments.iterdir())
        assert len(stored) == 1 and stored[0].name != FILE_NAME
        disposition, text = page.evaluate(
            """fetch(document.querySelector("ul.files a").href).then(
                async r => [r.headers.get("content-disposition"), await r.text()])"""
        )
        assert text == FILE_TEXT
        assert "filename*=UTF-8''Visitenkarte%20Zo%C3%AB.txt" in disposition

        # -- The dashboard, photographed -----------------------------------------------
        page.goto(server.url)
        assert TITLE in page.text("ul.agenda")
        shot = tmp_path / "dashboard.png"
        page.screenshot(shot)
        width, height, channels, rows = read_png(shot.read_bytes())
        assert (width, height) == (1024, 768)
        colours = {
            row[x : x + channels] for row in rows for x in range(0, len(row), channels)
        }
        assert len(colours) >= 20, f"a blank-looking page: {len(colours)} colours"

        # -- Deleted, after asking -----------------------------------------------------
        page.goto(server.url + "contacts/1")
        click_and_wait(page, "main a.button.danger")
        assert path_of(page) == "/contacts/1/delete"
        assert page.text("h1") == f"Delete {NAME}?"
        assert "1 appointment" in page.text("form.confirm")
        click_and_wait(page, "form.confirm button.danger")
        assert path_of(page) == "/contacts"
        assert page.text(".flash") == f"Deleted “{NAME}”."
        assert page.text(".empty") == "No contacts found."
        assert list(attachments.iterdir()) == []
        page.goto(server.url + "appointments")
        assert TITLE in page.text("ul.agenda")
        assert NAME not in page.text("ul.agenda")

        assert page.failures == []
        statuses = [response["response"]["status"] for response in page.responses]
        assert all(status in (200, 302) for status in statuses), statuses
        assert [line for line in page.console if "rror" in line] == []
    finally:
        app.guard.close()


def names_listed(page):
    return page.evaluate(
        "[...document.querySelectorAll('table.list tbody td:first-child')]"
        ".map(cell => cell.textContent.trim())"
    )


def test_a_long_contact_list_pages_sorts_and_searches(page, kali_server, tmp_path):
    datebook = load_example("datebook")
    app = datebook.make_app(tmp_path / "datebook.sqlite3", tmp_path / "files")
    try:
        database = app.guard.connections[0]
        database.executemany(
            "INSERT INTO contact (name, email) VALUES (?, ?)",
            [(f"Person {n:03d}", f"{999 - n:03d}@example.org") for n in range(120)]
            + [(NAME, "zoe@example.org")],
        )
        database.commit()
        server = kali_server(app, error_page=datebook.error_page)
        page.goto(server.url + "contacts")
        assert page.text("main .toolbar .muted") == "121 contacts"
        first = names_listed(page)
        assert first[0] == "Person 000" and len(first) == 50
        assert not page.exists("a[rel=prev]")

        # -- Next, next, and back ------------------------------------------------------
        click_and_wait(page, "a[rel=next]")
        assert names_listed(page)[0] == "Person 050"
        click_and_wait(page, "a[rel=next]")
        assert names_listed(page) == [f"Person {n:03d}" for n in range(100, 120)] + [
            NAME
        ]
        assert not page.exists("a[rel=next]")
        click_and_wait(page, "a[rel=prev]")
        assert names_listed(page)[0] == "Person 050"

        # -- Sorted by a heading, then the other way -----------------------------------
        page.goto(server.url + "contacts")
        click_and_wait(page, "th:nth-child(2) a")  # E-mail
        assert path_of(page) == "/contacts?sort=email"
        assert names_listed(page)[:2] == ["Person 119", "Person 118"]
        assert page.evaluate(
            "document.querySelector('th:nth-child(2)').getAttribute('aria-sort')"
        ) == "ascending"
        click_and_wait(page, "th:nth-child(2) a")
        assert path_of(page) == "/contacts?sort=email&dir=desc"
        assert names_listed(page)[0] == NAME  # "zoe@" after the digits

        # -- A search keeps the sort ---------------------------------------------------
        page.fill("main input[name=q]", "person 11")
        page.submit("main form[role=search]")
        assert path_of(page) == "/contacts?q=person+11&sort=email&dir=desc"
        assert names_listed(page) == [f"Person {n}" for n in range(110, 120)]
        assert page.text("main .toolbar .muted") == "10 found for “person 11”"
        page.fill("main input[name=q]", "ZOE angstr")
        page.submit("main form[role=search]")
        assert names_listed(page) == [NAME]

        assert page.failures == []
        statuses = [response["response"]["status"] for response in page.responses]
        assert all(status in (200, 302) for status in statuses), statuses
    finally:
        app.guard.close()
