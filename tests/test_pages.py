"""kali.pages: pages in a layout, one-time messages, error pages in the layout."""

import logging

import pytest

from kali import HTTPError, Markup, Response, Router
from kali.pages import FLASH_KEY, MAX_MESSAGES, Pages, flash, redirect_with
from kali.sessions import Sessions
from kali.templates import TemplateFolder
from kali.testing import Client

LAYOUT = (
    "<html><title>{title} · App</title><body class='{section}'>"
    "<nav>{sidebar}</nav>{flash}<main>{content}</main></body></html>"
)


@pytest.fixture
def folder(tmp_path):
    """A templates folder; ``folder(name=text)`` writes more files."""
    (tmp_path / "base.tpl").write_text(LAYOUT, encoding="utf-8")
    (tmp_path / "contacts.tpl").write_text("<h1>{title}</h1><p>{count} of {who}</p>")

    def write(**files):
        for name, text in files.items():
            (tmp_path / f"{name}.tpl").write_text(text, encoding="utf-8")
        return tmp_path

    return write


def route(router, where):
    def register(handler):
        router.delegate(where, handler)
        return handler

    return register


def make_app(pages):
    """Save (POST, flash, redirect), a list page, a crash and a refusal."""
    router = Router()

    @router.servlet("/contacts")
    class Contacts:
        def do_GET(self, request):
            return pages.render(request, "contacts", title="Contacts", count=2, who="x")

        def do_POST(self, request):
            name = request.POST.get("name", "")
            return redirect_with(request, "/contacts", f"Saved {name}.")

    @route(router, "/warn")
    def warn(request):
        flash(request, "Careful <now>", category="warning")
        flash(request, "Second")
        return Response.redirect("/hop")

    @route(router, "/hop")
    def hop(request):  # a redirect renders no page: the messages wait
        return Response.redirect("/contacts")

    @route(router, "/crash")
    def crash(request):
        flash(request, "never saved")
        raise RuntimeError("secret details /etc/passwd")

    @route(router, "/gone")
    def gone(request):
        raise HTTPError(410, "That <contact> was deleted.")

    return Sessions(b"k" * 32).wrap(router)


def client_for(pages):
    return Client(make_app(pages), error_page=pages.error_page)


# -- rendering pages -----------------------------------------------------------------


def test_page_goes_into_the_layout_with_its_values(folder):
    pages = Pages(folder(), section="", sidebar="")
    page = Response(pages.render(None, "contacts", title="A & B", count=3, who="<x>"))
    assert page.body.decode() == (
        "<html><title>A &amp; B · App</title><body class=''><nav></nav>"
        "<main><h1>A &amp; B</h1><p>3 of &lt;x&gt;</p></main></body></html>"
    )


def test_values_fill_other_slots_and_override_defaults(folder):
    pages = Pages(folder(), section="home", sidebar="")
    text = Response(
        pages(None, "contacts", count=1, who="me", sidebar=Markup("<a>Menu</a>"))
    ).body.decode()
    assert "<nav><a>Menu</a></nav>" in text and "class='home'" in text
    text = Response(
        pages(None, "contacts", section="contacts", count=0, who="")
    ).body.decode()
    assert "class='contacts'" in text and "<title> · App</title>" in text


def test_an_extend_page_is_rendered_as_it_is(folder):
    path = folder(
        edit="<extend>base\n<?title?>Edit {who}\n<?content?><form></form>\n</extend>"
    )
    pages = Pages(path, section="", sidebar="")
    text = Response(pages.render(None, "edit", who="Ann")).body.decode()
    assert text.count("<html>") == 1
    assert "<title>Edit Ann · App</title>" in text
    assert "<main><form></form></main>" in text


def test_without_a_layout_pages_are_whole(folder):
    pages = Pages(folder(), layout=None)
    text = Response(pages.render(None, "contacts", title="T", count=1, who="w"))
    assert text.body == b"<h1>T</h1><p>1 of w</p>"
    assert Response(pages.render(None, None, content="x")).body == b"x"


def test_an_existing_folder_object_is_used_as_it_is(folder):
    templates = TemplateFolder(folder())
    pages = Pages(templates, section="", sidebar="")
    assert pages.templates is templates
    assert "Pages" in repr(pages) and "'base'" in repr(pages)


def test_bad_construction_and_use(folder, tmp_path):
    with pytest.raises(ValueError):
        Pages(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        Pages(folder(), layout="nope")
    pages = Pages(folder(rows="<loop><ul><?begin?><li>{x}</li></loop>"))
    with pytest.raises(TypeError, match="loop"):
        pages.render(None, "rows")
    with pytest.raises(TypeError, match="content"):
        pages.render(None, "contacts", content="mine")
    with pytest.raises(FileNotFoundError):
        pages.render(None, "nothing")


# -- one-time messages ----------------------------------------------------------------


def test_a_message_is_shown_once_after_the_redirect(folder):
    client = client_for(Pages(folder(), section="", sidebar=""))
    saved = client.post("/contacts", data={"name": "<Ann>"})
    assert saved.status == 302 and saved.location == "/contacts"
    page = saved.follow()
    assert '<p class="flash info" role="status">Saved &lt;Ann&gt;.</p>' in page.text
    again = client.get("/contacts")
    assert again.status == 200 and "flash" not in again.text


def test_messages_wait_through_redirects_and_keep_their_order(folder):
    client = client_for(Pages(folder(), section="", sidebar=""))
    page = client.get("/warn", follow_redirects=True)
    assert page.url == "/contacts"
    first = page.text.index('class="flash warning" role="status">Careful &lt;now&gt;')
    assert first < page.text.index('class="flash info" role="status">Second')
    assert "Careful" not in client.get("/contacts").text


def test_the_folder_can_style_messages(folder):
    path = folder(flash="<div class='{category}'>{message}</div>")
    client = client_for(Pages(path, section="", sidebar=""))
    page = client.post("/contacts", data={"name": "&"}, follow_redirects=True)
    assert "<div class='info'>Saved &amp;.</div><main>" in page.text


def test_a_layout_may_loop_over_the_messages(folder):
    path = folder(
        loop="{@messages}[{category}:{message}]{^messages}(none){/messages}{content}"
    )
    client = client_for(Pages(path, layout="loop", title="", section=""))
    page = client.post("/contacts", data={"name": "Z"}, follow_redirects=True)
    assert page.text.startswith("[info:Saved Z.]<h1>")
    assert client.get("/contacts").text.startswith("(none)<h1>")


def test_flash_needs_sessions_and_checks_its_arguments(folder):
    pages = Pages(folder(), section="", sidebar="")
    router = Router()

    @route(router, "/")
    def home(request):
        flash(request, "hello")

    page = Client(router, error_page=pages.error_page).get("/")
    assert page.status == 500  # RuntimeError: no session

    class Request:
        session = {}

    request = Request()
    with pytest.raises(RuntimeError, match="Sessions"):
        flash(request, "hello")
    with pytest.raises(RuntimeError, match="Sessions"):
        redirect_with(request, "/", "hello")


def test_flash_refuses_bad_messages_and_categories(folder):
    from kali.sessions import Session

    class Request:
        session = Session()

    request = Request()
    with pytest.raises(TypeError):
        flash(request, Markup("<b>x</b>").encode())
    for category in ("", "two words", "x" * 41, "<b>", 3):
        with pytest.raises(ValueError):
            flash(request, "m", category=category)
    assert FLASH_KEY not in request.session


def test_old_messages_are_dropped_past_the_limit(folder):
    from kali.sessions import Session

    class Request:
        session = Session()

    request = Request()
    for number in range(MAX_MESSAGES + 5):
        flash(request, f"m{number}")
    waiting = request.session[FLASH_KEY]
    assert len(waiting) == MAX_MESSAGES and waiting[-1] == [
        "info",
        f"m{MAX_MESSAGES + 4}",
    ]
    text = Response(
        Pages(folder(), section="", sidebar="").render(
            request, "contacts", count=1, who="w"
        )
    ).body.decode()
    assert "m4<" not in text and "m5<" in text and f"m{MAX_MESSAGES + 4}<" in text
    assert FLASH_KEY not in request.session and request.session.modified


def test_garbled_messages_in_a_session_are_skipped(folder):
    from kali.sessions import Session

    class Request:
        session = Session({FLASH_KEY: [["info", "ok"], ["x"], [1, 2], ["<b>", "m"]]})

    text = Response(
        Pages(folder(), section="", sidebar="").render(
            Request(), "contacts", count=1, who="w"
        )
    ).body.decode()
    assert text.count('class="flash') == 1 and ">ok</p>" in text


# -- error pages ---------------------------------------------------------------------


def test_a_404_is_in_the_layout(folder):
    client = client_for(Pages(folder(), section="", sidebar=""))
    page = client.get("/no/such/page")
    assert page.status == 404
    assert "<title>Not Found · App</title>" in page.text
    assert (
        '<main><p class="error-message">There is no page at this address.</p>'
        in page.text
    )


def test_a_crash_is_a_500_in_the_layout_without_its_text(folder, caplog):
    client = client_for(Pages(folder(), section="", sidebar=""))
    client.post("/contacts", data={"name": "A"})  # a message is waiting
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        page = client.get("/crash")
    assert page.status == 500
    assert "<title>Internal Server Error · App</title>" in page.text
    assert "secret" not in page.text and "passwd" not in page.text
    assert "the details are in the server" in page.text
    assert "Saved A." not in page.text and "never saved" not in page.text
    assert "Saved A." in client.get("/contacts").text  # still waiting, shown once


def test_an_http_error_message_is_shown_escaped(folder):
    client = client_for(Pages(folder(), section="", sidebar=""))
    page = client.get("/gone")
    assert page.status == 410
    assert "That &lt;contact&gt; was deleted." in page.text


def test_a_405_keeps_its_allow_header(folder):
    client = client_for(Pages(folder(), section="", sidebar=""))
    page = client.delete("/contacts")
    assert page.status == 405 and "GET" in page.headers["allow"]
    assert "<title>Method Not Allowed · App</title>" in page.text


def test_an_error_page_without_a_request(folder):
    pages = Pages(folder(), section="", sidebar="")
    page = pages.error_page(None, 503, "Service Unavailable")
    assert page.code == 503
    assert "<title>Service Unavailable · App</title>" in page.body.decode()
    assert "The app is busy" in page.body.decode()
    client = client_for(pages)
    refused = client.get("/%FF")  # refused before a Request exists
    assert refused.status == 400
    assert "<title>Bad Request · App</title>" in refused.text
    assert "The path is not valid UTF-8." in refused.text
    assert pages.error_page(None, 499, "").code == 499  # no phrase: "Error"
    assert "<title>Error · App</title>" in pages.error_page(None, 499, "").body.decode()


def test_the_folder_error_template_is_used(folder):
    path = folder(error="<h1>{status} {heading}</h1><p>{message}</p>")
    page = Pages(path, section="", sidebar="").error_page(None, 404, "No <such>.")
    text = page.body.decode()
    assert "<main><h1>404 Not Found</h1><p>No &lt;such&gt;.</p></main>" in text
    assert text.startswith("<html><title>Not Found · App</title>")


def test_an_extend_error_template_is_whole(folder):
    path = folder(
        error="<extend>base\n<?title?>Oops {status}\n<?content?>{message}\n</extend>"
    )
    text = Pages(path, section="", sidebar="").error_page(None, 422, "").body.decode()
    assert "<title>Oops 422 · App</title>" in text and text.count("<html>") == 1
    assert "<main>That did not work.</main>" in text


def test_a_failing_error_page_falls_back_to_kali_s(folder, caplog):
    path = folder(error="{.undefined_raw_value}")
    pages = Pages(path, section="", sidebar="")
    with pytest.raises(KeyError):
        pages.error_page(None, 404, "")
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        page = client_for(pages).get("/missing")
    assert page.status == 404 and "There is no page at this address." in page.text
    assert "<main><h1>Not Found</h1>" in page.text  # kali's own page


def test_pages_offers_flash_and_a_garbled_queue_is_replaced(folder):
    from kali.sessions import Session

    class Request:
        session = Session({FLASH_KEY: "junk"})

    request = Request()
    pages = Pages(folder(), section="", sidebar="")
    answer = pages.redirect_with(request, "/next", "Done.", "success")
    assert answer.code == 302 and answer.get_header("location") == "/next"
    pages.flash(request, "Again.")
    assert request.session[FLASH_KEY] == [["success", "Done."], ["info", "Again."]]
    text = Response(pages.render(request, "contacts", count=1, who="w")).body.decode()
    assert text.index("Done.") < text.index("Again.")


def test_a_formlet_with_pages_shows_its_default_page_in_the_layout(folder):
    from kali.forms import Entry, Formlet

    pages = Pages(folder(), section="forms", sidebar="menu")
    router = Router()

    @router.servlet("/name")
    class NameForm(Formlet):
        title = "Your name"

        def __init__(self):
            super().__init__({"name": Entry(label="Name")})

        def get_native(self):
            return {"name": "Ann"}

    NameForm.pages = pages
    page = Client(router).get("/name").text
    assert page.startswith("<html><title>Your name · App</title>")
    assert "<nav>menu</nav>" in page and 'value="Ann"' in page


def test_an_error_message_is_an_alert_and_news_a_status(folder):
    pages = Pages(folder())
    html = str(
        pages.render_messages(
            [
                {"message": "Saved.", "category": "info"},
                {"message": "Not saved.", "category": "error"},
            ]
        )
    )
    assert '<p class="flash info" role="status">Saved.</p>' in html
    assert '<p class="flash error" role="alert">Not saved.</p>' in html
