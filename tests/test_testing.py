"""kali.testing: the in-process client builds real requests and answers as
the server would."""

import pytest

from kali.errors import HTTPError
from kali.formdata import FileUpload
from kali.response import Response
from kali.routing import Router
from kali.testing import (
    Client,
    CookieJar,
    Headers,
    TestResponse,
    default_cookie_path,
    encode_multipart,
    parse_set_cookie,
    path_matches,
)


def echo(request):
    """Everything the handler saw, as JSON."""
    post = {
        key: (
            [value.filename, value.content_type, value.content.decode()]
            if isinstance(value, FileUpload)
            else value
        )
        for key, value in request.POST.items()
    }
    return Response.json(
        {
            "method": request.command,
            "uri": request.uri,
            "path": request.path,
            "GET": dict(request.GET.single),
            "POST": post,
            "body": request.body.decode("latin-1"),
            "headers": dict(request.headers.single),
            "cookies": request.cookies,
            "debug": request.debug,
        }
    )


def test_get_with_query_and_headers():
    client = Client(echo)
    seen = client.get("/a/b?x=1", query={"y": "2 3", "z": "é"}, headers={"X-Test": "v"})
    assert seen.status == 200 and seen.reason == "OK"
    data = seen.json()
    assert data["method"] == "GET"
    assert data["uri"] == "/a/b?x=1&y=2+3&z=%C3%A9"
    assert data["GET"] == {"x": "1", "y": "2 3", "z": "é"}
    assert data["headers"]["x-test"] == "v"
    assert data["headers"]["host"] == "127.0.0.1:8080"


def test_query_pairs_and_non_ascii_path():
    client = Client(echo)
    data = client.get("/café%20x", query=[("k", "1"), ("k", "2")]).json()
    assert data["path"] == ["café x"]
    assert data["uri"] == "/caf%C3%A9%20x?k=1&k=2"


def test_path_must_be_origin_form():
    with pytest.raises(ValueError):
        Client(echo).get("relative")


def test_form_post_is_parsed_by_kali():
    data = Client(echo).post("/f", data={"name": "Zoë", "n": 2}).json()
    assert data["POST"] == {"name": "Zoë", "n": "2"}
    assert data["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert data["headers"]["content-length"] == str(len(data["body"]))


def test_multipart_files():
    client = Client(echo)
    data = client.post(
        "/up",
        data=[("title", "A & B")],
        files={
            "doc": ("notes.txt", b"line 1\r\n--not a boundary\r\n", "text/plain"),
            "blob": ("x.bin", "text too"),
        },
    ).json()
    assert data["POST"]["title"] == "A & B"
    assert data["POST"]["doc"] == [
        "notes.txt",
        "text/plain",
        "line 1\r\n--not a boundary\r\n",
    ]
    assert data["POST"]["blob"] == ["x.bin", "application/octet-stream", "text too"]


def test_encode_multipart_quotes_names():
    body = encode_multipart({'a"b': "1"}, {"f\r\n": ('x"y', b"", "text/plain")}, "BB")
    assert b'name="a%22b"' in body and b'name="f%0D%0A"; filename="x%22y"' in body
    assert body.endswith(b"--BB--\r\n")


def test_json_and_raw_bodies():
    router = Router()
    router.servlet("/j")(
        type("J", (), {"do_POST": lambda self, request: Response.json(request.json())})
    )
    client = Client(router)
    assert client.post("/j", json={"a": [1, 2]}).json() == {"a": [1, 2]}
    assert client.post("/j", json=[]).json() == []
    raw = Client(echo).put("/r", body=b"\x00\xff", content_type="application/x-thing")
    data = raw.json()
    assert data["method"] == "PUT" and data["body"] == "\x00\xff" and data["POST"] == {}
    with pytest.raises(ValueError):
        client.post("/j", json={}, data={"a": 1})
    with pytest.raises(ValueError):
        client.post("/j", body=b"x", files={"f": ("a", b"")})


def test_bad_form_data_is_400_like_the_server():
    answer = Client(echo).post(
        "/f", body=b"a=%FF", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status == 400


def test_head_drops_the_body_but_keeps_the_length():
    client = Client(echo)
    head = client.head("/x")
    assert head.body == b"" and head.status == 200
    assert int(head.headers["content-length"]) > 0


def test_other_verbs():
    client = Client(echo)
    for verb in ("patch", "delete", "options"):
        assert getattr(client, verb)("/v").json()["method"] == verb.upper()


def test_headers_are_case_insensitive():
    headers = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("X-One", "1")])
    assert headers["SET-COOKIE"] == "b=2"
    assert headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert "x-one" in headers and "X-ONE" in headers
    assert list(headers) == ["set-cookie", "x-one"] and len(headers) == 2
    assert headers.get("missing") is None
    with pytest.raises(KeyError):
        headers["missing"]


def test_cookie_jar_across_calls():
    router = Router()

    @router.function("/set")
    def set_cookie(name, value):
        return Response("ok").set_cookie(name, value)

    @router.function("/forget")
    def forget(name):
        return Response("ok").delete_cookie(name)

    router.delegate("/echo", echo)
    client = Client(router)
    answer = client.get("/set?name=a&value=1")
    assert answer.cookies == {"a": "1"}
    client.get("/set?name=b&value=2")
    assert client.get("/echo").json()["cookies"] == {"a": "1", "b": "2"}
    client.get("/forget?name=a")
    assert client.cookies == {"b": "2"}
    assert client.get("/echo").json()["cookies"] == {"b": "2"}


def test_parse_set_cookie():
    assert parse_set_cookie("a=1; Path=/; HttpOnly") == ("a", "1", False)
    assert parse_set_cookie("a=; Max-Age=0") == ("a", "", True)
    assert parse_set_cookie("a=x; Max-Age=junk") == ("a", "x", False)
    past = "Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    future = "Expires=Fri, 01 Jan 9999 00:00:00 GMT"
    assert parse_set_cookie(f"a=1; {past}") == ("a", "1", True)
    assert parse_set_cookie(f"a=1; {future}") == ("a", "1", False)
    assert parse_set_cookie(f"a=1; {past}; Max-Age=60") == ("a", "1", False)
    assert parse_set_cookie("a=1; Expires=someday") == ("a", "1", False)


def cookie_setter(request):
    """Sets cookie ``n`` to ``v`` with the Set-Cookie attributes ``a``."""
    header = f"{request.GET['n']}=v"
    if request.GET.get("a"):
        header += "; " + request.GET["a"]
    return Response("ok", headers=[("set-cookie", header)])


@pytest.mark.parametrize(
    ("attributes", "sent_to", "not_sent_to"),
    [
        ("Path=/admin", ["/admin", "/admin/users", "/admin?x"], ["/", "/other"]),
        ("Path=/admin", [], ["/administrator", "/Admin"]),
        ("Path=/admin/", ["/admin/", "/admin/x"], ["/admin"]),
        ("Path=/", ["/", "/anything/at/all"], []),
        # No Path (or a bad one): the folder of the request's path.
        ("", ["/set/a", "/set/"], ["/", "/setting"]),
        ("Path=relative", ["/set/b"], ["/other"]),
    ],
)
def test_the_cookie_jar_honours_path(attributes, sent_to, not_sent_to):
    def app(request):
        return (
            cookie_setter(request)
            if request.uri.startswith("/set/x")
            else echo(request)
        )

    client = Client(app)
    client.get("/set/x", query={"n": "c", "a": attributes})
    assert "c" in client.cookies
    for path in sent_to:
        assert client.get(path).json()["cookies"] == {"c": "v"}, path
    for path in not_sent_to:
        assert client.get(path).json()["cookies"] == {}, path


def test_longer_cookie_paths_are_sent_first():
    client = Client(echo)
    client.cookies["top"] = "1"
    client.cookies.store("deep=2; Path=/a/b", "/")
    client.cookies.store("mid=3; Path=/a", "/")
    seen = client.get("/a/b/c", headers={}).json()["headers"]["cookie"]
    assert seen == "deep=2; mid=3; top=1"
    client.cookies.store("deep=; Max-Age=0; Path=/a/b", "/")
    assert "deep" not in client.cookies and "deep" not in client.cookies.paths


def test_the_jar_is_a_dict_that_forgets_paths_with_cookies():
    jar = CookieJar()
    jar.store("a=1; Path=/x", "/")
    jar.store("b=2; Path=/y", "/")
    assert jar == {"a": "1", "b": "2"} and jar.paths == {"a": "/x", "b": "/y"}
    assert jar.header_for("/x/1") == "a=1" and jar.header_for("/z") is None
    del jar["a"]
    assert jar.paths == {"b": "/y"}
    jar["a"] = "set by a test"
    assert jar.header_for("/z") == "a=set by a test"
    jar.clear()
    assert jar == {} and jar.paths == {}


def test_cookie_path_rules():
    assert default_cookie_path("/") == "/"
    assert default_cookie_path("/a") == "/"
    assert default_cookie_path("/a/b/c") == "/a/b"
    assert default_cookie_path("odd") == "/"
    assert path_matches("/a", "/a") and path_matches("/a/b", "/a")
    assert path_matches("/a/b", "/a/") and not path_matches("/ab", "/a")
    assert not path_matches("/", "/a")


def test_status_code_and_follow():
    router = Router()
    router.function("/start")(lambda: Response.redirect("next?x=1"))
    router.function("/away")(lambda: Response.redirect("http://example.com/"))
    router.delegate("/next", echo)
    client = Client(router)
    start = client.get("/start")
    assert start.status_code == start.status == 302
    landed = start.follow()
    assert landed.url == "/next?x=1" and landed.json()["GET"] == {"x": "1"}
    assert landed.client is client
    with pytest.raises(ValueError, match="not a redirect"):
        landed.follow()
    with pytest.raises(ValueError, match="leaves the app"):
        client.get("/away").follow()
    with pytest.raises(ValueError, match="no client"):
        TestResponse(Response.redirect("/x"), b"").follow()


def test_follow_redirects():
    router = Router()
    router.function("/start")(lambda: Response.redirect("/next?x=1"))
    router.function("/loop")(lambda: Response.redirect("/loop"))
    router.function("/away")(lambda: Response.redirect("http://example.com/"))
    router.delegate("/next", echo)

    @router.servlet("/form")
    class Form:
        def do_POST(self, request):
            return Response.redirect("/next")

    client = Client(router)
    assert client.get("/start").status == 302
    landed = client.get("/start", follow_redirects=True)
    assert landed.status == 200 and landed.json()["GET"] == {"x": "1"}
    after_post = client.post("/form", data={"a": "1"}, follow_redirects=True)
    assert after_post.json()["method"] == "GET"
    assert client.get("/loop", follow_redirects=True).status == 302
    assert client.get("/away", follow_redirects=True).location == "http://example.com/"


def test_security_policy_applies_by_default():
    client = Client(echo)
    assert client.get("/", headers={"Host": "evil.example"}).status == 403
    cross = client.post("/", data={"a": "1"}, headers={"Origin": "http://evil.example"})
    assert cross.status == 403
    same = client.post(
        "/", data={"a": "1"}, headers={"Origin": "http://127.0.0.1:8080"}
    )
    assert same.status == 200
    assert client.post("/", data={"a": "1"}).status == 200  # no Origin: curl-like
    relaxed = Client(echo, security=False)
    assert relaxed.get("/", headers={"Host": "evil.example"}).status == 200


def test_host_and_port_options():
    client = Client(echo, host="localhost", port=9000)
    assert client.get("/").json()["headers"]["host"] == "localhost:9000"
    ok = client.post("/", headers={"Origin": "http://localhost:9000"})
    assert ok.status == 200


def test_errors_and_debug():
    def fails(request):
        raise ValueError("secret detail")

    quiet = Client(fails).get("/")
    assert quiet.status == 500 and "secret detail" not in quiet.text
    loud = Client(fails, debug=True).get("/")
    assert loud.status == 500 and "secret detail" in loud.text
    assert Client(echo, debug=True).get("/").json()["debug"] is True
    with pytest.raises(ValueError, match="secret detail"):
        Client(fails, raise_exceptions=True).get("/")


def test_raise_exceptions_keeps_http_errors_as_pages():
    def not_found(request):
        raise HTTPError(404, "gone")

    answer = Client(not_found, raise_exceptions=True).get("/")
    assert answer.status == 404 and "gone" in answer.text

    def bad_body(request):
        return [1, (x for x in [object()]), 1 / 0]

    with pytest.raises(ZeroDivisionError):
        Client(bad_body, raise_exceptions=True).get("/")


def test_error_page_option():
    client = Client(echo, error_page=lambda request, status, message: f"E{status}")
    answer = client.post(
        "/", body=b"a=%FF", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status == 400 and answer.text == "E400"


def test_test_response_details():
    answer = Client(lambda request: Response.plain_text("héllo")).get("/")
    assert isinstance(answer, TestResponse)
    assert answer.content_type == "text/plain"
    assert answer.text == "héllo"
    assert answer.location is None
    assert repr(answer) == "<TestResponse 200 OK>"
    latin = Response(
        "é".encode("latin-1"), headers={"content-type": "text/plain; charset=latin-1"}
    )
    assert Client(lambda request: latin).get("/").text == "é"
    odd = Response(b"x", headers={"content-type": "text/plain; charset=nonesuch"})
    assert Client(lambda request: odd).get("/").text == "x"
    with pytest.raises(ValueError):
        Client(lambda request: "not json").get("/").json()


def test_iolists_are_wrapped_like_the_server_does():
    answer = Client(lambda request: ["a", b"b", ("c", 1), None]).get("/")
    assert answer.body == b"abc1None"
    assert answer.headers["content-type"] == "text/html; charset=utf-8"


def test_not_collected_by_pytest():
    assert Client.__test__ is False and TestResponse.__test__ is False
