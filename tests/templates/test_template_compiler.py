"""kali.templates.compiler: rendered output of every construct, and error notes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from kali.iolist import Fragment, Markup, flatten
from kali.templates import MissingNameError, Template, TemplateSyntaxError, compiler


def notes(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


def render(text: str, **params: Any) -> bytes:
    output = Template(text)(**params)
    assert isinstance(output, Fragment)
    return flatten(output)


@pytest.fixture
def rows() -> list[sqlite3.Row]:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    result = db.execute(
        "select 1 as id, '<a>' as name union all select 2, 'b&' order by 1"
    ).fetchall()
    db.close()
    return result


# -- substitutions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<i>", b"[&lt;i&gt;]"),
        (None, b"[]"),
        (12, b"[12]"),
        (b"<i>", b"[<i>]"),
        (["<", 1, None, b">"], b"[&lt;1>]"),
        (Markup("<i>"), b"[<i>]"),
    ],
)
def test_substitute(value, expected):
    assert render("[{x}]", x=value) == expected


def test_missing_key_stays_literal():
    assert render("a{x}b{y}", y=1) == b"a{x}b1"


def test_text_that_is_not_a_placeholder_passes_through():
    css_js = "p{color:red} a{ x } function f(){return {a:1}} {x:unknown} {{x}}"
    assert (
        render(css_js, x="X")
        == b"p{color:red} a{ x } function f(){return {a:1}} {x:unknown} {X}"
    )


def test_raw():
    assert render("[{.x}]", x="<i>") == b"[<i>]"
    assert render("[{.x}]", x=["<i>", b"<b>"]) == b"[<i><b>]"
    assert render("[{.x}]", x=None) == b"[]"
    assert render("[{.x}]", x=7) == b"[7]"
    assert render("[{.x:num}]", x=1234) == b"[1234]"  # formatter ignored
    assert render("[{.x:nope}]", x="<") == b"[<]"


def test_raw_inserts_template_output_by_reference():
    inner = Template("<b>{x}</b>")(x="<")
    out = Template("a{.x}b{x}c")(x=inner)
    assert out == [b"a", inner, b"b", inner, b"c"]
    assert out[1] is inner and out[3] is inner


def test_raw_missing_key_raises_a_key_error_saying_where():
    with pytest.raises(KeyError) as caught:
        Template("line 1\n  {.body}", name="page.tpl")()
    assert isinstance(caught.value, MissingNameError)
    assert caught.value.args[0] == "body"
    assert str(caught.value) == (
        "page.tpl:2:3: {.body}: the template's parameters have no 'body'"
    )
    assert notes(caught.value) == []  # the message says where already


def test_formatters():
    assert render("{n:num} {n:cents}", n=1234567) == b"1,234,567 1,234,567.00"
    assert render("{n:cents}", n=0.5) == b"0.50"


def test_format_missing_key_raises_key_error():
    with pytest.raises(KeyError, match="n"):
        Template("{n:num}")()


def test_formatter_output_is_escaped_by_the_value_rule():
    class Shout(Template):
        REGISTRY = {":shout": lambda s: [s.upper(), "!"]}

    assert flatten(Shout("{x:shout}")(x="<a>")) == b"&lt;A&gt;!"


def test_user_registered_formatter(monkeypatch):
    monkeypatch.setitem(Template.REGISTRY, ":money", lambda n: f"${n:,.2f}<")
    assert render("{p:money}", p=1234.5) == b"$1,234.50&lt;"


def test_formatter_is_looked_up_at_construction(monkeypatch):
    before = Template("{x:late}")
    monkeypatch.setitem(Template.REGISTRY, ":late", str.upper)
    after = Template("{x:late}")
    assert flatten(before(x="a")) == b"{x:late}"
    assert flatten(after(x="a")) == b"A"


def test_a_raising_formatter_names_template_and_placeholder():
    template = Template("total:\n {price:cents}", name="bill.tpl")
    with pytest.raises(ValueError) as caught:
        template(price="not a number")
    assert notes(caught.value) == [
        "in template bill.tpl, line 2, column 2: {price:cents}"
    ]


def test_sqlite_row_as_params(rows):
    row = rows[0]
    assert render("{id} {name} {missing}", **dict(row)) == b"1 &lt;a&gt; {missing}"
    assert flatten(Template("{id} {name} {missing}").sub(row)) == (
        b"1 &lt;a&gt; {missing}"
    )
    with pytest.raises(KeyError, match="missing"):
        Template("{.missing}").sub(row)


def test_constant_template_returns_a_fresh_fragment_each_time():
    template = Template("just text")
    first, second = template(), template()
    assert first == second == [b"just text"]
    assert first is not second
    assert Template("")() == [b""]


def test_output_is_text_chunks_and_inserted_values():
    inner = Fragment([b"<x>"])
    out = Template("a{x}b{y}c")(x=inner, y="<")
    assert out == [b"a", inner, b"b&lt;c"]


# -- loops ---------------------------------------------------------------------


TABLE = "<table>{@rows:row}<tr>{@row:cell}<td>{cell}</td>{/row}</tr>{/rows}</table>"


def test_table_of_rows_of_cells():
    rows = [[1, "<"], ("a", None), {"k": "v"}]
    assert render(TABLE, rows=rows) == (
        b"<table><tr><td>1</td><td>&lt;</td></tr>"
        b"<tr><td>a</td><td></td></tr><tr><td>v</td></tr></table>"
    )


def test_table_of_sqlite_rows(rows):
    assert render(TABLE, rows=rows) == (
        b"<table><tr><td>1</td><td>&lt;a&gt;</td></tr>"
        b"<tr><td>2</td><td>b&amp;</td></tr></table>"
    )


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], b"<p>none</p>"),
        (None, b"<p>none</p>"),
        ((x for x in ()), b"<p>none</p>"),
        ({}, b"<p>none</p>"),
        (["a", "<"], b"<li>a</li><li>&lt;</li>"),
        ((x for x in "ab"), b"<li>a</li><li>b</li>"),
        ({"k": "v"}, b"<li>v</li>"),
        ({"<"}, b"<li>&lt;</li>"),
    ],
)
def test_loop_with_otherwise(items, expected):
    text = "{@items:item}<li>{item}</li>{^items}<p>none</p>{/items}"
    assert render(text, items=items) == expected


def test_loop_without_otherwise_renders_nothing_when_empty():
    assert render("a{@xs:x}{x}{/xs}b", xs=[]) == b"ab"
    assert render("a{@xs:x}{/xs}b", xs=[1, 2]) == b"ab"


def test_loop_item_shadows_params_and_outer_items():
    text = "{x}{@xs:x}[{x}{@ys:x}({x}){/ys}]{/xs}{x}"
    assert render(text, x="P", xs=[1, 2], ys=["a", "b"]) == b"P[1(a)(b)][2(a)(b)]P"


def test_inner_loops_see_outer_items_and_params():
    text = "{@rows:row}{@cells:cell}{title}{row}{cell};{/cells}{/rows}"
    assert render(text, rows=[1, 2], cells=["x", "y"], title="<") == (
        b"&lt;1x;&lt;1y;&lt;2x;&lt;2y;"
    )


def test_loop_over_an_outer_item():
    text = "{@rows:row}{@row:cell}{cell:num},{/row}{.row};{/rows}"
    assert render(text, rows=[[1000, 2000], [3]]) == b"1,000,2,000,10002000;3,3;"


def test_loop_over_mappings_binds_their_keys():
    text = "{@people}<li>{name} {age} {title} {gone}</li>{/people}"
    people = [{"name": "<Ann>", "age": 30}, {"name": "Bob", "age": None}]
    assert render(text, people=people, title="T") == (
        b"<li>&lt;Ann&gt; 30 T {gone}</li><li>Bob  T {gone}</li>"
    )


def test_loop_over_sqlite_rows_binds_their_columns(rows):
    text = "{@rows}{id}={name},{.name},{id:num} {^rows}none{/rows}"
    assert render(text, rows=rows) == b"1=&lt;a&gt;,<a>,1 2=b&amp;,b&,2 "
    assert render(text, rows=[]) == b"none"


def test_mapping_loops_nest_and_search_innermost_first():
    text = "{@outer}{@inner}{a}{b}{c}{.b}{b:num}{/inner}{/outer}"
    params = {"outer": [{"a": 1, "b": 2, "inner": [{"a": 3}]}], "c": 4}
    assert render(text, **params) == b"3242" + b"2"
    with pytest.raises(KeyError, match="d"):
        render("{@outer}{.d}{/outer}", outer=[{}])
    with pytest.raises(KeyError, match="d"):
        render("{@outer}{d:num}{/outer}", outer=[{}])


def test_mapping_loop_falls_back_to_a_bound_item():
    text = "{@rows:row}{@row}{row}|{x}{/row}{/rows}"
    assert render(text, rows=[[{"x": 1}]]) == b"x: 1\r\n|1"
    assert render(text, rows=[[{"x": 1, "row": "r"}]]) == b"r|1"


def test_two_mapping_loops_fall_back_to_a_bound_item():
    text = "{@rows:row}{@row}{@inner}{row},{/inner}{/row}{/rows}"
    rows = [[{"inner": [{}, {"row": "i"}], "row": "m"}], [{"inner": [{}]}]]
    assert render(text, rows=rows) == b"m,i,inner: \r\n,"


def test_loop_over_a_name_bound_by_a_mapping_loop():
    text = "{@rows}{@cells:c}{c}{/cells};{/rows}"
    assert render(text, rows=[{"cells": [1, 2]}, {"cells": "x".split()}]) == (b"12;x;")
    with pytest.raises(KeyError, match="cells"):
        render(text, rows=[{}])


def test_loop_missing_key_raises_a_key_error_saying_where():
    with pytest.raises(KeyError) as caught:
        Template("\n\n   {@rows:row}{/rows}", name="list.tpl")(row=1)
    assert str(caught.value) == (
        "list.tpl:3:4: {@rows:row}: the template's parameters have no 'rows'; "
        "did you mean 'row'?"
    )


@pytest.mark.parametrize("value", ["text", 5])
def test_loop_over_a_str_or_number_is_a_type_error(value):
    with pytest.raises(TypeError) as caught:
        Template("{@rows:row}{/rows}")(rows=value)
    assert notes(caught.value) == [
        "in template <template>, line 1, column 1: {@rows:row}"
    ]


def test_mapping_loop_over_plain_values_says_to_name_the_item():
    with pytest.raises(TypeError, match=r"name them: \{@rows:item\}"):
        Template("{@rows}{x}{/rows}")(rows=[1])


def test_an_error_from_the_items_names_the_loop():
    def items() -> Iterator[dict[str, int]]:
        yield {"x": 1}
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError) as caught:
        Template("{@rows}{x}{/rows}")(rows=items())
    assert notes(caught.value) == ["in template <template>, line 1, column 1: {@rows}"]


def test_an_error_inside_a_loop_names_the_inner_placeholder():
    with pytest.raises(ValueError) as caught:
        Template("{@rows:r}\n{.r}{r:num}{/rows}")(rows=["x"])
    assert notes(caught.value) == ["in template <template>, line 2, column 5: {r:num}"]
    with pytest.raises(KeyError, match="<template>:2:5: {.nope}"):
        Template("{@rows:r}\n{.r}{.nope}{/rows}")(rows=[1])


def test_loop_with_trusted_values_inside():
    inner = Template("<i>{x}</i>")
    out = Template("{@xs:x}[{x}]{/xs}")(xs=[inner(x=1), "<", inner(x=2)])
    assert flatten(out) == b"[<i>1</i>][&lt;][<i>2</i>]"


def test_deepest_allowed_nesting_compiles_and_runs():
    depth = 12
    text = "".join(f"{{@l{i}:v{i}}}" for i in range(depth))
    text += "{v11}"
    text += "".join(f"{{/l{i}}}" for i in reversed(range(depth)))
    params = {f"l{i}": [i] for i in range(depth)}
    params["l0"] = [0, 0]
    assert flatten(Template(text).sub(params)) == b"1111"
    with pytest.raises(TemplateSyntaxError):
        Template("{@x}" + text + "{/x}")


# -- conditionals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, False),
        (False, False),
        (0, False),
        ("", False),
        ([], False),
        ({}, False),
        (Fragment(), False),
        (True, True),
        (1, True),
        ("0", True),
        ([0], True),
        (Markup(""), False),
        (Fragment([b""]), True),
    ],
)
def test_conditional_shows_its_body_for_a_true_value(value, shown):
    assert render("[{?x}yes{/x}]", x=value) == (b"[yes]" if shown else b"[]")
    assert render("[{?x}yes{:else}no{/x}]", x=value) == (b"[yes]" if shown else b"[no]")
    assert render("[{!x}no{/x}]", x=value) == (b"[]" if shown else b"[no]")
    assert render("[{!x}no{:else}yes{/x}]", x=value) == (b"[yes]" if shown else b"[no]")


def test_conditional_body_uses_the_same_names():
    text = "{?error}<p class=error>{error}</p>{:else}<p>{ok:num}</p>{/error}"
    assert render(text, error="<bad>", ok=1) == b"<p class=error>&lt;bad&gt;</p>"
    assert render(text, error=None, ok=1000) == b"<p>1,000</p>"


def test_a_missing_name_is_false_when_not_strict():
    assert render("[{?x}x{:else}-{/x}{!y}!{/y}]") == b"[-!]"


def test_empty_branches():
    assert render("[{?x}{:else}{/x}{!x}{/x}]", x=1) == b"[]"


def test_conditionals_nest():
    text = "{?a}A{?b}B{:else}b{/b}{:else}{!b}-{/b}{/a}"
    expected = {(1, 1): b"AB", (1, 0): b"Ab", (0, 1): b"", (0, 0): b"-"}
    for (a, b), output in expected.items():
        assert render(text, a=a, b=b) == output


def test_conditional_inside_a_mapping_loop_uses_the_items_keys():
    text = "{@rows}{name}{?paid} (paid){:else}{?late} (late){/late}{/paid};{/rows}"
    rows = [
        {"name": "a", "paid": True},
        {"name": "b", "paid": False},  # late comes from params
        {"name": "c", "paid": 0, "late": False},
    ]
    assert render(text, rows=rows, late=True) == b"a (paid);b (late);c;"


def test_conditional_inside_a_mapping_loop_over_sqlite_rows(rows):
    text = "{@rows}{?name}{id}{/name}{!missing}!{/missing}{/rows}"
    assert render(text, rows=rows) == b"1!2!"


def test_conditional_on_a_loop_item():
    text = "{@cells:cell}{?cell}[{cell}]{:else}[-]{/cell}{/cells}"
    assert render(text, cells=["a", None, 0, "<"]) == b"[a][-][-][&lt;]"


def test_conditional_around_a_loop_of_the_same_name():
    text = "{?rows}<ul>{@rows:r}<li>{r}</li>{/rows}</ul>{:else}<p>none</p>{/rows}"
    assert render(text, rows=["x", "y"]) == b"<ul><li>x</li><li>y</li></ul>"
    assert render(text, rows=[]) == b"<p>none</p>"
    assert render(text) == b"<p>none</p>"


def test_loops_and_conditionals_nest_deeply():
    text = (
        "{@groups}{?title}<h2>{title}</h2>{/title}"
        "{@rows:row}{?row}<tr>{@row:cell}{!cell}<td>-</td>{:else}"
        "<td>{cell}</td>{/cell}{/row}</tr>{/row}{/rows}{/groups}"
    )
    groups = [
        {"title": "G", "rows": [[1, None], []]},
        {"title": "", "rows": [["<"]]},
    ]
    assert render(text, groups=groups) == (
        b"<h2>G</h2><tr><td>1</td><td>-</td></tr><tr><td>&lt;</td></tr>"
    )


def test_a_failing_truth_test_names_the_conditional():
    class Unsure:
        def __bool__(self) -> bool:
            raise RuntimeError("cannot tell")

    with pytest.raises(RuntimeError) as caught:
        Template("x\n {?v}y{/v}", name="c.tpl")(v=Unsure())
    assert notes(caught.value) == ["in template c.tpl, line 2, column 2: {?v}"]


def test_an_error_inside_a_conditional_names_the_inner_placeholder():
    with pytest.raises(ValueError) as caught:
        Template("{?v}\n{v:num}{/v}")(v="x")
    assert notes(caught.value) == ["in template <template>, line 2, column 1: {v:num}"]


# -- strict mode -----------------------------------------------------------------


def test_strict_mode_raises_for_a_misspelled_name():
    template = Template(
        "<h1>{title}</h1>\n<p>{titel}</p>", name="page.tpl", strict=True
    )
    assert flatten(template(title="T", titel=None)) == b"<h1>T</h1>\n<p></p>"
    with pytest.raises(MissingNameError) as caught:
        template(title="T")
    error = caught.value
    assert isinstance(error, KeyError)
    assert error.args[0] == "titel"
    assert (error.name, error.filename, error.lineno, error.column, error.source) == (
        "titel",
        "page.tpl",
        2,
        4,
        "{titel}",
    )
    assert str(error) == (
        "page.tpl:2:4: {titel}: the template's parameters have no 'titel'; "
        "did you mean 'title'? (strict mode: to show nothing, pass titel=None)"
    )
    assert notes(error) == []


def test_strict_mode_raises_for_a_missing_conditional():
    template = Template("{?flash}<p>{flash}</p>{/flash}", strict=True)
    assert render("{?flash}<p>{flash}</p>{/flash}", flash=None) == b""
    assert flatten(template(flash=None)) == b""
    with pytest.raises(MissingNameError, match=r"<template>:1:1: \{\?flash\}"):
        template()
    with pytest.raises(MissingNameError, match=r"\{!flash\}"):
        Template("{!flash}-{/flash}", strict=True)()


def test_strict_mode_in_a_mapping_loop():
    template = Template("{@rows}\n  {nmae} {?paid}${/paid}{/rows}", strict=True)
    with pytest.raises(MissingNameError) as caught:
        template(rows=[{"name": "a", "paid": 1}])
    assert str(caught.value).startswith(
        "<template>:2:3: {nmae}: neither the loop's items nor the template's "
        "parameters have 'nmae'; did you mean 'name'?"
    )
    assert flatten(template(rows=[{"nmae": "a", "paid": 1}])) == b"\n  a $"
    assert flatten(template(rows=[{"paid": 1}], nmae="p")) == b"\n  p $"
    with pytest.raises(MissingNameError, match="have 'paid'"):
        template(rows=[{"nmae": "a"}])


def test_strict_mode_in_an_item_loop():
    template = Template("{@rows:row}{row}{rwo}{/rows}", strict=True)
    assert flatten(template(rows=[1], rwo="")) == b"1"
    with pytest.raises(MissingNameError, match="did you mean 'row'"):
        template(rows=[1])


def test_strict_mode_in_mapping_loops_inside_item_loops(rows):
    template = Template("{@outer:o}{@o}{name}{o}{x}{/o}{/outer}", strict=True)
    assert flatten(template(outer=[rows[:1]], x="")) == b"&lt;a&gt;1&lt;a&gt;"
    with pytest.raises(MissingNameError, match="have 'x'"):
        template(outer=[rows[:1]])


def test_not_strict_is_the_0_0_8_behaviour():
    template = Template("{a}{?b}B{/b}{@rows}{c}{/rows}", strict=False)
    assert flatten(template(rows=[{}])) == b"{a}{c}"


def test_strict_none_is_strict_under_pytest(monkeypatch):
    template = Template("[{a}]", strict=None)
    with pytest.raises(MissingNameError):
        template()
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.delenv("KALI_DEBUG", raising=False)
    assert flatten(template()) == b"[{a}]"
    monkeypatch.setenv("KALI_DEBUG", "0")
    assert flatten(template()) == b"[{a}]"
    monkeypatch.setenv("KALI_DEBUG", "1")
    with pytest.raises(MissingNameError):
        template()
    assert compiler.is_strict_by_default()


def test_missing_names_raise_even_when_not_strict():
    for text, name in [("{.a}", "a"), ("{a:num}", "a"), ("{@a:x}{/a}", "a")]:
        with pytest.raises(MissingNameError) as caught:
            Template(text, strict=False)()
        assert caught.value.name == name
        assert "strict mode" not in str(caught.value)


def test_the_default_template_pays_nothing_for_strict_mode():
    source = Template("{a}{?b}{/b}{@rows}{c}{?d}{/d}{/rows}").python_source
    assert "missing(" not in source.replace("missing_name(", "")
    strict = Template("{a}{?b}{/b}", strict=True).python_source
    assert "t(missing(k, (params,), b'{a}'))" in strict
    assert "v = missing(k, (params,), None)" in strict


def test_strict_must_be_a_bool_or_none():
    with pytest.raises(TypeError, match="strict must be True, False or None"):
        Template("x", strict="yes")  # type: ignore[arg-type]


# -- formatters given to a template -----------------------------------------------


def test_given_formatters_come_before_the_registry():
    template = Template(
        "{p:money} {p:num} {p:cents}",
        formatters={"money": lambda n: f"${n:.2f}<", ":cents": lambda n: "c"},
    )
    assert flatten(template(p=1234)) == b"$1234.00&lt; 1,234 c"


def test_given_formatters_make_an_unknown_one_a_syntax_error():
    with pytest.raises(TemplateSyntaxError) as caught:
        Template("a\n {p:mony}", name="t.tpl", formatters={"money": str})
    assert str(caught.value).startswith(
        "t.tpl:2:2: unknown formatter ':mony' in {p:mony} (known: :cents, :date, "
        ":money, :num, :url)"
    )
    with pytest.raises(TemplateSyntaxError, match="unknown formatter ':red'"):
        Template("p{color:red}", formatters={})
    assert flatten(Template("p{color:red}")()) == b"p{color:red}"


# -- the compiled function -----------------------------------------------------


def test_generated_source_is_kept_for_debugging():
    template = Template("{@rows:row}{row}{/rows}")
    assert template.python_source.startswith("def render(params):")
    assert "for item_0 in iter_items(v, '{@rows:row}'):" in template.python_source


def test_names_never_reach_the_source_unquoted():
    template = Template("{__import__}{@rows:os}{os}{/rows}")
    assert "params['__import__']" in template.python_source
    assert "os" not in template.python_source.replace("'{@rows:os}'", "")
    assert flatten(template(rows=[1], __import__="i")) == b"i1"


def test_compiled_code_is_reused_for_the_same_source():
    compiler._compile_source.cache_clear()
    Template("{a} and {b}", name="same")
    Template("{a} and {b}", name="same")
    info = compiler._compile_source.cache_info()
    assert (info.hits, info.misses) == (1, 1)


hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")


class Everything(dict):  # type: ignore[type-arg]
    """Params that have every name: its value is hostile text."""

    def __missing__(self, key: str) -> str:
        return "<&>"


@hypothesis.given(strategies.text(alphabet="{}^/.:_ax\n<é", max_size=60))
def test_any_text_without_sections_compiles_and_renders(text):
    output = flatten(Template(text).sub(Everything()))
    if "{." not in text:  # no raw placeholder: every value was escaped
        assert b"<&>" not in output
    if "{" not in text:
        assert output == text.encode()


@hypothesis.given(
    strategies.lists(
        strategies.sampled_from(
            ["{?a}", "{!x}", "{:else}", "{/a}", "{/x}", "{@x:a}", "{^x}", "{a}", "<"]
        )
    ).map("".join)
)
def test_any_sections_compile_and_render_or_raise_a_syntax_error(text):
    try:
        template = Template(text)
    except TemplateSyntaxError:
        return
    output = flatten(template.sub(Everything(x=["<&>", ""])))
    assert b"<&>" not in output


def test_strict_message_without_names_to_suggest():
    class NoKeys:
        def __getitem__(self, key: str) -> Any:
            raise KeyError(key)

    template = Template("{a}", strict=True)
    with pytest.raises(MissingNameError) as caught:
        template.sub(NoKeys())  # type: ignore[arg-type]
    assert str(caught.value) == (
        "<template>:1:1: {a}: the template's parameters have no 'a' "
        "(strict mode: to show nothing, pass a=None)"
    )
    with pytest.raises(MissingNameError, match="have no 'a' \\(strict"):
        template(b=1)  # nothing close to suggest
