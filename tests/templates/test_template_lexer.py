"""kali.templates.lexer: tokens, their kinds and their positions."""

from __future__ import annotations

import pytest

from kali.templates import lexer
from kali.templates.lexer import Token, tokenize


def kinds(text: str) -> list[tuple[str, str, str, str]]:
    return [(t.kind, t.source, t.name, t.argument) for t in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{x}", [(lexer.SUBSTITUTE, "{x}", "x", "")]),
        ("{_x1}", [(lexer.SUBSTITUTE, "{_x1}", "_x1", "")]),
        ("{.x}", [(lexer.RAW, "{.x}", "x", "")]),
        ("{x:num}", [(lexer.FORMAT, "{x:num}", "x", ":num")]),
        ("{.x:num}", [(lexer.RAW, "{.x:num}", "x", ":num")]),
        ("{@rows}", [(lexer.LOOP, "{@rows}", "rows", "")]),
        ("{@rows:row}", [(lexer.LOOP, "{@rows:row}", "rows", "row")]),
        ("{@rows:1}", [(lexer.LOOP, "{@rows:1}", "rows", "1")]),
        ("{^rows}", [(lexer.OTHERWISE, "{^rows}", "rows", "")]),
        ("{/rows}", [(lexer.END, "{/rows}", "rows", "")]),
        ("{?paid}", [(lexer.IF, "{?paid}", "paid", "")]),
        ("{!paid}", [(lexer.IF_NOT, "{!paid}", "paid", "")]),
        ("{:else}", [(lexer.ELSE, "{:else}", "", "")]),
    ],
)
def test_each_construct_is_one_token(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{ x }",
        "{1x}",
        "{x-y}",
        "{..x}",
        "{x:}",
        "{x:a b}",
        "{}",
        "{{}}",
        "p{color:red;}",
        "function f(){return 1}",
        "{@}",
        "{@rows:}",
        "{/rows:x}",
        "{^rows:x}",
        "{#rows}",
        "{*zoom:1}",
        "{ @rows }",
        "{?}",
        "{? x}",
        "{?1x}",
        "{?x:y}",
        "{!x.y}",
        "{!!x}",
        "{:elsewhere}",
        "{:Else}",
        "{ :else}",
        "{:else:x}",
        "{?x",
        "if(a){!b&&c()}",
        "{x",
        "x}",
        "",
    ],
)
def test_anything_else_is_text(text):
    tokens = tokenize(text)
    assert all(token.kind == lexer.TEXT for token in tokens)
    assert "".join(token.source for token in tokens) == text


def test_text_and_tokens_alternate():
    assert kinds("a {x} b {.y}{z:cents}c") == [
        (lexer.TEXT, "a ", "", ""),
        (lexer.SUBSTITUTE, "{x}", "x", ""),
        (lexer.TEXT, " b ", "", ""),
        (lexer.RAW, "{.y}", "y", ""),
        (lexer.FORMAT, "{z:cents}", "z", ":cents"),
        (lexer.TEXT, "c", "", ""),
    ]


def test_a_conditional_section_is_four_tokens():
    assert kinds("{?a}x{:else}y{/a}") == [
        (lexer.IF, "{?a}", "a", ""),
        (lexer.TEXT, "x", "", ""),
        (lexer.ELSE, "{:else}", "", ""),
        (lexer.TEXT, "y", "", ""),
        (lexer.END, "{/a}", "a", ""),
    ]


def test_css_with_an_unregistered_format_is_a_format_token():
    # The lexer does not know which formatters exist; the parser decides.
    assert kinds("p{color:red}") == [
        (lexer.TEXT, "p", "", ""),
        (lexer.FORMAT, "{color:red}", "color", ":red"),
    ]


def test_positions_are_one_based_lines_and_columns():
    text = "ab{x}\n  {y}\n\n{@z}{/z}"
    assert tokenize(text) == [
        Token(lexer.TEXT, "ab", "", "", 1, 1),
        Token(lexer.SUBSTITUTE, "{x}", "x", "", 1, 3),
        Token(lexer.TEXT, "\n  ", "", "", 1, 6),
        Token(lexer.SUBSTITUTE, "{y}", "y", "", 2, 3),
        Token(lexer.TEXT, "\n\n", "", "", 2, 6),
        Token(lexer.LOOP, "{@z}", "z", "", 4, 1),
        Token(lexer.END, "{/z}", "z", "", 4, 5),
    ]


def test_positions_can_start_inside_a_file():
    tokens = tokenize("{a} {b}\n{c}", lineno=7, column=10)
    assert [(t.source, t.lineno, t.column) for t in tokens] == [
        ("{a}", 7, 10),
        (" ", 7, 13),
        ("{b}", 7, 14),
        ("\n", 7, 17),
        ("{c}", 8, 1),
    ]


def test_many_lines_between_tokens():
    text = "\n" * 1000 + "{x}" + "\n" * 5 + "   {y}"
    tokens = [t for t in tokenize(text) if t.kind != lexer.TEXT]
    assert [(t.lineno, t.column) for t in tokens] == [(1001, 1), (1006, 4)]


def test_identifiers_must_start_with_an_ascii_letter_or_underscore():
    assert kinds("{éa}")[0][0] == lexer.TEXT
    assert kinds("{aé}") == [(lexer.SUBSTITUTE, "{aé}", "aé", "")]


def test_the_0_0_8_pattern_is_kept():
    match = lexer.PLACEHOLDER_PATTERN.fullmatch("{.name:fmt}")
    assert match is not None
    assert match.groups() == (".", "name", ":fmt")
    assert lexer.PLACEHOLDER_PATTERN.fullmatch("{@rows}") is None


hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")


@hypothesis.given(
    strategies.text(alphabet="{}@^/.:_ax1\n é?!", max_size=60)
    | strategies.lists(
        strategies.sampled_from(["{?a}", "{!a}", "{:else}", "{/a}", "x", "{", "}"])
    ).map("".join)
)
def test_lexing_loses_nothing(text):
    tokens = tokenize(text)
    assert "".join(token.source for token in tokens) == text
    for before, after in zip(tokens, tokens[1:]):
        assert not (before.kind == after.kind == lexer.TEXT)
