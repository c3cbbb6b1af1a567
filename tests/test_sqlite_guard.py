"""kali.sqlite: connect() and the transaction guard, on real SQLite files."""

import contextlib
import logging
import re
import sqlite3
import time

import pytest

from examples import load_example
from kali import HTTPError, Response, Router
from kali.sqlite import (
    FORGOT_TO_COMMIT,
    GuardedHandler,
    TransactionGuard,
    connect,
    is_busy_error,
    transaction_guard,
)
from kali.testing import Client


@pytest.fixture
def open_db(tmp_path):
    """``open_db(name='app.db', **options)``: a kali.sqlite connection to a
    file in tmp_path, closed at teardown."""
    opened = []

    def open_(name="app.db", **options):
        connection = connect(tmp_path / name, **options)
        opened.append(connection)
        return connection

    yield open_
    for connection in opened:
        connection.close()


@pytest.fixture
def db(open_db):
    connection = open_db()
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    return connection


def count(connection, table="notes"):
    return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def make_router(db):
    """Handlers that save properly, forget to commit, fail half-way..."""
    router = Router()

    def insert(text):
        db.execute("INSERT INTO notes (text) VALUES (?)", (text,))

    @router.function("/")
    def home():
        return f"{count(db)} notes"

    @router.function("/save")
    def save(text="x"):
        insert(text)
        db.commit()
        return Response.redirect("/")

    @router.function("/forget")
    def forget(text="x"):
        insert(text)
        return Response.redirect("/")

    @router.function("/crash")
    def crash(text="x"):
        insert(text)
        raise RuntimeError("half-way")

    @router.function("/refuse")
    def refuse(text="x"):
        insert(text)
        raise HTTPError(409, "Already there.")

    @router.function("/lazy")
    def lazy():
        # A generator body runs when the Response is built: inside the guard.
        def rows():
            insert("from a generator")
            yield "written lazily"

        return rows()

    @router.function("/lazy-crash")
    def lazy_crash():
        def rows():
            insert("from a generator")
            yield "half"
            raise RuntimeError("the generator failed")

        return rows()

    return router


def assert_idle(*connections):
    for connection in connections:
        assert not connection.in_transaction


def other_connection_can_write(path):
    """A fresh connection with no busy timeout can take the write lock:
    nothing is left holding it."""
    with contextlib.closing(sqlite3.connect(path, timeout=0)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
    return True


# -- connect ----------------------------------------------------------------------


def test_connect_sets_up_a_desktop_database(open_db, tmp_path):
    db = open_db(busy_timeout=2.5)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    assert db.row_factory is sqlite3.Row
    assert db.isolation_level == "IMMEDIATE"
    row = db.execute("SELECT 1 AS one, 'b' AS two").fetchone()
    assert row["one"] == 1 and row["two"] == "b" and tuple(row) == (1, "b")
    assert (tmp_path / "app.db").exists()


def test_connect_enforces_foreign_keys(open_db):
    db = open_db()
    db.executescript(
        "CREATE TABLE a (id INTEGER PRIMARY KEY);"
        "CREATE TABLE b (a_id INTEGER NOT NULL REFERENCES a(id));"
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO b VALUES (42)")
    db.rollback()


def test_connect_keeps_implicit_transactions(open_db):
    db = open_db()
    db.execute("CREATE TABLE t (x)")
    assert not db.in_transaction
    db.execute("SELECT * FROM t").fetchall()
    assert not db.in_transaction
    db.execute("INSERT INTO t VALUES (1)")
    assert db.in_transaction
    db.commit()
    assert not db.in_transaction


def test_connect_memory_and_options():
    with contextlib.closing(connect(":memory:", isolation_level="DEFERRED")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.isolation_level == "DEFERRED"


def test_connect_refuses_what_would_defeat_the_guard(tmp_path):
    with pytest.raises(TypeError, match="busy_timeout"):
        connect(tmp_path / "x.db", timeout=1)
    with pytest.raises(ValueError, match="autocommit"):
        connect(tmp_path / "x.db", autocommit=False)
    with pytest.raises(ValueError):
        connect(tmp_path / "x.db", busy_timeout=-1)
    assert not (tmp_path / "x.db").exists()


def test_connect_does_not_create_folders(tmp_path):
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "missing" / "x.db")
    assert not (tmp_path / "missing").exists()


def test_connect_closes_the_connection_when_setup_fails(tmp_path):
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is not an SQLite file, just some text" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        connect(path)


# -- the guard, in its default mode ---------------------------------------------------


def test_forgot_to_commit_is_rolled_back_and_answered_500(db, tmp_path, caplog):
    client = Client(transaction_guard(make_router(db), db))
    with caplog.at_level(logging.ERROR, logger="kali"):
        page = client.get("/forget")
    assert page.status == 500
    assert "never called <code>commit()</code>" in page.text
    assert "Nothing was saved" in page.text
    assert "GET" in page.text and "/forget" in page.text  # swear names the request
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "/forget" in caplog.records[0].getMessage()
    assert_idle(db)
    assert count(db) == 0
    assert other_connection_can_write(tmp_path / "app.db")
    # The next request is not blocked, and saves normally.
    assert client.get("/save").status == 302
    assert client.get("/").text == "1 notes"


def test_a_handler_that_raises_is_rolled_back_then_500(db, tmp_path, caplog):
    client = Client(transaction_guard(make_router(db), db))
    with caplog.at_level(logging.ERROR, logger="kali"):
        page = client.get("/crash")
    assert page.status == 500
    assert "half-way" in caplog.text  # the server logged the traceback
    assert_idle(db)
    assert count(db) == 0
    assert other_connection_can_write(tmp_path / "app.db")
    assert client.get("/save").status == 302 and count(db) == 1


def test_the_exception_propagates_unchanged(db):
    app = transaction_guard(make_router(db), db)
    client = Client(app, raise_exceptions=True)
    with pytest.raises(RuntimeError, match="half-way"):
        client.get("/crash")
    assert_idle(db)
    assert count(db) == 0


def test_an_http_error_keeps_its_status_and_is_rolled_back(db):
    client = Client(transaction_guard(make_router(db), db))
    page = client.get("/refuse")
    assert page.status == 409 and "Already there." in page.text
    assert_idle(db)
    assert count(db) == 0


def test_generator_bodies_run_inside_the_guard(db):
    client = Client(transaction_guard(make_router(db), db))
    page = client.get("/lazy")
    assert page.status == 500 and "Nothing was saved" in page.text
    assert client.get("/lazy-crash").status == 500
    assert_idle(db)
    assert count(db) == 0


def test_committed_work_and_reads_pass_through(db):
    client = Client(transaction_guard(make_router(db), db))
    saved = client.get("/save", query={"text": "kept"})
    assert saved.status == 302 and saved.location == "/"
    assert client.get("/").text == "1 notes"
    assert client.get("/nowhere").status == 404
    assert_idle(db)


def test_every_request_leaves_nothing_in_a_transaction(db, tmp_path):
    client = Client(transaction_guard(make_router(db), db))
    for path in ["/save", "/forget", "/crash", "/refuse", "/lazy", "/", "/save"]:
        client.get(path)
        assert_idle(db)
        assert other_connection_can_write(tmp_path / "app.db")
    assert count(db) == 2


# -- commit mode -----------------------------------------------------------------------


def test_commit_mode_commits_a_handler_that_returned(db, tmp_path, caplog):
    client = Client(transaction_guard(make_router(db), db, commit=True))
    with caplog.at_level(logging.WARNING, logger="kali"):
        page = client.get("/forget", query={"text": "auto"})
    assert page.status == 302 and page.location == "/"
    assert not caplog.records
    assert_idle(db)
    with contextlib.closing(sqlite3.connect(tmp_path / "app.db")) as other:
        assert other.execute("SELECT text FROM notes").fetchall() == [("auto",)]


def test_commit_mode_still_rolls_back_a_handler_that_raised(db):
    client = Client(transaction_guard(make_router(db), db, commit=True))
    assert client.get("/crash").status == 500
    assert client.get("/refuse").status == 409
    assert client.get("/lazy-crash").status == 500
    assert_idle(db)
    assert count(db) == 0
    assert client.get("/lazy").status == 200
    assert count(db) == 1


def test_commit_mode_rolls_back_when_the_commit_fails(open_db):
    db = open_db()
    db.executescript(
        "CREATE TABLE a (id INTEGER PRIMARY KEY);"
        "CREATE TABLE b (a_id INTEGER REFERENCES a(id) DEFERRABLE INITIALLY DEFERRED);"
    )

    def handler(request):
        db.execute("INSERT INTO b VALUES (7)")  # checked only at COMMIT
        return "done"

    client = Client(transaction_guard(handler, db, commit=True))
    assert client.get("/").status == 500
    assert_idle(db)
    assert count(db, "b") == 0


# -- a locked database ---------------------------------------------------------------


def test_a_locked_database_is_answered_503_with_retry_after(open_db, tmp_path):
    db = open_db(busy_timeout=0.1)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    # kali's own page hides the message of a 5xx; an app's error_page gets it.
    client = Client(
        transaction_guard(make_router(db), db, retry_after=3),
        error_page=lambda request, status, message: f"{status}: {message}",
    )
    with contextlib.closing(sqlite3.connect(tmp_path / "app.db", timeout=0)) as other:
        other.execute("BEGIN EXCLUSIVE")
        other.execute("INSERT INTO notes (text) VALUES ('theirs')")
        started = time.monotonic()
        page = client.get("/save")
        waited = time.monotonic() - started
        assert page.status == 503
        assert page.headers["retry-after"] == "3"
        assert page.text == "503: The database is busy; try again."
        assert 0.05 <= waited < 3  # it waited for the busy timeout, not forever
        assert_idle(db)
        assert client.get("/").status == 200  # WAL: reading still works
        other.commit()
    # Once the other connection lets go, the same client saves.
    assert client.get("/save").status == 302
    assert count(db) == 2
    assert_idle(db)


def test_the_default_busy_timeout_is_short(open_db):
    """Every tab waits while one request waits for a lock: one second."""
    assert open_db().execute("PRAGMA busy_timeout").fetchone()[0] == 1000


def test_a_503_answer_rolls_back_its_transaction_quietly(db, caplog):
    """A handler (a Formlet whose save found the database busy) that answers
    503 gave up its work: no "forgot to commit" 500, and nothing saved."""

    def handler(request):
        db.execute("INSERT INTO notes (text) VALUES ('half')")
        return Response("<p>busy, your input is kept</p>", code=503)

    client = Client(transaction_guard(handler, db))
    with caplog.at_level(logging.WARNING, logger="kali"):
        page = client.post("/")
    assert page.status == 503 and page.text == "<p>busy, your input is kept</p>"
    assert "rolled back" in caplog.text and "ERROR" not in caplog.text
    assert_idle(db)
    assert count(db) == 0


def test_locked_mid_transaction_rolls_back_the_other_connections(open_db, tmp_path):
    first = open_db("first.db")
    second = open_db("second.db", busy_timeout=0.05)
    first.execute("CREATE TABLE notes (text)")
    second.execute("CREATE TABLE notes (text)")

    def handler(request):
        first.execute("INSERT INTO notes VALUES ('first')")
        second.execute("INSERT INTO notes VALUES ('second')")
        first.commit()
        second.commit()
        return "saved both"

    client = Client(transaction_guard(handler, first, second))
    with contextlib.closing(sqlite3.connect(tmp_path / "second.db")) as other:
        other.execute("BEGIN IMMEDIATE")
        page = client.get("/")
        assert page.status == 503
        other.rollback()
    assert_idle(first, second)
    assert count(first) == 0 and count(second) == 0
    assert client.get("/").text == "saved both"


def test_is_busy_error():
    assert is_busy_error(sqlite3.OperationalError("database is locked"))
    assert not is_busy_error(sqlite3.OperationalError("no such table: x"))
    assert not is_busy_error(RuntimeError("database is locked"))


# -- several connections, registered later --------------------------------------------


def test_connections_registered_after_wrapping_are_guarded(open_db):
    first, second = open_db("one.db"), open_db("two.db")
    for connection in (first, second):
        connection.execute("CREATE TABLE notes (text)")

    def handler(request):
        first.execute("INSERT INTO notes VALUES ('a')")
        first.commit()
        second.execute("INSERT INTO notes VALUES ('b')")
        return "forgot the second"

    guard = TransactionGuard()
    app = guard.wrap(handler)
    assert isinstance(app, GuardedHandler) and app.guard is guard
    assert guard.register(first) is first
    client = Client(app)
    # The second connection is not guarded yet: its transaction stays open.
    assert client.get("/").status == 200
    assert second.in_transaction
    second.rollback()
    app.guard.register(second)
    app.guard.register(second)  # registering twice guards it once
    assert guard.connections == [first, second]
    page = client.get("/")
    assert page.status == 500 and FORGOT_TO_COMMIT in page.text
    assert_idle(first, second)
    assert count(first) == 2 and count(second) == 0
    guard.unregister(second)
    assert guard.connections == [first]
    with pytest.raises(ValueError):
        guard.unregister(second)


def test_closed_connections_are_skipped(open_db):
    db = open_db()
    gone = connect(":memory:")
    gone.close()
    app = transaction_guard(lambda request: "fine", db, gone)
    assert Client(app).get("/").text == "fine"


def test_close_rolls_back_and_closes_everything(tmp_path):
    db = connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    guard = TransactionGuard(db)
    guard.close()
    assert guard.connections == []
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")
    with contextlib.closing(sqlite3.connect(tmp_path / "x.db")) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_bad_arguments():
    with pytest.raises(TypeError):
        TransactionGuard(retry_after=1.5)
    with pytest.raises(ValueError):
        TransactionGuard(retry_after=-1)
    with pytest.raises(TypeError):
        TransactionGuard().register("app.db")
    with pytest.raises(TypeError):
        TransactionGuard().wrap("not a handler")


# -- the example --------------------------------------------------------------------


def test_the_guard_example(tmp_path):
    app = load_example("guard").make_app(tmp_path / "notes.db")
    try:
        client = Client(app)
        assert "0 saved notes" in client.get("/").text
        assert client.post("/save", data={"text": "kept"}).status == 302
        forgot = client.post("/forget", data={"text": "lost"})
        assert forgot.status == 500 and "Nothing was saved" in forgot.text
        assert client.post("/crash", data={"text": "lost too"}).status == 500
        home = client.get("/").text
        # ("1 saved note" or "notes": examples/guard.py's wording may change.)
        assert re.search(r"\b1 saved notes?\b", home)
        assert "kept" in home and "lost" not in home
    finally:
        app.guard.close()
