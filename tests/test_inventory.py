"""The home inventory example (examples/inventory/), used as a user would.

Every test gets a fresh SQLite file and photo folder under tmp_path and a
kali.testing Client (with the example's error pages) that keeps the session
cookie like a browser. Forms are read from the pages and submitted as a
browser would (``response.form()``), so a test only sends what a user could.
After every test the database must have no transaction left open.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from examples import load_example
from kali.testing import Client

ROOT = Path(__file__).resolve().parents[1]
JPEG = b"\xff\xd8\xff\xe0 a small photo"

inventory = load_example("inventory")
cli = importlib.import_module("example_inventory.__main__")


class Home:
    """The app under test, its client, its database and its photo folder."""

    def __init__(self, folder: Path):
        self.db_path = folder / "inventory.sqlite3"
        self.app = inventory.make_app(self.db_path)
        self.db = self.app.guard.connections[0]
        self.photos = folder / "inventory-photos"
        self.client = Client(self.app, error_page=inventory.PAGES.error_page)

    def category_id(self, name):
        sql = "SELECT id FROM category WHERE name = ?"
        return self.db.execute(sql, [name]).fetchone()[0]

    def count(self, table):
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def photo_files(self):
        return sorted(path.name for path in self.photos.iterdir())

    def add_item(self, name="Reading lamp", category="Furniture", **fields):
        """Fill in the "Add an item" form and save it; the new item's id."""
        form = self.client.get("/items/new").form()
        form["name"] = name
        form["category_id"] = str(self.category_id(category))
        for field, value in fields.items():
            form[field] = value
        saved = form.submit()
        assert saved.status_code == 302, saved.text
        return int(saved.location.rsplit("/", 1)[1])

    def item(self, item_id):
        return self.db.execute("SELECT * FROM item WHERE id = ?", [item_id]).fetchone()

    def add_rows(self, rows):
        """Items straight into the table (for the list's tests)."""
        self.db.executemany(
            "INSERT INTO item (name, category_id, quantity, price, notes)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self.db.commit()


@pytest.fixture
def home(tmp_path):
    home = Home(tmp_path)
    try:
        yield home
        assert not home.db.in_transaction, "a handler left a transaction open"
    finally:
        home.app.guard.close()


def list_names(page):
    """The item names of a list page, in order."""
    return re.findall(r'<td><a href="/items/\d+">([^<]*)</a></td>', page.text)


def link(page, rel):
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', page.text)
    return match and match.group(1).replace("&amp;", "&")


# -- Items -----------------------------------------------------------------------------


def test_an_item_from_start_to_end(home):
    form = home.client.get("/items/new").form()
    assert form["quantity"] == "1"  # a new item starts as one thing
    form["name"] = "Reading lamp"
    form["category_id"] = str(home.category_id("Furniture"))
    form["quantity"] = "-1"
    form["bought"] = "2023-02-30"
    form["price"] = "45.999"
    form["notes"] = "Brass.\nFrom the flea market."
    again = form.submit()
    assert again.status_code == 200 and home.count("item") == 0
    assert "must be at least 0." in again.text
    assert "does not look like a date (YYYY-MM-DD)." in again.text
    assert "may have at most 2 digits after the point." in again.text
    form = again.form()
    assert form["name"] == "Reading lamp" and form["price"] == "45.999"  # kept
    assert form["notes"] == "Brass.\r\nFrom the flea market."
    form["quantity"] = "2"
    form["bought"] = "2023-02-28"
    form["price"] = "45.9"
    form["photo"] = ("lamp.jpg", JPEG, "image/jpeg")
    saved = form.submit()
    assert saved.location == "/items/1"
    page = saved.follow()
    assert "Saved “Reading lamp”." in page.text
    assert "<dd>Furniture</dd>" in page.text and "<dd>2</dd>" in page.text
    assert "<dd>2023-02-28</dd>" in page.text and "<dd>45.90</dd>" in page.text
    assert "From the flea market." in page.text
    assert "Saved" not in home.client.get("/items/1").text  # shown once
    photo = home.client.get("/items/1/photo")
    assert photo.headers["content-type"] == "image/jpeg" and photo.body == JPEG
    assert home.photo_files() == [home.item(1)["photo"]]
    assert home.item(1)["photo"].endswith(".jpg")


def test_editing_shows_the_item_and_replaces_its_photo(home):
    item_id = home.add_item(price="89.9", photo=("a.png", b"\x89PNG old", "image/png"))
    old = home.item(item_id)["photo"]
    form = home.client.get(f"/items/{item_id}/edit").form()
    assert form["name"] == "Reading lamp" and form["price"] == "89.90"
    assert form["category_id"] == str(home.category_id("Furniture"))
    form["name"] = "Desk lamp"
    form["category_id"] = str(home.category_id("Electronics"))
    form["price"] = ""  # not known after all
    assert form.submit().follow().text.count("Saved “Desk lamp”.") == 1
    row = home.item(item_id)
    assert row["name"] == "Desk lamp" and row["price"] is None
    assert row["photo"] == old and home.photo_files() == [old]  # kept
    form = home.client.get(f"/items/{item_id}/edit").form()
    form["photo"] = ("b.jpg", JPEG, "image/jpeg")
    form.submit()
    new = home.item(item_id)["photo"]
    assert new != old and home.photo_files() == [new]  # the old one is gone
    assert home.client.get(f"/items/{item_id}/photo").body == JPEG


def test_a_photo_must_be_an_image(home):
    form = home.client.get("/items/new").form()
    form["name"] = "Manual"
    form["category_id"] = str(home.category_id("Books"))
    form["photo"] = ("manual.pdf", b"%PDF-1.4", "application/pdf")
    page = form.submit()
    assert "must be a file of type image/*." in page.text
    assert home.count("item") == 0 and home.photo_files() == []


def test_a_photo_is_removed_again_when_the_save_rolls_back(home):
    item_id = home.add_item(photo=("a.jpg", JPEG, "image/jpeg"))
    kept = home.item(item_id)["photo"]
    # Saving fails after the photo was written: the new file must go, the
    # old one stay, the row be unchanged.
    home.db.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON item"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    form = home.client.get(f"/items/{item_id}/edit").form()
    form["name"] = "Renamed"
    form["photo"] = ("b.jpg", b"\xff\xd8 another", "image/jpeg")
    page = form.submit()
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert "disk full" not in page.text and "Back to all items" in page.text
    assert home.photo_files() == [kept] and home.item(item_id)["name"] == "Reading lamp"
    # The same for a new item: no row, no file.
    home.db.execute(
        "CREATE TRIGGER refuse_new BEFORE INSERT ON item"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    form = home.client.get("/items/new").form()
    form["name"] = "Camera"
    form["category_id"] = str(home.category_id("Electronics"))
    form["photo"] = ("c.jpg", JPEG, "image/jpeg")
    assert form.submit().status_code == 500
    assert home.count("item") == 1 and home.photo_files() == [kept]


def test_a_double_submit_saves_the_item_once(home):
    form = home.client.get("/items/new").form()
    form["name"] = "Kettle"
    form["category_id"] = str(home.category_id("Kitchen"))
    first, second = form.submit(), form.submit()
    assert first.location == second.location == "/items/1"
    assert home.count("item") == 1


def test_a_category_deleted_while_the_form_was_open_is_a_field_message(home):
    form = home.client.get("/items/new").form()
    form["name"] = "Hammer"
    form["category_id"] = str(home.category_id("Tools"))
    home.db.execute("DELETE FROM category WHERE name = 'Tools'")
    home.db.commit()
    page = form.submit()
    assert "that choice is no longer available; please choose again." in page.text
    assert home.count("item") == 0


def test_deleting_asks_first_and_takes_the_photo_along(home):
    item_id = home.add_item(photo=("a.jpg", JPEG, "image/jpeg"))
    home.add_item("Armchair")
    ask = home.client.get(f"/items/{item_id}/delete")
    assert "“Reading lamp” and its photo will be gone for good." in ask.text
    assert home.count("item") == 2 and len(home.photo_files()) == 1  # only asked
    done = ask.form().submit()
    assert done.location == "/"
    page = done.follow()
    assert "Deleted “Reading lamp”." in page.text and list_names(page) == ["Armchair"]
    assert home.item(item_id) is None and home.photo_files() == []
    assert home.client.get(f"/items/{item_id}").status_code == 404
    assert home.client.post(f"/items/{item_id}/delete").status_code == 404
    assert home.client.delete("/items/2/delete").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/items/abc",
        "/items/123456789012345678901234567890",  # beyond SQLite's integers
        "/items/-1",
        "/items/99",
        "/items/99/edit",
        "/items/abc/edit",
        "/items/99/delete",
        "/items/99/photo",
        "/items/1/photo",  # an item without a photo
        "/categories/abc/edit",
        "/categories/99/edit",
        "/nothing/here",
    ],
)
def test_bad_addresses_are_404_pages_in_the_layout(home, path):
    home.add_item()
    page = home.client.get(path)
    assert page.status_code == 404
    assert "<title>Not Found · Home inventory</title>" in page.text
    assert "Back to all items" in page.text and "All items</a>" in page.text


def test_the_stylesheet_is_served(home):
    css = home.client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# -- Categories ------------------------------------------------------------------------


def categories(home):
    page = home.client.get("/categories")
    return re.findall(r'<tr><td>([^<]*)</td><td class="number">(\d+)</td>', page.text)


def test_categories_are_added_and_renamed(home):
    form = home.client.get("/categories/new").form()
    form["name"] = "Garden"
    page = form.submit().follow()
    assert "Saved category “Garden”." in page.text and ("Garden", "0") in categories(
        home
    )
    form = home.client.get("/categories/new").form()
    form["name"] = "garden"  # the same name in other letters
    page = form.submit()
    assert "there is a category of that name already." in page.text
    garden = home.category_id("Garden")
    form = home.client.get(f"/categories/{garden}/edit").form()
    assert form["name"] == "Garden"
    form["name"] = "Books"
    assert "there is a category of that name already." in form.submit().text
    form["name"] = "Garden and balcony"
    form.submit()
    assert home.category_id("Garden and balcony") == garden
    form["name"] = "Garden & balcony"
    form.submit()  # the same form again: renaming is not a "new" form
    assert home.category_id("Garden & balcony") == garden
    # The item form offers the renamed category at once.
    options = home.client.get("/items/new").text
    assert f'<option value="{garden}">Garden &amp; balcony</option>' in options


def test_a_category_in_use_cannot_be_deleted(home):
    home.add_item("Lamp")
    home.add_item("Chair")
    furniture = home.category_id("Furniture")
    page = home.client.get("/categories")
    assert ("Furniture", "2") in categories(home)
    delete = next(
        f for f in page.forms if f.action == f"/categories/{furniture}/delete"
    )
    refused = delete.submit()
    assert refused.location == "/categories"
    page = refused.follow()
    assert (
        '<p class="flash error" role="alert">“Furniture” is the category of 2'
        " item(s): give them another category first, then delete it.</p>" in page.text
    )
    assert ("Furniture", "2") in categories(home)
    # Once its items are gone, it can go.
    for item_id in (1, 2):
        home.client.get(f"/items/{item_id}/delete").form().submit()
    page = delete.submit().follow()
    assert "Deleted category “Furniture”." in page.text
    assert "Furniture" not in [name for name, _ in categories(home)]
    assert home.client.get(f"/categories/{furniture}/delete").status_code == 405
    assert home.client.post(f"/categories/{furniture}/delete").status_code == 404


def test_a_deleted_category_stays_deleted_after_a_restart(tmp_path):
    home = Home(tmp_path)
    try:
        home.client.post(f"/categories/{home.category_id('Books')}/delete")
        home.add_item("Lamp")
    finally:
        home.app.guard.close()
    home = Home(tmp_path)  # the same files, as on the next launch
    try:
        assert "Books" not in [name for name, _ in categories(home)]
        assert list_names(home.client.get("/")) == ["Lamp"]
    finally:
        home.app.guard.close()


# -- The list --------------------------------------------------------------------------


def test_the_list_is_paged_sorted_and_searched(home):
    kitchen, books = home.category_id("Kitchen"), home.category_id("Books")
    home.add_rows(
        (f"Item {n:02}", kitchen if n % 2 else books, n % 7, n * 1.5, "")
        for n in range(60)
    )
    home.add_rows([("Reading lamp", books, 1, None, "brass, from the flea market")])
    first = home.client.get("/")
    names = list_names(first)
    assert names[:3] == ["Item 00", "Item 01", "Item 02"] and len(names) == 25
    assert link(first, "prev") is None
    # Every item once, in order, by the page links alone.
    seen, page = list(names), first
    while link(page, "next"):
        page = home.client.get(link(page, "next"))
        seen += list_names(page)
    assert seen == sorted(seen) and len(seen) == 61
    assert list_names(home.client.get(link(page, "prev")))[0] == "Item 25"
    # A click on "Price" sorts the dearest first; the heading says so.
    head = re.search(r'<a href="([^"]+)">Price</a>', first.text).group(1)
    by_price = home.client.get(head.replace("&amp;", "&"))
    assert list_names(by_price)[:2] == ["Item 59", "Item 58"]
    assert '<th aria-sort="descending"><a href="/?sort=price&amp;dir=asc">' in (
        by_price.text
    )
    assert '<td class="number">88.50</td>' in by_price.text
    by_category = home.client.get("/", query={"sort": "category"})
    assert list_names(by_category)[0] == "Item 00"  # Books before Kitchen
    # The search looks in names and notes, the last word as a prefix, and
    # keeps the sort.
    found = by_price.form().submit()
    assert found.status_code == 200
    form = by_price.form()
    form["q"] = "flea mark"
    found = form.submit()
    assert list_names(found) == ["Reading lamp"] and "sort=price" in found.url
    empty = home.client.get("/", query={"q": "zebra"})
    assert "Nothing matches “zebra”." in empty.text and list_names(empty) == []
    assert home.client.get("/", query={"sort": "notes"}).status_code == 400


def test_an_empty_inventory_invites_the_first_item(home):
    page = home.client.get("/")
    assert "No items yet" in page.text and 'href="/items/new"' in page.text


# -- Exports ---------------------------------------------------------------------------


def test_the_csv_export(home):
    home.add_item("Lamp", quantity="2", bought="2024-05-01", price="45.5")
    home.add_item("=HYPERLINK(evil)", category="Books", notes="line one\nline two")
    export = home.client.get("/items.csv")
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="home-inventory.csv"' in export.headers["content-disposition"]
    assert export.body.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    rows = list(csv.reader(io.StringIO(export.body.decode("utf-8-sig"))))
    assert rows == [
        ["id", "name", "category", "quantity", "bought", "price", "notes"],
        ["2", "'=HYPERLINK(evil)", "Books", "1", "", "", "line one\r\nline two"],
        ["1", "Lamp", "Furniture", "2", "2024-05-01", "45.5", ""],
    ]


def test_the_json_endpoint(home):
    home.add_item("Lamp", quantity="2", bought="2024-05-01", price="45.5")
    home.add_item("Atlas", category="Books")
    answer = home.client.get("/api/items")
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["next"] is None
    atlas, lamp = answer.json()["items"]
    assert lamp == {
        "id": 1,
        "name": "Lamp",
        "category_id": home.category_id("Furniture"),
        "category": "Furniture",
        "quantity": 2,
        "bought": "2024-05-01",
        "price": 45.5,
        "photo": None,
        "notes": "",
    }
    assert atlas["name"] == "Atlas" and atlas["price"] is None


def test_the_json_endpoint_is_paged_sorted_and_searched_as_the_list_is(home):
    books = home.category_id("Books")
    home.add_rows((f"Book {n:02}", books, 1, n, "") for n in range(30))
    home.add_rows([("Cookbook", books, 1, None, "for the kitchen")])
    first = home.client.get("/api/items").json()
    assert len(first["items"]) == 25 and first["next"].startswith("/api/items?after=")
    rest = home.client.get(first["next"]).json()
    names = [item["name"] for item in first["items"] + rest["items"]]
    assert names == sorted(names) and len(names) == 31 and rest["next"] is None
    dearest = home.client.get("/api/items", query={"sort": "price"}).json()
    assert dearest["items"][0]["name"] == "Book 29"
    found = home.client.get("/api/items", query={"q": "kitch"}).json()
    assert [item["name"] for item in found["items"]] == ["Cookbook"]
    assert home.client.get("/api/items", query={"sort": "photo"}).status_code == 400


# -- Running it ------------------------------------------------------------------------


def test_main_serves_the_database_given_without_opening_a_browser(
    tmp_path, monkeypatch
):
    served = {}

    def fake_serve_http(app, **options):
        served.update(options)
        served["page"] = Client(app, error_page=options["error_page"]).get("/x")

    monkeypatch.setattr(cli, "serve_http", fake_serve_http)
    target = tmp_path / "sub" / "mine.sqlite3"
    cli.main(["--db", str(target), "--port", "0", "--no-browser"])
    assert served["port"] == 0 and served["start"] is None
    assert served["page"].status_code == 404 and "Home inventory" in served["page"].text
    assert target.is_file() and (tmp_path / "sub" / "mine-photos").is_dir()
    check = sqlite3.connect(target)
    try:
        assert check.execute("SELECT count(*) FROM category").fetchone() == (6,)
    finally:
        check.close()


def test_main_defaults_to_the_data_folder_and_opens_the_browser(tmp_path, monkeypatch):
    served = {}
    monkeypatch.setattr(
        cli, "serve_http", lambda app, **options: served.update(options)
    )
    for variable in ("XDG_DATA_HOME", "APPDATA"):
        monkeypatch.setenv(variable, str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cli.main([])
    assert served["port"] == 8080 and served["start"] == ""
    found = list(tmp_path.rglob("inventory.sqlite3"))
    assert len(found) == 1 and found[0].parent.name == "home-inventory"


def test_ctrl_c_stops_main_quietly_and_closes_the_database(tmp_path, monkeypatch):
    apps = []

    def interrupted(app, **options):
        apps.append(app)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "serve_http", interrupted)
    cli.main(["--db", str(tmp_path / "db.sqlite3"), "--no-browser"])  # no raise
    assert apps[0].guard.connections == []  # closed


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_python_m_inventory_serves_and_stops_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "--no-browser", "--port", "0", "--db",
         str(tmp_path / "inv.sqlite3")],
        cwd=ROOT / "examples",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "Listening on http://127.0.0.1:PORT"
        url = re.search(r"http://[\d.:]+", line).group(0)
        with urllib.request.urlopen(url + "/categories", timeout=10) as answer:
            assert answer.status == 200 and b"Kitchen" in answer.read()
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
