"""kali.templates.values: the value rule, escaping at any depth, loop helpers."""

from __future__ import annotations

import html
import sqlite3
import sys
from typing import Any

import pytest

from kali.iolist import Fragment, Markup, flatten
from kali.templates import Template, values
from kali.templates.exceptions import attach_note, attach_note_legacy

HOSTILE = "<script>alert('x\" & y')</script>"
ESCAPED = html.escape(HOSTILE).encode()


def rendered(value: Any) -> Fragment:
    text: list[bytes] = []
    out: list[Any] = []
    values.insert_value(value, text, out)
    values.flush(text, out)
    return Fragment(out)


def render(value: Any) -> bytes:
    return flatten(rendered(value))


@pytest.fixture
def row() -> sqlite3.Row:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    result = db.execute("select '<a>' as name, 3 as n, null as z").fetchone()
    db.close()
    assert isinstance(result, sqlite3.Row)
    return result


def test_escape_text_matches_html_escape():
    text = "&<>\"' plain é \u2603"
    assert values.escape_text(text) == html.escape(text, quote=True).encode()


def test_lone_surrogates_become_question_marks_as_in_flatten():
    assert values.escape_text("a\udc80b") == b"a?b"
    assert render("a\udc80b") == flatten("a\udc80b")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b""),
        ("", b""),
        (HOSTILE, ESCAPED),
        (42, b"42"),
        (-7, b"-7"),
        (True, b"True"),
        (1.5, b"1.5"),
        (b"<b>", b"<b>"),
        (bytearray(b"<b>"), b"<b>"),
        (memoryview(b"<b>"), b"<b>"),
        (Markup("<b>"), b"<b>"),
        ([HOSTILE, (HOSTILE, [HOSTILE])], ESCAPED * 3),
        ((x for x in [HOSTILE, None, 1]), ESCAPED + b"1"),
        ({HOSTILE}, ESCAPED),
        ({"<k>": "<v>", 1: None}, b"&lt;k&gt;: &lt;v&gt;\r\n1: \r\n"),
        ([{"a": [HOSTILE]}], b"a: " + ESCAPED + b"\r\n"),
        ([Markup("<i>"), "<i>", b"<i>"], b"<i>&lt;i&gt;<i>"),
        (
            object.__new__(type("Thing", (), {"__str__": lambda self: "<t>"})),
            b"&lt;t&gt;",
        ),
    ],
)
def test_the_value_rule(value, expected):
    assert render(value) == expected


def test_str_subclass_without_html_is_escaped():
    class Name(str):
        pass

    assert render(Name("<n>")) == b"&lt;n&gt;"


def test_sqlite_rows_are_walked_and_escaped(row):
    assert render(row) == b"&lt;a&gt;3"


def test_html_protocol_is_trusted():
    class Widget:
        def __html__(self) -> str:
            return "<w/>"

    assert render([Widget(), "<"]) == b"<w/>&lt;"


def test_html_returning_an_iolist_is_inserted_as_it_is():
    inner = Fragment([b"<f>"])

    class Widget:
        def __html__(self) -> Any:
            return inner

    out = rendered(["a", Widget(), "b"])
    assert out == [b"a", inner, b"b"]
    assert out[1] is inner


def test_template_output_is_inserted_as_it_is_not_walked_again():
    # A Fragment is trusted: even a str inside it is not escaped again.
    inner = Fragment(["<raw>"])
    out = rendered(["<", inner, ">"])
    assert out[1] is inner
    assert flatten(out) == b"&lt;<raw>&gt;"


def test_deeply_nested_lists_need_no_recursion():
    value: Any = HOSTILE
    for _ in range(sys.getrecursionlimit() * 20):
        value = [value]
    assert render(value) == ESCAPED


def test_deeply_nested_template_output_is_linear_and_exact():
    tag = Template("<b>{x}</b>")
    depth = sys.getrecursionlimit() * 5
    value: Any = HOSTILE
    for _ in range(depth):
        previous = value
        value = tag(x=value)
        assert isinstance(value, Fragment)
    assert value[1] is previous  # inserted by reference, never copied
    assert flatten(value) == b"<b>" * depth + ESCAPED + b"</b>" * depth


def test_flush_moves_pending_text():
    text, out = [b"a", b"b"], [b"x"]
    values.flush(text, out)
    assert (text, out) == ([], [b"x", b"ab"])
    values.flush(text, out)
    assert out == [b"x", b"ab"]


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_out"),
    [
        ("<a>", [b"<a>"], []),
        (Markup("<a>"), [b"<a>"], []),
        (b"<a>", [b"<a>"], []),
        (None, [], []),
        (7, [], [b"pending", 7]),
        (["<a>"], [], [b"pending", ["<a>"]]),
    ],
)
def test_insert_raw(value, expected_text, expected_out):
    text, out = [], []
    if expected_out:
        text = [b"pending"]
    values.insert_raw(value, text, out)
    assert out == expected_out
    if not expected_out:
        assert text == expected_text


def test_lookup(row):
    assert values.lookup("x", [{}, {"x": 1}, {"x": 2}]) == 1
    assert values.lookup("name", [{}, row]) == "<a>"
    assert values.lookup("nope", [{}, row]) is values.MISSING
    assert repr(values.MISSING) == "MISSING"


def test_iter_items(row):
    assert list(values.iter_items([1, 2], "{@x:y}")) == [1, 2]
    assert list(values.iter_items(None, "{@x:y}")) == []
    assert list(values.iter_items({"a": 1, "b": 2}, "{@x:y}")) == [1, 2]
    assert list(values.iter_items(row, "{@x:y}")) == ["<a>", 3, None]


@pytest.mark.parametrize("value", ["abc", b"abc", bytearray(b"a"), memoryview(b"a")])
def test_iter_items_refuses_text(value):
    with pytest.raises(TypeError, match=r"\{@x:y\} loops over the items"):
        values.iter_items(value, "{@x:y}")


def test_iter_items_refuses_non_iterables():
    with pytest.raises(TypeError, match=r"\{@x:y\} needs a list .* not a int"):
        values.iter_items(5, "{@x:y}")


def test_iter_mappings(row):
    items = [{"a": 1}, row]
    assert list(values.iter_mappings(items, "{@x}")) == items
    with pytest.raises(TypeError, match=r"name them: \{@x:item\}"):
        list(values.iter_mappings([(1, 2)], "{@x}"))


def test_attach_note_keeps_the_exception():
    error = ValueError("bad")
    attach_note(error, "where")
    assert getattr(error, "__notes__", None) == ["where"] or error.args == (
        "bad",
        "where",
    )


def test_attach_note_legacy_puts_the_note_in_args_and_notes():
    error = KeyError("x")
    attach_note_legacy(error, "first")
    attach_note_legacy(error, "second")
    assert error.args == ("x", "first", "second")
    assert error.__notes__ == ["first", "second"]  # type: ignore[attr-defined]
