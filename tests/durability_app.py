"""A tiny kali app that tests/test_durability.py kills over and over.

Usage: ``python durability_app.py DB_PATH [PAUSE_SECONDS]``. It serves on
127.0.0.1, on a free port that it prints as ``port N`` on stdout, and
answers one thing: ``POST /orders`` with ``token`` and ``items`` saves an
order and its ``items`` line items in one transaction, then redirects (302)
to ``/orders/<id>``. ``PAUSE_SECONDS`` (default 0.001) is slept after each
line item, to widen the window in which a kill lands mid-transaction.
"""

from __future__ import annotations

import sys
import time

from kali import HTTPError, Request, Response, Router, serve_http
from kali.sqlite import GuardedHandler, connect, transaction_guard

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    items INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    position INTEGER NOT NULL,
    UNIQUE (order_id, position)
);
"""


def make_app(db_path: str, pause: float) -> GuardedHandler:
    db = connect(db_path)
    db.executescript(SCHEMA)
    router = Router()

    @router.servlet("/orders")
    class Orders:
        def do_POST(self, request: Request) -> Response:
            token = request.POST.get("token")
            try:
                count = int(request.POST.get("items", ""))
            except ValueError:
                raise HTTPError(400, "items must be a number") from None
            order = db.execute(
                "INSERT INTO orders (token, items) VALUES (?, ?)", (token, count)
            ).lastrowid
            for position in range(count):
                db.execute(
                    "INSERT INTO items (order_id, position) VALUES (?, ?)",
                    (order, position),
                )
                time.sleep(pause)
            db.commit()
            return Response.redirect(f"/orders/{order}")

    return transaction_guard(router, db)


def main() -> None:
    db_path = sys.argv[1]
    pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.001
    serve_http(
        make_app(db_path, pause),
        port=0,
        start=None,
        on_ready=lambda server: print(f"port {server.port}", flush=True),
    )


if __name__ == "__main__":
    main()
