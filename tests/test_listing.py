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


# -- dense searches: prefix words from the vocabulary, rows tested one by one ---------


def search_db(tmp_path, notes):
    """A table of ``notes`` (id 1, 2, ...) with its Listing and search index."""
    db = connect(tmp_path / "search.db")
    db.execute(
        "CREATE TABLE doc (id INTEGER PRIMARY KEY, notes TEXT, rank INTEGER, title)"
    )
    db.executemany(
        "INSERT INTO doc (notes, rank) VALUES (?, ?)",
        [(text, (number * 7) % 5) for number, text in enumerate(notes)],
    )
    db.commit()
    listing = Listing(
        "doc", columns={"notes": "Notes"}, sort=("rank", "id"), search=("notes",),
        page_size=3,
    )  # fmt: skip
    listing.ensure_indexes(db)
    listing.ensure_search_index(db)
    return db, listing


def found_ids(listing, db, url):
    pages, _ = walk(listing, db, url)
    return [i for page in pages for i in page]


def test_a_prefix_becomes_the_words_of_the_index_that_start_with_it(tmp_path):
    db, listing = search_db(
        tmp_path, ["Ánna x", "annette x", "ANNIKA", "anders", "bob ann", "zoë"]
    )
    try:
        index = listing.index
        assert index.words(db, "ANN") == ["ann", "anna", "annette", "annika"]
        assert index.words(db, "Zoë") == ["zoe"] and index.words(db, "q") == []
        assert index.words(db, "ann", limit=3) is None  # too many: kept a prefix
        assert index.words(db, "æ") is None  # not folded for certain
        expression = index.expression(db, ["x", "ann"])
        assert expression == '"x" AND ("ann" OR "anna" OR "annette" OR "annika")'
        plain = match_expression(["x", "ann"])
        assert index.count(db, plain, 100) == index.count(db, plain, 100, expand=False)
        assert found_ids(listing, db, "?q=ann&sort=id") == [1, 2, 3, 5]
        assert found_ids(listing, db, "?q=x+ann&sort=id") == [1, 2]
    finally:
        db.close()


def test_folded_prefix_folds_only_what_the_tokenizer_surely_folds():
    from kali.fulltext import folded_prefix

    assert folded_prefix("AbC12") == "abc12"
    assert folded_prefix("Zoë") == "zoe" and folded_prefix("ÉLAN") == "elan"
    for text in ("ß", "ǡ", "東京", "æ", "a\u0301", ""):
        assert folded_prefix(text) is None


def dense_statements(listing, db, url, monkeypatch, **settings):
    """The ids found with every search dense (and ``settings`` of
    kali.fulltext), and the SQL statements run."""
    import kali.fulltext

    monkeypatch.setattr(kali.fulltext, "DENSE_MATCH_ROWS", 0)
    monkeypatch.setattr(kali.fulltext, "FEW_PREFIX_ROWS", 0)  # no prefix is rare
    for name, value in settings.items():
        monkeypatch.setattr(kali.fulltext, name, value)
    statements = []
    db.set_trace_callback(statements.append)
    try:
        return found_ids(listing, db, url), statements
    finally:
        db.set_trace_callback(None)
        monkeypatch.undo()


NOTES = [
    f"{'ann' if n % 3 else 'anna'} w{n} {'even' if n % 2 else ''}" for n in range(40)
]


@pytest.mark.parametrize(
    "url", ["?q=ann", "?q=even+an", "?q=w1&dir=desc", "?q=anna+even&sort=id"]
)
def test_dense_searches_test_rows_one_by_one_and_find_the_same(
    tmp_path, url, monkeypatch
):
    db, listing = search_db(tmp_path, NOTES)
    try:
        sparse = found_ids(listing, db, url)
        assert sparse
        dense, statements = dense_statements(listing, db, url, monkeypatch)
        assert dense == sparse
        tested = any("SELECT EXISTS (SELECT 1" in s for s in statements)
        gathered = any('+"id" IN' in s for s in statements)
        # "w1": w1, w10 ... w19 are too many words to test a row by.
        assert (tested, gathered) == ((False, True) if "w1" in url else (True, False))
        # A budget too small for a page: the matches are gathered at once.
        small, statements = dense_statements(
            listing, db, url, monkeypatch, CHECK_BUDGET=4
        )
        assert small == sparse
        assert not any("SELECT EXISTS (SELECT 1" in s for s in statements)
    finally:
        db.close()


def test_matches_past_the_budget_are_read_with_the_fallback(tmp_path, monkeypatch):
    # The matches come last in rank order: no row of the budget passes.
    notes = ["plain"] * 30 + ["late"] * 8
    db, listing = search_db(tmp_path, notes)
    try:
        db.execute("UPDATE doc SET rank = 9 WHERE notes = 'late'")
        db.commit()
        expected = [r[0] for r in db.execute(
            "SELECT id FROM doc WHERE notes = 'late' ORDER BY rank, id")]  # fmt: skip
        # CHECK_BUDGET 10: 5 rows for a search of one word (10 // (1 + 1)).
        for budget, plan in ((800, "tested"), (10, "looked up"), (10, "gathered")):
            settings = {"CHECK_BUDGET": budget}
            if plan == "gathered":
                settings["SORT_MATCH_ROWS"] = 2
            ids, statements = dense_statements(
                listing, db, "?q=late", monkeypatch, **settings
            )
            assert ids == expected
            assert any('+"id" IN' in s for s in statements) is (plan == "gathered")
            assert any('WHERE "id" IN' in s for s in statements) is (
                plan == "looked up"
            )
    finally:
        db.close()


def test_sparse_matches_stop_the_testing_early_and_are_gathered(tmp_path, monkeypatch):
    notes = ["rare" if number % 5 == 0 else "plain" for number in range(60)]
    db, listing = search_db(tmp_path, notes)
    url = "?q=rare&sort=id"  # ids 1, 6, 11 ...: one row in five
    try:
        expected = found_ids(listing, db, url)
        assert len(expected) == 12
        # A budget of 50 rows (100 // 2): a page of 3 (+1) is found within
        # it, by testing alone.
        ids, statements = dense_statements(
            listing, db, url, monkeypatch, CHECK_BUDGET=100
        )
        assert ids == expected
        assert any(s.startswith("SELECT EXISTS (SELECT 1") for s in statements)
        assert not any('+"id" IN' in s for s in statements)
    finally:
        db.close()


def test_testing_stops_when_the_rows_so_far_promise_no_page_in_the_budget(
    tmp_path, monkeypatch
):
    # Ids 1 and 5-8 match: the first 4 rows tested hold 1 match, which
    # promises a page of 3 (+1) after 16 tests, over a budget of 13 rows,
    # though the next 8 would have held it.
    notes = ["hit" if number in (0, 4, 5, 6, 7) else "miss" for number in range(30)]
    db, listing = search_db(tmp_path, notes)
    url = "?q=hit&sort=id"
    try:
        ids, statements = dense_statements(
            listing, db, url, monkeypatch, CHECK_BUDGET=26
        )
        assert ids == [1, 5, 6, 7, 8]
        first_page = statements[: statements.index(next(
            s for s in statements if '+"id" IN' in s)) + 1]  # fmt: skip
        tests = [s for s in first_page if s.startswith("SELECT EXISTS (SELECT 1")]
        assert len(tests) == 4
    finally:
        db.close()


def test_the_count_reads_matches_a_chunk_at_a_time_through_your_filter(tmp_path):
    db, listing = search_db(tmp_path, NOTES)
    try:
        for limit in (1, 3, 5, 13, 14, 40):
            counting = Listing(
                "doc", sort=("rank",), search=("notes",), count_limit=limit
            )
            for where in ("", "id % 3 = 0", "id > 100"):
                page = counting.page(db, Bag({"q": "anna"}), where=where or "1")
                expected = db.execute(
                    "SELECT count(*) FROM doc WHERE notes LIKE 'anna %'"
                    f" AND {where or '1'}"
                ).fetchone()[0]
                assert (page.total, page.total_is_exact) == (
                    min(expected, limit),
                    expected <= limit,
                ), (limit, where)
    finally:
        db.close()


def test_prefixes_are_searched_as_they_are_without_a_vocabulary(tmp_path):
    db, listing = search_db(tmp_path, NOTES)
    try:
        db.execute('DROP TABLE "doc_search_vocab"')  # an index of an older kali
        db.commit()
        assert listing.index.words(db, "ann") is None
        assert listing.index.expression(db, ["ann"]) == '"ann"*'
        assert len(found_ids(listing, db, "?q=ann")) == 40
        assert listing.ensure_search_index(db)  # makes the vocabulary only
        assert listing.index.words(db, "ann") == ["ann", "anna"]
        db.execute('DROP TABLE "doc_search_vocab"')
        db.execute('CREATE TABLE "doc_search_vocab" (term)')  # a table of yours
        db.execute("INSERT INTO doc_search_vocab VALUES ('annabel')")
        db.commit()
        listing.ensure_search_index(db)  # leaves it alone
        assert listing.index.words(db, "ann") is None
        assert len(found_ids(listing, db, "?q=ann")) == 40
        assert db.execute("SELECT term FROM doc_search_vocab").fetchall()[0][0] == (
            "annabel"
        )
    finally:
        db.close()


def test_the_vocabulary_follows_a_rebuilt_index(tmp_path):
    db, listing = search_db(tmp_path, ["anna", "annette"])
    try:
        wider = Listing("doc", sort=("id",), search=("notes", "title"))
        assert wider.ensure_search_index(db)  # rebuilt with another column
        assert wider.index.words(db, "ann") == ["anna", "annette"]
    finally:
        db.close()


WORDS = ["a", "ab", "abc", "abd", "Ábc", "b", "ba", "bä", "c", "ca", "ab1"]


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(
    rows=strategies.lists(
        strategies.lists(strategies.sampled_from(WORDS), max_size=4), max_size=25
    ),
    search=strategies.lists(strategies.sampled_from(WORDS), min_size=1, max_size=3),
    dense=strategies.booleans(),
    budget=strategies.sampled_from([8, 12, 800]),  # 4, 6, 400 rows for one word
)
def test_any_search_finds_what_the_plain_prefix_finds(
    tmp_path_factory, rows, search, dense, budget
):
    import kali.fulltext

    folder = tmp_path_factory.mktemp("search")
    db, listing = search_db(folder, [" ".join(words) for words in rows])
    saved = kali.fulltext.DENSE_MATCH_ROWS, kali.fulltext.CHECK_BUDGET
    saved_few = kali.fulltext.FEW_PREFIX_ROWS
    try:
        terms = search_terms(" ".join(search))
        plain = match_expression(terms)
        expected = sorted(
            r[0] for r in db.execute(
                "SELECT rowid FROM doc_search WHERE doc_search MATCH ?", [plain])
        )  # fmt: skip
        rewritten = listing.index.expression(db, terms)
        assert sorted(
            r[0] for r in db.execute(
                "SELECT rowid FROM doc_search WHERE doc_search MATCH ?", [rewritten])
        ) == expected  # fmt: skip
        kali.fulltext.DENSE_MATCH_ROWS = 0 if dense else 10_000
        kali.fulltext.CHECK_BUDGET = budget
        kali.fulltext.FEW_PREFIX_ROWS = 0
        url = "?" + urllib.parse.urlencode({"q": " ".join(search)})
        order = [r[0] for r in db.execute("SELECT id FROM doc ORDER BY rank, id")]
        assert found_ids(listing, db, url) == [i for i in order if i in expected]
    finally:
        kali.fulltext.DENSE_MATCH_ROWS, kali.fulltext.CHECK_BUDGET = saved
        kali.fulltext.FEW_PREFIX_ROWS = saved_few
        db.close()
