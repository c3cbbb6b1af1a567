"""kali.templates.parser: node trees and syntax errors with their positions."""

from __future__ import annotations

import pytest

from kali.templates import TemplateSyntaxError, parser
from kali.templates.nodes import (
    Conditional,
    Format,
    Loop,
    Raw,
    Root,
    Substitute,
    Text,
)
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
        ("x\n {?a}y", 2, 2, ["{?a} is never closed", "expected {/a}"]),
        ("{!a}{:else}", 1, 1, ["{!a} is never closed"]),
        ("{?a}{@b}{/a}{/b}", 1, 9, ["expected {^b} or {/b}", "found {/a}"]),
        ("{@b}{?a}{/b}{/a}", 1, 9, ["expected {:else} or {/a}", "found {/b}"]),
        ("{?a}\n\n  {/b}", 3, 3, ["to match {?a} (line 1)", "found {/b}"]),
        ("{?a}1{:else}2{:else}3{/a}", 1, 14, ["{:else} appears twice in {?a}"]),
        ("{?a}1{^a}2{/a}", 1, 6, ["{^a} belongs to a loop", "{?a} is {:else}"]),
        ("{@a}1{:else}2{/a}", 1, 6, ["{:else} belongs to a {?name}", "is {^a}"]),
        ("{@a}{?b}{:else}{^a}{/b}{/a}", 1, 16, ["{^a} belongs to a loop"]),
        ("{?a}{:else}{@b}{/a}", 1, 16, ["found {/a}"]),
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


def test_conditional():
    assert tree("a{?paid}<b>{x}</b>{/paid}z") == (
        Text("a"),
        Conditional(
            "paid",
            False,
            (Text("<b>"), Substitute("x", "{x}", 1, 12), Text("</b>")),
            None,
            "{?paid}",
            1,
            2,
        ),
        Text("z"),
    )


def test_conditional_with_else_and_negated():
    assert tree("{?a}y{:else}n{/a}{!b}{/b}{!c}{:else}C{/c}") == (
        Conditional("a", False, (Text("y"),), (Text("n"),), "{?a}", 1, 1),
        Conditional("b", True, (), None, "{!b}", 1, 18),
        Conditional("c", True, (), (Text("C"),), "{!c}", 1, 26),
    )


def test_sections_nest_in_each_other_and_close_innermost_first():
    text = "{?rows}{@rows:row}{?row}{row}{:else}-{/row}{/rows}{:else}none{/rows}"
    inner = Conditional(
        "row",
        False,
        (Substitute("row", "{row}", 1, 25),),
        (Text("-"),),
        "{?row}",
        1,
        19,
    )
    loop = Loop("rows", "row", (inner,), None, "{@rows:row}", 1, 8)
    assert tree(text) == (
        Conditional("rows", False, (loop,), (Text("none"),), "{?rows}", 1, 1),
    )


def test_else_and_end_outside_sections_are_literal():
    assert tree("{:else}") == (Text("{:else}"),)
    assert tree("a{:else}b{/x}{^x}") == (Text("a{:else}b{/x}{^x}"),)
    assert tree("{/a}{:else}{?b}{/b}") == (
        Text("{/a}{:else}"),
        Conditional("b", False, (), None, "{?b}", 1, 12),
    )


def test_an_unknown_formatter_can_be_an_error():
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(
            "ok\n  {price:mony}",
            "p.tpl",
            {":num", ":money"},
            unknown_formatter_is_error=True,
        )
    error = caught.value
    assert (error.lineno, error.column) == (2, 3)
    assert error.message.startswith(
        "unknown formatter ':mony' in {price:mony} (known: :money, :num)"
    )
    assert 'put a space after the "{"' in error.message
    assert parse("p{ color:red}", unknown_formatter_is_error=True).body == (
        Text("p{ color:red}"),
    )
    assert parse("{.x:mony}", unknown_formatter_is_error=True).body == (
        Raw("x", "{.x:mony}", 1, 1),
    )


def test_sections_nest_up_to_the_limit():
    loops = parser.MAX_LOOP_DEPTH
    others = parser.MAX_SECTION_DEPTH - loops
    text = "".join(f"{{?c{i}}}" for i in range(others))
    text += "".join(f"{{@l{i}}}" for i in range(loops))
    text += "".join(f"{{/l{i}}}" for i in reversed(range(loops)))
    text += "".join(f"{{/c{i}}}" for i in reversed(range(others)))
    parse(text)
    with pytest.raises(TemplateSyntaxError, match="sections nest more than 32"):
        parse("{!x}" + text + "{/x}")
    with pytest.raises(TemplateSyntaxError, match="loops nest more than 12"):
        parse("{@x}" + text + "{/x}")


hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")


@hypothesis.given(
    strategies.text(alphabet="{}@^/.:ab\n?!", max_size=40)
    | strategies.lists(
        strategies.sampled_from(
            ["{?a}", "{!b}", "{:else}", "{/a}", "{/b}", "{@a}", "{^a}", "x"]
        )
    ).map("".join)
)
def test_any_text_parses_or_raises_template_syntax_error(text):
    try:
        parse(text, formatters={":a"})
    except TemplateSyntaxError as error:
        assert error.lineno >= 1 and error.column >= 1
