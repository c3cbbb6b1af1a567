"""Home inventory: the things you own, for your insurer, in your browser.

Each item has a category (from a table of categories the user keeps), a
quantity, a purchase date, a price, a photo and notes. The list of items is
paged, sortable and searchable; every item has its page, its edit form and
a delete button behind a confirmation page; the whole inventory exports as
CSV (for a spreadsheet), and ``/api/items`` answers the list as JSON, a page
at a time (for scripts).

This is the app of the README chapter "The app layer", grown to the size
of issue 12's yardstick. It is built from kali's app-layer pieces, one line
each: :class:`~kali.pages.Pages` (the layout, "Saved." messages, error
pages), :class:`~kali.listing.Listing` (the list),
:class:`~kali.forms.Formlet` with :class:`~kali.forms.RowChoice` (the forms,
rendered without a template), :func:`~kali.sqlite.fetch_one` (a row or a
404), :class:`~kali.uploadfolder.UploadFolder` (the photos) and
:func:`~kali.downloads.download_csv` (the export).

    __init__.py     the database and every page (this file)
    __main__.py     ``python3 -m inventory``: serve it in the browser
    templates/      the layout and the pages that are not forms
    static/         the style sheet

``make_app(db_path)`` builds the app around one SQLite file; the photos go
in a folder beside it and the session secret in a ``.key`` file beside it.
"""

from __future__ import annotations

from pathlib import Path

from kali import Router, StaticFolder, forms
from kali.downloads import download_csv
from kali.listing import Listing
from kali.pages import Pages, redirect_with
from kali.sessions import Sessions
from kali.sqlite import (
    TransactionGuard,
    connect,
    fetch_one,
    fetch_one_or_none,
    sql_values,
)
from kali.uploadfolder import UploadFolder

HERE = Path(__file__).resolve().parent

# -- The database ----------------------------------------------------------------------
# Categories are a table of their own, so that the item form can offer them
# as choices and renaming one renames it everywhere. An item's category_id
# has no ON DELETE clause: with foreign keys on (kali.sqlite.connect turns
# them on) SQLite itself refuses to delete a category that is still in use,
# whatever the pages check first. It all happens in one transaction, with
# the schema's version number: a first run cut short leaves nothing behind.
# The list sorts by name, quantity, date and price: an index (column, id) for
# each lets it read any page without sorting the table. Sorting by category
# goes through category's own index of names, then item_by_category_id.
SCHEMA = """
BEGIN;
CREATE TABLE category (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES category (id),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    bought TEXT,                -- YYYY-MM-DD, or NULL when unknown
    price REAL,                 -- two decimals at most; NULL when unknown
    photo TEXT,                 -- a name in the UploadFolder, or NULL
    notes TEXT NOT NULL DEFAULT ''
);
CREATE INDEX item_by_name ON item (name, id);
CREATE INDEX item_by_quantity ON item (quantity, id);
CREATE INDEX item_by_bought ON item (bought, id);
CREATE INDEX item_by_price ON item (price, id);
CREATE INDEX item_by_category_id ON item (category_id);
INSERT INTO category (name) VALUES ('Books'), ('Clothes'), ('Electronics'),
    ('Furniture'), ('Kitchen'), ('Tools');
PRAGMA user_version = 1;
COMMIT;
"""

#: Every column of an item, with its category's name: the rows of the list
#: (and of its JSON) and of an item's page.
ITEM_ROWS = (
    "SELECT item.*, category.name AS category FROM item"
    " JOIN category ON category.id = item.category_id"
)

#: The list page: its headings, the columns a click may sort by ("-": the
#: highest first on the first click), what the search box looks in.
ITEMS = Listing(
    ITEM_ROWS,
    table="item",
    columns={
        "name": "Item",
        "category": "Category",
        "quantity": "Quantity",
        "bought": "Bought",
        "price": "Price",
    },
    sort=("name", "category", "-quantity", "-bought", "-price"),
    search=("name", "notes"),
    page_size=25,
)

#: Every page goes into templates/base.tpl; error pages use error.tpl.
PAGES = Pages(HERE / "templates", layout="base")


def open_database(path):
    """The inventory at ``path``, made (with a few categories to start
    from) on the first run only, so a category the user deleted stays gone."""
    # kali serves one request at a time, from the server's thread, which
    # need not be the one that opened the database.
    db = connect(path, check_same_thread=False)
    if db.execute("PRAGMA user_version").fetchone()[0] == 0:
        db.executescript(SCHEMA)
    ITEMS.ensure_search_index(db)  # the FTS5 index behind the search box
    return db


def make_app(db_path):
    """The whole app, around the SQLite file ``db_path`` (a Path): a handler
    for ``serve_http`` or ``kali.testing.Client``. ``app.guard.close()``
    closes the database."""
    guard = TransactionGuard()  # rolls back a request that fails half-way
    db = guard.register(open_database(db_path))
    sessions = Sessions(Sessions.load_secret(db_path.with_suffix(".key")))
    photos = UploadFolder(db_path.with_name(db_path.stem + "-photos"))
    app = Router()
    add_item_pages(app, db, photos)
    add_category_pages(app, db)
    add_exports(app, db)
    app.delegate_folder("/static/", StaticFolder(HERE / "static"))
    return guard.wrap(sessions.wrap(app))


class PageForm(forms.Formlet):
    """A Formlet whose page is in the app's layout: kali renders the whole
    form (labels, messages, the button), the layout puts the menu round it."""

    pages = PAGES


# -- Items -----------------------------------------------------------------------------


def add_item_pages(app, db, photos):
    """The list, an item's page and photo, the new and edit forms, delete."""

    def find_item(item_id):
        # A 404 page when there is no such item (deleted in another tab).
        return fetch_one(db, ITEM_ROWS + " WHERE item.id = ?", [item_id])

    @app.servlet("/")
    class ItemList:
        def do_GET(self, request):
            # One page of rows, read through an index: never the whole table.
            page = ITEMS.page(db, request)
            return PAGES.render(request, "items", title="All items", **page.values())

    @app.function("/items/*")
    def show_item(request, item_id: int):  # /items/abc or /items/-1: a 404
        item = find_item(item_id)
        return PAGES.render(request, "item", title=item["name"], **item)

    @app.function("/items/*/photo")
    def item_photo(item_id: int):
        return photos.serve(find_item(item_id)["photo"])  # 404 without one

    class ItemForm(PageForm):
        item = None  # the row being edited; None on the "new" form

        def __init__(self, guard=None):
            fields = {
                "name": forms.Entry(label="Name", maxlength=200, autofocus=""),
                # The categories as they are now, read again on every render.
                "category_id": forms.Pick(
                    forms.RowChoice(db, "category"),
                    "choose a category.",
                    label="Category",
                ),
                "quantity": forms.NumberEntry(
                    label="Quantity", lens=forms.Required(forms.IntegerLens(minimum=0))
                ),
                "bought": forms.Entry(label="Bought on", lens=forms.DATE, type="date"),
                "price": forms.NumberEntry(
                    label="Price", lens=forms.DecimalLens(minimum=0, places=2)
                ),
                "photo": forms.Upload(
                    label="Photo", content_types=["image/*"], max_bytes=20 * 1024 * 1024
                ),
                "notes": forms.Memo(label="Notes", lens=forms.BLANKABLE, rows=4),
            }
            super().__init__(fields, guard=guard)

        def save(self, native, request):
            values = sql_values(native)
            if native["photo"] is not None:
                # On the disk before the row that names it is committed, and
                # removed again if anything below fails (the transaction
                # guard rolls back, UploadFolder follows).
                values["photo"] = photos.save(native["photo"], db)
            if self.item is None:
                item_id = db.execute(
                    "INSERT INTO item (name, category_id, quantity, bought, price,"
                    " photo, notes) VALUES (:name, :category_id, :quantity, :bought,"
                    " :price, :photo, :notes)",
                    values,
                ).lastrowid
            else:
                item_id = self.item["id"]
                # An empty "Photo" field keeps the photo there was.
                db.execute(
                    "UPDATE item SET name = :name, category_id = :category_id,"
                    " quantity = :quantity, bought = :bought, price = :price,"
                    " photo = coalesce(:photo, photo), notes = :notes WHERE id = :id",
                    {**values, "id": item_id},
                )
                if values["photo"] and self.item["photo"]:
                    photos.delete(self.item["photo"], db)  # once this commits
            db.commit()
            url = request.url_for(show_item, item_id)
            return redirect_with(request, url, f"Saved “{native['name']}”.")

    submit_guard = forms.SubmitGuard()  # a double click saves one item, not two

    @app.servlet("/items/new")  # literal: wins over /items/*
    class NewItem(ItemForm):
        title = "Add an item"

        def __init__(self):
            super().__init__(guard=submit_guard)

        def get_native(self):
            return {"quantity": 1}

    @app.servlet("/items/*/edit")
    class EditItem(ItemForm):
        title = "Edit item"

        def __init__(self, item_id: int):
            super().__init__()
            self.item = find_item(item_id)

        def get_native(self):
            return self.item

    @app.servlet("/items/*/delete")
    class DeleteItem:
        """GET asks "are you sure?"; only the POST of its button deletes."""

        def __init__(self, item_id: int):
            self.item = find_item(item_id)

        def do_GET(self, request):
            title = "Delete this item?"
            return PAGES.render(request, "confirm", title=title, **self.item)

        def do_POST(self, request):
            db.execute("DELETE FROM item WHERE id = ?", [self.item["id"]])
            if self.item["photo"]:
                photos.delete(self.item["photo"], db)  # once this commits
            db.commit()
            return redirect_with(request, "/", f"Deleted “{self.item['name']}”.")


# -- Categories ------------------------------------------------------------------------


def add_category_pages(app, db):
    """The categories with their item counts; add, rename, delete."""

    def find_category(category_id):
        return fetch_one(db, "SELECT * FROM category WHERE id = ?", [category_id])

    @app.function("/categories")
    def category_list(request):
        rows = db.execute(
            "SELECT category.*, count(item.id) AS items FROM category"
            " LEFT JOIN item ON item.category_id = category.id"
            " GROUP BY category.id ORDER BY category.name"
        ).fetchall()
        return PAGES.render(request, "categories", title="Categories", rows=rows)

    class CategoryForm(PageForm):
        category_id = None  # None on the "new" form

        def __init__(self, guard=None):
            name = forms.Entry(label="Name", maxlength=100, autofocus="")
            super().__init__({"name": name}, guard=guard)

        def semantic_checks(self, native, errors):
            # The UNIQUE column ignores case, and so does this question.
            taken = fetch_one_or_none(
                db,
                "SELECT 1 FROM category WHERE name = ? AND id IS NOT ?",
                [native["name"], self.category_id],
            )
            if taken:
                errors["name"] = "there is a category of that name already."

        def save(self, native, request):
            if self.category_id is None:
                db.execute("INSERT INTO category (name) VALUES (?)", [native["name"]])
            else:
                db.execute(
                    "UPDATE category SET name = ? WHERE id = ?",
                    [native["name"], self.category_id],
                )
            db.commit()
            url = request.url_for(category_list)
            return redirect_with(request, url, f"Saved category “{native['name']}”.")

    submit_guard = forms.SubmitGuard()

    @app.servlet("/categories/new")
    class NewCategory(CategoryForm):
        title = "Add a category"

        def __init__(self):
            super().__init__(guard=submit_guard)

        def get_native(self):
            return {}

    @app.servlet("/categories/*/edit")
    class RenameCategory(CategoryForm):
        title = "Rename category"
        submit_label = "Rename"

        def __init__(self, category_id: int):
            super().__init__()
            self.category = find_category(category_id)
            self.category_id = category_id

        def get_native(self):
            return self.category

    @app.servlet("/categories/*/delete")
    class DeleteCategory:
        """POST only (the button on the list): an unused category has
        nothing to lose, one that is in use is refused."""

        def __init__(self, category_id: int):
            self.category = find_category(category_id)

        def do_POST(self, request):
            name, url = self.category["name"], request.url_for(category_list)
            used = db.execute(
                "SELECT count(*) FROM item WHERE category_id = ?", [self.category["id"]]
            ).fetchone()[0]
            if used:
                message = (
                    f"“{name}” is the category of {used} item(s): give them"
                    " another category first, then delete it."
                )
                return redirect_with(request, url, message, "error")
            db.execute("DELETE FROM category WHERE id = ?", [self.category["id"]])
            db.commit()
            return redirect_with(request, url, f"Deleted category “{name}”.")


# -- Exports ---------------------------------------------------------------------------


def add_exports(app, db):
    """The whole inventory for a spreadsheet (CSV), the list for scripts (JSON)."""

    @app.function("/items.csv")
    def export_csv():
        # Streamed as it is read: a big table never sits in memory. The
        # column names are the header line; bom=True makes Excel read UTF-8.
        rows = db.execute(
            "SELECT item.id, item.name, category.name AS category, quantity,"
            " bought, price, notes FROM item JOIN category"
            " ON category.id = item.category_id ORDER BY item.name, item.id"
        )
        return download_csv(rows, "home-inventory.csv", bom=True)

    @app.function("/api/items", json=True)
    def items_json(request, **query):  # the list page's ?q=, ?sort=, ?after=...
        # A page at a time, as the list page reads it: a script follows
        # "next" (null on the last page), and no answer is ever the whole table.
        page = ITEMS.page(db, request)
        return {"items": [dict(row) for row in page.rows], "next": page.next_url}
