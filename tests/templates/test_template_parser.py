"""kali.templates.parser: node trees and syntax errors with their positions."""

from __future__ import annotations

import pytest

from kali.templates import TemplateSyntaxError, parser
from kali.templates.nodes import Format, Loop, Raw, Root, Substitute, Text
from kali.templates.parser import parse

FORMATTERS = {":num", ":cents"}


def tree(text: str):
    return parse(text, "t.tpl", FORMATTERS).body


def test_empty_template():
    assert parse("") == Root("<template>", ())


def test_text_only():
    assert tree("plain text") == (Text("plain text"),)


def test_substitutions():
    assert tree("a{x}{.y}{z:num}{.w:anything}") == (
        Text("a"),
        Substitute("x", "{x}", 1, 2),
        Raw("y", "{.y}", 1, 5),
        Format("z", ":num", "{z:num}", 1, 9),
        Raw("w", "{.w:anything}", 1, 16),
    )


def test_an_unregistered_formatter_is_text_merged_with_its_neighbours():
    assert tree("p{color:red}q") == (Text("p{color:red}q"),)
    assert tree("{x:red}{y}") == (Text("{x:red}"), Substitute("y", "{y}", 1, 8))


def test_formatters_come_from_the_given_registry():
    assert parse("{x:red}", formatters={":red"}).body == (
        Format("x", ":red", "{x:red}", 1, 1),
    )


def test_loop_with_item():
    assert tree("<ul>{@rows:row}<li>{row}</li>{/rows}</ul>") == (
        Text("<ul>"),
        Loop(
            "rows",
            "row",
            (Text("<li>"), Substitute("row", "{row}", 1, 20), Text("</li>")),
            None,
            "{@rows:row}",
            1,
            5,
        ),
        Text("</ul>"),
    )


def test_loop_over_mappings_with_otherwise():
    assert tree("{@rows}{name}{^rows}none{/rows}") == (
        Loop(
            "rows",
            None,
            (Substitute("name", "{name}", 1, 8),),
            (Text("none"),),
            "{@rows}",
            1,
            1,
        ),
    )


def test_empty_loop_parts():
    assert tree("{@a}{^a}{/a}") == (Loop("a", None, (), (), "{@a}", 1, 1),)


def test_nested_loops():
    (outer,) = tree("{@rows:row}\n{@row:cell}{cell}{/row}\n{/rows}")
    assert isinstance(outer, Loop)
    assert outer.body[1] == Loop(
        "row",
        "cell",
        (Substitute("cell", "{cell}", 2, 12),),
        None,
        "{@row:cell}",
        2,
        1,
    )


def test_closers_outside_any_loop_are_text_as_in_0_0_8():
    # Handlebars' {{/each}} or a stray marker must not break old templates.
    assert tree("{{#each x}}{{/each}} {^y}") == (Text("{{#each x}}{{/each}} {^y}"),)


@pytest.mark.parametrize(
    ("text", "lineno", "column", "words"),
    [
        ("ab\n  {@rows}x", 2, 3, ["{@rows} is never closed", "expected {/rows}"]),
        ("{@a}{@b}{/a}{/b}", 1, 9, ["expected {^b} or {/b}", "found {/a}"]),
        ("{@a}\n{^b}{/a}", 2, 1, ["{@a} (line 1)", "found {^b}"]),
        ("{@a}{^a}x{^a}{/a}", 1, 10, ["{^a} appears twice", "expected {/a}"]),
        ("\n{@a:1x}{/a}", 2, 1, ["expected a name after ':' in {@a:1x}"]),
        ("{@a}{@b}{/b}", 1, 1, ["{@a} is never closed"]),
    ],
)
def test_syntax_errors_name_file_line_column_and_expectation(
    text, lineno, column, words
):
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(text, "page.tpl")
    error = caught.value
    assert (error.filename, error.lineno, error.column) == ("page.tpl", lineno, column)
    assert (error.name, error.line) == ("page.tpl", lineno)
    assert str(error).startswith(f"page.tpl:{lineno}:{column}: ")
    for word in words:
        assert word in error.message
    assert isinstance(error, ValueError)


def test_positions_are_offset_for_text_inside_a_file():
    with pytest.raises(TemplateSyntaxError) as caught:
        parse("x\n {@a}", "f.tpl", lineno=10, column=5)
    assert (caught.value.lineno, caught.value.column) == (11, 2)


def test_loops_nest_up_to_the_limit():
    depth = parser.MAX_LOOP_DEPTH
    text = "".join(f"{{@l{i}}}" for i in range(depth))
    text += "".join(f"{{/l{i}}}" for i in reversed(range(depth)))
    parse(text)
    too_deep = "{@x}" + text + "{/x}"
    with pytest.raises(TemplateSyntaxError, match="nest more than"):
        parse(too_deep)


hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")


@hypothesis.given(strategies.text(alphabet="{}@^/.:ab\n", max_size=40))
def test_any_text_parses_or_raises_template_syntax_error(text):
    try:
        parse(text, formatters={":a"})
    except TemplateSyntaxError as error:
        assert error.lineno >= 1 and error.column >= 1
