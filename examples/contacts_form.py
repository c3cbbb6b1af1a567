"""Forms: a little address book with create, edit, validation and photo upload.

Run it with ``./demo.sh contacts_form`` (or ``demo contacts_form`` on
Windows). Then try to break it: leave the name blank, give a birthday in the
future, type letters into the budget, reuse an e-mail address, upload
something that is not a picture, or double-click "Save". Each time the form
comes back with everything you typed still in it and a message beside each
problem, and a contact is never saved twice.

Read this file top to bottom alongside the running app.
"""

import datetime
import logging
import os
import secrets
import sqlite3
import tempfile

from kali import HTTPError, Response, Router, Template, run_app
from kali.forms import (
    BLANKABLE,
    DATE,
    EMAIL,
    NULLABLE,
    Checkbox,
    DecimalLens,
    EmailEntry,
    Entry,
    EnumLens,
    Formlet,
    ListLens,
    Memo,
    Nullable,
    NumberEntry,
    Pick,
    RadioGroup,
    SaveError,
    SubmitGuard,
    Upload,
    ValidationError,
    render_error,
)

# -- Pages ---------------------------------------------------------------------------
# {name} escapes whatever it is given; {.name} inserts trusted HTML as it is.
# Form fields come out of kali.forms already escaped and trusted, so {field}
# and {.field} both work for them.

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body{font-family:sans-serif;max-width:44em;margin:2em auto;padding:0 1em}
.field{margin:.8em 0} .field>label:first-child{display:block;font-weight:bold}
fieldset{border:none;padding:0;margin:0} legend{font-weight:bold;padding:0}
.error{color:#b00020;display:block} ul.errors{color:#b00020}
table{border-collapse:collapse} td,th{padding:.3em .6em;border-bottom:1px solid #ddd}
img.photo{width:48px;height:48px;object-fit:cover;border-radius:50%}
</style></head><body>
<h1>{title}</h1>
{.body}
</body></html>"""
)

LIST = Template(
    """<p><a href="/new">Add a contact</a></p>
<table><tr><th></th><th>Name</th><th>E-mail</th><th>Kind</th><th>Birthday</th></tr>
{.rows}
</table>"""
)

ROW = Template(
    """<tr><td>{.photo}</td><td><a href="/edit/{id}">{name}</a></td>
<td>{email}</td><td>{kind}</td><td>{birthday}</td></tr>"""
)

FORM = Template(
    """{.error_list}
<form method="post" enctype="multipart/form-data">
{.fields}
{.submit_token}
<p><button type="submit">Save</button> <a href="/">Cancel</a></p>
</form>"""
)

PHOTO = Template('<img class="photo" src="/photo/{id}" alt="">')

FIELD = Template('<div class="field">{field}{message}</div>\n')

# -- The fields ------------------------------------------------------------------------
# Each form element knows how to show a value and read it back; the "lens"
# inside it converts text to a Python value and checks it. Blank is refused by
# default (Entry's TYPICAL lens); NULLABLE turns blank into None (SQL NULL).

KINDS = ["friend", "family", "work"]
GROUPS = ["book club", "climbing", "choir", "neighbours"]
RATINGS = ["★", "★★", "★★★"]
PHOTO_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}
PHOTO_MAX_BYTES = 2 * 1024 * 1024  # 2 MiB

# A browser labels a file by its name: "notes.png" full of text arrives as
# image/png. What a file is shows in its first bytes (its "signature").
PICTURE_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def picture_type(upload):
    """The media type that ``upload``'s first bytes show, or None."""
    head = upload.file.read(8)
    for signature, media_type in PICTURE_SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


class PhotoUpload(Upload):
    """A file input that accepts only PNG, JPEG and GIF pictures, by content."""

    def __init__(self, **kwargs):
        # "accept" only guides the browser's file chooser; the server decides
        # by the bytes, in to_native.
        super().__init__(accept=",".join(sorted(PHOTO_TYPES)), **kwargs)

    def to_native(self, intermediate):
        upload = super().to_native(intermediate)
        if upload is None:
            return None
        if upload.size > PHOTO_MAX_BYTES:
            raise ValidationError("is too large (at most 2 MiB).")
        if picture_type(upload) is None:
            raise ValidationError(
                "is not a PNG, JPEG or GIF picture (whatever its name says)."
            )
        return upload


def contact_elements():
    """A fresh dict of the form's elements (field name -> element)."""
    return {
        "name": Entry(label="Name", maxlength=100, autofocus=""),
        "email": EmailEntry(label="E-mail", lens=Nullable(EMAIL)),
        "phone": Entry(label="Phone", lens=NULLABLE, type="tel"),
        "birthday": Entry(label="Birthday", lens=DATE, type="date"),
        "kind": RadioGroup(ListLens(KINDS), "please choose one.", label="Kind"),
        "rating": Pick(EnumLens(RATINGS, base=1), label="How close"),
        "groups": Pick(ListLens(GROUPS), multiple=True, label="Groups", size=4),
        "budget": NumberEntry(
            label="Gift budget", lens=DecimalLens(minimum=0, places=2)
        ),
        "newsletter": Checkbox(label="Send them the newsletter"),
        "notes": Memo(label="Notes", lens=BLANKABLE, rows=3, cols=40),
        # A browser never refills a file input, so after an error the user
        # picks the photo again; every other field keeps its input.
        "photo": PhotoUpload(label="Photo"),
    }


# -- The database ----------------------------------------------------------------------

SCHEMA = """
CREATE TABLE contact (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    phone TEXT,
    birthday TEXT,
    kind TEXT NOT NULL,
    rating INTEGER,
    groups TEXT NOT NULL DEFAULT '',
    budget TEXT,
    newsletter INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    photo_file TEXT,
    photo_type TEXT
)
"""


def open_database():
    # kali serves one request at a time, so one connection is enough. It may
    # be used from the thread that runs the server rather than the one that
    # opened it; check_same_thread=False allows that, which is safe here
    # because two requests never run at once.
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(SCHEMA)
    return db


def make_app(photo_folder):
    """Build the address book. Uploaded photos are stored in ``photo_folder``."""
    db = open_database()
    app = Router()

    # The double-submit guard belongs to the app, not to a module: it
    # remembers which "new contact" forms were already saved.
    guard = SubmitGuard()

    def store_photo(upload, columns):
        # Never use upload.filename as a path: it is whatever the browser
        # sent. The stored name is ours, random, with an extension we chose
        # from what the (already checked) content is.
        media_type = picture_type(upload)
        name = secrets.token_hex(8) + PHOTO_TYPES[media_type]
        upload.save(os.path.join(photo_folder, name))
        columns["photo_file"] = name
        columns["photo_type"] = media_type

    # A general Formlet subclass shared by both forms: how a contact form
    # looks, how its values are checked against each other, and how a record
    # becomes database columns.
    class ContactForm(Formlet):
        title = "Contact"

        def __init__(self, guard=None):
            super().__init__(contact_elements(), guard=guard)

        def display(self, fields, errors):
            # ``fields`` maps each field name to its HTML (with a guard, also
            # the hidden token under "submit_token"); ``errors`` maps field
            # names to messages.
            rows = [
                FIELD(field=html, message=render_error(errors, name))
                for name, html in fields.items()
                if name in self.elements
            ]
            body = FORM(
                error_list=self.render_errors(errors),
                fields=rows,
                submit_token=fields.get("submit_token", ""),
            )
            return PAGE(title=self.title, body=body)

        def semantic_checks(self, native, errors):
            # Runs only when every field was valid on its own.
            birthday = native["birthday"]
            if birthday is not None and birthday > datetime.date.today():
                errors["birthday"] = "is in the future."

        def columns(self, native):
            return {
                "name": native["name"],
                "email": native["email"],
                "phone": native["phone"],
                "birthday": native["birthday"] and native["birthday"].isoformat(),
                "kind": native["kind"],
                "rating": native["rating"],
                "groups": ",".join(sorted(native["groups"])),
                "budget": None if native["budget"] is None else str(native["budget"]),
                "newsletter": int(native["newsletter"]),
                "notes": native["notes"],
            }

        def write(self, sql, values):
            # A UNIQUE e-mail is checked by the database; turning its refusal
            # into a SaveError shows the form again with the message.
            try:
                cursor = db.execute(sql, values)
            except sqlite3.IntegrityError:
                db.rollback()
                raise SaveError(
                    {"email": "is already used by another contact."}
                ) from None
            db.commit()
            return cursor

    # Creating: a blank record, and a guard so that it saves only once.
    @app.servlet("/new")
    class NewContact(ContactForm):
        title = "New contact"

        def __init__(self):
            super().__init__(guard=guard)

        def get_native(self):
            return {"kind": "friend"}  # fields not given start out empty

        def save(self, native, request):
            columns = self.columns(native)
            if native["photo"] is not None:
                store_photo(native["photo"], columns)
            names = ", ".join(columns)
            marks = ", ".join(f":{name}" for name in columns)
            self.write(f"INSERT INTO contact ({names}) VALUES ({marks})", columns)
            # Redirect after a successful POST, so that reloading the next
            # page does not post again. (If the user double-clicked, the
            # guard answers the second POST with this same redirect.)
            return Response.redirect("/")

    # Editing: the "*" is the contact's id, passed to the constructor.
    @app.servlet("/edit/*")
    class EditContact(ContactForm):
        title = "Edit contact"

        def __init__(self, contact_id):
            super().__init__()
            if not contact_id.isdigit():
                raise HTTPError(404)
            self.contact_id = int(contact_id)

        def get_native(self):
            row = db.execute(
                "SELECT * FROM contact WHERE id = ?", [self.contact_id]
            ).fetchone()
            if row is None:
                raise HTTPError(404, "There is no such contact.")
            # Most columns fit the fields as they are (a sqlite3.Row works
            # like a dict); a few need converting to what the lenses expect.
            native = dict(row)
            native["groups"] = [g for g in row["groups"].split(",") if g]
            native["birthday"] = row["birthday"] and datetime.date.fromisoformat(
                row["birthday"]
            )
            return native

        def save(self, native, request):
            columns = self.columns(native)
            if native["photo"] is not None:
                store_photo(native["photo"], columns)
            settings = ", ".join(f"{name} = :{name}" for name in columns)
            columns["id"] = self.contact_id
            cursor = self.write(
                f"UPDATE contact SET {settings} WHERE id = :id", columns
            )
            if cursor.rowcount == 0:
                raise HTTPError(404, "There is no such contact.")
            return Response.redirect("/")

    @app.function("/")
    def home():
        rows = []
        for row in db.execute("SELECT * FROM contact ORDER BY name"):
            photo = PHOTO(id=row["id"]) if row["photo_file"] else ""
            rows.append(ROW(**dict(row), photo=photo))
        if not rows:
            rows = ['<tr><td></td><td colspan="4">No contacts yet.</td></tr>']
        return PAGE(title="Contacts", body=LIST(rows=rows))

    # Photos are served from our folder under our own names and types.
    @app.function("/photo/*")
    def photo(contact_id):
        row = db.execute(
            "SELECT photo_file, photo_type FROM contact WHERE id = ?", [contact_id]
        ).fetchone()
        if row is None or not row["photo_file"]:
            return Response.generic(code=404)
        path = os.path.join(photo_folder, row["photo_file"])
        return Response.file(path, content_type=row["photo_type"])

    return app


if __name__ == "__main__":
    # See each request on the console.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # The photos live in a temporary folder, removed when the server stops
    # (Ctrl-C or SIGTERM).
    with tempfile.TemporaryDirectory(prefix="kali-contacts-") as folder:
        run_app(make_app(folder), description="A little address book.")
