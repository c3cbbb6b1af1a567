"""Long jobs: import a big CSV file into SQLite with a live progress bar.

Run it with ``./demo.sh jobs_demo`` (``--rows 50000`` for a smaller file,
``--db people.db`` to keep the database; by default it lives in a temporary
folder, removed when you stop the server with Ctrl-C).

Press "Import" and the page that comes back is the job's: its bar moves as
the rows go in, and a Cancel button stops it. Meanwhile the app keeps
answering: open the home page in another tab and reload it while the import
runs; the count of people grows batch by batch.

How it stays responsive, and safe:

* The job (``read_people``) runs in a worker thread, or in a child process
  with "in a process": it writes the CSV file (the first time), then reads
  it, and hands the rows over in batches of ``BATCH_ROWS``. It never touches
  the database.
* ``save_batch`` runs on the server's own thread, between two requests, one
  batch at a time: a few milliseconds each, so a request never waits long.
  The database connection is opened once, on that thread, and sqlite3
  refuses to let any other thread use it.
* When the job ends, ``finish`` marks the import complete; if it was
  cancelled or failed, the rows it had saved are deleted again: an import
  is all or nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from kali import Request, Response, Router, Template, launch_arguments, run_app
from kali.jobs import Job, Jobs, Progress
from kali.sqlite import GuardedHandler, TransactionGuard, connect

#: Rows handed to the server thread at a time: about 5 ms of inserting.
BATCH_ROWS = 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS import (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,          -- running, done, cancelled, failed
    rows INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS person (
    id INTEGER PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES import(id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    city TEXT NOT NULL,
    born INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS person_import ON person(import_id);
"""

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Long jobs</title>
<style>body {font-family: sans-serif; max-width: 40em; margin: 2em auto}</style>
</head><body>
<h1>People: {people:num}</h1>
<form method="post" action="/import">
  <label><input type="checkbox" name="process" value="1"> in a process</label>
  <button>Import {rows:num} people from a CSV file</button>
</form>
<h2>Imports</h2>
<table>{@imports}<tr><td>#{id}</td><td>{state}</td><td>{rows:num} rows</td>
<td>{?job}<a href="{job}">its job</a>{/job}</td></tr>{/imports}</table>
<p><a href="/jobs/">All jobs</a> · reload this page while an import runs:
it answers at once.</p>
</body></html>
"""
)

FIRST_NAMES = ["Ada", "Zoë", "Chidi", "Mei", "Olav", "Inés", "Kofi", "Ana"]
CITIES = ["Göteborg", "Lagos", "Osaka", "Lima", "Tromsø", "Québec", "Pune"]


def write_people(path: Path, rows: int, progress: Progress) -> None:
    """Write a CSV file of ``rows`` made-up people (reporting as it goes)."""
    chance = random.Random(rows)  # the same file for the same size
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "email", "city", "born"])
        for number in range(1, rows + 1):
            first = chance.choice(FIRST_NAMES)
            writer.writerow(
                [
                    f"{first} {number}",
                    f"person{number}@example.org",
                    chance.choice(CITIES),
                    chance.randint(1930, 2010),
                ]
            )
            if number % 5000 == 0:
                progress.report(number, rows, "Writing the CSV file")
    os.replace(partial, path)  # a cancelled write leaves no half file behind


def read_people(progress: Progress, path: str, rows: int) -> int:
    """The job: write the file if need be, then read it and hand the rows
    to the server thread in batches. Runs off the loop: no database here."""
    csv_path = Path(path)
    if not csv_path.exists():
        write_people(csv_path, rows, progress)
    count = 0
    batch: list[tuple[str, str, str, int]] = []
    with open(csv_path, encoding="utf-8", newline="") as file:
        for record in csv.DictReader(file):
            batch.append(
                (record["name"], record["email"], record["city"], int(record["born"]))
            )
            if len(batch) == BATCH_ROWS:
                progress.hand_over(batch)  # waits if the server is behind
                count += len(batch)
                batch = []
                progress.report(count, rows, "Importing people")
    if batch:
        progress.hand_over(batch)
        count += len(batch)
    progress.report(count, rows, "Imported")
    return count


def make_app(db_path: str | os.PathLike[str], folder: Path, jobs: Jobs, rows: int):
    """Build the app; the database is opened here, on the thread that will
    serve it (sqlite3 then refuses it to every other thread)."""
    db = connect(db_path)
    db.executescript(SCHEMA)
    guard = TransactionGuard()
    guard.register(db)
    app = Router()
    jobs.mount(app)  # the job pages: /jobs/, /jobs/ID, /jobs/ID/status...
    job_of_import: dict[int, str] = {}

    @app.function("/")
    def home():
        people = db.execute("SELECT count(*) FROM person").fetchone()[0]
        imports = []
        for row in db.execute("SELECT * FROM import ORDER BY id DESC LIMIT 10"):
            job = jobs.get(job_of_import.get(row["id"], ""))  # None once forgotten
            imports.append(dict(row, job=jobs.url(job) if job else None))
        return PAGE(people=people, rows=rows, imports=imports)

    @app.servlet("/import")
    class Import:
        def do_POST(self, request: Request) -> Response:
            import_id = db.execute(
                "INSERT INTO import (state) VALUES ('running')"
            ).lastrowid
            db.commit()

            # These three run on the server thread, between two requests.
            def save_batch(batch: list[Any]) -> None:
                db.executemany(
                    "INSERT INTO person (import_id, name, email, city, born)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(import_id, *person) for person in batch],
                )
                db.execute(
                    "UPDATE import SET rows = rows + ? WHERE id = ?",
                    (len(batch), import_id),
                )
                db.commit()

            def finish(job: Job) -> None:
                if job.state != "done":  # all or nothing
                    db.execute("DELETE FROM person WHERE import_id = ?", (import_id,))
                    db.execute("UPDATE import SET rows = 0 WHERE id = ?", (import_id,))
                db.execute(
                    "UPDATE import SET state = ? WHERE id = ?", (job.state, import_id)
                )
                db.commit()

            job = jobs.start(
                read_people,
                str(folder / f"people-{rows}.csv"),
                rows,
                title=f"Import #{import_id}",
                in_process=request.POST.get("process") == "1",
                on_part=save_batch,
                on_end=finish,
                result_url="/",
            )
            job_of_import[import_id] = job.id
            return jobs.redirect(job)

    return guard.wrap(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the SQLite file (default: a temporary one)")
    parser.add_argument(
        "--rows", type=int, default=200_000, help="people in the CSV file"
    )
    options = launch_arguments(parser=parser)
    with tempfile.TemporaryDirectory(prefix="kali-jobs-") as folder:
        # Leaving the "with" cancels the jobs still running and waits for them.
        with Jobs() as jobs:
            app: GuardedHandler = make_app(
                options.db or os.path.join(folder, "people.db"),
                Path(folder),
                jobs,
                options.rows,
            )
            try:
                # on_ready hands the server to the jobs: they deliver their
                # results through it, on its thread.
                run_app(app, options, on_ready=jobs.attach)
            finally:
                app.guard.close()


if __name__ == "__main__":
    main()
