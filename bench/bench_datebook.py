"""How fast is every page of the datebook example at 1,000 / 100,000 / 1,000,000 rows?

    python3 bench/bench_datebook.py [--rows 1000,100000,1000000] [--repeat 5]
                                    [--data /tmp/kali-bench-datebook]

For each size, a database with that many contacts, as many appointments and
as many tasks is generated once (kept under ``--data`` for later runs: the
1,000,000-row one takes a few minutes to build) with the datebook's own
schema. The datebook is then served by kali's real server on 127.0.0.1 (port
0, in a thread of this process) and every page is fetched over a socket:
the dashboard, each list (first page, its ``rel="prev"`` page if any, page
500 reached by following the ``rel="next"`` links, every sort link both
ways, also of a search), a search in each list (a word in a few rows, and
one in every row) and the global search, a record, its edit form and the
new-record forms.

Reported per page: the median and the worst time of ``--repeat`` fetches
(after one warm-up fetch) and the bytes sent. The goal (issue 12): every
page ≤ 30 ms and ≤ 300 KB at every size; the exit status is 1 when a page
misses it.
"""

from __future__ import annotations

import argparse
import datetime
import html
import http.client
import random
import re
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import datebook  # noqa: E402  (examples/datebook)

from kali.server import Server  # noqa: E402

GOAL_MS = 30.0
GOAL_BYTES = 300_000
FIRST = "Ann Bea Cai Dmitri Émile Fatima Gus Hiro Ines Jörg Kim Lea Mo Nia Olaf".split()
LAST = "Smith Ngata Ørsted Li Garcia Novak Kowalski Sato Dubois Rossi".split()


def generate(path: Path, rows: int) -> None:
    """A datebook at ``path`` with ``rows`` contacts, appointments and tasks."""
    rng = random.Random(rows)
    database = datebook.open_database(path)
    try:
        today = datetime.date.today()
        day = datetime.timedelta(days=1)

        def contacts():
            for number in range(rows):
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {number}"
                born = today - rng.randrange(365 * 15, 365 * 80) * day
                yield (
                    name,
                    f"person{number}@example.com",
                    f"+1 555 {number:07d}",
                    born.isoformat() if number % 3 else None,
                    "met at the fair" if number % 7 == 0 else "",
                )

        def appointments():
            for number in range(rows):
                when = today + (number % 2000 - 1000) * day
                yield (
                    f"Meeting {number}",
                    when.isoformat(),
                    f"{9 + number % 8:02d}:00" if number % 4 else None,
                    rng.randrange(1, rows + 1) if number % 2 else None,
                )

        def tasks():
            for number in range(rows):
                due = today + (number % 400 - 200) * day
                yield (
                    f"Task {number}",
                    due.isoformat() if number % 5 else None,
                    1 + number % 3,
                    int(number % 4 == 0),
                )

        database.executemany(
            "INSERT INTO contact (name, email, phone, birthday, notes)"
            " VALUES (?, ?, ?, ?, ?)",
            contacts(),
        )
        database.executemany(
            "INSERT INTO appointment (title, day, start_time, contact_id)"
            " VALUES (?, ?, ?, ?)",
            appointments(),
        )
        database.executemany(
            "INSERT INTO task (title, due, priority, done) VALUES (?, ?, ?, ?)",
            tasks(),
        )
        database.commit()
        if hasattr(datebook, "after_import"):
            datebook.after_import(database)
    finally:
        database.close()


class Fetcher:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, target: str) -> tuple[float, int, str]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", target)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {target}: {response.status}\n{body[:500]!r}")
        return elapsed, len(body), body.decode("utf-8", "replace")


def links(page: str, pattern: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(pattern, page)]


def next_link(page: str) -> str | None:
    found = re.search(r'<a [^>]*rel="next"[^>]*href="([^"]+)"', page) or re.search(
        r'<a [^>]*href="([^"]+)"[^>]*rel="next"', page
    )
    return html.unescape(found.group(1)) if found else None


def pages_to_measure(fetch: Fetcher, rows: int) -> list[tuple[str, str]]:
    """(label, target) for every page worth timing at this size."""
    middle = max(1, rows // 2)
    targets = [
        ("dashboard", "/"),
        ("search (global)", "/search?q=Olaf"),
        ("contact", f"/contacts/{middle}"),
        ("contact edit", f"/contacts/{middle}/edit"),
        ("new contact", "/contacts/new"),
        ("new appointment", "/appointments/new"),
        ("new task", "/tasks/new"),
        ("appointment edit", f"/appointments/{middle}/edit"),
        ("task edit", f"/tasks/{middle}/edit"),
    ]
    # A word in a few rows of each list, and one in every row.
    words = {"contacts": ("Olaf", "example"), "appointments": ("1234", "Meeting"),
             "tasks": ("1234", "Task")}  # fmt: skip
    for name in ("contacts", "appointments", "tasks"):
        first = f"/{name}"
        targets.append((f"{name}", first))
        few, every = words[name]
        targets.append((f"{name} search", f"/{name}?q={few}"))
        targets.append((f"{name} search (every row)", f"/{name}?q={every}"))
        _, _, page = fetch.get(first)
        previous = re.search(r'rel="prev" href="([^"]+)"', page)
        if previous:
            targets.append((f"{name} previous", html.unescape(previous.group(1))))
        _, _, searched = fetch.get(f"/{name}?q={few}")
        sort_links = set()
        pattern = r'href="([^"]*[?&](?:amp;)?(?:sort|dir)=[^"]*)"'
        for listed in (page, searched):
            sort_links.update(links(listed, pattern))
        for link in sorted(sort_links):
            targets.append((f"{name} sorted {link.split('?', 1)[1]}", link))
        # Page 500: follow the "next" links (each fetch is one page).
        target, number = first, 1
        while number < 500:
            link = next_link(page)
            if link is None:
                break
            target, number = link, number + 1
            _, _, page = fetch.get(target)
        if number > 1:
            targets.append((f"{name} page {number}", target))
    return targets


def measure(path: Path, rows: int, repeat: int) -> bool:
    app = datebook.make_app(path, path.with_name(path.stem + "-files"))
    server = Server(app, port=0, error_page=getattr(datebook, "error_page", None))
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ok = True
    try:
        fetch = Fetcher(server.port)
        print(f"\n== {rows:,} rows each ({path})")
        print(f"{'page':44} {'median ms':>10} {'worst ms':>9} {'bytes':>10}")
        for label, target in pages_to_measure(fetch, rows):
            fetch.get(target)  # warm-up
            times, size = [], 0
            for _ in range(repeat):
                elapsed, size, _ = fetch.get(target)
                times.append(elapsed)
            median = statistics.median(times)
            good = median <= GOAL_MS and size <= GOAL_BYTES
            ok = ok and good
            print(
                f"{label[:44]:44} {median:10.1f} {max(times):9.1f} {size:10,}"
                + ("" if good else "   MISSES THE GOAL")
            )
    finally:
        server.stop()
        thread.join(10)
        guard = getattr(app, "guard", None)
        if guard is not None:
            guard.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/tmp/kali-bench-datebook"))
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    ok = True
    for rows in (int(text) for text in args.rows.split(",")):
        path = args.data / f"datebook-{rows}.sqlite3"
        if not path.exists():
            started = time.perf_counter()
            partial = path.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            generate(partial, rows)
            partial.rename(path)
            print(f"generated {path} in {time.perf_counter() - started:.1f} s")
        ok = measure(path, rows, args.repeat) and ok
    print("\nall pages within the goal" if ok else "\nsome pages miss the goal")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
