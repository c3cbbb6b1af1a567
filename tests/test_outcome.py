"""kali.outcome.Connection: callbacks after commit or rollback, however the
transaction ended, and the transaction guard settling them per request."""

import logging
import sqlite3

import pytest

from kali import Response, Router
from kali.outcome import Connection
from kali.sqlite import TransactionGuard, connect
from kali.testing import Client


@pytest.fixture
def db(tmp_path):
    connection = connect(tmp_path / "outcome.db")
    connection.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    yield connection
    connection.close()


def watch(db, log, label):
    db.on_commit(lambda: log.append(f"{label} committed"))
    db.on_rollback(lambda: log.append(f"{label} rolled back"))


def test_connect_gives_a_kali_connection(db):
    assert isinstance(db, Connection) and isinstance(db, sqlite3.Connection)


def test_connect_refuses_a_factory_that_is_not_one(tmp_path):
    with pytest.raises(TypeError, match="factory"):
        connect(tmp_path / "x.db", factory=sqlite3.Connection)


def test_commit_and_rollback_run_their_callbacks(db):
    log = []
    watch(db, log, "a")
    assert db.in_transaction and db.waiting == 2  # the callback began it
    db.commit()
    watch(db, log, "b")
    db.execute("INSERT INTO item (name) VALUES ('x')")
    db.rollback()
    assert log == ["a committed", "b rolled back"] and db.waiting == 0


def test_with_block_and_sql_statements_are_followed_too(db):
    log = []
    with db:
        watch(db, log, "with")
    watch(db, log, "sql")
    db.execute("COMMIT")
    assert log == ["with committed"]  # an SQL COMMIT is seen at the next settle
    db.settle()
    assert log == ["with committed", "sql committed"]


def test_a_savepoint_rolled_back_takes_its_callbacks_with_it(db):
    log = []
    watch(db, log, "outer")
    db.execute("SAVEPOINT inner")
    watch(db, log, "inner")
    db.execute("ROLLBACK TO inner")
    db.commit()
    assert log == ["outer committed", "inner rolled back"]


def test_settle_waits_while_the_transaction_is_open(db):
    log = []
    watch(db, log, "a")
    db.settle()
    assert log == [] and db.waiting == 2


def test_closing_with_an_open_transaction_is_a_rollback(tmp_path):
    connection = connect(tmp_path / "close.db")
    log = []
    watch(connection, log, "a")
    connection.close()
    assert log == ["a rolled back"]
    connection.close()  # twice is fine, as for sqlite3


def test_autocommit_mode_commits_at_once(tmp_path):
    connection = connect(tmp_path / "auto.db", isolation_level=None)
    try:
        log = []
        watch(connection, log, "a")
        assert log == ["a committed"]
    finally:
        connection.close()


def test_a_failing_callback_is_logged_and_the_others_still_run(db, caplog):
    log = []

    def fail():
        raise OSError("disk gone")

    db.on_commit(fail)
    watch(db, log, "a")
    with caplog.at_level(logging.ERROR, logger="kali"):
        db.commit()
    assert log == ["a committed"]
    assert "callback after the end of a transaction failed" in caplog.text


def test_markers_are_tidied_up(db):
    for _ in range(5):
        db.on_commit(lambda: None)
        db.commit()
    count = db.execute("SELECT count(*) FROM temp.kali_transaction_marker")
    assert count.fetchone()[0] == 1


def make_app(db, log):
    guard = TransactionGuard(db)
    router = Router()

    def add(request):
        watch(db, log, request.path[-1])
        db.execute("INSERT INTO item (name) VALUES (?)", [request.path[-1]])
        if request.path[-1] == "crash":
            raise RuntimeError("half-way")
        if request.path[-1] != "forget":
            db.commit()
        return Response.redirect("/")

    router.delegate("/add/*", add)
    return guard.wrap(router)


@pytest.mark.parametrize(
    "name, status, outcome",
    [("ok", 302, "committed"), ("crash", 500, "rolled back"),
     ("forget", 500, "rolled back")],
)  # fmt: skip
def test_the_guard_settles_every_request(db, name, status, outcome, caplog):
    log = []
    client = Client(make_app(db, log))
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        assert client.get(f"/add/{name}").status == status
    assert log == [f"{name} {outcome}"]
    assert db.waiting == 0
