"""kali.testing_forms: page.form() fills in and submits forms as a browser would."""

import secrets
import sqlite3

import pytest

from kali import Response, Router
from kali.formdata import FileUpload
from kali.pages import Pages, redirect_with
from kali.sessions import Sessions
from kali.testing import Client
from kali.testing_forms import Form, encode_multipart_entries, parse_forms

# -- a real little app: Sessions + Pages + a form + an SQLite file --------------------

TEMPLATES = {
    "base": "<html><title>{title}</title>{flash}<main>{content}</main></html>",
    "new": """
<form id="contact" method="post" action="new" enctype="multipart/form-data">
  <input type="hidden" name="token" value="{token}">
  <input name="name" required>
  <input type="email" name="email" value="old@example.org">
  <input type="date" name="birthday">
  <input type="number" name="age" value="30">
  <select name="kind"><option value="friend">Friend</option>
    <option value="work" selected>Work</option></select>
  <select name="tags" multiple><option>red</option><option selected>blue</option>
    <option>green</option></select>
  <input type="hidden" name="newsletter" value="no">
  <input type="checkbox" name="newsletter" value="yes">
  <input type="radio" name="colour" value="red" checked>
  <input type="radio" name="colour" value="blue">
  <textarea name="notes">
First line &amp; more</textarea>
  <input type="file" name="photo">
  <button name="action" value="save">Save</button>
  <button name="action" value="draft">Keep as draft</button>
</form>
<form name="search" action="/contacts?page=3#top"><input name="q"></form>
""",
    "list": "{@rows}<li>{name}|{tags}|{notes}|{photo}</li>{/rows}",
}


@pytest.fixture
def app(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in TEMPLATES.items():
        (folder / f"{name}.tpl").write_text(text, encoding="utf-8")
    database = sqlite3.connect(tmp_path / "contacts.sqlite3")
    database.execute(
        "CREATE TABLE contact (name, email, birthday, age, kind, tags, newsletter,"
        " colour, notes, photo, action)"
    )
    pages = Pages(folder)
    router = Router()

    @router.servlet("/contacts/new")
    class New:
        def do_GET(self, request):
            token = secrets.token_hex(8)
            request.session["token"] = token
            return pages.render(request, "new", title="New contact", token=token)

        def do_POST(self, request):
            if request.POST.get("token") != request.session.get("token"):
                return Response("stale form", code=409)
            del request.session["token"]
            post = request.POST
            photo = post.get("photo")
            database.execute(
                "INSERT INTO contact VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    post.get("name"),
                    post.get("email"),
                    post.get("birthday"),
                    int(post.get("age")),
                    post.get("kind"),
                    ",".join(post.get_list("tags")),
                    ",".join(post.get_list("newsletter")),
                    post.get("colour"),
                    post.get("notes"),
                    f"{photo.filename}:{photo.content_type}:{photo.content.decode()}"
                    if isinstance(photo, FileUpload)
                    else repr(photo),
                    post.get("action"),
                ],
            )
            database.commit()
            return redirect_with(request, "/contacts", f"Added {post.get('name')}.")

    @router.servlet("/contacts")
    class List:
        def do_GET(self, request):
            rows = database.execute(
                "SELECT name, tags, notes, photo FROM contact"
            ).fetchall()
            items = [dict(zip(("name", "tags", "notes", "photo"), r)) for r in rows]
            return pages.render(request, "list", title="Contacts", rows=items)

    yield Sessions(b"s" * 32).wrap(router), database
    database.close()


def test_a_form_round_trip_through_the_app(app):
    handler, database = app
    client = Client(handler)
    page = client.get("/contacts/new")
    form = page.form("contact")
    assert form.method == "POST" and form.enctype == "multipart/form-data"
    assert form["token"] and form["kind"] == "work" and form["tags"] == ["blue"]
    assert form["newsletter"] is None and form["colour"] == "red"
    assert form["notes"] == "First line & more" and form["photo"] is None
    form["name"] = "Ann <Lee>"
    form["birthday"] = "1990-02-03"
    form["age"] = 31
    form["kind"] = "friend"
    form.set("tags", ["red", "green"])
    form["newsletter"] = True
    form["colour"] = "blue"
    form["notes"] = "Two\nlines"
    form["photo"] = ("ann.txt", b"hello", "text/plain")
    saved = form.submit("Keep as draft")
    assert saved.status_code == 302 and saved.location == "/contacts"
    listing = saved.follow()
    assert "Added Ann &lt;Lee&gt;." in listing.text
    row = database.execute("SELECT * FROM contact").fetchone()
    assert row == (
        "Ann <Lee>",
        "old@example.org",
        "1990-02-03",
        31,
        "friend",
        "red,green",
        "no,yes",
        "blue",
        "Two\r\nlines",  # browsers send newlines as CRLF
        "ann.txt:text/plain:hello",
        "draft",
    )
    assert "Added" not in client.get("/contacts").text  # the message was shown once


def test_the_hidden_token_is_sent_as_it_was(app):
    handler, database = app
    client = Client(handler)
    first = client.get("/contacts/new").form("contact")
    second = client.get("/contacts/new").form(0)  # a newer token in the session
    first["name"] = second["name"] = "Bo"
    assert first.submit().status == 409
    second_answer = second.submit()  # the default button: the first, "save"
    assert second_answer.status == 302
    saved = database.execute("SELECT action, photo FROM contact").fetchall()
    # No file chosen: an empty part with no filename, as a browser sends it.
    assert saved == [("save", ":application/octet-stream:")]


def test_a_get_form_replaces_the_action_query(app):
    handler, _ = app
    client = Client(handler)
    search = client.get("/contacts/new").form("search")
    assert search.method == "GET"
    search["q"] = "a b&c"
    answer = search.submit()
    assert answer.url == "/contacts?q=a+b%26c" and answer.status == 200


# -- parsing -----------------------------------------------------------------------


def only(html, url="/page"):
    (form,) = parse_forms(html, url)
    return form


def test_defaults_a_browser_would_send():
    form = only(
        "<form><input type=checkbox name=c checked><input type=radio name=r checked>"
        "<select name=s><option disabled>no<option> Two  words </select>"
        "<select name=list size=3><option>a</select>"
        "<select name=m multiple><option>x</select>"
        "<textarea name=t>\n\nkept</textarea>"
        "<input name=u type=unknown-type value=v><input type=reset name=z>"
        "<input type=button name=b value=b></form>"
    )
    assert form.entries() == [
        ("c", "on"),
        ("r", "on"),
        ("s", "Two words"),
        ("t", "\r\nkept"),
        ("u", "v"),
    ]


def test_a_single_select_keeps_the_last_selected_option():
    form = only(
        "<form><select name=s><option selected>a<option selected>b</select>"
        "<input type=radio name=r value=1 checked><input type=radio name=r value=2"
        " checked></form>"
    )
    assert form["s"] == "b" and form["r"] == "2"


def test_disabled_controls_are_not_sent():
    form = only(
        "<form><fieldset disabled><input name=a value=1></fieldset>"
        "<input name=b value=2 disabled><select name=c><optgroup disabled>"
        "<option>x</optgroup><option>y</select><input name=d value=4></form>"
    )
    assert form.entries() == [("c", "y"), ("d", "4")]
    with pytest.raises(ValueError, match="disabled"):
        form["b"] = "3"
    with pytest.raises(ValueError, match="disabled"):
        form["c"] = "x"


def test_textarea_text_is_raw():
    form = only("<form><textarea name=t><b>bold</b> &lt;i&gt;</textarea></form>")
    assert form["t"] == "<b>bold</b> <i>"


def test_fields_outside_the_form_join_it_by_id_in_document_order():
    forms = parse_forms(
        "<input name=early form=f value=0><form id=f><input name=a value=1>"
        "<form><input name=inner value=2></form><input name=late form=f value=3>"
        "<input name=lost form=nowhere value=4><form id=g></form>"
    )
    assert [form.id for form in forms] == ["f", "g"]
    # The inner form's end tag closes the outer one, as in a browser.
    assert forms[0].entries() == [
        ("early", "0"),
        ("a", "1"),
        ("inner", "2"),
        ("late", "3"),
    ]
    assert forms[0]["late"] == "3" and "late" in forms[0] and "lost" not in forms[0]
    assert forms[0].fields[-1].name == "late"
    assert "lost" not in forms[1]


def test_several_text_fields_of_one_name():
    form = only("<form><input name=x><input name=x></form>")
    assert form["x"] == ["", ""]
    form["x"] = ["1", "2"]
    form.set("x", "3", index=1)
    assert form.entries() == [("x", "1"), ("x", "3")]
    assert form.get("x", 0) == "1"
    with pytest.raises(ValueError, match="2 fields"):
        form["x"] = "4"


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("nothing", "x", KeyError),
        ("go", "x", KeyError),  # a button: pressed with submit(button=)
        ("s", "z", ValueError),
        ("m", ["a", "z"], ValueError),
        ("r", "3", ValueError),
        ("c", "maybe", ValueError),
        ("cs", ["a", "q"], ValueError),
        ("cs", True, TypeError),
        ("t", True, TypeError),
        ("t", None, TypeError),
        ("t", b"bytes", TypeError),
        ("f", b"just bytes", TypeError),
        ("f", ("name", 3), TypeError),
    ],
)
def test_values_a_user_could_not_choose_are_refused(name, value, error):
    form = only(
        "<form><select name=s><option>a</select><select name=m multiple>"
        "<option>a</select><input type=radio name=r value=1><input type=radio"
        " name=r value=2><input type=checkbox name=c value=yes>"
        "<input type=checkbox name=cs value=a><input type=checkbox name=cs value=b>"
        "<input name=t><input type=file name=f><input type=submit name=go></form>"
    )
    before = form.entries()
    with pytest.raises(error):
        form[name] = value
    assert form.entries() == before


def test_boxes_radios_and_selects_by_value():
    form = only(
        "<form><input type=checkbox name=c value=yes checked>"
        "<input type=checkbox name=cs value=a><input type=checkbox name=cs value=b>"
        "<input type=radio name=r value=1 checked><input type=radio name=r value=2>"
        "<select name=m multiple><option>a<option>b<option>c</select></form>"
    )
    form["c"] = False
    assert form["c"] is None
    form["c"] = "yes"
    assert form["c"] == "yes"
    form["cs"] = "b"
    assert form["cs"] == ["b"]
    form["cs"] = False
    assert form["cs"] == []
    form["r"] = None
    assert form["r"] is None
    form["r"] = 2
    form["m"] = ("a", "c")
    assert form.entries() == [("c", "yes"), ("r", "2"), ("m", "a"), ("m", "c")]
    form["m"] = "b"
    assert form["m"] == ["b"]


# -- submitting ------------------------------------------------------------------------


def echo(request):
    return Response.json(
        {
            "method": request.command,
            "uri": request.uri,
            "type": request.headers.get("content-type"),
            "origin": request.headers.get("origin"),
            "POST": [
                [
                    key,
                    [
                        value.filename,
                        value.content_type,
                        value.content.decode("latin-1"),
                    ]
                    if isinstance(value, FileUpload)
                    else value,
                ]
                for key, value in request.POST.items()
            ],
            "body": request.body.decode("latin-1"),
        }
    )


def page_with(html, url="/here/page?x=1"):
    client = Client(
        lambda request: Response(html) if request.command == "GET" else echo(request)
    )
    return client.get(url)


def test_the_action_is_relative_to_the_page():
    page = page_with("<form method=post action=save><input name=a value=1></form>")
    data = page.form().submit().json()
    assert data["uri"] == "/here/save" and data["POST"] == [["a", "1"]]
    assert data["origin"] == "http://127.0.0.1:8080"  # and the security check passed
    assert data["type"] == "application/x-www-form-urlencoded"


def test_no_action_posts_to_the_page_itself():
    data = page_with("<form method=post><input name=a value=1></form>").form()
    assert data.submit().json()["uri"] == "/here/page?x=1"


def test_a_button_may_change_the_action_method_and_enctype():
    page = page_with(
        "<form action=/a><input name=n value=v><input type=file name=f>"
        "<button id=b formaction=/b formmethod=post formenctype=multipart/form-data"
        " name=go value=1>Go</button><input type=image name=map></form>"
    )
    form = page.form()
    form["f"] = ("x.bin", b"\x00\xff")
    data = form.submit("b").json()
    assert data["method"] == "POST" and data["uri"] == "/b"
    assert data["type"].startswith("multipart/form-data; boundary=")
    assert data["POST"] == [
        ["n", "v"],
        ["f", ["x.bin", "application/octet-stream", "\x00\xff"]],
        ["go", "1"],
    ]
    pressed = form.submit("map")
    assert pressed.url == "/a?n=v&f=x.bin&map.x=0&map.y=0"


def test_text_plain_and_urlencoded_files():
    page = page_with(
        "<form method=post enctype=text/plain><input name=a value='1 2'>"
        "<input type=file name=f></form>"
    )
    form = page.form()
    form["f"] = ("name.txt", b"content")
    data = form.submit().json()
    assert data["body"] == "a=1 2\r\nf=name.txt\r\n" and data["POST"] == []
    form.enctype = "application/x-www-form-urlencoded"
    assert form.submit().json()["body"] == "a=1+2&f=name.txt"


def test_choosing_a_button():
    form = page_with(
        "<form><input type=submit name=a value=Save><button name=a value=del>"
        "Delete</button><input type=submit name=c value=Save disabled></form>"
    ).form()
    assert form.submitter().value == "Save"
    assert form.submitter("Delete").value == "del"
    assert form.submitter(("a", "del")).value == "del"
    with pytest.raises(ValueError, match="several"):
        form.submitter("a")
    with pytest.raises(ValueError, match="no submit"):
        form.submitter("nothing")
    with pytest.raises(ValueError, match="disabled"):
        form.submitter("c")
    with pytest.raises(TypeError):
        form.submitter(3)
    assert form.submit(("a", "del")).url == "/here/page?a=del"


def test_forms_that_cannot_be_sent():
    page = page_with(
        "<form id=away action='http://example.org/x'></form>"
        "<form id=dialog method=dialog></form><form id=up action='../../../t'></form>"
    )
    with pytest.raises(ValueError, match="leaves the app"):
        page.form("away").submit()
    with pytest.raises(ValueError, match="method"):
        page.form("dialog").submit()
    assert page.form("up").submit().url == "/t?"
    with pytest.raises(ValueError, match="client"):
        only("<form></form>").submit()


def test_another_client_may_submit():
    page = page_with("<form method=post action=/x><input name=a value=1></form>")
    other = Client(echo)
    assert other.cookies == {} and page.form().submit(client=other).json()["POST"]


def test_finding_forms_on_a_page():
    page = page_with("<form id=one></form><form name=two></form>")
    assert page.form("one") is page.forms[0] and page.form("two") is page.forms[1]
    assert page.form(1) is page.forms[1] and page.form(-1) is page.forms[1]
    with pytest.raises(ValueError, match="2 forms"):
        page.form()
    with pytest.raises(KeyError):
        page.form("three")
    with pytest.raises(IndexError):
        page.form(2)
    with pytest.raises(LookupError):
        page_with("<p>no form</p>").form()
    assert isinstance(page.forms[0], Form) and "one" in repr(page.forms[0])


def test_multipart_entries_keep_their_order():
    body = encode_multipart_entries(
        [("a", "é"), ("f", ("x.txt", "text", "text/plain")), ("b", b"\xff")], "B"
    )
    assert body == (
        b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xc3\xa9\r\n'
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ntext\r\n"
        b'--B\r\nContent-Disposition: form-data; name="b"\r\n\r\n\xff\r\n--B--\r\n'
    )
