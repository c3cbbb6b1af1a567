"""``python3 -m inventory``: the home inventory in your browser.

    python3 -m inventory [--port 8080] [--no-browser] [--db PATH]

The database lives in the user's data folder (``kali.desktop.data_folder``)
unless ``--db`` names another file; the photos go in a folder beside it.
Ctrl-C stops the server.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from kali import serve_http
from kali.desktop import data_folder

from . import PAGES, make_app


def main(argv=None):
    parser = argparse.ArgumentParser(prog="inventory", description="Home inventory.")
    parser.add_argument("--port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--no-browser", action="store_true", help="open no tab")
    parser.add_argument("--db", type=Path, metavar="PATH", help="the database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the address
    db_path = args.db or data_folder("home-inventory") / "inventory.sqlite3"
    db_path = db_path.expanduser().resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    app = make_app(db_path)
    start = None if args.no_browser else ""  # the page the browser opens: "/"
    try:
        serve_http(app, port=args.port, start=start, error_page=PAGES.error_page)
    except KeyboardInterrupt:  # Ctrl-C: the usual way to stop it
        pass
    finally:
        app.guard.close()


if __name__ == "__main__":
    main()
