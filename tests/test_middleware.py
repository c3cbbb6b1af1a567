"""kali.middleware: handlers that wrap handlers."""

import re

from kali.middleware import as_response, chain, login_required, next_url, server_timing
from kali.request import Request
from kali.response import Response
from kali.routing import Router
from kali.testing import Client


def make_app():
    router = Router()
    router.function("/")(lambda: "home")
    router.function("/login")(lambda next="/": ["login page, then ", next])
    router.function("/static/x")(lambda: "public")

    @router.servlet("/save")
    class Save:
        def do_POST(self, request):
            return "saved"

    return router


def logged_in(request):
    return request.cookies.get("user") == "ann"


def test_login_required_redirects_pages_and_refuses_posts():
    app = login_required(logged_in, exempt=["/static/"])(make_app())
    client = Client(app)
    page = client.get("/?tab=2")
    assert page.status == 302
    assert page.location == "/login?next=%2F%3Ftab%3D2"
    assert client.get(page.location).text == "login page, then /?tab=2"
    assert client.get("/static/x").text == "public"
    assert client.post("/save").status == 403
    sneaky = client.get("/static/../save")
    assert sneaky.status == 302 and sneaky.location.startswith("/login?")
    client.cookies["user"] = "ann"
    assert client.get("/").text == "home"
    assert client.post("/save").text == "saved"


def test_next_url_never_leaves_the_site():
    def make(target):
        return Request("GET", "/login?" + target, "HTTP/1.0")

    assert next_url(make("next=/a/b%3Fc")) == "/a/b?c"
    for bad in (
        "next=//evil.example",
        "next=http://evil.example",
        "next=/%5Cevil",
        "next=/a%0D%0Ab",
        "x=1",
        "next=",
    ):
        assert next_url(make(bad)) == "/", bad
    posted = Request(
        "POST",
        "/login",
        "HTTP/1.0",
        [("content-type", "application/x-www-form-urlencoded")],
        b"next=%2Fdone",
    )
    assert next_url(posted, "/home") == "/done"


def test_server_timing_and_chain():
    calls = []

    def tag(name):
        def middleware(handler):
            def wrapped(request):
                calls.append(name)
                return as_response(handler(request)).add_header("x-tag", name)

            return wrapped

        return middleware

    app = chain(make_app(), server_timing, tag("outer"), tag("inner"))
    answer = Client(app).get("/")
    assert answer.text == "home"
    assert calls == ["outer", "inner"]
    assert answer.headers.get_list("x-tag") == ["inner", "outer"]
    assert re.fullmatch(r"app;dur=\d+\.\d", answer.headers["server-timing"])
    assert chain(make_app()) is not None


def test_errors_pass_through_wrappers():
    app = server_timing(make_app())
    assert Client(app).get("/missing").status == 404
    assert isinstance(as_response("x"), Response)
