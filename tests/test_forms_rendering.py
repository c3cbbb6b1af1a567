"""The default form renderer: whole forms, accessibility, escaping, hooks
(kali.forms.rendering), and Formlet's default display."""

import re
from html.parser import HTMLParser

import pytest

from kali import Bag, Fragment, Markup, Response, Router, Template, flatten
from kali.forms import (
    BLANKABLE,
    DATE,
    NULLABLE,
    Checkbox,
    DecimalLens,
    Entry,
    EnumLens,
    FieldView,
    Form,
    FormElement,
    Formlet,
    FormView,
    Hidden,
    IntegerLens,
    ListLens,
    Memo,
    NumberEntry,
    Pick,
    RadioGroup,
    Required,
    SaveError,
    SubmitGuard,
    Upload,
    render_form,
    tag,
)
from kali.forms.formlet import EXPIRED_MESSAGE
from kali.forms.rendering import render_field, render_layout, view_field
from kali.testing import Client

HOSTILE = "\"'><script>alert(1)</script>&amp;"
HOSTILE_ESCAPED = "&quot;&#x27;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;"


def html(iolist):
    return flatten(iolist).decode("utf-8")


class Elements(HTMLParser):
    """Every start tag's attributes, and the text of every element by id."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.text_by_id = {}
        self._open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        self._open.append(attributes.get("id"))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for element_id in self._open:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data

    def find(self, tag, **wanted):
        found = [
            attributes
            for kind, attributes in self.tags
            if kind == tag and all(attributes.get(k) == v for k, v in wanted.items())
        ]
        assert len(found) == 1, (tag, wanted, found)
        return found[0]


def person_elements():
    return {
        "name": Entry(label="Name", maxlength=80),
        "born": Entry(label="Born", lens=DATE, type="date"),
        "age": NumberEntry(label="Age", lens=Required(IntegerLens(0, 150))),
        "budget": NumberEntry(label="Budget", lens=DecimalLens(places=2)),
        "kind": Pick(EnumLens(["person", "company"]), "choose a kind", label="Kind"),
        "size": RadioGroup(ListLens(["S", "M"]), "pick a size.", label="Size"),
        "vip": Checkbox(label="VIP"),
        "notes": Memo(label="Notes", lens=BLANKABLE),
        "ref": Hidden(),
    }


# -- one call, the whole form --------------------------------------------------------


def test_a_whole_form_in_one_call():
    form = Form(person_elements())
    out = html(form.render_form(form.from_native({"budget": 89.9}), submit="Add"))
    assert out.startswith('<form method="post">\n')
    assert out.endswith(
        '<p class="actions"><button type="submit">Add</button></p>\n</form>\n'
    )
    parsed = Elements(out)
    for name in ("name", "born", "age", "budget", "kind", "notes", "vip"):
        parsed.find("label", **{"for": name})  # each label points at its control
    parsed.find("input", id="name", name="name", value="")
    parsed.find("input", id="budget", name="budget", value="89.90")
    parsed.find("textarea", id="notes")
    parsed.find("select", id="kind")
    parsed.find("fieldset", id="size")
    parsed.find("input", type="hidden", name="ref")
    assert out.count('<div class="field">') == 8  # every visible field, no errors
    assert 'role="alert"' not in out  # no summary without errors
    assert "aria-invalid" not in out and "error" not in out
    assert "type=" not in re.search(r"<textarea[^>]*>", out).group()


def test_required_follows_the_lens_and_the_required_message():
    out = Elements(html(render_form(person_elements(), {})))
    assert "required" in out.find("input", name="name")  # TYPICAL
    assert "required" not in out.find("input", name="born")  # DATE allows blank
    assert "required" in out.find("input", name="age")  # Required(IntegerLens)
    assert "required" not in out.find("input", name="budget")
    assert "required" in out.find("select", name="kind")  # required message
    assert "required" in out.find("input", name="size", value="S")
    assert out.find("fieldset", id="size").get("aria-required") is None
    assert "required" not in out.find("input", name="vip")
    assert "required" not in out.find("textarea", name="notes")  # BLANKABLE
    assert "required" not in out.find("input", name="ref")  # never on hidden
    optional = Elements(html(render_form({"n": Entry(lens=NULLABLE)}, {})))
    assert "required" not in optional.find("input", name="n")
    box = Elements(html(render_form({"ok": Checkbox(required="tick it.")}, {})))
    assert "required" in box.find("input", name="ok")
    upload = Elements(html(render_form({"f": Upload(required="a file.")}, {})))
    assert "required" in upload.find("input", name="f")


def test_errors_are_tied_to_their_fields():
    elements = person_elements()
    posted = Form(elements).parse(Bag([("born", "2030-02-30"), ("age", "x")]))
    out = html(render_form(elements, posted.intermediate, posted.errors))
    parsed = Elements(out)
    for name, control in (("name", "input"), ("born", "input"), ("kind", "select")):
        attributes = parsed.find(control, name=name)
        assert attributes["aria-invalid"] == "true"
        assert attributes["aria-describedby"] == f"{name}-error"
        assert parsed.text_by_id[f"{name}-error"] == posted.errors[name]
    group = parsed.find("fieldset", id="size")
    assert group["role"] == "radiogroup" and group["aria-invalid"] == "true"
    assert (
        group["aria-describedby"] == "size-error" and group["aria-required"] == "true"
    )
    assert parsed.text_by_id["born-error"] == "does not look like a date (YYYY-MM-DD)."
    assert "aria-invalid" not in parsed.find("textarea", name="notes")
    assert out.count('<div class="field invalid">') == len(posted.errors)
    # The user's own input is shown again.
    assert parsed.find("input", name="born")["value"] == "2030-02-30"
    assert parsed.find("input", name="age")["value"] == "x"


def test_the_renderer_escapes_values_labels_errors_and_the_button():
    elements = {
        "a": Entry(label=HOSTILE, id=HOSTILE),
        "b": Memo(label="B", lens=BLANKABLE),
        "c": Pick(ListLens([HOSTILE]), label="C"),
        "d": Hidden(),
    }
    raw = {"a": HOSTILE, "b": "</textarea>" + HOSTILE, "c": HOSTILE, "d": HOSTILE}
    errors = {"a": HOSTILE, "b": Markup("<b>trusted?</b>"), "d": HOSTILE, "x": HOSTILE}
    out = html(
        render_form(
            elements, raw, errors, submit=HOSTILE, action=HOSTILE, method="post"
        )
    )
    assert "<script>" not in out and "<b>" not in out
    assert "</textarea>&" not in out
    assert f'<label for="{HOSTILE_ESCAPED}">{HOSTILE_ESCAPED}</label>' in out
    assert f'value="{HOSTILE_ESCAPED}"' in out
    assert f'id="{HOSTILE_ESCAPED}-error">{HOSTILE_ESCAPED}</span>' in out
    assert "&lt;b&gt;trusted?&lt;/b&gt;</span>" in out  # error text is never markup
    assert f'<button type="submit">{HOSTILE_ESCAPED}</button>' in out
    assert f'action="{HOSTILE_ESCAPED}"' in out
    # Errors without a visible field go to the summary, escaped.
    summary = re.search(r'<ul class="errors" role="alert">.*?</ul>', out).group()
    assert f"<li><strong>d</strong>: {HOSTILE_ESCAPED}</li>" in summary
    assert f"<li>{HOSTILE_ESCAPED}</li>" in summary
    assert "aria-invalid" not in re.search(r'<input type="hidden"[^>]*>', out).group()
    Elements(out)  # and it parses


def test_enctype_action_method_and_no_button():
    out = html(render_form({"f": Upload()}, {}, submit=None, action="/up"))
    assert out.startswith(
        '<form method="post" action="/up" enctype="multipart/form-data">'
    )
    assert "<button" not in out
    out = html(render_form({"q": Entry()}, {}, method="get", enctype="text/plain"))
    assert out.startswith('<form method="get" enctype="text/plain">')


def test_the_guard_token_goes_inside_the_form():
    guard = SubmitGuard()
    token = guard.issue()
    out = html(render_form({"n": Entry()}, {"n": "x"}, hidden=guard.render(token)))
    assert f'<input type="hidden" name="submit_token" value="{token}"/>\n<p' in out
    assert out.index(token) < out.index("</form>")


def test_missing_values_show_blank():
    out = html(render_form(person_elements(), {}))
    assert 'name="name" value=""' in out and "checked" not in out


# -- hooks ------------------------------------------------------------------------


def test_override_one_field():
    seen = []

    def notes(field):
        seen.append(field)
        return Fragment(["<p>", field.label, field.control, field.error, "</p>"])

    out = html(
        render_form(
            person_elements(),
            {"notes": "hi"},
            {"notes": "too short."},
            fields={"notes": notes},
        )
    )
    (field,) = seen
    assert isinstance(field, FieldView)
    assert (field.name, field.value, field.message) == ("notes", "hi", "too short.")
    assert field.error_id == "notes-error" and isinstance(field.element, Memo)
    assert '<p><label for="notes">Notes</label><textarea id="notes"' in out
    assert 'aria-invalid="true"' in out and "</textarea><span class" in out
    assert out.count('<div class="field') == 7


def test_override_names_an_unknown_field():
    with pytest.raises(ValueError, match="nome"):
        render_form({"name": Entry()}, {}, fields={"nome": render_field})


def test_render_field_for_every_field_and_a_layout():
    def as_row(field):
        return Fragment(
            ["<tr><th>", field.label, "</th><td>", field.control, "</td></tr>"]
        )

    def table(form):
        assert isinstance(form, FormView)
        assert list(form.blocks) == ["a", "b"] and list(form.views) == ["a", "b"]
        return Fragment(
            [form.start, "<table>", *form.fields, "</table>", form.submit, form.end]
        )

    out = html(
        render_form(
            {"a": Entry(label="A"), "b": Entry(label="B")},
            {},
            render_field=as_row,
            layout=table,
        )
    )
    assert out.startswith('<form method="post"><table><tr><th><label for="a">A</label>')
    assert out.endswith(
        '</table><p class="actions"><button type="submit">Save</button></p>\n</form>\n'
    )


def test_a_template_as_layout():
    template = Template("{.start}<fieldset>{.a}</fieldset>{.summary}{.submit}{.end}")
    out = html(
        render_form(
            {"a": Entry(label="A")},
            {},
            {"a": "x"},
            layout=lambda form: template(**form.as_dict(), **form.blocks),
        )
    )
    assert out.startswith('<form method="post"><fieldset><div class="field invalid">')
    assert out.endswith("</button></p>\n</form>\n")


def test_default_layout_pieces():
    form = Form({"a": Entry()})
    pieces = []
    out = html(
        form.render_form(
            {"a": "1"}, layout=lambda view: pieces.append(view) or render_layout(view)
        )
    )
    (view,) = pieces
    assert view.as_dict().keys() == {
        "start",
        "summary",
        "fields",
        "hidden",
        "submit",
        "end",
    }
    assert out == html(form.render_form({"a": "1"}))


# -- elements the renderer does not know ---------------------------------------------


class Stars(FormElement):
    """A 0.0.8-style custom element: old method names, its own HTML."""

    def n2i(self, value):
        return str(value or 0)

    def p2i(self, name, POST):  # noqa: N803
        return POST.get(name, "0")

    def i2h(self, name, intermediate):
        return tag(
            "span", {"class": "stars", "data-name": name}, "★" * int(intermediate)
        )

    def i2n(self, intermediate):
        return int(intermediate)


def test_a_custom_element_keeps_its_own_html():
    out = html(render_form({"s": Stars()}, {"s": "3"}, {"s": "too many."}))
    assert (
        '<div class="field invalid"><span class="stars" data-name="s">★★★</span>' in out
    )
    assert '<span class="error" id="s-error">too many.</span>' in out
    view = view_field(Stars(), "s", "2")
    assert view.label == [] and html(view.control).count("★") == 2


def test_a_subclass_overriding_i2h_of_a_standard_element_is_used_by_the_renderer():
    class Chosen(Hidden):  # as the datebook's ContactChoice does
        def i2h(self, name, intermediate):
            return Markup(f"<b>chosen {intermediate}</b>")

    out = html(render_form({"c": Chosen(label="With")}, {"c": "7"}))
    assert '<div class="field"><b>chosen 7</b></div>' in out


# -- Formlet uses it by default ------------------------------------------------------


def make_app(saved, *, guard=None, display=None):
    router = Router()

    @router.servlet("/person")
    class Person(Formlet):
        title = "New <person>"
        submit_label = "Add"

        def __init__(self):
            super().__init__(person_elements(), guard=guard)

        def get_native(self):
            return {"budget": 12.5}

        def save(self, native, request):
            if native["name"] == "taken":
                raise SaveError({"name": "is taken.", "record": "not saved."})
            saved.append(native)
            return Response.redirect("/done")

    if display is not None:
        Person.display = display
    return Client(router)


def test_formlet_without_display_shows_a_whole_page():
    page = make_app([]).get("/person")
    assert page.status == 200
    assert page.text.startswith("<!DOCTYPE html>")
    assert "<title>New &lt;person&gt;</title>" in page.text
    assert "<h1>New &lt;person&gt;</h1>" in page.text
    assert '<button type="submit">Add</button>' in page.text
    assert 'name="budget" value="12.50"' in page.text
    assert '<label for="name">Name</label>' in page.text


def test_formlet_default_display_shows_errors_and_saves():
    saved = []
    client = make_app(saved)
    page = client.post("/person", data={"name": "", "age": "200"})
    assert page.status == 200 and saved == []
    assert '<span class="error" id="age-error">must be at most 150.</span>' in page.text
    assert 'aria-describedby="name-error"' in page.text
    refused = client.post(
        "/person", data={"name": "taken", "age": "3", "kind": "0", "size": "S"}
    )
    assert '<span class="error" id="name-error">is taken.</span>' in refused.text
    assert "<li>not saved.</li>" in refused.text
    done = client.post(
        "/person", data={"name": "Al", "age": "3", "kind": "0", "size": "S"}
    )
    assert done.status == 302 and saved[0]["age"] == 3


def test_formlet_default_display_with_a_guard():
    guard = SubmitGuard()
    saved = []
    client = make_app(saved, guard=guard)
    page = client.get("/person")
    token = re.search(r'name="submit_token" value="([^"]+)"', page.text).group(1)
    assert page.text.index(token) < page.text.index("</form>")
    data = {"name": "Al", "age": "3", "kind": "0", "size": "S", "submit_token": "old"}
    expired = client.post("/person", data=data)
    assert f"<li>{EXPIRED_MESSAGE}</li>" in expired.text
    assert "<strong>" not in expired.text  # the guard's message has no prefix
    assert client.post("/person", data={**data, "submit_token": token}).status == 302
    assert client.post("/person", data={**data, "submit_token": token}).status == 302
    assert len(saved) == 1


def test_formlet_with_its_own_display_keeps_the_0_0_8_behaviour():
    calls = []

    def display(self, fields, errors):
        calls.append((fields, errors))
        return Fragment(["<main>", self.render_form(errors, action="/x"), "</main>"])

    page = make_app([], guard=SubmitGuard(), display=display).get("/person")
    ((fields, errors),) = calls
    assert set(fields) == set(person_elements()) | {"submit_token"}
    assert html(fields["budget"]).endswith('name="budget" value="12.50"/>')
    assert errors == {}
    assert page.text.startswith('<main><form method="post" action="/x">')
    assert page.text.count('name="submit_token"') == 1


def test_formlet_render_field_hook():
    router = Router()

    @router.servlet("/note")
    class Quiet(Formlet):
        def __init__(self):
            super().__init__({"name": Entry(label="Name"), "notes": Memo()})

        def get_native(self):
            return {"name": "x"}

        def render_field(self, field):
            if field.name == "notes":
                return Markup("<p>no notes here</p>")
            return super().render_field(field)

    out = Client(router).get("/note").text
    assert "<p>no notes here</p>" in out and "<textarea" not in out
    assert '<div class="field"><label for="name">Name</label>' in out
