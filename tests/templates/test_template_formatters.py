"""kali.templates.formatters: the built-ins, in and out of templates, and checks."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from kali.iolist import flatten
from kali.templates import Template
from kali.templates.formatters import (
    BUILTIN_FORMATTERS,
    check_formatters,
    format_cents,
    format_date,
    format_number,
    format_url,
)


def render(text: str, **params: Any) -> bytes:
    return flatten(Template(text)(**params))


def test_registry_starts_with_the_builtins():
    assert set(BUILTIN_FORMATTERS) == {":num", ":cents", ":url", ":date"}
    for key, function in BUILTIN_FORMATTERS.items():
        assert Template.REGISTRY[key] is function
    with pytest.raises(TypeError):
        BUILTIN_FORMATTERS[":x"] = str  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234567, "1,234,567"),
        (-1000, "-1,000"),
        (0, "0"),
        (1234.5, "1,234.5"),
        (Decimal("1234.50"), "1,234.50"),
        (True, "1"),
        (None, ""),
    ],
)
def test_num_is_thousands_separators_as_in_0_0_8(value, expected):
    assert format_number(value) == expected
    if value is not None:
        assert format_number(value) == f"{value:,}"  # as 0.0.8: "{:,}".format


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234, "1,234.00"),
        (1234.5, "1,234.50"),
        (0.005, "0.01"),
        (-3, "-3.00"),
        (Decimal("12.345"), "12.34"),
        (None, ""),
    ],
)
def test_cents_is_two_decimals_as_in_0_0_8(value, expected):
    assert format_cents(value) == expected
    if value is not None:
        assert format_cents(value) == f"{value:,.2f}"  # as 0.0.8


@pytest.mark.parametrize("function", [format_number, format_cents])
def test_num_and_cents_reject_text_as_0_0_8_did(function):
    with pytest.raises(ValueError):
        function("12")


def test_num_and_cents_in_a_template():
    text = "[{n:num}|{n:cents}]"
    assert render(text, n=1234567) == b"[1,234,567|1,234,567.00]"
    assert render(text, n=None) == b"[|]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a b", "a%20b"),
        ("a/b", "a%2Fb"),
        ('it\'s "q"', "it%27s%20%22q%22"),
        ("x?y=1&z=#", "x%3Fy%3D1%26z%3D%23"),
        ("café ü", "caf%C3%A9%20%C3%BC"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("a+b%20", "a%2Bb%2520"),
        ("_.-~", "_.-~"),
        ("<script>", "%3Cscript%3E"),
        ("\ud800", "%3F"),
        (b"a /\xff", "a%20%2F%FF"),
        (42, "42"),
        (None, ""),
    ],
)
def test_url_percent_encodes_a_path_segment_or_query_value(value, expected):
    assert format_url(value) == expected


def test_url_in_a_template_is_still_escaped_and_usable_in_links():
    text = '<a href="/book/{name:url}?q={q:url}">{name}</a>'
    assert render(text, name='A/B & "C"', q="x y") == (
        b'<a href="/book/A%2FB%20%26%20%22C%22?q=x%20y">A/B &amp; &quot;C&quot;</a>'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(2024, 5, 1), "2024-05-01"),
        (datetime.datetime(2024, 5, 1, 23, 59, 30), "2024-05-01"),
        (datetime.date(33, 1, 2), "0033-01-02"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01 10:30:00", "2024-05-01"),
        ("2024-05-01T10:30", "2024-05-01"),
        ("", ""),
        (None, ""),
    ],
)
def test_date_is_iso(value, expected):
    assert format_date(value) == expected


@pytest.mark.parametrize(
    "value", ["2024-5-1", "01/05/2024", "2024-05-01x", "2024-02-30", "soon", " "]
)
def test_date_rejects_text_that_is_not_an_iso_date(value):
    with pytest.raises(ValueError, match=r"ISO date \(YYYY-MM-DD\)"):
        format_date(value)


@pytest.mark.parametrize("value", [20240501, 1.5, b"2024-05-01", ["2024-05-01"]])
def test_date_rejects_other_types(value):
    with pytest.raises(TypeError, match=":date needs a datetime.date"):
        format_date(value)


def test_date_in_a_template():
    assert render("<time>{d:date}</time>", d=datetime.date(2024, 1, 9)) == (
        b"<time>2024-01-09</time>"
    )


def test_check_formatters_adds_the_colon():
    def money(value: Any) -> str:
        return f"${value}"

    assert check_formatters({"money": money, ":tax": str}) == {
        ":money": money,
        ":tax": str,
    }
    assert check_formatters({}) == {}


@pytest.mark.parametrize("name", ["", ":", "a b", "a:b", "::a", "a-b", 3, "{a}"])
def test_check_formatters_rejects_names_a_placeholder_cannot_use(name):
    with pytest.raises(ValueError, match="formatter name"):
        check_formatters({name: str})


def test_check_formatters_rejects_what_is_not_callable():
    with pytest.raises(TypeError, match="formatter 'money' must be callable, not str"):
        check_formatters({"money": "{:,}"})
    with pytest.raises(TypeError, match="must be a mapping"):
        check_formatters([("money", str)])  # type: ignore[arg-type]
