"""The Formlet cycle through kali.testing, the pure Form, and the SubmitGuard."""

import re
import sqlite3

import pytest

from kali import Bag, FileUpload, Fragment, Response, Router, Template, flatten
from kali.forms import (
    BLANKABLE,
    DATE,
    Checkbox,
    EmailEntry,
    Entry,
    EnumLens,
    Form,
    Formlet,
    Hidden,
    IntegerLens,
    ListLens,
    Memo,
    NumberEntry,
    Pick,
    RadioGroup,
    SaveError,
    Servlet,
    SubmitGuard,
    TokenState,
    Upload,
    ValidationError,
)
from kali.testing import Client

PAGE = Template(
    '<form method="post" enctype="multipart/form-data">{.fields}</form>'
    "<pre>{errors}</pre>{.error_list}"
)

NON_ASCII = "Zoë Ångström 中文 🐍 \"<&>'"


def make_elements():
    return {
        "name": Entry(label="Name", maxlength=80),
        "email": EmailEntry(label="E-mail"),
        "age": NumberEntry(lens=IntegerLens(0, 150)),
        "born": Entry(lens=DATE, type="date"),
        "kind": Pick(EnumLens(["person", "company"]), required="choose a kind"),
        "tags": Pick(ListLens(["a", "b", "é"]), multiple=True),
        "size": RadioGroup(ListLens(["S", "M", "L"])),
        "vip": Checkbox(label="VIP"),
        "notes": Memo(lens=BLANKABLE),
        "ref": Hidden(),
        "photo": Upload(max_bytes=32 << 20),
    }


def closing_uploads(handler):
    """Close the request's uploads after the handler, as a server should.

    (The request's spooled upload files are the caller's to close; until the
    server and kali.testing do it, these tests do it here.)
    """

    def handle(request):
        try:
            return handler(request)
        finally:
            for _, value in request.POST.items():
                if isinstance(value, FileUpload):
                    value.close()

    return handle


def snapshot(native):
    """The record with its upload read into a plain tuple, to outlive the request."""
    photo = native.get("photo")
    if photo is not None:
        native = dict(native, photo=(photo.filename, photo.size, photo.content))
    return native


class Recorder:
    """The app's storage for a test: records saved, and calls seen."""

    def __init__(self, initial=None):
        self.initial = initial if initial is not None else {}
        self.saved = []
        self.refuse = None

    def save(self, native):
        if self.refuse:
            raise SaveError(self.refuse)
        self.saved.append(snapshot(native))
        return Response.redirect(f"/done/{len(self.saved)}")


def make_app(recorder, *, guard=None, checks=None):
    router = Router()

    @router.servlet("/form")
    @router.servlet("/again/*")
    class PersonForm(Formlet):
        def __init__(self, *args):
            super().__init__(make_elements(), guard=guard)
            self.args = args

        def get_native(self):
            return recorder.initial

        def display(self, fields, errors):
            return PAGE(
                fields=Fragment(fields.values()),
                errors=errors,
                error_list=self.render_errors(errors),
            )

        def semantic_checks(self, native, errors):
            if checks:
                checks(native, errors)

        def save(self, native, request):
            assert request is self.request
            return recorder.save(native)

    return closing_uploads(router)


def valid_data(**changes):
    data = {
        "name": NON_ASCII,
        "email": "zoë@example.org",
        "age": "42",
        "born": "1980-05-17",
        "kind": "1",
        "tags": ["a", "é"],
        "size": "M",
        "vip": "on",
        "notes": "line 1\r\nlïne 2 🐍",
        "ref": "r-1",
    }
    data.update(changes)
    return [
        (key, item)
        for key, value in data.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def escaped(text):
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def value_of(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    return match and match.group(1)


# -- GET ------------------------------------------------------------------------------


def test_get_renders_the_native_values():
    recorder = Recorder(
        {"name": "<Ann>", "age": 7, "kind": 0, "tags": {"b"}, "size": "L", "vip": 1}
    )
    page = Client(make_app(recorder)).get("/form")
    assert page.status == 200
    text = page.text
    assert value_of(text, "name") == "&lt;Ann&gt;"
    assert value_of(text, "age") == "7"
    assert value_of(text, "email") == ""  # missing from the record: None
    assert '<option selected value="0">person</option>' in text
    assert '<option selected value="b">b</option>' in text
    assert 'name="size" value="L" checked' in text
    assert 'name="vip" value="on" checked' in text
    assert "<pre></pre>" in text


def test_get_reads_sqlite_rows_with_missing_columns_as_none():
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT 'Bo' AS name, 3 AS age").fetchone()
    page = Client(make_app(Recorder(row))).get("/form")
    assert page.status == 200
    assert value_of(page.text, "name") == "Bo"
    assert value_of(page.text, "age") == "3"
    assert value_of(page.text, "email") == ""
    db.close()


def test_get_with_no_record_at_all():
    recorder = Recorder()
    recorder.initial = None
    assert Client(make_app(recorder)).get("/form").status == 200


def test_mounted_at_two_paths():
    client = Client(make_app(Recorder()))
    assert client.get("/form").status == 200
    assert client.get("/again/x").status == 200
    saved = client.post("/again/x", data=valid_data())
    assert saved.status == 302


# -- POST ------------------------------------------------------------------------------


def test_valid_post_saves_once_with_native_values():
    recorder = Recorder()
    answer = Client(make_app(recorder)).post("/form", data=valid_data())
    assert answer.status == 302 and answer.location == "/done/1"
    assert len(recorder.saved) == 1
    native = recorder.saved[0]
    assert native["name"] == NON_ASCII.strip()
    assert native["email"] == "zoë@example.org"
    assert native["age"] == 42
    assert str(native["born"]) == "1980-05-17"
    assert native["kind"] == 1
    assert native["tags"] == {"a", "é"}
    assert native["size"] == "M"
    assert native["vip"] is True
    assert native["notes"] == "line 1\r\nlïne 2 🐍"
    assert native["ref"] == "r-1"
    assert native["photo"] is None


def test_post_with_errors_gives_every_raw_value_back():
    recorder = Recorder()
    data = valid_data(email="not an address", age="forty", born="garbage")
    page = Client(make_app(recorder)).post("/form", data=data)
    assert page.status == 200
    assert recorder.saved == []
    text = page.text
    assert value_of(text, "name") == escaped(NON_ASCII)
    assert value_of(text, "email") == "not an address"
    assert value_of(text, "age") == "forty"
    assert value_of(text, "born") == "garbage"
    assert value_of(text, "ref") == "r-1"
    assert '<option selected value="1">company</option>' in text
    assert '<option selected value="a">a</option>' in text
    assert '<option selected value="é">é</option>' in text
    assert '<option value="b">b</option>' in text
    assert 'name="size" value="M" checked' in text
    assert 'name="vip" value="on" checked' in text
    assert ">line 1\r\nlïne 2 🐍</textarea>" in text
    # The errors dict, as 0.0.8 templates show it, and the new list.
    assert "email: does not look like an e-mail address.\r\n" in text
    assert "age: is not a whole number.\r\n" in text
    assert "born: does not look like a date (YYYY-MM-DD).\r\n" in text
    assert (
        "<li><strong>E-mail</strong>: does not look like an e-mail address.</li>"
        in text
    )


def test_missing_fields_are_empty_never_a_500():
    recorder = Recorder()
    page = Client(make_app(recorder)).post("/form", data={})
    assert page.status == 200
    assert "name: may not be blank.\r\n" in page.text
    assert "kind: choose a kind\r\n" in page.text
    assert recorder.saved == []


def test_a_file_where_text_was_expected_is_not_a_500():
    page = Client(make_app(Recorder())).post(
        "/form", data={"age": "1"}, files={"name": ("x.txt", b"abc", "text/plain")}
    )
    assert page.status == 200
    assert "name: may not be blank." in page.text


def test_hostile_choice_values_are_validation_errors():
    data = valid_data(kind="x", tags=["nope"], size="XL")
    page = Client(make_app(Recorder())).post("/form", data=data)
    assert page.status == 200
    assert "kind: invalid selection\r\n" in page.text
    assert "tags: invalid selection\r\n" in page.text
    assert "size: invalid selection\r\n" in page.text


def test_semantic_checks_run_only_after_clean_fields():
    seen = []

    def checks(native, errors):
        seen.append(native)
        if native["vip"] and native["age"] < 50:
            errors["vip"] = "VIPs are 50 or older."

    recorder = Recorder()
    client = Client(make_app(recorder, checks=checks))
    page = client.post("/form", data=valid_data())
    assert "vip: VIPs are 50 or older.\r\n" in page.text
    assert value_of(page.text, "age") == "42"
    assert recorder.saved == []
    client.post("/form", data=valid_data(age="x"))
    assert len(seen) == 1
    assert client.post("/form", data=valid_data(age="60")).status == 302


def test_save_error_redisplays_the_input_with_its_errors():
    recorder = Recorder()
    recorder.refuse = {"name": "is taken.", "": "Nothing was saved."}
    page = Client(make_app(recorder)).post("/form", data=valid_data())
    assert page.status == 200
    assert "name: is taken.\r\n" in page.text
    assert "<li>Nothing was saved.</li>" in page.text
    assert value_of(page.text, "name") == escaped(NON_ASCII)


@pytest.mark.parametrize("errors", [{}, "taken", None, ["x"]])
def test_save_error_needs_a_non_empty_dict(errors):
    with pytest.raises(ValueError):
        SaveError(errors)


def test_save_error_carries_its_dict():
    error = SaveError({"a": "b"})
    assert error.args[0] == error.errors == {"a": "b"}


def test_non_ascii_round_trips_through_multipart():
    recorder = Recorder()
    client = Client(make_app(recorder))
    data = valid_data(age="-1")
    page = client.post("/form", data=data, files={"photo": ("", b"", "application/x")})
    assert "age: must be at least 0.\r\n" in page.text
    assert value_of(page.text, "name") == escaped(NON_ASCII)
    assert ">line 1\r\nlïne 2 🐍</textarea>" in page.text
    answer = client.post(
        "/form",
        data=valid_data(),
        files={"photo": ("ünï 中.txt", "é".encode(), "text/plain")},
    )
    assert answer.status == 302
    native = recorder.saved[0]
    assert native["name"] == NON_ASCII.strip()
    assert native["tags"] == {"a", "é"}
    assert native["photo"] == ("ünï 中.txt", 2, "é".encode())


def test_a_20_mb_upload_beside_a_text_field():
    recorder = Recorder()
    content = bytes(range(256)) * (20 * 4096)  # 20 MiB
    answer = Client(make_app(recorder)).post(
        "/form",
        data=valid_data(),
        files={"photo": ("big.bin", content, "application/octet-stream")},
    )
    assert answer.status == 302
    native = recorder.saved[0]
    assert native["name"] == NON_ASCII.strip()
    filename, size, received = native["photo"]
    assert filename == "big.bin"
    assert size == len(content) == 20 << 20
    assert received == content


def test_an_upload_over_the_limit_is_a_field_error_and_other_fields_stay():
    router = Router()

    @router.servlet("/up")
    class UploadForm(Formlet):
        def __init__(self):
            super().__init__({"title": Entry(), "file": Upload(max_bytes=1024)})

        def get_native(self):
            return {}

        def display(self, fields, errors):
            return PAGE(fields=Fragment(fields.values()), errors=errors, error_list="")

        def save(self, native, request):
            raise AssertionError("must not save")

    page = Client(closing_uploads(router)).post(
        "/up", data={"title": "Été"}, files={"file": ("a.bin", b"x" * 2000)}
    )
    assert page.status == 200
    assert "file: is too large (at most 1 KiB).\r\n" in page.text
    assert value_of(page.text, "title") == "Été"


# -- the abstract workflow -------------------------------------------------------------


def test_formlet_is_a_servlet_with_abstract_parts():
    assert issubclass(Formlet, Servlet)
    formlet = Formlet({})
    assert formlet.elements == {} and formlet.request is None and formlet.guard is None
    with pytest.raises(NotImplementedError):
        formlet.get_native()
    page = flatten(formlet.display({}, {})).decode()  # the default page
    assert "<title>Form</title>" in page and '<form method="post">' in page
    with pytest.raises(NotImplementedError):
        formlet.save({}, None)
    assert formlet.semantic_checks({}, {}) is None


def test_validation_error_without_a_message_in_a_custom_element():
    class Fussy(Entry):
        def i2n(self, intermediate):
            raise ValidationError

    class Bare(Entry):
        def i2n(self, intermediate):
            error = ValidationError("x")
            error.args = ()
            raise error

    posted = Form({"a": Fussy(), "b": Bare()}).parse(Bag())
    assert posted.errors == {"a": "is not valid.", "b": "is not valid."}


# -- the pure Form ---------------------------------------------------------------------


def test_form_from_native_parse_and_render():
    form = Form({"name": Entry(label="Name"), "age": Entry(lens=IntegerLens())})
    assert form.from_native({"name": "Al"}) == {"name": "Al", "age": ""}
    posted = form.parse(Bag([("name", " Al "), ("age", "x")]))
    assert posted.intermediate == {"name": " Al ", "age": "x"}
    assert posted.native == {"name": "Al"}
    assert posted.errors == {"age": "is not a whole number."}
    fields = form.render(posted.intermediate)
    assert list(fields) == ["name", "age"]
    assert form.labels() == {"name": "Name"}


# -- SubmitGuard -----------------------------------------------------------------------


def token_in(page, guard):
    match = re.search(rf'name="{guard.field_name}" value="([^"]+)"', page.text)
    assert match, "the form must carry its token"
    return match.group(1)


def test_guard_unit():
    guard = SubmitGuard(secret=b"k" * 32)
    first, second = guard.issue(), guard.issue()
    assert first != second
    assert guard.state(first) is guard.state(second) is TokenState.PENDING
    guard.complete(first, "outcome")
    assert guard.state(first) is TokenState.USED
    assert guard.outcome(first) == "outcome"
    assert guard.state(second) is TokenState.PENDING
    with pytest.raises(ValueError):
        guard.complete(first, "again")
    with pytest.raises(ValueError):
        guard.complete("forged")
    with pytest.raises(KeyError):
        guard.outcome(second)
    assert guard.render('a"b') == (
        '<input type="hidden" name="submit_token" value="a&quot;b"/>'
    )
    assert guard.token_from(Bag([("submit_token", "t")])) == "t"
    assert guard.token_from(Bag()) == ""
    assert guard.token_from(Bag([("submit_token", FileUpload("a", "b", b""))])) == ""
    for bad in ({"max_pending": 0}, {"max_used": 0}, {"max_age": 0}, {"secret": b""}):
        with pytest.raises(ValueError):
            SubmitGuard(**bad)
    with pytest.raises(TypeError):
        SubmitGuard(secret=42)


def test_guard_separate_instances_share_nothing(monkeypatch):
    monkeypatch.delenv("KALI_SECRET", raising=False)
    one, two = SubmitGuard(), SubmitGuard()
    token = one.issue()
    assert two.state(token) is TokenState.UNKNOWN


def test_guarded_double_submit_saves_once():
    guard = SubmitGuard()
    recorder = Recorder()
    client = Client(make_app(recorder, guard=guard))
    token = token_in(client.get("/form"), guard)
    data = valid_data() + [("submit_token", token)]
    first = client.post("/form", data=data)
    second = client.post("/form", data=data)  # a double click, or a reload
    assert first.status == second.status == 302
    assert first.location == second.location == "/done/1"
    assert len(recorder.saved) == 1


def test_guard_token_survives_error_redisplays_and_save_errors():
    guard = SubmitGuard()
    recorder = Recorder()
    client = Client(make_app(recorder, guard=guard))
    token = token_in(client.get("/form"), guard)
    page = client.post("/form", data=valid_data(age="x") + [("submit_token", token)])
    assert token_in(page, guard) == token
    recorder.refuse = {"name": "is taken."}
    page = client.post("/form", data=valid_data() + [("submit_token", token)])
    assert "name: is taken." in page.text and token_in(page, guard) == token
    recorder.refuse = None
    assert (
        client.post("/form", data=valid_data() + [("submit_token", token)]).status
        == 302
    )
    assert len(recorder.saved) == 1


@pytest.mark.parametrize("token", [None, "", "forged-or-from-before-a-restart"])
def test_guard_unknown_token_keeps_input_and_issues_a_new_one(token):
    guard = SubmitGuard()
    recorder = Recorder()
    client = Client(make_app(recorder, guard=guard))
    data = valid_data() + ([("submit_token", token)] if token is not None else [])
    page = client.post("/form", data=data)
    assert page.status == 200 and recorder.saved == []
    assert "submit_token: This form had expired" in page.text
    assert "<li>This form had expired" in page.text  # no field-name prefix
    assert value_of(page.text, "name") == escaped(NON_ASCII)
    fresh = token_in(page, guard)
    assert fresh != token and guard.state(fresh) is TokenState.PENDING
    assert (
        client.post("/form", data=valid_data() + [("submit_token", fresh)]).status
        == 302
    )


def test_guard_replays_only_plain_responses():
    guard = SubmitGuard()
    router = Router()

    @router.servlet("/page")
    class PageResult(Formlet):
        def __init__(self):
            super().__init__({"name": Entry()}, guard=guard)

        def get_native(self):
            return {}

        def display(self, fields, errors):
            return PAGE(fields=Fragment(fields.values()), errors=errors, error_list="")

        def save(self, native, request):
            return ["<p>Saved ", native["name"], "</p>"]

    client = Client(router)
    token = token_in(client.get("/page"), guard)
    data = {"name": "Al", "submit_token": token}
    assert client.post("/page", data=data).text == "<p>Saved Al</p>"
    again = client.post("/page", data=data)
    assert again.status == 200
    assert "This form was already saved; it was not saved again." in again.text


def test_guard_as_a_class_attribute():
    class Guarded(Formlet):
        guard = SubmitGuard(field_name="once")

    formlet = Guarded({"a": Entry()})
    assert formlet.guard.field_name == "once"
    assert formlet.render_errors({"once": "expired"}) == (
        '<ul class="errors" role="alert"><li>expired</li></ul>'
    )


# -- redirect targets, checked before the work -----------------------------------------


@pytest.mark.parametrize(
    "target", ["/", "/tasks?sort=priority", "/search?q=MILK+%26", "/a/b#part"]
)
def test_local_url_accepts_paths_of_the_app(target):
    from kali.pages import local_url

    assert local_url(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "tasks",
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "/\x00",
        "/a\r\nSet-Cookie: x=1",
        "/a b",
        "/\x7f",
        "/ä",
        ["/"],
    ],
)
def test_local_url_refuses_anything_else_with_a_400_or_the_default(target):
    from kali import HTTPError
    from kali.pages import local_url

    with pytest.raises(HTTPError) as raised:
        local_url(target)
    assert raised.value.status == 400
    assert local_url(target, "/home") == "/home"
