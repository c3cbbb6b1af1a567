"""Run the datebook: ``python -m datebook [--db PATH] [--port N] [--no-browser]``
(with ``examples`` on PYTHONPATH, as ``./demo.sh datebook`` does).

Ctrl-C stops it, closing the database, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from kali import serve_http
from kali.desktop import data_folder

from . import error_page, make_app

#: The folder name under the user's data folder.
APP_NAME = "kali-datebook"


def default_database(create=True):
    """Where the datebook lives unless --db says otherwise."""
    return data_folder(APP_NAME, create=create) / "datebook.sqlite3"


def main(argv=None):
    about = "Contacts, appointments and tasks in an SQLite file."
    parser = argparse.ArgumentParser(prog="datebook", description=about)
    where = default_database(create=False)
    parser.add_argument("--db", type=Path, metavar="PATH", help=f"the database file"
                        f" (default: {where}); attached files go in a folder beside it")
    parser.add_argument("--port", type=int, default=8080,
                        help="the port (default: %(default)s; 0: any free one)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser tab; just print the address")
    args = parser.parse_args(argv)
    # See each request on the console.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    db_path = args.db.expanduser() if args.db else default_database()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    attachments = db_path.with_name(db_path.stem + "-attachments")
    app = make_app(db_path, attachments)
    logging.getLogger("kali").info("Datebook in %s, files in %s", db_path, attachments)
    try:
        start = None if args.no_browser else ""  # "": open the app's first page
        serve_http(app, port=args.port, start=start, error_page=error_page)
    except KeyboardInterrupt:
        logging.getLogger("kali").info("Stopped.")
    finally:
        app.guard.close()


if __name__ == "__main__":
    main()
