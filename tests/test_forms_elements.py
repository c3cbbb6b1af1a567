"""Form elements and HTML helpers: exact HTML, escaping, reading posts (kali.forms)."""

import datetime
from decimal import Decimal

import pytest

from kali import Bag, FileUpload, Fragment, Markup, Template, flatten
from kali.forms import (
    BLANKABLE,
    DATE,
    NULLABLE,
    TYPICAL,
    Checkbox,
    DecimalLens,
    EmailEntry,
    Entry,
    EnumLens,
    FormElement,
    Hidden,
    IntegerLens,
    ListLens,
    Memo,
    NumberEntry,
    Pick,
    RadioGroup,
    Required,
    Upload,
    ValidationError,
    option,
    render_error,
    render_errors,
    render_label,
    tag,
)

HOSTILE = "\"'><script>alert(1)</script>&amp;"
HOSTILE_ESCAPED = "&quot;&#x27;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;"


def html(iolist):
    return flatten(iolist).decode("utf-8")


def post(*pairs):
    return Bag(pairs)


# -- tag and option ---------------------------------------------------------------


def test_tag_self_closing_with_bare_and_escaped_attributes():
    out = tag("input", {"type": "text", "required": None, "value": HOSTILE}, None)
    assert isinstance(out, Fragment)
    assert html(out) == f'<input type="text" required value="{HOSTILE_ESCAPED}"/>'


def test_tag_content_is_raw_and_attribute_names_are_escaped():
    assert html(tag("b", {}, "<i>x</i>")) == "<b><i>x</i></b>"
    assert html(tag("p", {'a"b': "1"}, "")) == '<p a&quot;b="1"></p>'
    assert html(tag("ul", {}, [tag("li", {}, "1"), tag("li", {}, "2")])) == (
        "<ul><li>1</li><li>2</li></ul>"
    )


def test_tag_escapes_markup_in_attribute_values():
    assert html(tag("a", {"title": Markup('x"y')}, "")) == '<a title="x&quot;y"></a>'


def test_option():
    assert html(option("v", "Label", False)) == '<option value="v">Label</option>'
    assert (
        html(option("v", "Label", True)) == '<option selected value="v">Label</option>'
    )
    assert html(option(HOSTILE, HOSTILE, False)) == (
        f'<option value="{HOSTILE_ESCAPED}">{HOSTILE_ESCAPED}</option>'
    )


def test_tag_output_is_trusted_by_templates():
    page = Template("<p>{field}</p>")
    out = html(page(field=Entry().i2h("n", HOSTILE)))
    assert out == f'<p><input type="text" name="n" value="{HOSTILE_ESCAPED}"/></p>'


# -- Entry and Memo (kali 0.0.8 HTML) ----------------------------------------------


def test_entry_html_as_in_0_0_8():
    element = Entry(lens=DATE, type="date", _class="when", maxlength=10)
    assert html(element.i2h("d", "2020-01-01")) == (
        '<input type="date" class="when" maxlength="10" name="d" value="2020-01-01"/>'
    )
    assert html(Entry().i2h("name", "Zoë")) == (
        '<input type="text" name="name" value="Zoë"/>'
    )


def test_entry_escapes_hostile_values_and_attributes():
    element = Entry(placeholder=HOSTILE)
    assert html(element.i2h("n", HOSTILE)) == (
        f'<input type="text" placeholder="{HOSTILE_ESCAPED}" name="n"'
        f' value="{HOSTILE_ESCAPED}"/>'
    )


def test_entry_conversions():
    element = Entry(lens=DATE)
    assert element.n2i(datetime.date(2020, 1, 2)) == "2020-01-02"
    assert element.n2i(None) == ""
    assert element.p2i("d", post(("d", " 2020-01-02 "))) == " 2020-01-02 "
    assert element.i2n(" 2020-01-02 ") == datetime.date(2020, 1, 2)
    with pytest.raises(ValidationError):
        Entry().i2n("  ")


def test_entry_missing_or_non_text_field_is_empty():
    assert Entry().p2i("n", Bag()) == ""
    upload = FileUpload("a.txt", "text/plain", b"x")
    assert Entry().p2i("n", post(("n", upload))) == ""


def test_entry_maxlength_truncates_silently():
    element = Entry(maxlength=3)
    assert element.p2i("n", post(("n", "abcdef"))) == "abc"
    assert element.p2i("n", post(("n", "é中🐍x"))) == "é中🐍"


def test_entry_last_value_wins():
    assert Entry().p2i("n", post(("n", "a"), ("n", "b"))) == "b"


def test_memo_html():
    assert html(Memo(rows=3).i2h("notes", "a <b> & c")) == (
        '<textarea rows="3" name="notes">a &lt;b&gt; &amp; c</textarea>'
    )


@pytest.mark.parametrize("key", ["type", "TYPE", "_type"])
def test_memo_never_writes_a_type_attribute(key):
    memo = Memo(**{key: "text", "label": "Notes"})
    for out in (memo.i2h("n", "x"), memo.render("n", "x"), memo.render_parts("n", "")):
        assert "type=" not in html(out).lower()


def test_memo_cannot_be_closed_by_input_and_keeps_a_leading_newline():
    assert html(Memo().i2h("m", "</textarea><script>")) == (
        '<textarea name="m">&lt;/textarea&gt;&lt;script&gt;</textarea>'
    )
    assert html(Memo().i2h("m", "\nfirst")) == '<textarea name="m">\n\nfirst</textarea>'


# -- labels and ids --------------------------------------------------------------


def test_label_wires_id_for_focus():
    out = html(Entry(label="Full <name>").i2h("name", ""))
    assert out == (
        '<label for="name">Full &lt;name&gt;</label>'
        ' <input type="text" id="name" name="name" value=""/>'
    )


def test_explicit_id_is_kept_and_used_by_the_label():
    element = Entry(label="Name", id="person-name")
    assert element.element_id("name") == "person-name"
    assert html(element.i2h("name", "")) == (
        '<label for="person-name">Name</label>'
        ' <input type="text" id="person-name" name="name" value=""/>'
    )
    assert html(element.render_label("name")) == '<label for="person-name">Name</label>'
    assert html(Entry().render_label("x")) == ""


def test_memo_and_pick_labels():
    assert html(Memo(label="Notes").i2h("notes", "")) == (
        '<label for="notes">Notes</label> <textarea id="notes" name="notes"></textarea>'
    )
    out = html(Pick(ListLens(["a"]), label="Kind").i2h("kind", ""))
    assert out.startswith(
        '<label for="kind">Kind</label> <select id="kind" name="kind">'
    )


def test_render_label():
    assert html(render_label("a", HOSTILE, _x="1")) == (
        f'<label for="a" _x="1">{HOSTILE_ESCAPED}</label>'
    )


# -- new text inputs ------------------------------------------------------------------


def test_number_entry_derives_bounds_from_the_lens():
    element = NumberEntry(lens=Required(IntegerLens(0, 150)))
    assert html(element.i2h("age", "3")) == (
        '<input type="number" min="0" max="150" name="age" value="3"/>'
    )
    assert element.i2n(" 42 ") == 42
    with pytest.raises(ValidationError):
        element.i2n("151")
    with pytest.raises(ValidationError):
        element.i2n("")


def test_number_entry_decimal_step():
    assert 'step="0.01"' in html(NumberEntry(lens=DecimalLens(places=2)).i2h("x", ""))
    assert 'step="0.00001"' in html(
        NumberEntry(lens=DecimalLens(places=5)).i2h("x", "")
    )
    assert 'step="any"' in html(NumberEntry(lens=DecimalLens()).i2h("x", ""))
    explicit = NumberEntry(lens=DecimalLens(places=2), step="0.5", min="-1")
    out = html(explicit.i2h("x", ""))
    assert 'step="0.5"' in out and 'min="-1"' in out
    assert NumberEntry(lens=DecimalLens()).i2n("1.5") == Decimal("1.5")


def test_number_entry_with_a_non_number_lens_derives_nothing():
    out = html(NumberEntry(lens=NULLABLE).i2h("x", "1"))
    assert out == '<input type="number" name="x" value="1"/>'
    assert NumberEntry().i2n("") is None


def test_email_entry():
    element = EmailEntry(label="E-mail")
    assert html(element.i2h("email", HOSTILE)) == (
        '<label for="email">E-mail</label> <input type="email" id="email"'
        f' name="email" value="{HOSTILE_ESCAPED}"/>'
    )
    assert element.i2n(" zoë@example.org ") == "zoë@example.org"
    with pytest.raises(ValidationError):
        element.i2n("nope")


def test_hidden():
    element = Hidden()
    assert html(element.i2h("id", "7")) == '<input type="hidden" name="id" value="7"/>'
    assert element.i2n(element.p2i("id", post(("id", "7")))) == "7"
    assert element.i2n(element.p2i("id", Bag())) == ""


# -- Pick -----------------------------------------------------------------------------


COLOURS = EnumLens(["red", "green", "<blue>"])


def test_pick_single_html_with_blank_option():
    assert html(Pick(COLOURS).i2h("c", "1")) == (
        '<select name="c"><option value=""></option>'
        '<option value="0">red</option><option selected value="1">green</option>'
        '<option value="2">&lt;blue&gt;</option></select>'
    )


def test_pick_blank_option_rule():
    required = Pick(COLOURS, required="choose one")
    assert 'value=""' not in html(required.i2h("c", "0"))
    assert '<option value=""></option>' in html(required.i2h("c", ""))
    assert '<option value=""></option>' in html(Pick(COLOURS).i2h("c", "0"))


def test_pick_multiple_html():
    element = Pick(COLOURS, multiple=True, size=3)
    assert html(element.i2h("c", {"0", "2"})) == (
        '<select size="3" multiple="" name="c"><option selected value="0">red</option>'
        '<option value="1">green</option>'
        '<option selected value="2">&lt;blue&gt;</option></select>'
    )


def test_pick_multiple_attribute_is_refused():
    with pytest.raises(ValueError):
        Pick(COLOURS, MULTIPLE="")
    with pytest.raises(ValueError):
        Pick(COLOURS, _Multiple="")


def test_pick_conversions():
    single = Pick(COLOURS, required="choose one")
    assert single.n2i(None) == ""
    assert single.n2i(2) == "2"
    assert single.p2i("c", post(("c", "2"))) == "2"
    assert single.p2i("c", Bag()) == ""
    assert single.i2n("2") == 2
    with pytest.raises(ValidationError, match="choose one"):
        single.i2n("")
    with pytest.raises(ValidationError, match="invalid selection"):
        single.i2n("nope")
    assert Pick(COLOURS).i2n("") is None


def test_pick_multiple_conversions():
    multiple = Pick(COLOURS, multiple=True)
    assert multiple.n2i(None) == set()
    assert multiple.n2i([0, 2]) == {"0", "2"}
    assert multiple.p2i("c", post(("c", "0"), ("c", "2"))) == ["0", "2"]
    assert multiple.p2i("c", Bag()) == []
    assert multiple.i2n(["0", "2"]) == {0, 2}
    assert multiple.i2n([]) == set()
    with pytest.raises(ValidationError, match="pick"):
        Pick(COLOURS, required="pick", multiple=True).i2n([])


def test_pick_reads_getlist_spelling_too():
    class WerkzeugStyle:
        def get(self, name, default=None):
            return default

        def getlist(self, name):
            return ["1"]

    assert Pick(COLOURS, multiple=True).p2i("c", WerkzeugStyle()) == ["1"]


def test_pick_refuses_a_lens_yielding_non_strings():
    class Bad(EnumLens):
        def string_pairs(self):
            yield 1, "one"

    with pytest.raises(TypeError):
        html(Pick(Bad(["x"])).i2h("c", ""))


def test_pick_value_label_pairs_is_abstract():
    with pytest.raises(NotImplementedError):
        Pick(COLOURS).value_label_pairs()


# -- RadioGroup and Checkbox -----------------------------------------------------------


def test_radio_group_html():
    element = RadioGroup(ListLens(["a", '"b"']), _class="r")
    assert html(element.i2h("k", '"b"')) == (
        '<input type="radio" id="k-0" class="r" name="k" value="a"/>'
        ' <label for="k-0">a</label> '
        '<input type="radio" id="k-1" class="r" name="k"'
        ' value="&quot;b&quot;" checked/>'
        ' <label for="k-1">&quot;b&quot;</label> '
    )


def test_radio_group_with_label_is_a_fieldset():
    out = html(RadioGroup(ListLens(["a"]), label="<Kind>", id="kind").i2h("k", ""))
    assert out == (
        '<fieldset id="kind"><legend>&lt;Kind&gt;</legend>'
        '<input type="radio" id="kind-0" name="k" value="a"/>'
        ' <label for="kind-0">a</label> </fieldset>'
    )


def test_radio_group_conversions():
    element = RadioGroup(COLOURS, required="pick a colour")
    assert element.n2i(1) == "1"
    assert element.p2i("c", post(("c", "1"))) == "1"
    assert element.p2i("c", Bag()) == ""
    assert element.i2n("1") == 1
    with pytest.raises(ValidationError, match="pick a colour"):
        element.i2n("")
    assert RadioGroup(COLOURS).i2n("") is None
    with pytest.raises(ValidationError, match="invalid selection"):
        element.i2n("x")


def test_checkbox_html():
    assert html(Checkbox().i2h("ok", False)) == (
        '<input type="checkbox" name="ok" value="on"/>'
    )
    assert html(Checkbox(label="I <agree>", _class="c").i2h("ok", True)) == (
        '<input type="checkbox" id="ok" class="c" name="ok" value="on" checked/>'
        ' <label for="ok">I &lt;agree&gt;</label>'
    )


def test_checkbox_conversions():
    element = Checkbox(value="yes")
    assert element.n2i(None) is False
    assert element.n2i(1) is True
    assert element.p2i("ok", post(("ok", "yes"))) is True
    assert element.p2i("ok", post(("ok", "no"))) is False
    assert element.p2i("ok", Bag()) is False
    assert element.i2n(True) is True
    assert element.i2n(False) is False
    with pytest.raises(ValidationError, match="must agree"):
        Checkbox(required="must agree").i2n(False)


# -- Upload ---------------------------------------------------------------------------


def test_upload_html_never_has_a_value():
    element = Upload(
        content_types=["image/*"], extensions=["png", ".JPG"], label="Photo"
    )
    assert html(element.i2h("photo", FileUpload("x.png", "image/png", b"1"))) == (
        '<label for="photo">Photo</label> <input type="file" id="photo"'
        ' accept="image/*,.png,.jpg" name="photo"/>'
    )
    assert element.n2i("stored-name.png") is None


def test_upload_returns_the_file_object():
    upload = FileUpload("C:\\fake\\..\\a.png", "image/png", b"\x89PNG")
    element = Upload(max_bytes=10, content_types=["image/png"], extensions=[".png"])
    assert element.i2n(element.p2i("f", post(("f", upload)))) is upload


@pytest.mark.parametrize(
    "posted", [None, "", FileUpload("", "application/octet-stream", b"")]
)
def test_upload_no_file_chosen(posted):
    assert Upload().i2n(posted) is None
    with pytest.raises(ValidationError, match="choose a file"):
        Upload(required="choose a file").i2n(posted)


def test_upload_missing_field_is_empty():
    element = Upload()
    assert element.i2n(element.p2i("f", Bag())) is None


def test_upload_an_empty_named_file_is_a_file():
    upload = FileUpload("empty.txt", "text/plain", b"")
    assert Upload().i2n(upload) is upload


def test_upload_limits():
    big = FileUpload("a.png", "image/png", b"x" * 2048)
    assert Upload(max_bytes=2048).i2n(big) is big
    with pytest.raises(ValidationError, match=r"too large \(at most 1 KiB\)"):
        Upload(max_bytes=1024).i2n(big)
    with pytest.raises(ValidationError, match="at most 10 bytes"):
        Upload(max_bytes=10).i2n(big)
    with pytest.raises(ValidationError, match="at most 1.5 MiB"):
        Upload(max_bytes=3 << 19).i2n(FileUpload("a", "b/c", b"x" * (2 << 20)))

    class Huge:
        filename, content_type, size = "a.iso", "b/c", 3 << 30

    with pytest.raises(ValidationError, match="at most 1 GiB"):
        Upload(max_bytes=1 << 30).i2n(Huge())


def test_upload_types_and_extensions():
    png = FileUpload("photo.PNG", "Image/PNG; x=y", b"1")
    assert Upload(content_types=["image/*"]).i2n(png) is png
    assert Upload(content_types=["image/png"]).i2n(png) is png
    assert Upload(extensions=["png"]).i2n(png) is png
    with pytest.raises(ValidationError, match="type application/pdf"):
        Upload(content_types=["application/pdf"]).i2n(png)
    with pytest.raises(ValidationError, match="type text/"):
        Upload(content_types=["text/*"]).i2n(png)
    with pytest.raises(ValidationError, match=r"ending in \.csv"):
        Upload(extensions=[".csv"]).i2n(png)


def test_upload_sent_without_multipart_is_explained():
    with pytest.raises(ValidationError, match="multipart/form-data"):
        Upload().i2n("photo.png")


def test_upload_without_a_size_attribute():
    class Plain:
        filename = "a.txt"
        content_type = "text/plain"
        content = b"abcdef"

    with pytest.raises(ValidationError, match="too large"):
        Upload(max_bytes=5).i2n(Plain())


# -- the element contract and its readable aliases -------------------------------------


def test_form_element_base_is_abstract():
    element = FormElement()
    for method, args in [
        ("n2i", (None,)),
        ("p2i", ("x", Bag())),
        ("i2h", ("x", "")),
        ("i2n", ("",)),
    ]:
        with pytest.raises(NotImplementedError):
            getattr(element, method)(*args)


def test_readable_aliases_call_the_0_0_8_methods():
    element = Entry(lens=IntegerLens())
    assert element.to_text(5) == "5"
    assert element.from_form("n", post(("n", "6"))) == "6"
    assert html(element.render("n", "7")) == '<input type="text" name="n" value="7"/>'
    assert element.to_native("8") == 8


def test_a_subclass_may_override_either_spelling():
    class Old(FormElement):
        def n2i(self, value):
            return "old"

        def i2h(self, name, intermediate):
            return Markup("<old>")

    class New(FormElement):
        def to_text(self, native):
            return "new"

        def from_form(self, name, form):
            return form.get(name, "")

        def render(self, name, intermediate):
            return Markup("<new>")

        def to_native(self, intermediate):
            return intermediate.upper()

    assert Old().to_text(1) == "old" and Old().render("x", "") == "<old>"
    new = New()
    assert new.n2i(1) == "new"
    assert new.p2i("x", post(("x", "y"))) == "y"
    assert new.i2h("x", "") == "<new>"
    assert new.i2n("abc") == "ABC"


@pytest.mark.parametrize(
    "cls",
    [Entry, Memo, NumberEntry, EmailEntry, Hidden, Pick, RadioGroup, Checkbox, Upload],
)
def test_old_names_are_the_same_functions_as_the_new(cls):
    assert cls.n2i is cls.to_text
    assert cls.p2i is cls.from_form
    assert cls.i2h is cls.render
    assert cls.i2n is cls.to_native


class OldEntry(Entry):
    """A kali 0.0.8 subclass of a standard element: only the old names."""

    def n2i(self, value):
        return "n2i:" + super().n2i(value)

    def p2i(self, name, POST):  # noqa: N803
        return "p2i:" + super().p2i(name, POST)

    def i2h(self, name, intermediate):
        return Fragment(["<i2h>", super().i2h(name, intermediate)])

    def i2n(self, intermediate):
        return "i2n:" + super().i2n(intermediate)


def test_overriding_old_names_of_a_standard_element_takes_effect_everywhere():
    from kali.forms import Form, render_form

    element = OldEntry(lens=BLANKABLE)
    assert element.to_text("a") == "n2i:a"
    assert element.from_form("x", post(("x", "b"))) == "p2i:b"
    assert html(element.render("x", "c")).startswith("<i2h><input")
    assert element.to_native(" d ") == "i2n:d"
    # What kali calls: Form uses the readable names.
    form = Form({"x": element})
    assert form.from_native({"x": "a"}) == {"x": "n2i:a"}
    posted = form.parse(post(("x", "b")))
    assert posted.intermediate == {"x": "p2i:b"} and posted.native == {"x": "i2n:p2i:b"}
    assert html(form.render({"x": "c"})["x"]).startswith("<i2h><input")
    assert "<i2h><input" in html(render_form({"x": element}, {"x": "c"}))


def test_overriding_new_names_below_old_ones_takes_effect_under_the_old_names():
    class NewerEntry(OldEntry):
        def to_text(self, native):
            return "to_text:" + super().to_text(native)

        def render(self, name, intermediate):
            return Fragment(["<render>", super().render(name, intermediate)])

    element = NewerEntry(lens=BLANKABLE)
    assert element.n2i("a") == element.to_text("a") == "to_text:n2i:a"
    assert html(element.i2h("x", "c")).startswith("<render><i2h><input")
    assert element.i2n("d") == "i2n:d"  # inherited as it was


def test_render_parts_gives_label_and_control_and_takes_attributes():
    entry = Entry(label="Name", **{"aria-describedby": "hint"})
    label, control = entry.render_parts(
        "name", "x", {"aria-describedby": "name-error", "required": None}
    )
    assert html(label) == '<label for="name">Name</label>'
    assert html(control) == (
        '<input type="text" id="name" aria-describedby="hint name-error"'
        ' name="name" value="x" required/>'
    )
    assert not entry.renders_whole() and OldEntry().renders_whole()
    label, control = Checkbox(label="VIP").render_parts("v", True)
    assert html(label) == ""
    assert html(control) == (
        '<input type="checkbox" id="v" name="v" value="on" checked/>'
        ' <label for="v">VIP</label>'
    )
    with pytest.raises(NotImplementedError):
        FormElement().render_parts("x", "")


def test_is_required_and_is_hidden():
    assert Entry().is_required() and not Entry(lens=BLANKABLE).is_required()
    assert not Hidden(lens=TYPICAL).is_required() and Hidden().is_hidden()
    assert Entry(type="HIDDEN").is_hidden() and not Memo(type="hidden").is_hidden()
    assert Pick(ListLens(["a"]), "choose.").is_required()
    assert not Pick(ListLens(["a"])).is_required()
    assert not Pick(ListLens(["a"]), multiple=True).is_required()
    assert RadioGroup(ListLens(["a"]), "choose.").is_required()
    assert Checkbox(required="tick.").is_required() and not Checkbox().is_required()
    assert Upload(required="a file.").is_required() and not Upload().is_required()
    assert not FormElement().is_required() and not FormElement().is_hidden()
    assert Upload.needs_multipart and not Entry.needs_multipart


def test_decimal_entry_shows_its_places():
    entry = NumberEntry(lens=DecimalLens(places=2))
    assert entry.to_text(89.9) == "89.90"
    assert html(entry.render("p", entry.to_text(89.9))).endswith('value="89.90"/>')


# -- error lists -----------------------------------------------------------------------


def test_render_errors():
    errors = {"name": "may not be blank.", "email": HOSTILE, "": "Something <else>."}
    out = render_errors(errors, {"name": "Full name"})
    assert isinstance(out, Markup)
    assert out == (
        '<ul class="errors" role="alert">'
        "<li><strong>Full name</strong>: may not be blank.</li>"
        f"<li><strong>email</strong>: {HOSTILE_ESCAPED}</li>"
        "<li>Something &lt;else&gt;.</li></ul>"
    )
    assert render_errors({}) == "" and render_errors(None) == ""
    assert render_errors({"a": "b"}, css_class='x"').startswith('<ul class="x&quot;"')
    assert render_errors({"tok": "expired"}, {"tok": ""}) == (
        '<ul class="errors" role="alert"><li>expired</li></ul>'
    )


def test_render_error_for_one_field():
    assert render_error({"a": "<bad>"}, "a") == '<span class="error">&lt;bad&gt;</span>'
    assert render_error({"a": "bad"}, "b") == ""
    assert render_error(None, "b") == ""


def test_errors_dict_in_a_template_gives_0_0_8_lines():
    page = Template("{errors}")
    assert html(page(errors={"name": "may not be blank.", "x": "<b>"})) == (
        "name: may not be blank.\r\nx: &lt;b&gt;\r\n"
    )


def test_a_plain_dict_is_form_input_too():
    assert Entry().p2i("n", {"n": "x"}) == "x"
    assert Entry().p2i("n", {}) == ""
    multiple = Pick(COLOURS, multiple=True)
    assert multiple.p2i("c", {"c": ["0", "1"]}) == ["0", "1"]
    assert multiple.p2i("c", {"c": "2"}) == ["2"]
    assert multiple.p2i("c", {}) == []
    assert Checkbox().p2i("ok", {"ok": "on"}) is True


def test_a_custom_element_without_attributes_can_have_a_label():
    class Custom(FormElement):
        label = "Custom"

    assert Custom().element_id("x") == "x"
    assert html(Custom().render_label("x")) == '<label for="x">Custom</label>'
