"""The transaction guard: a handler that forgets to commit saves nothing.

Run it with ``./demo.sh guard`` (add ``--db notes.db`` to keep the notes in a
file of your own; by default they live in a temporary folder that is removed
when you stop the server with Ctrl-C). ``--port 0`` picks any free port and
``--no-browser`` only prints the address.

The page has three buttons that all add a note to an SQLite database:

* **Save** does it right: INSERT, ``commit()``, redirect.
* **Save, but forget to commit** does the INSERT and returns. Without a
  guard, that INSERT would sit in an open transaction: the next request
  might commit it by accident, or the app might hold the write lock until
  it quits. The guard notices, rolls it back, and answers a 500 page that
  says what happened.
* **Save, then crash** does the INSERT and then raises an exception half-way
  through its work. The guard rolls back before the server answers 500, so
  no half-saved note is ever left behind.

Press each one and watch the list: only "Save" ever adds a note, and the app
keeps working after each failure.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from kali import Request, Response, Router, Template, launch_arguments, run_app
from kali.sqlite import GuardedHandler, TransactionGuard, connect

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>The transaction guard</title>
<style>
  body {font-family: sans-serif; max-width: 40em; margin: 2em auto}
  button {margin-right: .5em}
</style></head>
<body><h1>Notes, guarded</h1>
<form method="post">
  <input name="text" value="A note" required>
  <p>
    <button formaction="/save">Save</button>
    <button formaction="/forget">Save, but forget to commit</button>
    <button formaction="/crash">Save, then crash</button>
  </p>
</form>
<h2>{count} saved {?one}note{:else}notes{/one}</h2>
<ol>{.notes}</ol>
</body></html>
"""
)

NOTE = Template("<li>{text}</li>\n")

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"


def make_app(db_path: str | os.PathLike[str]) -> GuardedHandler:
    """Build the app over the database at ``db_path`` (created if need be).

    The answer is the guarded handler; ``app.guard.close()`` closes the
    database when you are done with it.
    """
    # connect() opens the database the way a desktop app wants it: WAL
    # journal, foreign keys on, a busy timeout, commits that reach the disk,
    # and rows you can read by column name.
    db = connect(db_path)
    db.execute(SCHEMA)

    # The guard watches every connection registered with it. After each
    # request it looks for a transaction still open; here, one connection.
    guard = TransactionGuard()
    guard.register(db)

    router = Router()

    @router.function("/")
    def home() -> object:
        notes = [NOTE(text=row["text"]) for row in db.execute("SELECT * FROM notes")]
        return PAGE(count=len(notes), one=len(notes) == 1, notes=notes)

    def add_note(request: Request) -> None:
        text = request.POST.get("text", "").strip() or "(empty)"
        # Python's sqlite3 opens a transaction before this INSERT; it stays
        # open until commit() or rollback().
        db.execute("INSERT INTO notes (text) VALUES (?)", (text,))

    @router.servlet("/save")
    class Save:
        def do_POST(self, request: Request) -> Response:
            add_note(request)
            db.commit()  # the right way: the note is on the disk now
            return Response.redirect("/")

    @router.servlet("/forget")
    class Forget:
        def do_POST(self, request: Request) -> Response:
            add_note(request)
            # Oops: no commit(). The guard rolls the INSERT back and answers
            # 500 instead of this redirect.
            return Response.redirect("/")

    @router.servlet("/crash")
    class Crash:
        def do_POST(self, request: Request) -> Response:
            add_note(request)
            # Something goes wrong half-way. The guard rolls back, then the
            # server logs the traceback and answers 500.
            raise RuntimeError("the second half of the work failed")

    # Wrap the whole Router, so every request goes through the guard.
    # (TransactionGuard(commit=True) would commit "/forget" for you instead.)
    return guard.wrap(router)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the SQLite file (default: a temporary one)")
    # launch_arguments adds --port (0 = any free port) and --no-browser.
    options = launch_arguments(parser=parser)
    with tempfile.TemporaryDirectory(prefix="kali-guard-") as folder:
        app = make_app(options.db or os.path.join(folder, "notes.db"))
        try:
            # run_app prints the address, opens the browser, and stops
            # cleanly on Ctrl-C (the "finally" and "with" blocks still run).
            run_app(app, options)
        finally:
            app.guard.close()


if __name__ == "__main__":
    main()
