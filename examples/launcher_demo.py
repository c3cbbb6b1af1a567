"""Notes that start and stop like a desktop program (one instance, quit on close).

Run it with ``./demo.sh launcher_demo`` (or ``demo launcher_demo`` on
Windows), then try the three things that make a kali app feel like a program
rather than a server:

* Run ``./demo.sh launcher_demo`` again while it runs. The second launch
  finds the first one (even while it is busy), opens a new tab of it, and
  ends at once, before it opens the database: there is never a "port
  already in use" error, nor two copies fighting over one database.
* Close every tab of it. 15 s later the server notices that no page is open
  any more and stops by itself. (Reloading a page or following a link does
  not count as closing: the next page says hello long before the grace
  period is over.)
* With ``--no-browser`` it waits up to 90 s for you to open the address it
  prints, then stops ("No page of the app was opened in 90 s").
  ``--keep-running`` (or ``KALI_KEEP_RUNNING=1``) keeps it serving until
  Ctrl-C, with or without open tabs.
* Your notes are still there next time. They live in a SQLite file in the
  folder where your system keeps each program's data: ``data_folder`` gives
  ``~/.local/share/kali-launcher-demo`` on Linux, ``~/Library/Application
  Support/kali-launcher-demo`` on macOS and ``%APPDATA%\\kali-launcher-demo``
  on Windows. The page shows the exact path.

``port=0`` lets the system pick a free port, so this app never collides with
another one; the browser is opened at whatever port it got.
"""

import logging
import sqlite3
from contextlib import closing

from kali import Request, Response, Router, Servlet, Template, run_app
from kali.desktop import data_folder
from kali.launch import claim_instance, launch_arguments

#: Names the data folder and the running instance: pick one per app and
#: never change it, or your users' data seems to vanish.
APP_NAME = "kali-launcher-demo"

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Notes</title>
<style>
  body {font-family: sans-serif; max-width: 40em; margin: 2em auto}
  form.inline {display: inline}
  small {color: gray}
</style></head>
<body><h1>Notes</h1>
<ul>{.notes}</ul>
<form method="post" action="/">
  <input name="text" autofocus placeholder="Something to remember">
  <button>Add</button>
</form>
<p><small>Kept in {database}.<br>
Close this tab (and any other tab of this app) and the server stops by
itself; run the demo again and your notes are back.</small></p>
</body></html>
"""
)

NOTE = Template(
    """<li>{text}
  <form class="inline" method="post" action="/delete/{id}">
    <button>delete</button></form></li>
"""
)


def make_app(db: sqlite3.Connection) -> Router:
    """The app, keeping its notes in the SQLite database ``db``.

    kali serves one request at a time on one thread, so one connection is
    all the app needs; ``with db:`` makes each change a transaction.
    """
    database = db.execute("PRAGMA database_list").fetchone()[2]
    with db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS note"
            " (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
        )
    router = Router()

    @router.servlet("/")
    class Notes(Servlet):
        def do_GET(self, request: Request) -> object:
            rows = db.execute("SELECT id, text FROM note ORDER BY id").fetchall()
            notes = [NOTE(id=row[0], text=row[1]) for row in rows]
            return PAGE(notes=notes, database=database)

        def do_POST(self, request: Request) -> object:
            text = request.POST.get("text", "").strip()
            if text:
                with db:
                    db.execute("INSERT INTO note (text) VALUES (?)", (text,))
            # Post/Redirect/Get: a reload never adds the note twice.
            return Response.redirect("/")

    @router.servlet("/delete/*")
    class Delete(Servlet):
        def __init__(self, note_id: str) -> None:
            self.note_id = note_id

        def do_POST(self, request: Request) -> object:
            with db:
                db.execute("DELETE FROM note WHERE id = ?", (self.note_id,))
            return Response.redirect("/")

    return router


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    arguments = launch_arguments(
        "Notes that start and stop like a desktop program.",
        port=0,  # any free port; the browser opens at the real one
    )
    # Before the database opens: a second launch opens this one and exits here.
    instance = claim_instance(APP_NAME, arguments)
    database = data_folder(APP_NAME) / "notes.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        run_app(
            make_app(db),
            arguments,
            app_id=instance,  # this process is the one running instance
            quit_when_closed=True,  # stop 15 s after the last tab closed
        )
