import sqlite3

import pytest

from kali.iolist import (
    Fragment,
    Markup,
    escape,
    flatten,
    iter_bytes,
    iter_chunks,
    iter_stream_chunks,
)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("héllo", "héllo".encode()),
        (b"raw", b"raw"),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        (None, b"None"),
        (42, b"42"),
        (3.5, b"3.5"),
        (["a", [b"b", ("c", ["d"])]], b"abcd"),
        ((x for x in ["g", "en"]), b"gen"),
        ({"k": "v", "n": 1}, b"k: v\r\nn: 1\r\n"),
        ("\udc80", b"?"),
        (Markup("<b>"), b"<b>"),
        (Fragment([b"<i>", "x"]), b"<i>x"),
        ([], b""),
    ],
)
def test_flatten_rules(body, expected):
    assert flatten(body) == expected


def test_sqlite_row_is_walked():
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    row = db.execute("select 'a' as x, 2 as y").fetchone()
    assert flatten(row) == b"a2"
    db.close()


def test_deep_nesting_does_not_recurse():
    body: list = []
    for _ in range(100_000):
        body = [body, "x"]
    assert flatten(body) == b"x" * 100_000


def test_chunks_coalesce_small_pieces_and_pass_big_ones():
    pieces = ["a"] * 10 + [b"B" * 100] + ["c"] * 5
    chunks = list(iter_chunks(pieces, chunk_bytes=8))
    assert b"".join(chunks) == flatten(pieces)
    assert chunks[0] == b"aaaaaaaa"
    assert b"B" * 100 in chunks
    assert all(len(c) >= 1 for c in chunks)


def test_stream_chunks_never_wait_for_the_next_item():
    asked = []

    def items():
        for number in range(3):
            asked.append(number)
            yield ["a"] * 5 + [str(number)]  # one item: its pieces coalesced

    chunks = iter_stream_chunks(items(), chunk_bytes=4)
    assert next(chunks) == b"aaaa" and asked == [0]
    assert next(chunks) == b"a0" and asked == [0]  # the item's end: no waiting
    assert next(chunks) == b"aaaa" and asked == [0, 1]


@pytest.mark.parametrize(
    "stream, expected",
    [
        ("text", [b"text"]),
        (b"raw", [b"raw"]),
        ({"k": "v"}, [b"k: v\r\n"]),
        (None, [b"None"]),
        (42, [b"42"]),
        ([b"a", b"", "b", [b"c", "d"]], [b"abcd"]),  # all there: coalesced
        (iter([b"a", b"", "b", [b"c", "d"]]), [b"a", b"b", b"cd"]),
    ],
)
def test_stream_chunks_of_single_values_and_lists(stream, expected):
    assert list(iter_stream_chunks(stream)) == expected


def test_stream_chunks_hold_what_flatten_gives():
    hypothesis = pytest.importorskip("hypothesis")
    strategies = hypothesis.strategies
    piece = strategies.one_of(
        strategies.text(max_size=5), strategies.binary(max_size=5)
    )
    item = strategies.one_of(piece, strategies.lists(piece, max_size=4))

    @hypothesis.given(strategies.lists(item, max_size=8), strategies.integers(1, 8))
    def check(items, chunk_bytes):
        chunks = list(iter_stream_chunks(iter(items), chunk_bytes))
        assert b"".join(chunks) == flatten(items)
        assert all(chunks)
        # No chunk spans two items: every item's end is a chunk's end.
        chunk_ends, position = {0}, 0
        for chunk in chunks:
            position += len(chunk)
            chunk_ends.add(position)
        position = 0
        for one in items:
            position += len(flatten(one))
            assert position in chunk_ends

    check()


def test_iter_bytes_skips_empty_pieces():
    assert list(iter_bytes(["", b"", "x"])) == [b"x"]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("<a href='x'>&\"", "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"),
        (None, ""),
        (5, "5"),
        (Markup("<b>"), "<b>"),
    ],
)
def test_escape(value, expected):
    result = escape(value)
    assert result == expected
    assert isinstance(result, Markup)
    assert result.__html__() == result


def test_escape_uses_dunder_html():
    class Widget:
        def __html__(self):
            return "<w/>"

    assert escape(Widget()) == "<w/>"
    assert Markup.escape("<") == "&lt;"


def test_str_of_template_output_is_its_html():
    from kali import Template

    page = Template("<b>{x}</b>")(x="a&b")
    assert str(page) == "<b>a&amp;b</b>"
    assert f"{page}" == "<b>a&amp;b</b>"
