"""Durability: kill a saving kali app with SIGKILL, again and again.

tests/durability_app.py (connect + transaction_guard + a Router POST that
saves an order and its line items in one transaction, then redirects 302)
runs as a subprocess on 127.0.0.1. The test posts saves in a loop and a
timer kills the app at a random moment, at least 30 times, restarting it
each time. Afterwards the database must be intact, hold every save that was
answered with a redirect, and hold no half-saved order.
"""

import http.client
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.name != "posix", reason="needs SIGKILL and select() on pipes (POSIX)"
    ),
]

HERE = Path(__file__).resolve().parent
APP = HERE / "durability_app.py"
ROOT = HERE.parent

#: Kills to aim for, and the fewest that count as a pass.
TARGET_KILLS = 36
MIN_KILLS = 30
#: No new round starts after this many seconds: with the last round and the
#: final checks, the whole test stays under 60 s even on a busy machine.
BUDGET_SECONDS = 50.0
#: How long a fresh app may take to print its port (a slow CI machine).
START_SECONDS = 20.0
#: A kill lands this long (uniformly) after the app is ready.
KILL_DELAY_SECONDS = (0.0, 0.2)
#: Slept per line item by the app: widens the mid-transaction window.
PAUSE_SECONDS = 0.002


def start_app(db_path, log):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return subprocess.Popen(
        [sys.executable, str(APP), str(db_path), str(PAUSE_SECONDS)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        cwd=str(db_path.parent),
    )


def read_port(process, log_path):
    """The port the app printed (``port N``), or fail with its log."""
    deadline = time.monotonic() + START_SECONDS
    output = b""
    fd = process.stdout.fileno()
    while b"\n" not in output:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        output += chunk
    line = output.split(b"\n")[0].decode("ascii", "replace")
    if not line.startswith("port "):
        pytest.fail(
            f"the app did not start: {output!r}\n{Path(log_path).read_text()[-3000:]}"
        )
    return int(line.split()[1])


def post_order(port, token, items):
    """``(status, location)`` for one save; OSError/HTTPException if the app
    is gone."""
    body = urllib.parse.urlencode({"token": token, "items": items})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/orders",
            body,
            {"content-type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("location")
    finally:
        connection.close()


def test_killed_apps_lose_nothing_acknowledged_and_save_nothing_half(tmp_path):
    rng = random.Random()
    db_path = tmp_path / "orders.db"
    log_path = tmp_path / "app.log"
    acknowledged = {}  # token -> (order id, items)
    attempted = {}  # token -> items
    unexpected = []
    kills = killed_mid_request = 0
    started = time.monotonic()

    with open(log_path, "ab") as log:
        while kills < TARGET_KILLS and time.monotonic() - started < BUDGET_SECONDS:
            with start_app(db_path, log) as process:
                try:
                    port = read_port(process, log_path)
                    killer = threading.Timer(
                        rng.uniform(*KILL_DELAY_SECONDS), process.kill
                    )
                    killer.start()
                    sent = 0
                    while True:
                        token = f"{kills}-{sent}"
                        items = rng.randint(1, 5)
                        attempted[token] = items
                        sent += 1
                        try:
                            status, location = post_order(port, token, items)
                        except ConnectionRefusedError:
                            break  # killed between two saves
                        except (OSError, http.client.HTTPException):
                            killed_mid_request += 1  # killed while saving
                            break
                        if status == 302 and location.startswith("/orders/"):
                            acknowledged[token] = (int(location.split("/")[-1]), items)
                        else:
                            unexpected.append((token, status, location))
                    killer.join()
                finally:
                    if process.poll() is None:
                        process.kill()
                    process.wait()
            assert process.returncode == -signal.SIGKILL, process.returncode
            kills += 1

        # One last life: the app still starts on the killed database, saves,
        # and is not blocked by anything the kills left behind.
        with start_app(db_path, log) as process:
            try:
                port = read_port(process, log_path)
                status, location = post_order(port, "final", 3)
                assert status == 302, (status, location)
                acknowledged["final"] = (int(location.split("/")[-1]), 3)
                attempted["final"] = 3
            finally:
                process.kill()
                process.wait()
    elapsed = time.monotonic() - started

    assert kills >= MIN_KILLS, f"only {kills} kills in {elapsed:.1f} s"
    assert not unexpected, unexpected[:5]
    assert len(acknowledged) > kills  # saves really happened between kills

    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        orders = {
            token: (order_id, items)
            for order_id, token, items in db.execute(
                "SELECT id, token, items FROM orders"
            )
        }
        item_counts = dict(
            db.execute("SELECT order_id, count(*) FROM items GROUP BY order_id")
        )
        orphans = db.execute(
            "SELECT count(*) FROM items WHERE order_id NOT IN (SELECT id FROM orders)"
        ).fetchone()[0]

    # Every save answered with a redirect is there, under the id it was given.
    missing = {t: v for t, v in acknowledged.items() if orders.get(t) != v}
    assert not missing, f"{len(missing)} acknowledged saves lost: {missing}"
    # Nothing half-saved: each order has all its line items, no item is orphaned.
    half = {
        token: (items, item_counts.get(order_id, 0))
        for token, (order_id, items) in orders.items()
        if item_counts.get(order_id, 0) != items
    }
    assert not half, f"half-saved orders: {half}"
    assert orphans == 0
    # Saved but never answered (killed between COMMIT and the reply) is fine;
    # a save nobody sent is not.
    assert set(orders) <= set(attempted)
    unanswered = len(set(orders) - set(acknowledged))
    print(
        f"\ndurability: {kills} kills ({killed_mid_request} during a save) "
        f"in {elapsed:.1f} s; {len(attempted)} saves sent, "
        f"{len(acknowledged)} acknowledged, {len(orders)} in the database "
        f"({unanswered} committed but unanswered), "
        f"{sum(item_counts.values())} line items; integrity_check ok"
    )
