import io

import pytest

from kali.errors import ProtocolError
from kali.formdata import FileUpload
from kali.multidict import Bag
from kali.protocol import HeaderFields, parse_request_head
from kali.request import Request


def make(uri="/", method="GET", headers=None, body=None, **options):
    return Request(method, uri, "HTTP/1.1", Bag(headers or []), body, **options)


@pytest.mark.parametrize(
    "uri, path",
    [
        ("/", [""]),
        ("/a/b/", ["a", "b", ""]),
        ("/a/b", ["a", "b"]),
        ("/a%2Fb", ["a", "b"]),
        ("/caf%C3%A9", ["café"]),
        ("/a%20b?x=1", ["a b"]),
        ("//a/b", ["", "a", "b"]),
        ("http://localhost:8080/x/y?q=1", ["x", "y"]),
        ("/a;b", ["a;b"]),
    ],
)
def test_path(uri, path):
    assert make(uri).path == path


def test_double_slash_target_is_a_path_not_a_host():
    request = make("//evil.example/b?x=1")
    assert request.url.netloc == ""
    assert request.url.path == "//evil.example/b"
    assert request.url.query == "x=1"


@pytest.mark.parametrize("uri", ["/%FF", "/%C3", "/?x=%FF", "/?%FE=1"])
def test_invalid_utf8_in_target_is_400(uri):
    with pytest.raises(ProtocolError) as info:
        make(uri)
    assert info.value.status == 400


def test_query_and_attributes():
    request = make("/p?a=1&b=&a=2&c=x+y&d=%ZZ", client_address=("127.0.0.1", 5))
    assert request.GET.single == {"a": "2", "b": "", "c": "x y", "d": "%ZZ"}
    assert request.GET.multiple["a"] == ["1", "2"]
    assert request.command == "GET" and request.protocol == "HTTP/1.1"
    assert request.uri == "/p?a=1&b=&a=2&c=x+y&d=%ZZ"
    assert request.mount_depth == 0 and request.args == ()
    assert request.client_address == ("127.0.0.1", 5)
    assert request.debug is False and request.body == b""
    assert repr(request) == "<Request GET '/p?a=1&b=&a=2&c=x+y&d=%ZZ'>"


def test_headers_are_lower_cased_and_repeats_kept():
    request = Request("GET", "/", "HTTP/1.0", Bag([("X-A", "1"), ("x-a", "2")]))
    assert request.headers["x-a"] == "2"
    assert request.headers.multiple["x-a"] == ["1", "2"]
    assert Request("GET", "/", "HTTP/1.0", {"Host": "h"}).headers["host"] == "h"
    assert Request("GET", "/", "HTTP/1.0", [("Host", "h")]).headers["host"] == "h"
    assert not Request("GET", "/", "HTTP/1.0").headers


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
    ],
)
def test_urlencoded_post(content_type):
    body = b"name=Ren%C3%A9e&tag=a&tag=b+c"
    request = make("/", "POST", [("content-type", content_type)], body)
    assert request.POST["name"] == "Renée"
    assert request.POST.get_list("tag") == ["a", "b c"]
    assert request.body == body
    assert request.content_type == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("body", [b"name=%FF", b"name=\xff"])
def test_non_utf8_form_is_400_when_read(body):
    request = make(
        "/", "POST", [("content-type", "application/x-www-form-urlencoded")], body
    )
    assert request.body == body  # the body as sent, whatever its form rules
    with pytest.raises(ProtocolError) as info:
        request.POST.get("name")
    assert info.value.status == 400
    with pytest.raises(ProtocolError) as again:  # the same error every time
        request.POST.get("name")
    assert again.value is info.value


def multipart(boundary=b"XyZ"):
    return (
        b"--" + boundary + b"\r\n"
        b'content-disposition: form-data; name="title"\r\n\r\n'
        b"Caf\xc3\xa9\r\n"
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="doc"; filename="a b.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"\x00\x01\r\n--XyZnot\r\n"
        b"--" + boundary + b"--\r\n"
    )


def test_multipart_post_from_bytes_and_from_a_file():
    headers = [("content-type", 'multipart/form-data; boundary="XyZ"')]
    for payload in (multipart(), io.BytesIO(multipart())):
        request = make("/", "POST", headers, payload)
        assert request.POST["title"] == "Café"
        upload = request.POST["doc"]
        assert isinstance(upload, FileUpload)
        assert upload.filename == "a b.bin"
        assert upload.content_type == "application/octet-stream"
        assert upload.content == b"\x00\x01\r\n--XyZnot"
        assert request.body == multipart()


def test_multipart_without_boundary_is_400_when_read():
    request = make("/", "POST", [("content-type", "multipart/form-data")], b"x")
    with pytest.raises(ProtocolError) as info:
        request.POST.get("name")
    assert info.value.status == 400


def test_the_form_is_parsed_on_first_read_only():
    headers = [("content-type", "application/x-www-form-urlencoded")]
    request = make("/", "POST", headers, b"a=1&" * 1500)
    assert request.body.count(b"a=1") == 1500  # no form limit on the body
    with pytest.raises(ProtocolError) as info:
        request.POST.get("name")
    assert info.value.status == 413
    request.close()  # closing never parses (nor raises)


def test_a_spooled_form_is_read_after_the_body():
    stream = io.BytesIO(b"skip" + multipart())
    stream.read(4)
    headers = [("content-type", "multipart/form-data; boundary=XyZ")]
    with make("/", "POST", headers, stream) as request:
        assert request.body == multipart()  # the body first, then the form
        assert request.POST["title"] == "Café"
        assert request.POST["doc"].content == b"\x00\x01\r\n--XyZnot"
        assert request.body == multipart()  # and the body again


def test_post_may_be_replaced():
    request = make("/", "POST", [("content-type", "multipart/form-data")], b"x")
    request.POST = Bag([("a", "1")])
    assert request.POST["a"] == "1"


def test_other_types_keep_the_body_and_json():
    request = make("/", "POST", [("content-type", "application/json")], b'{"a": [1]}')
    assert not request.POST
    assert request.json() == {"a": [1]}
    for bad in (b"", b"{", b"\xff"):
        with pytest.raises(ProtocolError) as info:
            make("/", "POST", [("content-type", "application/json")], bad).json()
        assert info.value.status == 400


def test_spooled_body_is_read_lazily():
    stream = io.BytesIO(b"skip" + b"x" * 10)
    stream.read(4)
    request = make("/", "PUT", [("content-type", "text/plain")], stream)
    assert request.body_file is stream
    assert request.body == b"x" * 10


def test_cookies():
    request = make(
        "/", headers=[("cookie", 'a=1; b="two"; junk; a=3'), ("cookie", "c=")]
    )
    assert request.cookies == {"a": "1", "b": "two", "c": ""}
    assert make("/").cookies == {}


@pytest.mark.parametrize(
    "uri, location",
    [
        ("/a/./b", "/a/b"),
        ("/a//b", "/a/b"),
        ("/a//b/?x=1&x=2", "/a/b/?x=1&x=2"),
        ("/a/x/../b", "/a/b"),
        ("//a/b", "/a/b"),
        ("/a/..", "/"),
        ("/.", "/"),
    ],
)
def test_normalize_redirects(uri, location):
    response = make(uri).normalize()
    assert response is not None and response.code == 302
    assert response.get_header("location") == location


@pytest.mark.parametrize("uri", ["/", "/a", "/a/b/", "/a%2Fb"])
def test_normal_paths_are_left_alone(uri):
    assert make(uri).normalize() is None


@pytest.mark.parametrize("uri", ["/../x", "/a/../../x", "/.."])
def test_dotdot_above_root_is_404(uri):
    response = make(uri).normalize()
    assert response is not None and response.code == 404


def test_url_builders():
    request = make("/app/items/7")
    assert request.root_url(["a b", "c"]) == "/a%20b/c"
    assert request.root_url(["", "evil.example"]) == "/evil.example"
    assert request.root_url(["x"], {"q": "a&b", "n": 1}) == "/x?q=a%26b&n=1"
    assert request.root_url(["x"], Bag([("k", "1"), ("k", "2")])) == "/x?k=1&k=2"
    assert request.root_url(["x"], {}) == "/x"
    request.mount_depth = 2
    assert request.app_url(["edit"]) == "/app/items/edit"
    assert request.path_suffix() == ["7"] and request.has_suffix()
    request.mount_depth = 3
    assert request.path_suffix() == [] and not request.has_suffix()


def test_from_reader_uses_the_reader():
    class FakeReader:
        def read_request(self):
            return make("/fake")

    assert Request.from_reader(FakeReader()).path == ["fake"]


def test_header_names_given_as_a_plain_tuple_are_lower_cased():
    request = Request("GET", "/", "HTTP/1.0", (("Content-Type", "text/plain"),))
    assert request.headers.get("content-type") == "text/plain"
    assert request.headers.single == {"content-type": "text/plain"}


def test_parsed_header_fields_are_taken_as_they_are():
    head, _ = parse_request_head(b"GET / HTTP/1.0\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\n")
    assert isinstance(head.headers, HeaderFields) and isinstance(head.headers, tuple)
    request = Request(head.method, head.target, head.version, head.headers)
    assert request.headers.get_list("x-twice") == ["1", "2"]
    request.headers = Bag([("a", "b")])  # still assignable, as in 0.0.8
    assert request.headers.get("a") == "b"
