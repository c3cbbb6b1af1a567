"""kali.templates.template: Template, AbstractTemplate, SubAssembly, TemplateLoop."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

import kali.templates
from kali.iolist import Fragment, Markup, flatten
from kali.templates import (
    AbstractTemplate,
    SubAssembly,
    Template,
    TemplateLoop,
    TemplateSyntaxError,
)


def test_public_names():
    assert set(kali.templates.__all__) == {
        "AbstractTemplate",
        "Fragment",
        "Markup",
        "MissingNameError",
        "SubAssembly",
        "Template",
        "TemplateFolder",
        "TemplateLoop",
        "TemplateSyntaxError",
    }
    assert kali.templates.Markup is Markup


def test_template_class_attributes():
    assert Template.PATTERN.pattern == r"{(\.?)([_a-zA-Z]\w*)(:\w+)?}"
    assert Template.REGISTRY[":num"](1234567) == "1,234,567"
    assert Template.REGISTRY[":cents"](1234.5) == "1,234.50"
    assert {":num", ":cents", ":url", ":date"} <= set(Template.REGISTRY)


def test_call_is_sub_with_keywords():
    template = Template("{a}{b}")
    assert template(a=1, b=2) == template.sub({"a": 1, "b": 2}) == [b"12"]


def test_any_name_may_be_a_parameter():
    template = Template("{self}{params}")
    assert template(self=1, params=2) == [b"12"]
    assert flatten(template.assembly(self="<{params}>")(params=3)) == b"<3>3"


def test_template_text_must_be_a_str():
    with pytest.raises(TypeError, match="must be a str, not bytes"):
        Template(b"{x}")  # type: ignore[arg-type]


def test_syntax_errors_name_the_template():
    with pytest.raises(TemplateSyntaxError) as caught:
        Template("{@rows}", name="inline")
    assert str(caught.value).startswith("inline:1:1: {@rows} is never closed")


def test_repr():
    assert repr(Template("{x}")) == "<Template <template> '{x}'>"
    assert repr(Template("x" * 50, name="n")) == f"<Template n '{'x' * 37}...'>"


def test_abstract_template_needs_sub():
    class Nothing(AbstractTemplate):
        pass

    with pytest.raises(NotImplementedError):
        Nothing()()


# -- assembly --------------------------------------------------------------------


def test_assembly_binds_templates_into_a_base():
    page = Template("<title>{title}</title><body>{.body}</body>{foobar}")
    user_page = page.assembly(
        title="Hello, {user}",
        body="<p>Hello, {user}</p>{.body}",
    )
    assert isinstance(user_page, SubAssembly)
    out = user_page(user="<Ann>", body=Markup("<hr>"), foobar="&")
    assert flatten(out) == (
        b"<title>Hello, &lt;Ann&gt;</title>"
        b"<body><p>Hello, &lt;Ann&gt;</p><hr></body>&amp;"
    )


def test_a_binding_may_use_the_callers_value_of_its_own_name():
    page = Template("[{title}]")
    framed = page.assembly(title="<{title}>")
    assert flatten(framed(title="a&b")) == b"[<a&amp;b>]"


def test_bound_output_is_trusted_not_escaped_twice():
    page = Template("{title}")
    assert flatten(page.assembly(title="<b>{x}</b>")(x="<")) == b"<b>&lt;</b>"


def test_assemblies_nest_without_limit():
    base = Template("<html>{.head}{.body}</html>")
    layout = base.assembly(head="<h>{title}</h>", body="<main>{.body}</main>")
    for level in range(50):
        layout = layout.assembly(body=f"<{level}>{{.body}}")
    out = layout(title="T", body="x")
    prefix = "".join(f"<{level}>" for level in range(50))  # outermost last
    assert flatten(out) == f"<html><h>T</h><main>{prefix}x</main></html>".encode()


def test_bindings_may_be_template_objects():
    body = Template("{x}")
    assembly = Template("[{.b}]").assembly(b=body)
    assert assembly.bindings["b"] is body
    assert flatten(assembly(x=1)) == b"[1]"


# -- TemplateLoop -----------------------------------------------------------------


@pytest.fixture
def rows() -> list[sqlite3.Row]:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    result = db.execute(
        "select 'a' as name, 1 as qty union all select '<b>', 2 order by 2"
    ).fetchall()
    db.close()
    return result


def make_loop(otherwise: Any = None) -> TemplateLoop:
    return TemplateLoop(
        "<ul class={cls}>", "<li>{name} {qty} {cls}</li>", "</ul>", otherwise
    )


def test_loop_without_context(rows):
    out = make_loop().loop(rows)
    assert isinstance(out, Fragment)
    assert flatten(out) == (
        b"<ul class={cls}><li>a 1 {cls}</li><li>&lt;b&gt; 2 {cls}</li></ul>"
    )


def test_loop_with_context(rows):
    out = make_loop().loop(rows, {"cls": "x", "name": "hidden"})
    assert flatten(out) == b"<ul class=x><li>a 1 x</li><li>&lt;b&gt; 2 x</li></ul>"


def test_loop_with_dicts_and_a_generator():
    items = ({"name": n, "qty": q} for n, q in [("a", 1), ("b", 2)])
    assert flatten(make_loop().loop(items, {"cls": "c"})) == (
        b"<ul class=c><li>a 1 c</li><li>b 2 c</li></ul>"
    )


def test_empty_loop_without_otherwise_is_an_empty_tuple():
    assert make_loop().loop([]) == ()
    assert make_loop("").loop([], {"cls": 1}) == ()
    assert make_loop("").otherwise is None


def test_empty_loop_with_otherwise_renders_it_with_the_context():
    loop = make_loop("<p>No {what}</p>")
    assert flatten(loop.loop(iter([]), {"what": "<rows>"})) == b"<p>No &lt;rows&gt;</p>"
    assert flatten(loop.loop([])) == b"<p>No {what}</p>"


def test_loop_parts_may_be_templates():
    body = Template("<{x}>")
    loop = TemplateLoop(Template("["), body, "]")
    assert loop.body is body
    assert flatten(loop.loop([{"x": 1}, {"x": 2}])) == b"[<1><2>]"


def test_loop_output_is_trusted_inside_another_template():
    out = Template("<div>{rows}</div>")(rows=make_loop().loop([{"name": "<"}]))
    assert flatten(out) == b"<div><ul class={cls}><li>&lt; {qty} {cls}</li></ul></div>"


@pytest.mark.parametrize("part", [None, 3, b"bytes", print])
def test_loop_parts_must_be_strs_or_templates(part):
    with pytest.raises(TypeError, match="expected a str or a template"):
        TemplateLoop(part, "", "")
