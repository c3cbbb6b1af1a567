"""kali.listing (with kali.keyset, kali.fulltext, kali.listpage) on real
SQLite files: keyset paging, sorting with ties and NULLs, FTS5 and LIKE
search, hostile input, and the links of a page."""

import urllib.parse

import pytest

from kali import HTTPError, Router
from kali.fulltext import match_expression, search_terms
from kali.keyset import decode_position, encode_position
from kali.listing import Listing
from kali.multidict import Bag
from kali.sqlite import connect
from kali.testing import Client

# Ties on purpose: 5 names for 40 rows, a NULL city every 4th row.
NAMES = ["anna", "Ben", "carla", "Zoë", "ölaf"]
CITIES = ["Bern", "Basel", "Chur"]


@pytest.fixture
def db(tmp_path):
    connection = connect(tmp_path / "list.db")
    connection.execute(
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE,"
        " email TEXT, city TEXT, score REAL, notes TEXT)"
    )
    for number in range(1, 41):
        connection.execute(
            "INSERT INTO contact (name, email, city, score, notes) VALUES (?,?,?,?,?)",
            [
                NAMES[number % 5],
                f"p{number}@example.org",
                None if number % 4 == 0 else CITIES[number % 3],
                None if number % 7 == 0 else number % 6 / 2,
                "invoice garden" if number % 3 == 0 else "Café meeting",
            ],
        )
    connection.commit()
    yield connection
    connection.close()


def make_listing(**options):
    settings = dict(
        columns={"name": "Name", "city": "City", "score": "Score"},
        sort=("name", "city", "-score", "id"),
        search=("name", "email", "notes"),
        page_size=7,
    )
    settings.update(options)
    return Listing("contact", **settings)


def query_of(url):
    return Bag(urllib.parse.parse_qsl(url.partition("?")[2], keep_blank_values=True))


def walk(listing, db, url="?", link="next_url"):
    """Every page from ``url`` on, following ``link``: (pages of ids, last page)."""
    pages = []
    while url is not None:
        page = listing.page(db, query_of(url))
        pages.append([row["id"] for row in page.rows])
        url = getattr(page, link)
        assert len(pages) < 100, "the links go round in circles"
    return pages, page


def expected_ids(db, order):
    return [row[0] for row in db.execute(f"SELECT id FROM contact ORDER BY {order}")]


ORDERS = [
    ("?", "name, id"),
    ("?dir=desc", "name DESC, id DESC"),
    ("?sort=city", "city, id"),  # SQLite: NULLs first going up...
    ("?sort=city&dir=desc", "city DESC, id DESC"),  # ...and last going down
    ("?sort=score", "score DESC, id DESC"),  # "-score": descending first
    ("?sort=score&dir=asc", "score, id"),
    ("?sort=id&dir=desc", "id DESC"),
]


@pytest.mark.parametrize("url, order", ORDERS)
def test_next_links_visit_every_row_once_in_sql_order(db, url, order):
    listing = make_listing()
    listing.ensure_indexes(db)
    pages, last = walk(listing, db, url)
    assert [i for page in pages for i in page] == expected_ids(db, order)
    assert all(len(page) == 7 for page in pages[:-1])
    assert last.next_url is None


@pytest.mark.parametrize("url, order", ORDERS)
def test_previous_links_walk_back_to_the_first_page(db, url, order):
    listing = make_listing()
    forward, last = walk(listing, db, url)
    backward, first = walk(listing, db, last.previous_url, "previous_url")
    # Back at the start the first page is whole again: the same pages.
    assert backward == forward[-2::-1]
    assert first.is_first and first.previous_url is None


def test_page_500_costs_one_range_read_not_an_offset(db):
    """A page link holds a position: the query starts there, whatever came
    before (checked by counting the rows SQLite steps through)."""
    listing = make_listing(page_size=2)
    pages, _ = walk(listing, db, "?sort=city")
    steps = []
    db.set_trace_callback(steps.append)
    try:
        middle = listing.page(db, query_of(walk_to(listing, db, "?sort=city", 15)))
    finally:
        db.set_trace_callback(None)
    assert [row["id"] for row in middle.rows] == pages[15]
    assert all("OFFSET" not in statement for statement in steps)
    assert all("LIMIT" in statement for statement in steps if "SELECT *" in statement)


def walk_to(listing, db, url, number):
    for _ in range(number):
        url = listing.page(db, query_of(url)).next_url
    return url


def test_rows_inserted_between_pages_do_not_repeat_or_vanish(db):
    listing = make_listing()
    first = listing.page(db, query_of("?"))
    db.execute("INSERT INTO contact (name) VALUES ('aaa')")  # before the link
    db.commit()
    second = listing.page(db, query_of(first.next_url))
    seen = {row["id"] for row in first.rows}
    assert not seen & {row["id"] for row in second.rows}
    assert second.rows[0]["id"] == expected_ids(db, "name, id")[8]


def test_the_previous_link_after_deletions_gives_a_whole_first_page(db):
    listing = make_listing()
    second = listing.page(db, query_of(listing.page(db, query_of("?")).next_url))
    db.execute("DELETE FROM contact WHERE id IN (SELECT id FROM contact"
               " ORDER BY name, id LIMIT 3)")  # fmt: skip
    db.commit()
    back = listing.page(db, query_of(second.previous_url))
    assert [row["id"] for row in back.rows] == expected_ids(db, "name, id")[:7]
    assert back.previous_url is None


def test_headings_link_each_sort_and_show_its_arrow(db):
    page = make_listing().page(db, query_of("?sort=city&dir=desc&tag=x"))
    by_name = {heading.name: heading for heading in page.headings}
    assert by_name["city"].direction == "desc" and by_name["city"].arrow == "▼"
    assert by_name["city"].aria_sort == "descending"
    assert query_of(by_name["city"].url).get("dir") is None  # flips to asc
    assert query_of(by_name["city"].url).get("sort") == "city"
    assert by_name["name"].arrow == "" and by_name["name"].direction is None
    assert query_of(by_name["name"].url).get("sort") is None  # the default sort
    assert query_of(by_name["score"].url).get("dir") is None  # "-score": desc first
    assert all(query_of(h.url).get("tag") == "x" for h in page.headings)
    assert ("tag", "x") in page.hidden_fields and ("sort", "city") in page.hidden_fields


def test_links_start_with_the_request_path_under_a_router(db):
    listing = make_listing()
    router = Router()

    def contacts(request):
        page = listing.page(db, request)
        return page.next_url

    router.delegate("/contacts", contacts)
    next_url = Client(router).get("/contacts/", query={"q": "café"}).text
    assert next_url.startswith("/contacts/?")
    assert query_of(next_url).get("q") == "café"


@pytest.mark.parametrize(
    "url, message",
    [
        ("?sort=notes", "cannot be sorted"),
        ("?sort=name;DROP TABLE contact", "cannot be sorted"),
        ("?dir=sideways", "'asc' or 'desc'"),
        ("?after=%%%", "damaged"),
        ("?after=WzEsMl0", "damaged"),  # valid base64, wrong shape
        ("?after=" + encode_position("city", "asc", "Bern", 3), "another sort"),
        ("?after=" + encode_position("name", "asc", {"x": 1}, 3), "damaged"),
        ("?q=" + "x" * 501, "too long"),
    ],
)
def test_bad_query_parameters_are_a_400(db, url, message):
    with pytest.raises(HTTPError) as caught:
        make_listing().page(db, query_of(url))
    assert caught.value.status == 400 and message in caught.value.message


def test_both_after_and_before_is_a_400(db):
    position = encode_position("name", "asc", "anna", 5)
    with pytest.raises(HTTPError):
        make_listing().page(db, Bag({"after": position, "before": position}))


def test_positions_round_trip_every_sqlite_type():
    for value in (None, 0, -3, 2.5, 1e300, "Zoë \"'&", b"\x00\xff"):
        text = encode_position("name", "desc", value, 7)
        assert text.isascii() and "=" not in text and "&" not in text
        assert decode_position(text, "name", "desc") == (value, 7)


@pytest.mark.parametrize("full_text", [None, False])
def test_search_finds_rows_by_every_word(db, full_text):
    listing = make_listing(full_text=full_text)
    assert listing.ensure_search_index(db) is (full_text is None)
    pages, last = walk(listing, db, "?q=invoice+gard")
    found = sorted(i for page in pages for i in page)
    assert found == [i for i in range(1, 41) if i % 3 == 0]
    assert last.full_text is (full_text is None)
    assert last.search == "invoice gard" and last.search_name == "q"


@pytest.mark.parametrize("url", ["?q=invoice", "?q=invoice&sort=city&dir=desc"])
def test_a_dense_search_reads_the_order_and_finds_the_same(db, url, monkeypatch):
    import kali.fulltext

    listing = make_listing()
    listing.ensure_indexes(db)
    listing.ensure_search_index(db)
    sparse, _ = walk(listing, db, url)
    statements = []
    monkeypatch.setattr(kali.fulltext, "DENSE_MATCH_ROWS", 3)
    db.set_trace_callback(statements.append)
    try:
        dense, _ = walk(listing, db, url)
    finally:
        db.set_trace_callback(None)
    assert dense == sparse and len(dense) == 2
    assert any('+"id" IN' in statement for statement in statements)


def test_fts5_search_folds_case_and_accents(db):
    listing = make_listing()
    listing.ensure_search_index(db)
    page = listing.page(db, query_of("?q=ZOE"))
    assert {row["name"] for row in page.rows} == {"Zoë"} and page.full_text
    assert listing.page(db, query_of("?q=cafe")).rows


def test_the_fallback_is_used_where_sqlite_has_no_fts5(db, monkeypatch):
    import kali.listing

    monkeypatch.setattr(kali.listing, "has_fts5", lambda connection: False)
    listing = make_listing()
    assert listing.ensure_search_index(db) is False
    page = listing.page(db, query_of("?q=zoë"))
    assert not page.full_text and {row["name"] for row in page.rows} == {"Zoë"}
    with pytest.raises(RuntimeError):
        make_listing(full_text=True).ensure_search_index(db)


def test_the_search_index_follows_inserts_updates_and_deletes(db):
    listing = make_listing()
    listing.ensure_search_index(db)

    def found(text):
        return [row["id"] for row in listing.page(db, Bag({"q": text})).rows]

    db.execute("INSERT INTO contact (id, name, notes) VALUES (99, 'Quentin', 'x')")
    db.commit()
    assert found("quentin") == [99]
    db.execute("UPDATE contact SET name = 'Rupert' WHERE id = 99")
    db.commit()
    assert found("quentin") == [] and found("rupert") == [99]
    db.execute("DELETE FROM contact WHERE id = 99")
    db.commit()
    assert found("rupert") == []


def test_ensure_search_index_builds_once_and_again_when_columns_change(db):
    listing = make_listing()
    assert listing.index.ensure(db) is True
    db.commit()
    assert listing.index.ensure(db) is False
    wider = make_listing(search=("name", "email", "notes", "city"))
    assert wider.ensure_search_index(db)
    assert [row["id"] for row in wider.page(db, Bag({"q": "chur"})).rows]


def test_ensure_search_index_never_drops_a_table_of_yours(db):
    db.execute("CREATE TABLE contact_search (x)")
    db.commit()
    with pytest.raises(ValueError, match="not an FTS5 index"):
        make_listing().ensure_search_index(db)


HOSTILE = ['"', "*", "AND", "OR NOT", "(", "a) OR (b", "NEAR(", "^", "name:x",
           '"unbalanced', "-", "'; DROP TABLE contact; --", "東京", "\u0301",
           "\x00", "a" * 500, "🙂 ann", "%_\\"]  # fmt: skip


@pytest.mark.parametrize("full_text", [None, False])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_search_text_is_only_text(db, text, full_text):
    listing = make_listing(full_text=full_text)
    listing.ensure_search_index(db)
    page = listing.page(db, Bag({"q": text}))
    assert page.search == text.strip()
    assert len(page.rows) <= 7
    assert db.execute("SELECT count(*) FROM contact").fetchone()[0] == 40
    if text == "🙂 ann":
        assert {row["name"] for row in page.rows} == {"anna"}


def test_search_terms_and_the_match_expression():
    assert search_terms('  "Zoë" AND (ann*  ') == ["Zoë", "AND", "ann"]
    assert search_terms("*-()") == []
    assert match_expression(["AND", "ann"]) == '"AND" "ann"*'
    assert len(search_terms(" ".join("w" * 20))) == 16


def test_count_is_off_by_default_and_capped_when_on(db):
    assert make_listing().page(db, Bag()).total is None
    capped = make_listing(count_limit=10).page(db, Bag())
    assert capped.total == 10 and not capped.total_is_exact
    exact = make_listing(count_limit=100).page(db, Bag({"q": "invoice"}))
    assert exact.total == 13 and exact.total_is_exact


def test_a_where_clause_of_yours_narrows_the_list(db):
    page = make_listing().page(db, Bag(), where="city = ?", parameters=["Chur"])
    assert page.rows and all(row["city"] == "Chur" for row in page.rows)


def test_a_select_source_and_two_lists_on_one_page(db):
    listing = Listing(
        "SELECT id, upper(name) AS shout, city FROM contact",
        columns={"shout": "Name"},
        sort=("shout",),
        table="contact",
        prefix="c_",
        page_size=5,
    )
    page = listing.page(db, Bag({"sort": "nonsense", "c_sort": "shout"}))
    assert [row["shout"] for row in page.rows] == ["ANNA"] * 5
    assert "c_after=" in page.next_url and "sort=nonsense" in page.next_url


def test_ensure_indexes_makes_a_sort_column_and_key_index(db):
    names = make_listing().ensure_indexes(db)
    assert names == ["contact_by_name", "contact_by_city", "contact_by_score"]
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM contact WHERE city = ? AND id > ?"
        " ORDER BY id LIMIT 8",
        ["Bern", 3],
    ).fetchall()
    assert "contact_by_city" in str([tuple(row) for row in plan])


@pytest.mark.parametrize(
    "options, error",
    [
        ({"sort": ("name; DROP",)}, ValueError),
        ({"sort": "name"}, TypeError),
        ({"default_sort": "notes"}, ValueError),
        ({"key": "id--"}, ValueError),
        ({"page_size": 0}, ValueError),
        ({"page_size": True}, TypeError),
        ({"columns": {"a b": "A"}}, ValueError),
        ({"search": ("notes)",)}, ValueError),
        ({"count_limit": 0}, ValueError),
    ],
)
def test_bad_arguments_fail_at_construction(options, error):
    with pytest.raises(error):
        make_listing(**options)


def test_a_source_must_be_a_table_or_a_select():
    with pytest.raises(ValueError):
        Listing("contact; DROP TABLE x")
    with pytest.raises(ValueError):
        Listing("SELECT 1", search=("a",), full_text=True)


def test_setting_up_inside_a_transaction_is_refused(db):
    db.execute("INSERT INTO contact (name) VALUES ('x')")
    with pytest.raises(ValueError, match="transaction"):
        make_listing().ensure_indexes(db)
    db.rollback()


hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    values=strategies.lists(
        strategies.one_of(
            strategies.none(),
            strategies.integers(-3, 3),
            strategies.sampled_from(["", "a", "A", "b", "ä"]),
        ),
        max_size=30,
    ),
    page_size=strategies.integers(1, 4),
    descending=strategies.booleans(),
)
def test_paging_matches_order_by_for_any_values(tmp_path_factory, values, page_size,
                                                descending):  # fmt: skip
    path = tmp_path_factory.mktemp("prop") / "p.db"
    db = connect(path)
    try:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        db.executemany("INSERT INTO t (v) VALUES (?)", [(v,) for v in values])
        db.commit()
        listing = Listing("t", sort=("v",), page_size=page_size)
        listing.ensure_indexes(db)
        order = "v DESC, id DESC" if descending else "v, id"
        expected = [r[0] for r in db.execute(f"SELECT id FROM t ORDER BY {order}")]
        url = "?dir=desc" if descending else "?"
        pages, last = walk(listing, db, url)
        assert [i for page in pages for i in page] == expected
        if last.previous_url:
            back, _ = walk(listing, db, last.previous_url, "previous_url")
            assert back == pages[-2::-1]
    finally:
        db.close()


# -- the page as template values, and its HTML (kali.listhtml) ---------------------


def test_page_values_render_in_a_template_with_escaped_links(db):
    from kali import Template
    from kali.iolist import flatten

    listing = make_listing()
    page = listing.page(db, query_of('?q=<b>&x="1"'), base_url="/people")
    values = page.values()
    assert values["search"] == "<b>"
    assert values["hidden"] == [{"name": "x", "value": '"1"'}]
    template = Template(
        "{.search_form}<table>{.head}{@rows}<tr><td>{name}</td></tr>{/rows}</table>"
        "{.pager}{?next_url}more{:else}end{/next_url}"
    )
    html = flatten(template(**values)).decode()
    assert 'value="&lt;b&gt;"' in html and "<b>" not in html
    assert 'name="x" value="&quot;1&quot;"' in html
    assert '<th aria-sort="ascending"><a href="/people?' in html
    assert "Name ▲</a>" in html


def test_pager_links_carry_rel_and_vanish_on_a_single_page(db):
    from kali.listhtml import pager

    listing = make_listing()
    first = listing.page(db, query_of("?"), base_url="/people")
    html = str(pager(first))
    assert 'rel="next"' in html and 'rel="prev"' not in html
    second = listing.page(db, query_of(first.next_url), base_url="/people")
    html = str(pager(second))
    assert 'rel="prev"' in html and 'rel="first"' in html and 'rel="next"' in html
    alone = make_listing(page_size=100).page(db, query_of("?"), base_url="/people")
    assert str(pager(alone)) == ""


def test_ensure_indexes_skips_query_columns_and_search_checks_its_columns(db):
    listing = Listing(
        "SELECT contact.*, upper(city) AS town FROM contact",
        table="contact",
        columns={"name": "Name", "town": "Town"},
        sort=("name", "town"),
        search=("name",),
    )
    assert listing.ensure_indexes(db) == ["contact_by_name"]
    typo = Listing(
        "contact", columns={"name": "Name"}, sort=("name",), search=("nmae",)
    )
    with pytest.raises(ValueError, match="nmae"):
        typo.ensure_search_index(db)
    with pytest.raises(ValueError, match="no table"):
        Listing("nothing", columns={"a": "A"}, sort=("a",)).ensure_indexes(db)
