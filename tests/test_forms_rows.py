"""RowChoice: choices read from a real SQLite file, never cached (kali.forms.rows)."""

import re
import sqlite3

import pytest

from kali import Bag, Response, Router, flatten
from kali.forms import (
    ChoiceLens,
    Entry,
    Form,
    Formlet,
    Pick,
    RadioGroup,
    RowChoice,
    ValidationError,
)
from kali.forms.rows import UNAVAILABLE, check_identifier
from kali.testing import Client


def html(iolist):
    return flatten(iolist).decode("utf-8")


@pytest.fixture
def database(tmp_path):
    """A real database file with a few contacts; closed after the test."""
    connection = sqlite3.connect(tmp_path / "book.sqlite3")
    connection.executescript(
        """
        CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, city TEXT,
                              active INTEGER NOT NULL DEFAULT 1);
        INSERT INTO contact (id, name, city) VALUES
            (1, 'Zoë', 'Basel'), (2, 'adam', 'Bern'), (3, 'Bea <b>&', 'Basel');
        """
    )
    connection.commit()
    yield connection
    connection.close()


def options(iolist):
    return re.findall(
        r'<option(?: selected)? value="([^"]*)">([^<]*)</option>', html(iolist)
    )


def test_pick_offers_the_rows_in_label_order_with_escaped_labels(database):
    pick = Pick(RowChoice(database, "contact"), label="With")
    out = pick.render("with", "")
    assert options(out) == [
        ("", ""),
        ("3", "Bea &lt;b&gt;&amp;"),
        ("1", "Zoë"),
        ("2", "adam"),
    ]
    assert '<option selected value="2">adam</option>' in html(pick.render("w", "2"))


def test_values_are_the_stored_ids_and_blank_is_none(database):
    choice = RowChoice(database, "contact")
    assert choice.to_native("2") == 2
    assert choice.to_native("") is None
    assert choice.to_text(2) == "2"
    assert choice.to_text(None) == ""
    # The 0.0.8 names work on it as on any lens.
    assert choice.native_from_string("1") == 1
    assert choice.string_for_browser(1) == "1"
    assert isinstance(choice, ChoiceLens)


@pytest.mark.parametrize("text", ["99", "02", " 2", "2.0", "x", "1 OR 1=1", "'"])
def test_a_value_not_among_the_rows_is_a_field_error(database, text):
    with pytest.raises(ValidationError) as caught:
        RowChoice(database, "contact").to_native(text)
    assert caught.value.message == UNAVAILABLE


def test_options_are_read_again_on_every_render(database):
    pick = Pick(RowChoice(database, "contact", order_by="id"))
    assert [v for v, _ in options(pick.render("c", ""))] == ["", "1", "2", "3"]
    database.execute("INSERT INTO contact (id, name) VALUES (4, 'Dora')")
    database.execute("UPDATE contact SET name = 'Adam' WHERE id = 2")
    database.commit()
    assert options(pick.render("c", ""))[2:] == [
        ("2", "Adam"),
        ("3", "Bea &lt;b&gt;&amp;"),
        ("4", "Dora"),
    ]


def test_a_row_deleted_between_render_and_submit(tmp_path, database):
    """The whole cycle through a Formlet over a real file, with a second
    connection deleting the chosen row between the GET and the POST."""
    path = tmp_path / "book.sqlite3"
    saved = []
    router = Router()

    @router.servlet("/meet")
    class Meeting(Formlet):
        def __init__(self):
            super().__init__(
                {
                    "title": Entry(label="What"),
                    "contact": Pick(
                        RowChoice(lambda: database, "contact"),
                        "choose someone.",
                        label="With",
                    ),
                }
            )

        def get_native(self):
            return {}

        def save(self, native, request):
            saved.append(native)
            return Response.redirect("/done")

    client = Client(router)
    form = client.get("/meet")
    assert '<option value="3">Bea &lt;b&gt;&amp;</option>' in form.text

    other = sqlite3.connect(path)
    try:
        other.execute("DELETE FROM contact WHERE id = 3")
        other.commit()
    finally:
        other.close()

    page = client.post("/meet", data={"title": "Lunch", "contact": "3"})
    assert page.status == 200 and saved == []
    assert f'<span class="error" id="contact-error">{UNAVAILABLE}</span>' in page.text
    assert 'aria-invalid="true"' in page.text
    assert 'value="Lunch"' in page.text  # the rest of the input is kept
    assert 'value="3"' not in page.text  # the deleted row is no longer offered

    done = client.post("/meet", data={"title": "Lunch", "contact": "1"})
    assert done.status == 302 and saved == [{"title": "Lunch", "contact": 1}]


def test_radio_group_and_multiple_pick_over_rows(database):
    radios = RadioGroup(RowChoice(database, "contact", order_by="id"), label="Who")
    out = html(radios.render("who", "1"))
    assert 'id="who-0" name="who" value="1" checked/>' in out
    assert '<label for="who-2">Bea &lt;b&gt;&amp;</label>' in out
    many = Pick(RowChoice(database, "contact"), multiple=True)
    posted = Form({"c": many}).parse(Bag([("c", "1"), ("c", "3")]))
    assert posted.native == {"c": {1, 3}}
    posted = Form({"c": many}).parse(Bag([("c", "1"), ("c", "7")]))
    assert posted.errors == {"c": UNAVAILABLE}


def test_where_parameters_order_and_columns(database):
    database.execute("UPDATE contact SET active = 0 WHERE id = 1")
    database.commit()
    choice = RowChoice(
        database,
        "contact",
        label="city",
        order_by="city DESC, name COLLATE NOCASE",
        where="active = :active",
        parameters={"active": 1},
    )
    assert list(choice.string_pairs()) == [("2", "Bern"), ("3", "Basel")]
    assert choice.to_native("2") == 2
    with pytest.raises(ValidationError):
        choice.to_native("1")  # in the table, but not among the choices
    positional = RowChoice(database, "contact", where="city = ?", parameters=["Basel"])
    assert [v for v, _ in positional.string_pairs()] == ["3", "1"]
    by_list = RowChoice(database, "contact", order_by=["name desc"])
    assert [v for v, _ in by_list.string_pairs()] == ["2", "1", "3"]


def test_text_values_null_labels_and_null_values(database):
    database.executescript(
        """
        CREATE TABLE colour (code TEXT, title TEXT);
        INSERT INTO colour VALUES ('r', 'Red'), ('g', NULL), (NULL, 'None');
        """
    )
    choice = RowChoice(database, "colour", value="code", label="title", order_by="code")
    assert list(choice.string_pairs()) == [("g", ""), ("r", "Red")]
    assert choice.to_native("r") == "r"


def test_the_connection_row_factory_does_not_matter(database):
    database.row_factory = sqlite3.Row
    assert RowChoice(database, "contact").to_native("1") == 1
    database.row_factory = lambda cursor, row: {"whatever": row}
    assert list(RowChoice(database, "contact", order_by="id").string_pairs())[0] == (
        "1",
        "Zoë",
    )


def test_a_callable_is_called_on_every_read(database):
    calls = []

    def connect():
        calls.append(1)
        return database

    choice = RowChoice(connect, "contact")
    assert calls == []
    list(choice.string_pairs())
    choice.to_native("1")
    assert len(calls) == 2


def test_from_query(database):
    choice = RowChoice.from_query(
        database,
        "SELECT id, name || ' (' || city || ')' FROM contact"
        " WHERE city = ? ORDER BY id",
        ["Basel"],
        error="gone.",
    )
    assert list(choice.string_pairs()) == [
        ("1", "Zoë (Basel)"),
        ("3", "Bea <b>& (Basel)"),
    ]
    assert choice.to_native("3") == 3
    with pytest.raises(ValidationError, match="gone."):
        choice.to_native("2")


@pytest.mark.parametrize(
    "query", ["DELETE FROM contact", "", "  ", 42, "PRAGMA table_info(contact)"]
)
def test_from_query_needs_a_select(database, query):
    with pytest.raises(ValueError):
        RowChoice.from_query(database, query)


@pytest.mark.parametrize(
    "keywords",
    [
        {"table": "contact; DROP TABLE contact"},
        {"table": "contact --"},
        {"table": "[contact]"},
        {"table": '"contact"'},
        {"table": "1contact"},
        {"table": ""},
        {"table": "contäct"},
        {"label": "name FROM contact --"},
        {"label": "name]"},
        {"value": "id, name"},
        {"order_by": "name; DROP TABLE contact"},
        {"order_by": "name DESC DESC"},
        {"order_by": "name COLLATE"},
        {"order_by": "(SELECT 1)"},
        {"order_by": ""},
        {"order_by": []},
        {"where": ""},
        {"where": "   "},
    ],
)
def test_names_are_checked_at_construction(database, keywords):
    arguments = {"table": "contact", **keywords}
    with pytest.raises(ValueError):
        RowChoice(database, **arguments)
    # ...and nothing happened to the table.
    assert database.execute("SELECT count(*) FROM contact").fetchone()[0] == 3


@pytest.mark.parametrize("keywords", [{"table": 3}, {"label": None}, {"order_by": [3]}])
def test_names_of_the_wrong_type(database, keywords):
    with pytest.raises((TypeError, ValueError)):
        RowChoice(database, **{"table": "contact", **keywords})


def test_database_of_the_wrong_kind():
    with pytest.raises(TypeError):
        RowChoice("book.sqlite3", "contact")
    choice = RowChoice(lambda: "not a connection", "contact")
    with pytest.raises(TypeError):
        list(choice.string_pairs())


def test_misspelt_column_is_an_sql_error_not_a_literal(database):
    # SQLite reads "nmae" in double quotes as the string 'nmae' when no column
    # has that name; kali's bracket quoting makes it an error instead.
    choice = RowChoice(database, "contact", label="nmae")
    with pytest.raises(sqlite3.OperationalError, match="nmae"):
        list(choice.string_pairs())


def test_keyword_names_are_quoted(database):
    database.executescript(
        'CREATE TABLE "order" ("group" INTEGER, "select" TEXT);'
        "INSERT INTO \"order\" VALUES (5, 'five');"
    )
    choice = RowChoice(database, "order", value="group", label="select")
    assert list(choice.string_pairs()) == [("5", "five")]


def test_check_identifier():
    assert check_identifier("contact_2") == "[contact_2]"
    with pytest.raises(ValueError, match="table"):
        check_identifier("a b", "table")


@pytest.mark.parametrize(
    ("where", "parameters"),
    [("city = ?", ["Basel"]), ("city = :city", {"city": "Basel"})],
)
def test_to_native_looks_one_row_up_within_the_where(database, where, parameters):
    choice = RowChoice(database, "contact", where=where, parameters=parameters)
    assert choice.to_native("3") == 3
    for outside in ("2", "03", "3 ", "x"):  # Bern; not the text of an id; junk
        with pytest.raises(ValidationError):
            choice.to_native(outside)
