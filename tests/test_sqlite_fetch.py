"""kali.sqlite.fetch_one / fetch_one_or_none: the row, or a 404 page."""

import sqlite3

import pytest

from kali import HTTPError, Router
from kali.sqlite import (
    NOT_FOUND,
    connect,
    fetch_one,
    fetch_one_or_none,
    transaction_guard,
)
from kali.testing import Client


@pytest.fixture
def db(tmp_path):
    connection = connect(tmp_path / "fetch.db")
    connection.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
    connection.executemany("INSERT INTO note (text) VALUES (?)", [("one",), ("two",)])
    connection.commit()
    yield connection
    connection.close()


def test_fetch_one_returns_the_row(db):
    row = fetch_one(db, "SELECT * FROM note WHERE id = ?", [2])
    assert row["text"] == "two"
    named = fetch_one(db, "SELECT * FROM note WHERE text = :text", {"text": "one"})
    assert named["id"] == 1


def test_fetch_one_raises_404_when_there_is_no_row(db):
    with pytest.raises(HTTPError) as caught:
        fetch_one(db, "SELECT * FROM note WHERE id = ?", [99])
    assert caught.value.status == 404 and caught.value.message == NOT_FOUND
    with pytest.raises(HTTPError, match="No such note"):
        fetch_one(db, "SELECT * FROM note WHERE id = 99", message="No such note.")


def test_fetch_one_or_none(db):
    assert fetch_one_or_none(db, "SELECT * FROM note WHERE id = ?", (99,)) is None
    assert fetch_one_or_none(db, "SELECT text FROM note ORDER BY id")[0] == "one"


def test_a_stale_link_gets_a_404_page_through_the_guard(db):
    router = Router()

    def show(request):
        row = fetch_one(db, "SELECT * FROM note WHERE id = ?", [request.args[0]])
        return row["text"]

    router.delegate("/notes/*", show)
    client = Client(transaction_guard(router, db))
    assert client.get("/notes/1").text == "one"
    missing = client.get("/notes/7")
    assert missing.status == 404 and "does not exist" in missing.text


def test_sql_errors_are_not_hidden_as_404(db):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        fetch_one(db, "SELECT * FROM missing_table")


def test_sql_values_store_dates_and_decimals_exactly(tmp_path):
    import datetime
    import decimal

    from kali.sqlite import sql_values

    db = connect(tmp_path / "values.db")
    try:
        db.execute("CREATE TABLE t (day TEXT, at TEXT, price NUMERIC, note TEXT)")
        native = {
            "day": datetime.date(2024, 2, 29),
            "at": datetime.datetime(2024, 2, 29, 9, 30),
            "price": decimal.Decimal("89.90"),
            "note": None,
        }
        db.execute(
            "INSERT INTO t VALUES (:day, :at, :price, :note)", sql_values(native)
        )
        db.commit()
        row = db.execute("SELECT day, at, price, note FROM t").fetchone()
        assert tuple(row) == ("2024-02-29", "2024-02-29 09:30:00", 89.9, None)
    finally:
        db.close()
