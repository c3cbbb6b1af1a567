"""A datebook: contacts, appointments and tasks in an SQLite file.

This is what most local apps turn out to be: lists of records, forms to add
and change them, a search box, and a few files attached here and there. Run
it with::

    ./demo.sh datebook                        # data in your data folder
    ./demo.sh datebook --db /tmp/try.sqlite3  # or in a file of your choice
    ./demo.sh datebook --port 0 --no-browser  # any free port; open it yourself

(or ``python -m datebook`` with ``examples`` on PYTHONPATH). Then try to
break it. Leave a name blank, give a birthday in the future, end an
appointment before it starts: the form comes back with everything you typed
and a message beside each problem. Double-click "Save" on a new contact: it
is saved once. Half-fill an appointment, press "Choose contact…", search for
someone and choose them: you are back in the form with your typing intact.
Attach a file to a contact, download it, delete it. Delete a contact who
has appointments: the appointments stay, without them. Fill it with a
million contacts (``bench/bench_datebook.py`` does): every page stays fast.

The app, file by file, each doing one job with kali's pieces:

* ``database.py``: the schema, kept up to date on old databases, and the
  three lists (:class:`kali.listing.Listing`: pages through an index,
  sorting by clicking a heading, full-text search);
* ``forms.py``: the fields (:mod:`kali.forms` elements and lenses), and how
  every form page looks (a :class:`~kali.forms.Formlet` whose fields kali's
  form renderer writes, with a :class:`~kali.forms.SubmitGuard` on "new");
* ``pages.py``: what the pages share (:class:`kali.pages.Pages`: one
  layout, messages after a save, error pages that match), today's page and
  the search; ``pages.py`` and ``pages.py``: the other pages, a servlet
  class each, with :func:`kali.sqlite.fetch_one` for "that record, or 404";
* ``templates/``: the HTML, one file per page or part; ``static/``: the
  stylesheet;
* this file: :func:`make_app` puts it together, and ``__main__.py`` runs it.

Read the files in that order alongside the running app.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from kali import Router, StaticFolder
from kali.appsecret import app_secret
from kali.forms import SubmitGuard
from kali.sessions import Sessions
from kali.sqlite import TransactionGuard
from kali.uploadfolder import UploadFolder

from . import pages
from .database import open_database
from .pages import error_page

__all__ = ["error_page", "make_app", "open_database"]

STATIC = Path(__file__).resolve().parent / "static"

# Every page of the app. A literal path component wins over a wildcard:
# "/contacts/new" and "/contacts/pick" are tried before "/contacts/*".
ROUTES = {
    "/": pages.Dashboard, "/search": pages.Search,
    "/contacts": pages.ContactList, "/contacts.csv": pages.ExportContacts,
    "/contacts/new": pages.ContactForm, "/contacts/*/edit": pages.ContactForm,
    "/contacts/*": pages.ContactPage, "/contacts/*/delete": pages.DeleteContact,
    "/contacts/*/attach": pages.AttachFile, "/contacts/pick": pages.PickContact,
    "/attachments/*": pages.Download, "/attachments/*/delete": pages.DeleteAttachment,
    "/appointments": pages.AppointmentList, "/appointments/new": pages.AppointmentForm,
    "/appointments/*/edit": pages.AppointmentForm,
    "/appointments/*/delete": pages.DeleteAppointment,
    "/tasks": pages.TaskList, "/tasks/*/done": pages.ToggleTask,
    "/tasks/new": pages.TaskForm, "/tasks/*/edit": pages.TaskForm,
    "/tasks/*/delete": pages.DeleteTask,
}  # fmt: skip


def make_app(db_path, attachments):
    """The datebook on the database file ``db_path``, keeping attached files
    in the folder ``attachments`` (created if needed).

    Returns the handler to serve: the router, inside the sessions, inside the
    transaction guard. ``app.guard.close()`` closes the database.
    """
    db_path = Path(db_path)
    guard = TransactionGuard()
    database = guard.register(open_database(db_path))
    try:
        # One secret signs the session cookies and the forms' one-time
        # tokens: $KALI_SECRET if set, else a file beside the database
        # (made on the first run, readable only by you). Every process
        # serving this database (gunicorn -w 2) reads the same one, and
        # sessions and open forms survive a restart of the app.
        secret = app_secret(db_path.parent, file_name=db_path.stem + ".session-key")
        # The session cookie is named after the port (kali-session-8080),
        # so a second kali app on this machine keeps its own.
        sessions = Sessions(secret)
        # What every page needs, as request.book: the database, the pages
        # (templates in the layout), the folder of attached files, the
        # sessions and the double-submit guard of the "new" forms.
        book = SimpleNamespace(
            database=database, pages=pages.make_pages(), sessions=sessions,
            files=UploadFolder(attachments), submit_guard=SubmitGuard(secret=secret),
        )  # fmt: skip
        router = Router()
        router.delegate_folder("/static/", StaticFolder(STATIC))
        for where, servlet in ROUTES.items():
            router.servlet(where)(servlet)
    except BaseException:
        guard.close()
        raise

    def with_book(request):
        request.book = book  # as the sessions give request.session
        return router(request)

    # From the inside out: the router finds the page, the sessions give it
    # request.session (and save it in a cookie afterwards), and the guard
    # makes sure no request leaves half its changes behind.
    return guard.wrap(sessions.wrap(with_book))
